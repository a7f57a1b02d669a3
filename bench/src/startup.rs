//! The startup workloads: start a pool of 4 workers, run one task, shut down.
//!
//! `startup-process` repeats that within one program. Every poolscope pool of a program
//! shares one fork server, started with the first pool, so `startup-process-cold` times that
//! first pool in a fresh program (see [`crate::probe`]), and the peers' first pool likewise:
//! procspawn's in a fresh run of this program, Python's in a fresh interpreter. Neither peer
//! keeps anything running between pools, so each of their pools pays its full start and
//! their `startup-process` figure is already a cold one. No system's figure includes the
//! start of the program or interpreter itself.

use std::time::Instant;

use poolscope::ProcessPool;

use crate::cli::Sizes;
use crate::harness::{BenchResult, System, Target, Unit, Workload, check_sum};
use crate::python::{self, Pool};
use crate::stats::median;
use crate::work::increment;
use crate::{probe, procspawn_peers};

/// Workers of every pool started here.
const WORKERS: usize = 4;

/// The most a start may take, in ms, warm or cold.
const TARGET_MS: f64 = 3.0;

/// The probe that times the first pool of a fresh program.
const COLD_START_PROBE: &str = "startup-cold";

/// The probe that times the first procspawn pool of a fresh program.
const PROCSPAWN_COLD_START_PROBE: &str = "startup-cold-procspawn";

/// `startup-process`: the median of several starts in one program, in ms.
pub fn startup_process(sizes: &Sizes) -> Workload {
    let repetitions = sizes.startup_repetitions;
    Workload {
        name: "startup-process",
        metrics: &[""],
        unit: Unit::Milliseconds,
        systems: vec![
            System::new("poolscope ProcessPool", move || {
                median_of(repetitions, || start_once(WORKERS))
            })
            .with_target(Target::AtMost(TARGET_MS)),
            python::system(
                "Python ProcessPoolExecutor",
                "startup-process",
                Pool::Processes,
                vec![repetitions.to_string()],
            ),
            System::new("procspawn Pool", move || {
                procspawn_peers::startup(repetitions)
            }),
        ],
        compared: true,
    }
}

/// `startup-process-cold`: the same in a fresh program, where the first pool also starts the
/// fork server that later pools share.
///
/// The 3 ms target applies here too: it is what a program's first pool costs.
pub fn startup_process_cold(sizes: &Sizes) -> Workload {
    let repetitions = sizes.startup_repetitions.div_ceil(4);
    Workload {
        name: "startup-process-cold",
        metrics: &[""],
        unit: Unit::Milliseconds,
        systems: vec![
            System::new("poolscope ProcessPool", move || {
                median_of(repetitions, || probe::run(COLD_START_PROBE, WORKERS))
            })
            .with_target(Target::AtMost(TARGET_MS)),
            System::new("Python ProcessPoolExecutor", move || {
                median_of(repetitions, python_cold_start)
            }),
            System::new("procspawn Pool", move || {
                median_of(repetitions, || {
                    probe::run(PROCSPAWN_COLD_START_PROBE, WORKERS)
                })
            }),
        ],
        compared: true,
    }
}

/// Takes the figure of the probe `kind` in this process, if `kind` names one of this module.
pub fn probe(kind: &str, workers: usize) -> Option<BenchResult<f64>> {
    match kind {
        COLD_START_PROBE => Some(start_once(workers)),
        PROCSPAWN_COLD_START_PROBE => Some(procspawn_peers::start_once(workers)),
        _ => None,
    }
}

/// The first pool of a fresh Python interpreter: one start of `startup-process`, whose
/// timing begins after the interpreter's start and imports.
fn python_cold_start() -> BenchResult<f64> {
    let figures = python::run("startup-process", Pool::Processes, &["1".to_owned()])?;
    Ok(*figures.first().ok_or("peers.py gave no startup figure")?)
}

/// The median of `repetitions` figures of `measure`, as the one figure of a run.
fn median_of(repetitions: usize, measure: impl Fn() -> BenchResult<f64>) -> BenchResult<Vec<f64>> {
    let times: Vec<f64> = (0..repetitions)
        .map(|_| measure())
        .collect::<BenchResult<_>>()?;
    Ok(vec![median(&times).ok_or("no repetitions")?])
}

/// poolscope: starts a pool of `workers`, runs one task and shuts down; in ms.
fn start_once(workers: usize) -> BenchResult<f64> {
    let started = Instant::now();
    let pool = ProcessPool::builder().workers(workers).build()?;
    let got = pool.submit(increment, 1).result()?;
    pool.shutdown(true);
    let millis = started.elapsed().as_secs_f64() * 1e3;
    check_sum("startup-process", got, 2)?;
    Ok(millis)
}
