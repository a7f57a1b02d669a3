//! The memory probe of poolscope's process pool.
//!
//! Worker processes cannot wait on the parent's condition variable, so the gate is a
//! directory: each held worker writes a file named after its pid, and waits for the file
//! `open` to appear. The pool may send a worker more than one task ahead, so a second
//! holding task can land behind the first on the same worker; more holding tasks are
//! submitted until two distinct workers are held.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use poolscope::{Handle, ProcessPool};

use super::{Resident, WORKERS, expected};
use crate::harness::{BenchResult, check_sum};
use crate::work::increment;

/// How long to wait for the workers to be held before giving up.
const HOLD_DEADLINE: Duration = Duration::from_secs(20);

/// Queues `tasks` tasks behind held workers; returns the parent's bytes per queued task.
pub fn run(tasks: usize) -> BenchResult<f64> {
    let gate = GateDir::create()?;
    let pool = ProcessPool::builder().workers(WORKERS).build()?;
    let holders = hold_workers(&pool, &gate)?;

    let before = Resident::read()?;
    let mut handles = Vec::with_capacity(tasks);
    for x in 0..tasks as u64 {
        handles.push(pool.submit(increment, x));
    }
    let after = Resident::read()?;

    gate.open()?;
    for holder in holders {
        holder.result()?;
    }
    let mut total = 0;
    for handle in handles {
        total += handle.result()?;
    }
    check_sum("memory-process", total, expected(tasks))?;
    Ok(before.growth_per_task(after, tasks))
}

/// Submits holding tasks, one every 20 ms, until every worker runs one.
fn hold_workers(pool: &ProcessPool, gate: &GateDir) -> BenchResult<Vec<Handle<u32>>> {
    let started = Instant::now();
    let mut holders = Vec::new();
    let argument = gate.path.to_string_lossy().into_owned();
    while gate.held()? < WORKERS {
        if started.elapsed() > HOLD_DEADLINE {
            return Err("the process pool's workers were not all held in time".into());
        }
        holders.push(pool.submit(hold, argument.clone()));
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(holders)
}

/// A worker's holding task: reports its pid, then waits for the gate to open.
fn hold(gate: String) -> u32 {
    let gate = Path::new(&gate);
    let pid = std::process::id();
    let _ = std::fs::write(gate.join(format!("held-{pid}")), b"");
    while !gate.join("open").exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    pid
}

/// The directory the holding tasks watch; removed on drop.
struct GateDir {
    /// Its path, unique to this process.
    path: PathBuf,
}

impl GateDir {
    /// Makes a fresh, closed gate.
    fn create() -> BenchResult<GateDir> {
        let path = std::env::temp_dir().join(format!("poolscope-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        Ok(GateDir { path })
    }

    /// How many distinct workers are held.
    fn held(&self) -> BenchResult<usize> {
        let mut pids = HashSet::new();
        for entry in std::fs::read_dir(&self.path)? {
            let name = entry?.file_name();
            if let Some(pid) = name.to_string_lossy().strip_prefix("held-") {
                pids.insert(pid.to_owned());
            }
        }
        Ok(pids.len())
    }

    /// Lets every held worker go.
    fn open(&self) -> BenchResult<()> {
        Ok(std::fs::write(self.path.join("open"), b"")?)
    }
}

impl Drop for GateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
