use std::time::Duration;

use poolscope::{pool, pool_scope};

const PREFIX: &str = "reader";

fn half_the_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1)
}

#[pool(thread, workers = half_the_cores(), name = format!("{PREFIX}-pool"))]
fn thread_name() -> String {
    std::thread::current().name().unwrap_or_default().to_owned()
}

#[pool(process, workers = 1 + 1, timeout = Duration::from_secs(30), max_tasks_per_child = 1, start = fork)]
fn pid() -> u32 {
    std::process::id()
}

fn main() {
    let name = pool_scope! { thread_name().result().unwrap() };
    assert!(name.starts_with("reader-pool-"), "{name}");

    let pids = pool_scope! { [pid().result().unwrap(), pid().result().unwrap()] };
    assert!(!pids.contains(&std::process::id()));
}
