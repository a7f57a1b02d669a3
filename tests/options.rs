//! The options written in `#[pool(...)]` reach the pool the function runs on.
//!
//! The process tests count workers by their pids; each function is called only inside
//! scopes, so that its workers are those of the scope's pool.

use std::collections::HashSet;
use std::time::Duration;

use poolscope::{pool, pool_scope};

/// The pid of the worker process, which a pool replaces after three tasks.
#[pool(process, workers = 1, max_tasks_per_child = 3)]
fn pid_of_recycled_worker() -> u32 {
    std::process::id()
}

#[test]
fn max_tasks_per_child_replaces_the_worker_after_that_many_tasks() {
    // One task at a time, so that the tasks run in order on the single worker.
    let pids: Vec<u32> = pool_scope! {
        (0..6).map(|_| pid_of_recycled_worker().result().unwrap()).collect()
    };
    assert_eq!(pids[0], pids[1], "{pids:?}");
    assert_eq!(pids[1], pids[2], "{pids:?}");
    assert_ne!(pids[2], pids[3], "no new worker for task 4: {pids:?}");
    assert_eq!(pids[3], pids[4], "{pids:?}");
    assert_eq!(pids[4], pids[5], "{pids:?}");
}

/// Sleeps a little, so that the tasks overlap and would spread over more workers if there
/// were any, then returns the pid of the worker.
#[pool(process, workers = 1)]
fn pid_of_the_one_worker() -> u32 {
    std::thread::sleep(Duration::from_millis(20));
    std::process::id()
}

#[test]
fn workers_bounds_the_worker_processes() {
    let pids: HashSet<u32> = pool_scope! {
        let handles: Vec<_> = (0..8).map(|_| pid_of_the_one_worker()).collect();
        handles.into_iter().map(|handle| handle.result().unwrap()).collect()
    };
    // More than one would be a sign the option was lost: the default is one per core.
    assert_eq!(pids.len(), 1, "worker processes for workers = 1: {pids:?}");
}

/// The name of the thread that runs the call.
#[pool(thread, workers = 2, name = "x")]
fn name_of_thread() -> String {
    std::thread::current().name().unwrap_or_default().to_owned()
}

/// Whether `name` is `x-N_M`, for the `N`th pool named `x` and its `M`th thread.
fn is_named_x(name: &str) -> bool {
    let Some(numbers) = name.strip_prefix("x-") else {
        return false;
    };
    let Some((pool, thread)) = numbers.split_once('_') else {
        return false;
    };
    let is_number = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    is_number(pool) && is_number(thread)
}

#[test]
fn name_prefixes_the_thread_names() {
    let names: Vec<String> = pool_scope! {
        let handles: Vec<_> = (0..4).map(|_| name_of_thread()).collect();
        handles.into_iter().map(|handle| handle.result().unwrap()).collect()
    };
    for name in names {
        assert!(is_named_x(&name), "thread named {name:?}");
    }
}
