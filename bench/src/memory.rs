//! The memory workloads: the parent's peak memory per task queued behind blocked workers.
//!
//! Each figure comes from a fresh child process (see [`crate::probe`]), so that the peak resident size it reads is its own and not
//! left over from an earlier workload. The child starts a 2-worker pool, blocks every worker
//! in a first task, reads its resident size, queues the tasks while keeping their handles,
//! reads its peak resident size, then releases the workers and checks every result. The
//! total is (peak after − resident before) / tasks: it counts the handles, the vector that
//! holds them and each task's 8-byte argument. The target is on the figure beyond that
//! payload: the total less the argument's 8 bytes.
//!
//! Python's executors are measured the same way by `peers.py`, in a fresh interpreter; the
//! same 8 bytes are taken off their total, though a Python `int` argument takes 28. At the
//! full size a Python run holds about 2 GB and takes about half a minute.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};

use poolscope::ThreadPool;

use crate::cli::Sizes;
mod process_probe;

use crate::harness::{BenchResult, System, Target, Unit, Workload, check_sum};
use crate::probe;
use crate::python::{self, Pool};

/// Workers of every pool here.
const WORKERS: usize = 2;

/// `memory-thread`: peak bytes per task queued on a thread pool.
pub fn memory_thread(sizes: &Sizes) -> Workload {
    let n = sizes.memory_tasks;
    Workload {
        name: "memory-thread",
        metrics: &["beyond payload", "total"],
        unit: Unit::BytesPerTask,
        systems: vec![
            probe_system("poolscope ThreadPool", "memory-poolscope-thread", n)
                .with_target(Target::AtMost(200.0)),
            probe_system("rayon ThreadPool", "memory-rayon", n),
            probe_system("threadpool", "memory-threadpool", n),
            python_system(
                "Python ThreadPoolExecutor",
                "memory-thread",
                Pool::Threads,
                n,
            ),
        ],
        compared: true,
    }
}

/// `memory-process`: peak bytes per task queued on a process pool, in the parent only.
///
/// procspawn is not here: each of its queued calls keeps three sockets open (it opens two
/// IPC channels per call and drops one end once the argument is sent), so it cannot queue
/// 1,000,000 calls. With 20,000 file descriptors allowed, its `spawn` panicked at the
/// 6,663rd queued call, and a million would need three million descriptors, above Linux's
/// per-process ceiling (`fs.nr_open`, 1,048,576 by default).
pub fn memory_process(sizes: &Sizes) -> Workload {
    let n = sizes.memory_tasks;
    Workload {
        name: "memory-process",
        metrics: &["beyond payload", "total"],
        unit: Unit::BytesPerTask,
        systems: vec![
            probe_system("poolscope ProcessPool", "memory-poolscope-process", n)
                .with_target(Target::AtMost(200.0)),
            python_system(
                "Python ProcessPoolExecutor",
                "memory-process",
                Pool::Processes,
                n,
            ),
        ],
        compared: true,
    }
}

/// The size of each queued task's own argument, a `u64`: its payload.
const PAYLOAD: f64 = std::mem::size_of::<u64>() as f64;

/// A contender whose figures are bytes per task beyond the payload, then in total.
fn probe_system(name: &'static str, kind: &'static str, tasks: usize) -> System {
    System::new(name, move || {
        let total = probe::run(kind, tasks)?;
        Ok(vec![total - PAYLOAD, total])
    })
}

/// A Python contender: `peers.py` measures the same growth in a fresh interpreter.
fn python_system(name: &'static str, workload: &'static str, pool: Pool, tasks: usize) -> System {
    System::new(name, move || {
        let figures = python::run(workload, pool, &[tasks.to_string()])?;
        let total = *figures.first().ok_or("peers.py gave no memory figure")?;
        Ok(vec![total - PAYLOAD, total])
    })
}

/// Measures one pool kind in this process, if `kind` names one; bytes per queued task.
pub fn probe(kind: &str, tasks: usize) -> Option<BenchResult<f64>> {
    match kind {
        "memory-poolscope-thread" => Some(probe_poolscope_thread(tasks)),
        "memory-poolscope-process" => Some(process_probe::run(tasks)),
        "memory-rayon" => Some(probe_rayon(tasks)),
        "memory-threadpool" => Some(probe_threadpool(tasks)),
        _ => None,
    }
}

/// The resident sizes of this process, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Resident {
    /// `VmRSS`: resident now.
    pub current: u64,
    /// `VmHWM`: the most ever resident.
    pub peak: u64,
}

