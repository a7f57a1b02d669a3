//! procspawn, the peer of the process workloads.
//!
//! procspawn opens two IPC channels per spawned call, so at most [`WINDOW`] calls are kept
//! in flight: enough to keep two workers busy without running out of file descriptors.
//! Pool creation and shutdown are timed, as for every process system.

use std::collections::VecDeque;
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::harness::{BenchResult, check_sum, throughput, time_round_trips};
use crate::stats::median;
use crate::work::{burn, calibrate, double, increment, payload, payload_total};

/// The most calls in flight at once.
const WINDOW: usize = 1024;

/// Workers of the throughput and latency pools.
const WORKERS: usize = 2;

/// A procspawn failure as a benchmark error.
fn spawn_error(error: procspawn::SpawnError) -> Box<dyn std::error::Error + Send + Sync> {
    format!("procspawn: {error}").into()
}

/// Runs `function` on `arguments` with at most [`WINDOW`] in flight; sums the results.
fn sum_windowed<A, I>(
    pool: &procspawn::Pool,
    function: fn(A) -> u64,
    arguments: I,
) -> BenchResult<u64>
where
    A: Serialize + DeserializeOwned,
    I: IntoIterator<Item = A>,
{
    let mut in_flight = VecDeque::with_capacity(WINDOW);
    let mut total = 0;
    for argument in arguments {
        if in_flight.len() == WINDOW {
            total += join_oldest(&mut in_flight)?;
        }
        in_flight.push_back(pool.spawn(argument, function));
    }
    while !in_flight.is_empty() {
        total += join_oldest(&mut in_flight)?;
    }
    Ok(total)
}

/// Waits for the oldest call in flight.
fn join_oldest(in_flight: &mut VecDeque<procspawn::JoinHandle<u64>>) -> BenchResult<u64> {
    let oldest = in_flight.pop_front().ok_or("no call in flight")?;
    oldest.join().map_err(spawn_error)
}

/// `tiny-process`: `n` calls of `double`.
pub fn tiny(n: usize) -> BenchResult<Vec<f64>> {
    let started = Instant::now();
    let pool = procspawn::Pool::new(WORKERS).map_err(spawn_error)?;
    let total = sum_windowed(&pool, double, 0..n as u64)?;
    pool.shutdown();
    let figure = throughput(n, started);
    check_sum("tiny-process", total, (n as u64) * (n as u64 - 1))?;
    Ok(vec![figure])
}

/// The payload workload `name`: `n` calls of `task` on `bytes`-byte payloads, as `A`s.
pub fn payloads<A>(name: &str, n: usize, bytes: usize, task: fn(A) -> u64) -> BenchResult<Vec<f64>>
where
    A: From<Vec<u8>> + Serialize + DeserializeOwned,
{
    let started = Instant::now();
    let pool = procspawn::Pool::new(WORKERS).map_err(spawn_error)?;
    let arguments = (0..n).map(|index| A::from(payload(index, bytes)));
    let total = sum_windowed(&pool, task, arguments)?;
    pool.shutdown();
    let figure = throughput(n, started);
    check_sum(name, total, payload_total(n, bytes))?;
    Ok(vec![figure])
}

/// `startup-process`: a pool of 4, one call, shutdown; the median of `repetitions`, in ms.
pub fn startup(repetitions: usize) -> BenchResult<Vec<f64>> {
    let times: Vec<f64> = (0..repetitions)
        .map(|_| start_once(4))
        .collect::<BenchResult<_>>()?;
    Ok(vec![median(&times).ok_or("no repetitions")?])
}

/// Starts a pool of `workers`, runs one call and shuts down; in ms.
pub fn start_once(workers: usize) -> BenchResult<f64> {
    let started = Instant::now();
    let pool = procspawn::Pool::new(workers).map_err(spawn_error)?;
    let got = pool.spawn(1, increment).join().map_err(spawn_error)?;
    pool.shutdown();
    let millis = started.elapsed().as_secs_f64() * 1e3;
    check_sum("startup-process", got, 2)?;
    Ok(millis)
}

/// `cpu-process`: `tasks` calls of [`burn`], each about `millis` ms of CPU, on a pool of 2.
pub fn cpu(tasks: usize, millis: u64) -> BenchResult<Vec<f64>> {
    let task = calibrate(millis);
    let started = Instant::now();
    let pool = procspawn::Pool::new(WORKERS).map_err(spawn_error)?;
    let handles: Vec<_> = (0..tasks)
        .map(|_| pool.spawn(task.iterations, burn))
        .collect();
    for handle in handles {
        let got = handle.join().map_err(spawn_error)?;
        check_sum("cpu-process", got, task.result)?;
    }
    pool.shutdown();
    Ok(vec![throughput(tasks, started)])
}

/// `latency-process`: one call at a time on a pool of 2.
pub fn latency(samples: usize) -> BenchResult<Vec<f64>> {
    let pool = procspawn::Pool::new(WORKERS).map_err(spawn_error)?;
    let figures = time_round_trips(samples, |x| {
        pool.spawn(x, increment).join().map_err(spawn_error)
    });
    pool.shutdown();
    figures
}
