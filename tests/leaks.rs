//! Leaks: creating and shutting down pools over and over, and running many tasks, leaves the
//! descriptor count, the child processes and the memory where they started.

mod campaign;

use std::collections::BTreeSet;

use poolscope::{ProcessPool, StartMethod, ThreadPool};

use campaign::{children_of, open_descriptors, resident_bytes, scaled};

/// How much resident memory may grow over the whole test, in bytes: allocator caches and
/// lazily mapped pages, not a per-cycle leak, which would show as megabytes.
const MEMORY_SLACK: usize = 8 << 20;

/// Doubles a number.
fn double(x: u64) -> u64 {
    x * 2
}

/// The child processes of this process, except the long-lived fork server.
fn pool_children(server: &BTreeSet<u32>) -> BTreeSet<u32> {
    let mut children = children_of(std::process::id());
    children.retain(|pid| !server.contains(pid));
    children
}

/// One create, use and shut-down cycle of each pool kind and start method.
fn cycle(round: u64) {
    for start in [
        StartMethod::ForkServer,
        StartMethod::Spawn,
        StartMethod::Fork,
    ] {
        let pool = ProcessPool::builder()
            .workers(1)
            .start_method(start)
            .build()
            .unwrap();
        assert_eq!(pool.submit(double, round).result(), Ok(round * 2));
        pool.shutdown(true);
    }
    let pool = ThreadPool::new(2);
    assert_eq!(pool.submit(move || round + 1).result(), Ok(round + 1));
}

#[test]
fn pools_and_tasks_leave_nothing_behind() {
    // Warm up: the fork server and the launcher thread live as long as the program.
    cycle(0);
    let server = children_of(std::process::id());
    assert_eq!(
        server.len(),
        1,
        "only the fork server outlives its pools: {server:?}"
    );
    let descriptors = open_descriptors();
    let memory = resident_bytes();

    let cycles = scaled(1_000) as u64 / 3;
    for round in 1..=cycles {
        cycle(round);
    }
    let pool = ProcessPool::new(2);
    let tasks = scaled(100_000) as u64;
    let handles: Vec<_> = (0..tasks).map(|x| pool.submit(double, x)).collect();
    for (x, handle) in (0..tasks).zip(handles) {
        assert_eq!(handle.result(), Ok(x * 2));
    }
    drop(pool);

    assert_eq!(open_descriptors(), descriptors, "descriptors leaked");
    assert_eq!(
        pool_children(&server),
        BTreeSet::new(),
        "processes left behind"
    );
    let grown = resident_bytes().saturating_sub(memory);
    eprintln!(
        "leaks: {} pools, {tasks} tasks; memory grew by {grown} bytes",
        cycles * 4
    );
    assert!(grown < MEMORY_SLACK, "memory grew by {grown} bytes");
}
