//! The process workloads: poolscope's `ProcessPool` against procspawn, Python's
//! `ProcessPoolExecutor` and `multiprocessing.Pool`, and serial execution.
//!
//! Pool creation and shutdown are inside the timed region of every throughput workload,
//! for every system; `latency-process` creates the pool and warms it up first.

use std::time::Instant;

use poolscope::ProcessPool;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cli::Sizes;
use crate::harness::{
    BenchResult, System, Target, Unit, Workload, check_sum, throughput, time_round_trips,
};
use crate::procspawn_peers;
use crate::python::{self, Pool};
use crate::work::{
    block_sum, burn, byte_sum, calibrate, double, increment, payload, payload_total,
};

/// Workers of the throughput and latency pools.
const WORKERS: usize = 2;

/// `tiny-process`: `n` tasks `x -> 2x`, one submit each.
pub fn tiny_process(sizes: &Sizes) -> Workload {
    let n = sizes.tiny_process;
    Workload {
        name: "tiny-process",
        metrics: &[""],
        unit: Unit::TasksPerSecond,
        systems: vec![
            System::new("poolscope ProcessPool", move || tiny_poolscope(n)),
            python::system(
                "Python ProcessPoolExecutor",
                "tiny-process",
                Pool::Processes,
                vec![n.to_string()],
            )
            .with_target(Target::RatioAtLeast(60.0)),
            System::new("procspawn Pool", move || procspawn_peers::tiny(n))
                .with_target(Target::RatioAtLeast(20.0)),
            python::system(
                "Python multiprocessing apply_async",
                "tiny-process",
                Pool::Multiprocessing,
                vec![n.to_string()],
            ),
        ],
        compared: true,
    }
}

/// `tiny-process-chunked`: the same tasks through `map_chunked(.., 64)`.
pub fn tiny_process_chunked(sizes: &Sizes) -> Workload {
    let n = sizes.tiny_process;
    Workload {
        name: "tiny-process-chunked",
        metrics: &[""],
        unit: Unit::TasksPerSecond,
        systems: vec![
            System::new("poolscope map_chunked", move || chunked_poolscope(n)),
            python::system(
                "Python multiprocessing imap",
                "tiny-process-chunked",
                Pool::Multiprocessing,
                vec![n.to_string()],
            )
            .with_target(Target::RatioAtLeast(1.0)),
        ],
        compared: true,
    }
}

/// `payload-process`: tasks that take a 64 KiB vector and return its byte sum.
pub fn payload_process(sizes: &Sizes) -> Workload {
    payload_workload("payload-process", sizes, byte_sum)
}

/// `payload-process-bytes`: the same payloads as [`poolscope::Bytes`], which serde moves as
/// one block, for poolscope and procspawn alike (Python's `bytes` already cross as one).
pub fn payload_process_bytes(sizes: &Sizes) -> Workload {
    payload_workload("payload-process-bytes", sizes, block_sum)
}

