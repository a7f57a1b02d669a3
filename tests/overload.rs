//! Overload: a million tasks queued at once on each pool kind, all of them completing, with
//! the memory each queued task holds bounded.
//!
//! The workers are held busy while the tasks are queued, so every task really waits in the
//! queue. The bound asserted here is a generous guard against a leak or a blow-up; the
//! figure to compare with the 200-byte target comes from the benchmarks.

mod campaign;

use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use poolscope::{ProcessPool, ThreadPool};

use campaign::{eventually, resident_bytes, scaled};

/// The most memory a queued tiny task may hold, in bytes, handle included.
const GUARD_BYTES_PER_TASK: usize = 1024;

/// Adds one.
fn increment(x: u64) -> u64 {
    x + 1
}

/// Waits until the file `release` exists, then returns 0.
fn wait_for_file(release: PathBuf) -> u64 {
    let released = eventually(Duration::from_secs(120), || release.exists());
    assert!(released, "the release file never appeared");
    0
}

/// Reports and checks the memory `tasks` queued tasks took, from `before` to now.
fn check_memory(kind: &str, tasks: usize, before: usize) {
    let per_task = resident_bytes().saturating_sub(before) / tasks;
    eprintln!("overload: {kind}: {tasks} queued tasks, about {per_task} bytes each");
    assert!(
        per_task < GUARD_BYTES_PER_TASK,
        "{kind}: {per_task} bytes per queued task"
    );
}

/// Sums the results of `handles`, each of which must be its index plus one.
fn check_results(handles: Vec<poolscope::Handle<u64>>) {
    for (index, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.result(), Ok(index as u64 + 1));
    }
}

/// This process's resident memory after handing freed memory back to the system, so that
/// what an earlier phase freed does not hide what the next one takes.
fn settled_resident_bytes() -> usize {
    // SAFETY: malloc_trim only returns free memory to the system; it has no preconditions.
    unsafe { libc::malloc_trim(0) };
    resident_bytes()
}

#[test]
fn a_million_queued_tasks_complete_on_each_pool_kind() {
    let tasks = scaled(1_000_000);
    thread_pool_overload(tasks);
    process_pool_overload(tasks);
}

/// Queues `tasks` tasks behind two blocked threads.
fn thread_pool_overload(tasks: usize) {
    let pool = ThreadPool::new(2);
    let barrier = Arc::new(Barrier::new(3));
    let blockers: Vec<_> = (0..2)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            pool.submit(move || {
                barrier.wait();
            })
        })
        .collect();

    let before = settled_resident_bytes();
    let handles: Vec<_> = (0..tasks as u64)
        .map(|x| pool.submit(move || increment(x)))
        .collect();
    check_memory("thread pool", tasks, before);

    barrier.wait();
    blockers.into_iter().for_each(|b| b.result().unwrap());
    check_results(handles);
}

/// Queues `tasks` tasks behind two worker processes blocked on a file.
fn process_pool_overload(tasks: usize) {
    let directory = tempfile::tempdir().unwrap();
    let release = directory.path().join("release");
    let pool = ProcessPool::new(2);
    let blockers: Vec<_> = (0..2)
        .map(|_| pool.submit(wait_for_file, release.clone()))
        .collect();

    let before = settled_resident_bytes();
    let handles: Vec<_> = (0..tasks as u64)
        .map(|x| pool.submit(increment, x))
        .collect();
    check_memory("process pool", tasks, before);

    std::fs::write(&release, b"").unwrap();
    blockers
        .into_iter()
        .for_each(|b| assert_eq!(b.result(), Ok(0)));
    check_results(handles);
}