impl Resident {
    /// Reads `/proc/self/status`.
    pub fn read() -> BenchResult<Resident> {
        let status = std::fs::read_to_string("/proc/self/status")?;
        let field = |name: &str| -> BenchResult<u64> {
            let line = status.lines().find(|line| line.starts_with(name));
            let kib = line.and_then(|line| line.split_whitespace().nth(1));
            let kib: u64 = kib
                .ok_or_else(|| format!("no {name} in /proc/self/status"))?
                .parse()?;
            Ok(kib * 1024)
        };
        Ok(Resident {
            current: field("VmRSS:")?,
            peak: field("VmHWM:")?,
        })
    }

    /// Bytes per task from `self`, read before queueing `tasks` tasks, to `after`.
    pub fn growth_per_task(self, after: Resident, tasks: usize) -> f64 {
        after.peak.saturating_sub(self.current) as f64 / tasks as f64
    }
}

/// Holds workers in their first task until every other task is queued.
#[derive(Default)]
struct Gate {
    /// How many workers are held, and whether the gate is open.
    state: Mutex<(usize, bool)>,
    /// Signalled on every change of `state`.
    changed: Condvar,
}

impl Gate {
    /// Called by a worker: counts it as held and blocks until the gate opens.
    fn hold(&self) {
        let mut state = self.state.lock().expect("gate lock");
        state.0 += 1;
        self.changed.notify_all();
        while !state.1 {
            state = self.changed.wait(state).expect("gate lock");
        }
    }

    /// Blocks until `workers` workers are held.
    fn wait_held(&self, workers: usize) {
        let mut state = self.state.lock().expect("gate lock");
        while state.0 < workers {
            state = self.changed.wait(state).expect("gate lock");
        }
    }

    /// Lets every held worker go.
    fn open(&self) {
        self.state.lock().expect("gate lock").1 = true;
        self.changed.notify_all();
    }
}

/// The sum of `x + 1` over `0..tasks`.
pub fn expected(tasks: usize) -> u64 {
    let n = tasks as u64;
    n * (n + 1) / 2
}

/// poolscope's thread pool, keeping every handle.
fn probe_poolscope_thread(tasks: usize) -> BenchResult<f64> {
    let pool = ThreadPool::new(WORKERS);
    let gate = Arc::new(Gate::default());
    for _ in 0..WORKERS {
        let gate = Arc::clone(&gate);
        pool.submit(move || gate.hold());
    }
    gate.wait_held(WORKERS);

    let before = Resident::read()?;
    let mut handles = Vec::with_capacity(tasks);
    for x in 0..tasks as u64 {
        handles.push(pool.submit(move || x + 1));
    }
    let after = Resident::read()?;

    gate.open();
    let mut total = 0;
    for handle in handles {
        total += handle.result()?;
    }
    check_sum("memory-thread", total, expected(tasks))?;
    Ok(before.growth_per_task(after, tasks))
}

/// rayon's thread pool; results come back through a channel.
fn probe_rayon(tasks: usize) -> BenchResult<f64> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()?;
    let gate = Arc::new(Gate::default());
    for _ in 0..WORKERS {
        let gate = Arc::clone(&gate);
        pool.spawn(move || gate.hold());
    }
    gate.wait_held(WORKERS);
    let (sender, receiver) = mpsc::channel();

    let before = Resident::read()?;
    for x in 0..tasks as u64 {
        let sender = sender.clone();
        pool.spawn(move || {
            sender
                .send(x + 1)
                .expect("the receiver outlives every task")
        });
    }
    let after = Resident::read()?;

    gate.open();
    let total = receiver.iter().take(tasks).sum();
    check_sum("memory-thread", total, expected(tasks))?;
    Ok(before.growth_per_task(after, tasks))
}

/// The threadpool crate; results come back through a channel.
fn probe_threadpool(tasks: usize) -> BenchResult<f64> {
    let pool = threadpool::ThreadPool::new(WORKERS);
    let gate = Arc::new(Gate::default());
    for _ in 0..WORKERS {
        let gate = Arc::clone(&gate);
        pool.execute(move || gate.hold());
    }
    gate.wait_held(WORKERS);
    let (sender, receiver) = mpsc::channel();

    let before = Resident::read()?;
    for x in 0..tasks as u64 {
        let sender = sender.clone();
        pool.execute(move || {
            sender
                .send(x + 1)
                .expect("the receiver outlives every task")
        });
    }
    let after = Resident::read()?;

    gate.open();
    let total = receiver.iter().take(tasks).sum();
    check_sum("memory-thread", total, expected(tasks))?;
    Ok(before.growth_per_task(after, tasks))
}
