//! The model of a benchmark run and the round-robin loop that fills it.
//!
//! A [`Workload`] is one job done by several [`System`]s; the first system is always
//! poolscope, the others are its peers. Each round runs every system of every workload once,
//! starting each round from a different system so that no system always runs first, and
//! keeps every figure. Ratios are then taken between figures of the same round.

use std::error::Error;
use std::time::{Duration, Instant};

use crate::stats::{median, percentile};

/// What every measurement returns.
pub type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// The unit of a figure, which also says whether more is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Tasks completed per second of wall time: more is better.
    TasksPerSecond,
    /// Milliseconds of wall time: less is better.
    Milliseconds,
    /// Microseconds of wall time: less is better.
    Microseconds,
    /// Bytes of the parent's peak resident memory per queued task: less is better.
    BytesPerTask,
}

/// A goal the table checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// On a peer's row: the ratio poolscope/peer is at least this.
    RatioAtLeast(f64),
    /// On poolscope's row: its median is at most this, in the workload's unit.
    AtMost(f64),
}

/// One contender of a workload.
pub struct System {
    /// The name shown in the table.
    pub name: &'static str,
    /// Runs the workload once and returns one figure per metric of the workload.
    pub run: Box<dyn Fn() -> BenchResult<Vec<f64>>>,
    /// The goal checked on this system's row, if any.
    pub target: Option<Target>,
}

/// One job, done by poolscope and its peers.
pub struct Workload {
    /// The name given on the command line and shown in the table.
    pub name: &'static str,
    /// The names of the figures each run returns; one empty name for a single figure.
    pub metrics: &'static [&'static str],
    /// The unit of every figure.
    pub unit: Unit,
    /// poolscope first, then its peers.
    pub systems: Vec<System>,
    /// Whether the first system is poolscope, so that ratios to it mean something.
    pub compared: bool,
}

/// Every figure of one workload: `figures[system][round]` is one run's figures or its error.
pub struct Measured {
    /// The workload measured.
    pub workload: Workload,
    /// Indexed by system, then by round.
    pub figures: Vec<Vec<Result<Vec<f64>, String>>>,
}

impl Unit {
    /// The unit as written in the table.
    pub fn label(self) -> &'static str {
        match self {
            Unit::TasksPerSecond => "tasks/s",
            Unit::Milliseconds => "ms",
            Unit::Microseconds => "µs",
            Unit::BytesPerTask => "bytes/task",
        }
    }
}

impl System {
    /// A contender named `name` with no goal.
    pub fn new(name: &'static str, run: impl Fn() -> BenchResult<Vec<f64>> + 'static) -> Self {
        System {
            name,
            run: Box::new(run),
            target: None,
        }
    }

    /// The same contender with the goal `target`.
    pub fn with_target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }
}

impl Measured {
    /// Every failed run of this workload, as `workload / system: error`.
    pub fn failures(&self) -> Vec<String> {
        let systems = self.workload.systems.iter().zip(&self.figures);
        systems
            .flat_map(|(system, rounds)| {
                let errors = rounds.iter().filter_map(|round| round.as_ref().err());
                errors.map(|error| format!("{} / {}: {error}", self.workload.name, system.name))
            })
            .collect()
    }
}

/// Runs `rounds` rounds of every workload, each system once per workload per round.
///
/// Progress goes to standard error so that standard output holds only the table.
pub fn run_rounds(workloads: Vec<Workload>, rounds: usize) -> Vec<Measured> {
    let mut measured: Vec<Measured> = workloads
        .into_iter()
        .map(|workload| {
            let figures = workload.systems.iter().map(|_| Vec::new()).collect();
            Measured { workload, figures }
        })
        .collect();
    for round in 0..rounds {
        for entry in &mut measured {
            run_round(entry, round, rounds);
        }
    }
    measured
}

/// The pause before each system's run.
const SETTLE: Duration = Duration::from_millis(100);

