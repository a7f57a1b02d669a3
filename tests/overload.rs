//! Overload: a million tasks queued at once on each pool kind, all of them completing, with
//! the memory each queued task holds bounded.
//!
//! Every worker is held inside a blocking task, and the test sees each of them running
//! before it queues anything, so every task really waits in the queue and none is drained
//! while the queue fills. The bound, 400 bytes a task, is over twice what runs measure
//! (152 bytes a task on threads, 176 on processes, handles included, the same on every run)
//! and fails a queued task that grew by a quarter of a kilobyte.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use poolscope::{Handle, ProcessPool, ThreadPool};

use support::{
    FileGate, resident_bytes, scaled, settled_resident_bytes, soak, wait_for_file, wait_until,
};

/// The most memory a queued tiny task may hold, in bytes, handle included.
const BYTES_PER_TASK: usize = 400;

/// The workers of each pool, every one of them held while the tasks are queued.
const WORKERS: usize = 2;

/// How long the workers may take to start their blocking tasks.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// Adds one.
fn increment(x: u64) -> u64 {
    x + 1
}

/// Holds a worker process: marks the gate's directory with the worker's pid, then waits
/// for the gate to open (at most a minute).
fn hold_worker(gate: PathBuf) -> u32 {
    let directory = gate.parent().expect("the gate is in a directory");
    let marker = directory.join(format!("started-{}", std::process::id()));
    std::fs::write(marker, b"").expect("the marker is writable");
    wait_for_file(gate)
}

/// How many workers have marked `directory` as started, each with its own pid.
fn started_workers(directory: &Path) -> usize {
    let entries = std::fs::read_dir(directory).expect("the gate's directory is readable");
    let names = entries.filter_map(|entry| entry.ok()?.file_name().into_string().ok());
    names.filter(|name| name.starts_with("started-")).count()
}

/// Reports and checks the memory `tasks` queued tasks took, from `before` to now.
fn check_memory(kind: &str, tasks: usize, before: usize) {
    let per_task = resident_bytes().saturating_sub(before) / tasks;
    eprintln!("overload: {kind}: {tasks} queued tasks, about {per_task} bytes each");
    assert!(
        per_task < BYTES_PER_TASK,
        "{kind}: {per_task} bytes per queued task, the bound is {BYTES_PER_TASK}"
    );
}

/// Checks that every handle settles, by a deadline, with its index plus one.
fn check_results(kind: &str, handles: Vec<Handle<u64>>) {
    let deadline = Instant::now() + Duration::from_secs(120) * soak() as u32;
    for (index, handle) in handles.into_iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            handle.wait_timeout(left),
            "{kind}: task {index} had not settled by the deadline"
        );
        assert_eq!(
            handle.result(),
            Ok(index as u64 + 1),
            "{kind}: task {index}"
        );
    }
}

#[test]
fn a_million_queued_tasks_complete_on_each_pool_kind() {
    let tasks = scaled(1_000_000);
    thread_pool_overload(tasks);
    process_pool_overload(tasks);
}

/// Queues `tasks` tasks behind every thread of a pool, each held on a file gate.
fn thread_pool_overload(tasks: usize) {
    // The pool goes before the gate: a failing test opens the gate, then shuts down.
    let pool = ThreadPool::new(WORKERS);
    let gate = FileGate::new();
    let started = Arc::new(AtomicUsize::new(0));
    let blockers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (started, gate) = (Arc::clone(&started), gate.path());
            pool.submit(move || {
                started.fetch_add(1, Ordering::SeqCst);
                wait_for_file(gate)
            })
        })
        .collect();
    // Blocked tasks running at once are on threads of their own.
    let held = wait_until(START_DEADLINE, || started.load(Ordering::SeqCst) == WORKERS);
    assert!(held, "thread pool: not every thread took a blocking task");

    let before = settled_resident_bytes();
    let handles: Vec<_> = (0..tasks as u64)
        .map(|x| pool.submit(move || increment(x)))
        .collect();
    check_memory("thread pool", tasks, before);

    gate.open();
    for blocker in blockers {
        assert!(blocker.wait_timeout(START_DEADLINE), "a blocker hung");
        blocker.result().expect("the blocker returns");
    }
    check_results("thread pool", handles);
}

/// Queues `tasks` tasks behind every worker process of a pool, each held on a file gate.
fn process_pool_overload(tasks: usize) {
    // The pool goes before the gate: a failing test opens the gate, then shuts down.
    let pool = ProcessPool::new(WORKERS);
    let gate = FileGate::new();
    let directory = gate.path().parent().expect("a directory").to_owned();
    let blockers: Vec<_> = (0..WORKERS)
        .map(|_| pool.submit(hold_worker, gate.path()))
        .collect();
    // Each marker bears a pid: as many markers as workers means every worker is held.
    let held = wait_until(START_DEADLINE, || started_workers(&directory) == WORKERS);
    assert!(held, "process pool: not every worker took a blocking task");

    let before = settled_resident_bytes();
    let handles: Vec<_> = (0..tasks as u64)
        .map(|x| pool.submit(increment, x))
        .collect();
    check_memory("process pool", tasks, before);

    gate.open();
    let mut pids = BTreeSet::new();
    for blocker in blockers {
        assert!(blocker.wait_timeout(START_DEADLINE), "a blocker hung");
        pids.insert(blocker.result().expect("the blocker returns its pid"));
    }
    assert_eq!(pids.len(), WORKERS, "the blockers ran on {pids:?}");
    check_results("process pool", handles);
}
