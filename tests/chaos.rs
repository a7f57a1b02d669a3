//! Chaos: tasks keep running while workers are killed at random.
//!
//! 20,000 tasks (times `POOLSCOPE_SOAK`) run on 4 worker processes while another thread
//! kills a random worker with `SIGKILL` every few milliseconds. Every handle must settle,
//! within a generous deadline, with the right value or `WorkerDied`; no task may complete
//! twice; the pool must end with 4 live worker processes, as `/proc` shows them, each of
//! which then runs a task.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use poolscope::{ExitCause, ProcessPool, TaskError};
use serde::{Deserialize, Serialize};

use support::{FileGate, children_of, scaled, soak, spin, wait_for_file, wait_until};

/// The pool's workers.
const WORKERS: usize = 4;

/// A task: its number, and the file where it records that it completed.
#[derive(Serialize, Deserialize)]
struct Work {
    /// The task's number.
    number: u64,
    /// Every completed task appends its number here.
    journal: PathBuf,
}

/// Spins briefly, records its completion, and returns its number tripled.
fn triple(work: Work) -> u64 {
    spin(50);
    let mut journal = OpenOptions::new()
        .append(true)
        .open(&work.journal)
        .expect("the journal exists");
    // One short write with O_APPEND lands whole, even with other workers appending.
    journal
        .write_all(format!("{}\n", work.number).as_bytes())
        .expect("the journal takes the record");
    work.number * 3
}

/// Kills a random worker of `pool` every few milliseconds until `stop` is set.
fn kill_workers(pool: &ProcessPool, stop: &AtomicBool, kills: &AtomicUsize) {
    let mut choice = 0x9e37_79b9_u64;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(3));
        let pids = pool.worker_pids();
        if pids.is_empty() {
            continue;
        }
        choice = choice
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let pid = pids[(choice >> 33) as usize % pids.len()];
        if kill(Pid::from_raw(pid as i32), Signal::SIGKILL).is_ok() {
            kills.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[test]
fn every_task_settles_once_while_workers_are_killed() {
    let tasks = scaled(20_000) as u64;
    let directory = tempfile::tempdir().unwrap();
    let journal = directory.path().join("journal");
    std::fs::write(&journal, b"").unwrap();
    let pool = Arc::new(ProcessPool::new(WORKERS));

    // Submit everything, then let the killer loose while the tasks run.
    let handles: Vec<_> = (0..tasks)
        .map(|number| {
            let work = Work {
                number,
                journal: journal.clone(),
            };
            pool.submit(triple, work)
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (pool, stop, kills) = (Arc::clone(&pool), Arc::clone(&stop), Arc::clone(&kills));
        std::thread::spawn(move || kill_workers(&pool, &stop, &kills))
    };

    // Every handle settles: the right value, or the death of its worker by SIGKILL. Runs
    // take about a second; a task still unsettled at the deadline is a hang.
    let deadline = Instant::now() + Duration::from_secs(60) * soak() as u32;
    let mut died = 0;
    for (number, handle) in (0..tasks).zip(handles) {
        let left = deadline.saturating_duration_since(Instant::now());
        if !handle.wait_timeout(left) {
            stop.store(true, Ordering::Relaxed);
            panic!("task {number} of {tasks} had not settled by the deadline");
        }
        match handle.result() {
            Ok(value) => assert_eq!(value, number * 3),
            Err(TaskError::WorkerDied { cause, .. }) => {
                assert_eq!(cause, ExitCause::Signaled(libc::SIGKILL));
                died += 1;
            }
            Err(other) => panic!("task {number} failed with {other}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    killer.join().unwrap();
    let kills = kills.load(Ordering::Relaxed);
    assert!(
        kills > 0,
        "the killer never struck; the test proved nothing"
    );
    assert!(
        died <= kills,
        "{died} tasks died, more than the {kills} kills"
    );

    // No task completed twice.
    let records = std::fs::read_to_string(&journal).unwrap();
    let mut completions: HashMap<u64, usize> = HashMap::new();
    for line in records.lines() {
        *completions.entry(line.parse().unwrap()).or_default() += 1;
    }
    let twice: Vec<_> = completions.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "tasks completed more than once: {twice:?}"
    );
    let survived = tasks as usize - died;
    assert!(completions.len() >= survived);

    // The pool replaced every worker it lost: four live processes, each serving.
    let workers = live_workers(&pool);
    let served = serve_one_task_each(&pool);
    assert_eq!(served, workers, "the workers that ran the last tasks");
    eprintln!("chaos: {tasks} tasks, {kills} kills, {died} tasks died with their worker");
}

/// The pool's workers as `/proc` shows them, once they are the fork server's only children,
/// none a zombie, and the very processes the pool counts as its workers.
fn live_workers(pool: &ProcessPool) -> BTreeSet<u32> {
    let servers = children_of(std::process::id());
    assert_eq!(servers.len(), 1, "one fork server: {servers:?}");
    let server = servers[0].pid;
    let settled = wait_until(Duration::from_secs(5), || {
        let children = children_of(server);
        let listed: BTreeSet<u32> = pool.worker_pids().into_iter().collect();
        let live: BTreeSet<u32> = children.iter().map(|info| info.pid).collect();
        children.iter().all(|info| !info.is_zombie()) && live.len() == WORKERS && live == listed
    });
    assert!(
        settled,
        "the fork server's children {:?}, the pool's workers {:?}",
        children_of(server),
        pool.worker_pids()
    );
    children_of(server).iter().map(|info| info.pid).collect()
}

/// Runs one task on every worker at once: each waits until all are running, so no worker
/// can take two. Returns the pids that ran them.
fn serve_one_task_each(pool: &ProcessPool) -> BTreeSet<u32> {
    let gate = FileGate::new();
    let handles: Vec<_> = (0..WORKERS)
        .map(|_| pool.submit(wait_for_file, gate.path()))
        .collect();
    let all_running = wait_until(Duration::from_secs(10), || {
        handles.iter().all(|handle| handle.running())
    });
    assert!(all_running, "not every worker took a task");
    gate.open();
    let mut pids = BTreeSet::new();
    for handle in handles {
        assert!(handle.wait_timeout(Duration::from_secs(10)), "a task hung");
        pids.insert(handle.result().expect("a live worker runs its task"));
    }
    pids
}