/// Runs every system of one workload once, starting from system `round % systems`.
fn run_round(entry: &mut Measured, round: usize, rounds: usize) {
    let count = entry.workload.systems.len();
    for step in 0..count {
        let index = (round + step) % count;
        let system = &entry.workload.systems[index];
        // Let the previous system's threads and processes finish ending (a dropped rayon
        // pool's threads, say, leave on their own time), so they take no processor from
        // this one.
        std::thread::sleep(SETTLE);
        let started = Instant::now();
        let figures = run_caught(system);
        eprintln!(
            "round {}/{rounds}  {:<22} {:<28} {:>8.0} ms  {}",
            round + 1,
            entry.workload.name,
            system.name,
            started.elapsed().as_secs_f64() * 1e3,
            describe(&figures),
        );
        entry.figures[index].push(figures);
    }
}

/// Runs `system` once; a panic becomes that run's error instead of ending the whole run.
fn run_caught(system: &System) -> Result<Vec<f64>, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (system.run)())) {
        Ok(figures) => figures.map_err(|error| error.to_string()),
        Err(payload) => Err(panic_text(&*payload)),
    }
}

/// The message of a caught panic.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
    format!("panicked: {}", message.unwrap_or("(no message)"))
}

/// One run's figures, or its error, for the progress lines.
fn describe(figures: &Result<Vec<f64>, String>) -> String {
    match figures {
        Ok(values) => values
            .iter()
            .map(|value| format!("{value:.1}"))
            .collect::<Vec<_>>()
            .join(" "),
        Err(error) => format!("failed: {error}"),
    }
}

/// Tasks per second for `tasks` tasks done in `started.elapsed()`.
pub fn throughput(tasks: usize, started: Instant) -> f64 {
    tasks as f64 / started.elapsed().as_secs_f64()
}

/// An error unless `got` equals `expected`: every benchmark checks its results.
pub fn check_sum(what: &str, got: u64, expected: u64) -> BenchResult<()> {
    if got == expected {
        Ok(())
    } else {
        Err(format!("{what}: results summed to {got}, expected {expected}").into())
    }
}

/// Times `samples` round trips of `round_trip`, after a tenth as many to warm up.
///
/// Returns the median and the 99th percentile in microseconds.
pub fn time_round_trips(
    samples: usize,
    mut round_trip: impl FnMut(u64) -> BenchResult<u64>,
) -> BenchResult<Vec<f64>> {
    for x in 0..(samples / 10 + 1) as u64 {
        round_trip(x)?;
    }
    let mut times = Vec::with_capacity(samples);
    for x in 0..samples as u64 {
        let started = Instant::now();
        let got = round_trip(x)?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
        check_sum("latency", got, x + 1)?;
    }
    let p50 = median(&times).ok_or("no latency samples")?;
    let p99 = percentile(&times, 0.99).ok_or("no latency samples")?;
    Ok(vec![p50, p99])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workload of one system that succeeds and one that fails in its second round.
    fn flaky() -> Workload {
        let calls = std::cell::Cell::new(0);
        let flaky = move || {
            calls.set(calls.get() + 1);
            match calls.get() {
                2 => Err("second round".into()),
                _ => Ok(vec![1.0]),
            }
        };
        Workload {
            name: "flaky",
            metrics: &[""],
            unit: Unit::Milliseconds,
            systems: vec![
                System::new("steady", || Ok(vec![2.0])),
                System::new("flaky", flaky),
            ],
            compared: true,
        }
    }

    #[test]
    fn keeps_every_round_and_lists_the_failures() {
        let measured = run_rounds(vec![flaky()], 3);
        assert_eq!(measured[0].figures[0].len(), 3);
        assert!(measured[0].figures[1][1].is_err());
        assert_eq!(measured[0].failures(), ["flaky / flaky: second round"]);
    }

    #[test]
    fn catches_a_panic_as_that_run_error() {
        let system = System::new("panics", || panic!("boom"));
        assert_eq!(run_caught(&system), Err("panicked: boom".to_owned()));
    }
}
