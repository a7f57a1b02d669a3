//! Chaos: tasks keep running while workers are killed at random.
//!
//! 20,000 tasks (times `POOLSCOPE_SOAK`) run on 4 worker processes while another thread
//! kills a random worker with `SIGKILL` every few milliseconds. Every handle must settle with
//! the right value or `WorkerDied`; no task may complete twice; the pool must end with all
//! its workers alive.

mod campaign;

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use poolscope::{ExitCause, ProcessPool, TaskError};
use serde::{Deserialize, Serialize};

use campaign::{eventually, scaled, spin};

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
    let pool = Arc::new(ProcessPool::new(4));

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

    // Every handle settles: the right value, or the death of its worker by SIGKILL.
    let mut died = 0;
    for (number, handle) in (0..tasks).zip(handles) {
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

    // The pool replaced every worker it lost.
    assert!(
        eventually(Duration::from_secs(5), || pool.worker_pids().len() == 4),
        "the pool has {} workers, not 4",
        pool.worker_pids().len()
    );
    eprintln!("chaos: {tasks} tasks, {kills} kills, {died} tasks died with their worker");
}