/// A payload workload named `name` whose tasks run `task` on each payload, as an `A`.
fn payload_workload<A>(name: &'static str, sizes: &Sizes, task: fn(A) -> u64) -> Workload
where
    A: From<Vec<u8>> + Serialize + DeserializeOwned + Send + 'static,
{
    let (n, bytes) = (sizes.payload_tasks, sizes.payload_bytes);
    let args = vec![n.to_string(), bytes.to_string()];
    Workload {
        name,
        metrics: &[""],
        unit: Unit::TasksPerSecond,
        systems: vec![
            System::new("poolscope ProcessPool", move || {
                payload_poolscope(name, n, bytes, task)
            }),
            System::new("procspawn Pool", move || {
                procspawn_peers::payloads(name, n, bytes, task)
            })
            .with_target(Target::RatioAtLeast(5.0)),
            python::system(
                "Python ProcessPoolExecutor",
                "payload-process",
                Pool::Processes,
                args,
            ),
        ],
        compared: true,
    }
}

/// `cpu-process`: CPU-bound tasks on 2 workers against the same tasks run serially, on 2
/// plain threads, and on the peers' pools of 2.
pub fn cpu_process(sizes: &Sizes) -> Workload {
    let (tasks, millis) = (sizes.cpu_tasks, sizes.cpu_task_ms);
    Workload {
        name: "cpu-process",
        metrics: &[""],
        unit: Unit::TasksPerSecond,
        systems: vec![
            System::new("poolscope ProcessPool", move || {
                cpu_poolscope(tasks, millis)
            }),
            System::new("serial, in this process", move || cpu_serial(tasks, millis))
                .with_target(Target::RatioAtLeast(1.9)),
            System::new("2 plain threads (the machine's ceiling)", move || {
                cpu_threads(tasks, millis)
            }),
            System::new("procspawn Pool", move || {
                procspawn_peers::cpu(tasks, millis)
            }),
            python::system(
                "Python ProcessPoolExecutor",
                "cpu-process",
                Pool::Processes,
                vec![tasks.to_string(), millis.to_string()],
            ),
            python::system(
                "Python multiprocessing apply_async",
                "cpu-process",
                Pool::Multiprocessing,
                vec![tasks.to_string(), millis.to_string()],
            ),
        ],
        compared: true,
    }
}

/// `latency-process`: one task at a time, submit to result; median and p99.
pub fn latency_process(sizes: &Sizes) -> Workload {
    let samples = sizes.latency_process_samples;
    Workload {
        name: "latency-process",
        metrics: &["p50", "p99"],
        unit: Unit::Microseconds,
        systems: vec![
            System::new("poolscope ProcessPool", move || latency_poolscope(samples)),
            System::new("procspawn Pool", move || procspawn_peers::latency(samples)),
            python::system(
                "Python ProcessPoolExecutor",
                "latency-process",
                Pool::Processes,
                vec![samples.to_string()],
            ),
            python::system(
                "Python multiprocessing apply_async",
                "latency-process",
                Pool::Multiprocessing,
                vec![samples.to_string()],
            ),
        ],
        compared: true,
    }
}

/// The sum of `2x` over `0..n`.
fn expected_doubles(n: usize) -> u64 {
    let n = n as u64;
    n * (n - 1)
}

/// A pool of `workers`, with the builder's error as a benchmark error.
fn start_pool(workers: usize) -> BenchResult<ProcessPool> {
    Ok(ProcessPool::builder().workers(workers).build()?)
}

/// poolscope: submit every task, then take every result in order.
fn tiny_poolscope(n: usize) -> BenchResult<Vec<f64>> {
    let started = Instant::now();
    let pool = start_pool(WORKERS)?;
    let handles: Vec<_> = (0..n as u64).map(|x| pool.submit(double, x)).collect();
    let mut total = 0;
    for handle in handles {
        total += handle.result()?;
    }
    pool.shutdown(true);
    let figure = throughput(n, started);
    check_sum("tiny-process", total, expected_doubles(n))?;
    Ok(vec![figure])
}

/// poolscope: `map_chunked(double, 0..n, 64)`.
fn chunked_poolscope(n: usize) -> BenchResult<Vec<f64>> {
    let started = Instant::now();
    let pool = start_pool(WORKERS)?;
    let mut total = 0;
    for outcome in pool.map_chunked(double, 0..n as u64, 64) {
        total += outcome?;
    }
    pool.shutdown(true);
    let figure = throughput(n, started);
    check_sum("tiny-process-chunked", total, expected_doubles(n))?;
    Ok(vec![figure])
}

/// poolscope: submit every payload as an `A`, then take every sum in order.
fn payload_poolscope<A>(
    name: &str,
    n: usize,
    bytes: usize,
    task: fn(A) -> u64,
) -> BenchResult<Vec<f64>>
where
    A: From<Vec<u8>> + Serialize + DeserializeOwned + Send + 'static,
{
    let started = Instant::now();
    let pool = start_pool(WORKERS)?;
    let handles: Vec<_> = (0..n)
        .map(|index| pool.submit(task, payload(index, bytes).into()))
        .collect();
    let mut total = 0;
    for handle in handles {
        total += handle.result()?;
    }
    pool.shutdown(true);
    let figure = throughput(n, started);
    check_sum(name, total, payload_total(n, bytes))?;
    Ok(vec![figure])
}

/// poolscope: `tasks` burns of `millis` ms each on 2 workers.
fn cpu_poolscope(tasks: usize, millis: u64) -> BenchResult<Vec<f64>> {
    let task = calibrate(millis);
    let started = Instant::now();
    let pool = start_pool(WORKERS)?;
    let handles: Vec<_> = (0..tasks)
        .map(|_| pool.submit(burn, task.iterations))
        .collect();
    for handle in handles {
        check_sum("cpu-process", handle.result()?, task.result)?;
    }
    pool.shutdown(true);
    Ok(vec![throughput(tasks, started)])
}

/// The same burns, one after the other on this thread.
fn cpu_serial(tasks: usize, millis: u64) -> BenchResult<Vec<f64>> {
    let task = calibrate(millis);
    let started = Instant::now();
    for _ in 0..tasks {
        std::hint::black_box(burn(std::hint::black_box(task.iterations)));
    }
    Ok(vec![throughput(tasks, started)])
}

/// The same burns split between 2 scoped threads: the speedup the machine allows right now.
fn cpu_threads(tasks: usize, millis: u64) -> BenchResult<Vec<f64>> {
    let task = calibrate(millis);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for share in [tasks.div_ceil(2), tasks / 2] {
            scope.spawn(move || {
                for _ in 0..share {
                    std::hint::black_box(burn(std::hint::black_box(task.iterations)));
                }
            });
        }
    });
    Ok(vec![throughput(tasks, started)])
}

/// poolscope: `submit(increment, x).result()` in a loop.
fn latency_poolscope(samples: usize) -> BenchResult<Vec<f64>> {
    let pool = start_pool(WORKERS)?;
    let figures = time_round_trips(samples, |x| Ok(pool.submit(increment, x).result()?));
    pool.shutdown(true);
    figures
}
