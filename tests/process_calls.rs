//! `#[pool(process)]`: calls run in worker processes, with their arguments packed into a
//! tuple and their results sent back.

use std::time::Duration;

use poolscope::{TaskError, pool, pool_scope};
use serde::{Deserialize, Serialize};

/// The pid of the process that runs the call, with the arguments echoed back.
#[pool(process, workers = 2)]
fn pid_and_echo(label: String, (left, right): (u32, u32)) -> (u32, String, u32) {
    (std::process::id(), label, left + right)
}

#[test]
fn calls_run_in_worker_processes() {
    let (pid, label, sum) = pool_scope! {
        pid_and_echo("seven".to_owned(), (3, 4)).result().unwrap()
    };
    assert_ne!(pid, std::process::id());
    assert_eq!((label.as_str(), sum), ("seven", 7));
}

#[test]
fn the_body_also_runs_here_under_its_sync_name() {
    let (pid, _, sum) = pid_and_echo_sync(String::new(), (1, 1));
    assert_eq!((pid, sum), (std::process::id(), 2));
}

/// A user type crossing to the worker and back.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Reading {
    /// The sensor's name.
    sensor: String,
    /// Its value.
    value: f64,
}

/// Doubles a reading in a worker, or fails on a negative one.
#[pool(process, workers = 1, start = spawn, max_tasks_per_child = 2)]
fn double(reading: Reading) -> Result<Reading, String> {
    if reading.value < 0.0 {
        return Err(format!("{} is negative", reading.sensor));
    }
    Ok(Reading {
        value: reading.value * 2.0,
        ..reading
    })
}

#[test]
fn user_types_and_results_cross_both_ways() {
    let reading = |value| Reading {
        sensor: "t1".to_owned(),
        value,
    };
    let (good, bad) = pool_scope! {
        (double(reading(1.5)).result(), double(reading(-1.0)).result())
    };
    assert_eq!(good, Ok(Ok(reading(3.0))));
    assert_eq!(bad, Ok(Err("t1 is negative".to_owned())));
}

/// Sleeps for longer than its timeout allows.
#[pool(process, workers = 1, timeout = Duration::from_millis(200))]
fn oversleep() {
    std::thread::sleep(Duration::from_secs(30));
}

#[test]
fn the_timeout_option_reaches_the_pool() {
    let outcome = pool_scope! { oversleep().result() };
    assert_eq!(
        outcome,
        Err(TaskError::TimedOut(Duration::from_millis(200)))
    );
}

/// Adds numbers of any type the worker can receive.
#[pool(process, workers = 1)]
fn sum<T>(items: Vec<T>) -> T
where
    T: std::iter::Sum + Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    items.into_iter().sum()
}

#[test]
fn generic_functions_run_per_instance() {
    let (small, large) = pool_scope! {
        (sum(vec![1u8, 2, 3]).result(), sum(vec![1.5f64, 2.5]).result())
    };
    assert_eq!(small, Ok(6));
    assert_eq!(large, Ok(4.0));
}
