//! The thread workloads: poolscope's `ThreadPool` against rayon, threadpool and Python.
//!
//! Pool creation and shutdown are inside the timed region of `tiny-thread` for every
//! system, Python's included; `latency-thread` creates the pool and warms it up first.

use std::sync::mpsc;
use std::time::Instant;

use poolscope::ThreadPool;

use crate::cli::Sizes;
use crate::harness::{
    BenchResult, System, Target, Unit, Workload, check_sum, throughput, time_round_trips,
};
use crate::python::{self, Pool};

/// Workers of every thread pool here.
const WORKERS: usize = 2;

/// `tiny-thread`: `n` submits of `x + 1` on 2 workers, every result collected.
pub fn tiny_thread(sizes: &Sizes) -> Workload {
    let n = sizes.tiny_thread;
    Workload {
        name: "tiny-thread",
        metrics: &[""],
        unit: Unit::TasksPerSecond,
        systems: vec![
            System::new("poolscope ThreadPool", move || tiny_poolscope(n)),
            System::new("rayon ThreadPool", move || tiny_rayon(n))
                .with_target(Target::RatioAtLeast(1.0)),
            System::new("threadpool", move || tiny_threadpool(n)),
            python::system(
                "Python ThreadPoolExecutor",
                "tiny-thread",
                Pool::Threads,
                vec![n.to_string()],
            )
            .with_target(Target::RatioAtLeast(100.0)),
        ],
        compared: true,
    }
}

/// `latency-thread`: one task at a time, submit to result; median and p99.
pub fn latency_thread(sizes: &Sizes) -> Workload {
    let samples = sizes.latency_thread_samples;
    Workload {
        name: "latency-thread",
        metrics: &["p50", "p99"],
        unit: Unit::Microseconds,
        systems: vec![
            System::new("poolscope ThreadPool", move || latency_poolscope(samples)),
            System::new("rayon ThreadPool", move || latency_rayon(samples)),
            System::new("threadpool", move || latency_threadpool(samples)),
            python::system(
                "Python ThreadPoolExecutor",
                "latency-thread",
                Pool::Threads,
                vec![samples.to_string()],
            ),
        ],
        compared: true,
    }
}

/// The sum of `x + 1` over `0..n`, which every `tiny-thread` run must collect.
fn expected_tiny(n: usize) -> u64 {
    let n = n as u64;
    n * (n + 1) / 2
}

/// poolscope: submit every task, then take every handle's result in order.
fn tiny_poolscope(n: usize) -> BenchResult<Vec<f64>> {
    let started = Instant::now();
    let pool = ThreadPool::new(WORKERS);
    let handles: Vec<_> = (0..n as u64).map(|x| pool.submit(move || x + 1)).collect();
    let mut total = 0;
    for handle in handles {
        total += handle.result()?;
    }
    pool.shutdown(true);
    let figure = throughput(n, started);
    check_sum("tiny-thread", total, expected_tiny(n))?;
    Ok(vec![figure])
}

/// rayon: `spawn` each task on a 2-thread pool; results come back through a channel.
fn tiny_rayon(n: usize) -> BenchResult<Vec<f64>> {
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()?;
    let (sender, receiver) = mpsc::channel();
    for x in 0..n as u64 {
        let sender = sender.clone();
        pool.spawn(move || {
            sender
                .send(x + 1)
                .expect("the receiver outlives every task")
        });
    }
    let total: u64 = receiver.iter().take(n).sum();
    drop(pool);
    let figure = throughput(n, started);
    check_sum("tiny-thread", total, expected_tiny(n))?;
    Ok(vec![figure])
}

/// threadpool: `execute` each task; results come back through a channel.
fn tiny_threadpool(n: usize) -> BenchResult<Vec<f64>> {
    let started = Instant::now();
    let pool = threadpool::ThreadPool::new(WORKERS);
    let (sender, receiver) = mpsc::channel();
    for x in 0..n as u64 {
        let sender = sender.clone();
        pool.execute(move || {
            sender
                .send(x + 1)
                .expect("the receiver outlives every task")
        });
    }
    let total: u64 = receiver.iter().take(n).sum();
    pool.join();
    let figure = throughput(n, started);
    check_sum("tiny-thread", total, expected_tiny(n))?;
    Ok(vec![figure])
}

/// poolscope: `submit(...).result()` in a loop.
fn latency_poolscope(samples: usize) -> BenchResult<Vec<f64>> {
    let pool = ThreadPool::new(WORKERS);
    time_round_trips(samples, |x| Ok(pool.submit(move || x + 1).result()?))
}

/// rayon: `spawn` then wait on a channel, in a loop.
fn latency_rayon(samples: usize) -> BenchResult<Vec<f64>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()?;
    let (sender, receiver) = mpsc::channel();
    time_round_trips(samples, |x| {
        let sender = sender.clone();
        pool.spawn(move || {
            sender
                .send(x + 1)
                .expect("the receiver outlives every task")
        });
        Ok(receiver.recv()?)
    })
}

/// threadpool: `execute` then wait on a channel, in a loop.
fn latency_threadpool(samples: usize) -> BenchResult<Vec<f64>> {
    let pool = threadpool::ThreadPool::new(WORKERS);
    let (sender, receiver) = mpsc::channel();
    time_round_trips(samples, |x| {
        let sender = sender.clone();
        pool.execute(move || {
            sender
                .send(x + 1)
                .expect("the receiver outlives every task")
        });
        Ok(receiver.recv()?)
    })
}
