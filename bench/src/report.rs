//! The markdown report: the run, the machine, the table of medians, ratios and targets.

use std::fmt::Write as _;

use crate::harness::{Measured, Target, Unit};
use crate::machine;
use crate::stats::median;

/// One line of the table.
struct Row {
    /// The workload, with the metric's name when it has several.
    workload: String,
    /// The system's name.
    system: &'static str,
    /// The median over rounds, or why there is none.
    median: String,
    /// The unit of the median.
    unit: &'static str,
    /// The median over rounds of poolscope's figure divided by this system's.
    ratio: String,
    /// The goal, written out.
    target: String,
    /// Whether the goal was met, and in how many rounds.
    met: String,
}

/// What the report says about the run besides its figures.
pub struct Header<'a> {
    /// The command line as a user would retype it.
    pub command: &'a str,
    /// How many rounds ran.
    pub rounds: usize,
    /// Whether the sizes were `--quick`'s.
    pub quick: bool,
    /// The commit and state of the source tree, from [`machine::source_tree`].
    pub source: &'a str,
}

/// The whole report: title, run, machine, table and notes.
pub fn markdown(measured: &[Measured], header: &Header) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "# poolscope benchmark results\n");
    let _ = write!(
        text,
        "Command: `{}`, {} round(s)",
        header.command, header.rounds
    );
    let _ = writeln!(text, "{}.\n", if header.quick { QUICK } else { "" });
    if cfg!(debug_assertions) {
        let _ = writeln!(text, "{UNOPTIMIZED}\n");
    }
    let _ = writeln!(text, "- source: {}", header.source);
    text.push_str(&machine::describe());
    text.push('\n');
    text.push_str(&table(measured));
    text.push_str(NOTES);
    text
}

/// Added to the command line of a `--quick` report.
const QUICK: &str = ", with the small sizes of `--quick`: a check that everything runs, not the \
sizes the targets are set for";

/// The warning at the top of a report from a build without optimizations.
const UNOPTIMIZED: &str = "**Unoptimized build (debug assertions on): these figures and ratios \
mean nothing; they only show that the workloads ran.**";

/// How to read the table, and what each workload does.
const NOTES: &str = "
Each round runs every system of a workload once, one after the other, starting each round
from a different system. *median* is the median over rounds; *ratio* is the median over rounds
of poolscope's figure divided by the peer's figure of the same round. For tasks/s a ratio
above 1 means poolscope is faster; for ms, µs and bytes/task a ratio below 1 means poolscope
needs less. *met?* says yes only when every round of this run meets the target, judged on
that round's ratio or figure (a failed round does not meet it); otherwise it says in how
many rounds the target was met. Pool creation and shutdown are timed in every throughput workload, for every
system. Python's figures exclude the interpreter's start. Every run checks its results.
Why a target is missed, with profiles, is in `ANALYSIS.md` beside this file.

- tiny-thread: 100,000 submits of `x + 1` on 2 threads, every result collected. rayon and
  threadpool send results back through a channel.
- latency-thread, latency-process: one task at a time on a warm pool of 2, submit to result
  (`apply_async(f, (x,)).get()` on `multiprocessing.Pool`).
- tiny-process: 20,000 tasks `x -> 2x` on 2 processes, one submit each (one `apply_async`
  each on `multiprocessing.Pool`); procspawn keeps at most 1,024 calls in flight.
- tiny-process-chunked: the same through `map_chunked(f, items, 64)`, against
  `multiprocessing.Pool(2).imap(f, items, chunksize=64)`.
- payload-process: 2,000 tasks that take a 64 KiB `Vec<u8>` (`bytes` in Python) and return
  its byte sum.
- startup-process: start 4 workers, run 1 task, shut down; the median of 20 per round. Every
  poolscope pool of a program shares one fork server, so after the first pool this measures
  forking workers from a running server. Python and procspawn keep nothing running between
  pools, so each of their pools pays its full start: their startup-process figure is a cold
  start. startup-process-cold times the first pool of a fresh program, for poolscope with
  its fork server's start, for procspawn in a fresh run of the benchmark, for Python in a
  fresh interpreter (the median of 5 programs per round). No figure includes the start of
  the program or interpreter itself. The 3 ms target applies to both.
- cpu-process: 16 tasks of about 50 ms of CPU each (a calibrated busy loop) on 2 workers,
  against the same tasks run one after the other, split between 2 plain threads, and on the
  peers' pools of 2. Python's tasks run the same loop in Python, calibrated in Python to the
  same 50 ms, so each takes as long as a Rust task, not as many steps.
- memory-thread, memory-process: 1,000,000 tasks queued at once behind blocked workers; the
  growth of the parent's peak resident size (VmHWM) per queued task, handles and the
  caller's vector of them included; *beyond payload* subtracts the task's own 8-byte
  argument, wherever the pool keeps it (8 bytes for Python too, whose `int` argument takes
  28). Python's executors are measured the same way in a fresh interpreter, and cancel the
  queued tasks once measured instead of running them; the tasks that still run are checked.
  procspawn is absent: every call it queues keeps three sockets open, so its `spawn` fails
  once the process runs out of file descriptors (at 6,662 queued calls with a limit of
  20,000), far short of 1,000,000.

Figures and sizes are those of a full run; `--quick` shrinks every size.
";

/// The markdown table alone.
pub fn table(measured: &[Measured]) -> String {
    let mut text = String::from(
        "| workload | system | median | unit | ratio poolscope/peer | target | met? |\n\
         |---|---|---:|---|---:|---|---|\n",
    );
    for entry in measured {
        for row in rows(entry) {
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} | {} | {} | {} |",
                row.workload, row.system, row.median, row.unit, row.ratio, row.target, row.met
            );
        }
    }
    text
}

/// The rows of one workload: for each metric, poolscope's row, then each peer's.
fn rows(entry: &Measured) -> Vec<Row> {
    let workload = &entry.workload;
    let mut rows = Vec::new();
    for (metric, metric_name) in workload.metrics.iter().enumerate() {
        let label = match metric_name {
            &"" => workload.name.to_owned(),
            name => format!("{} {name}", workload.name),
        };
        for (index, system) in workload.systems.iter().enumerate() {
            let values = per_round(entry, index, metric);
            let ratios = if index > 0 && workload.compared {
                ratios_per_round(entry, index, metric)
            } else {
                Vec::new()
            };
            let ratio = median_of_rounds(&ratios);
            let target = if metric == 0 { system.target } else { None };
            let verdict = target.map(|target| match target {
                Target::RatioAtLeast(_) => Verdict::judge(target, &ratios),
                Target::AtMost(_) => Verdict::judge(target, &values),
            });
            rows.push(Row {
                workload: label.clone(),
                system: system.name,
                median: median_text(entry, index, &values, workload.unit),
                unit: workload.unit.label(),
                ratio: ratio.map_or_else(String::new, |ratio| format!("{ratio:.2}")),
                target: target.map_or_else(String::new, |t| target_text(t, workload.unit)),
                met: verdict.map_or_else(String::new, Verdict::text),
            });
        }
    }
    rows
}

/// One metric's figure of one system in each round; `None` for a round that failed.
fn per_round(entry: &Measured, system: usize, metric: usize) -> Vec<Option<f64>> {
    entry.figures[system]
        .iter()
        .map(|round| round.as_ref().ok()?.get(metric).copied())
        .collect()
}

/// poolscope's figure over the peer's in each round; `None` where either failed.
fn ratios_per_round(entry: &Measured, peer: usize, metric: usize) -> Vec<Option<f64>> {
    let ours = per_round(entry, 0, metric);
    let theirs = per_round(entry, peer, metric);
    let pairs = ours.into_iter().zip(theirs);
    pairs.map(|(ours, theirs)| Some(ours? / theirs?)).collect()
}

/// The median over the rounds that have a figure.
fn median_of_rounds(values: &[Option<f64>]) -> Option<f64> {
    let figures: Vec<f64> = values.iter().flatten().copied().collect();
    median(&figures)
}

/// The median, or the first error when no round succeeded.
fn median_text(entry: &Measured, system: usize, values: &[Option<f64>], unit: Unit) -> String {
    if let Some(value) = median_of_rounds(values) {
        return format_value(value, unit);
    }
    let error = entry.figures[system]
        .iter()
        .find_map(|round| round.as_ref().err());
    format!("failed: {}", error.map_or("no rounds", String::as_str))
}

/// How a target fared in one run.
///
/// A target is met in the run only when every round meets it: a median that meets it while
/// some rounds do not is a target reached some of the time, and the table says so.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Verdict {
    /// Whether the median over rounds meets the goal; `None` when no round has a figure.
    median_meets: Option<bool>,
    /// How many rounds meet the goal; a failed round does not.
    rounds_met: usize,
    /// How many rounds ran, failed ones included.
    rounds: usize,
}

impl Verdict {
    /// Judges `target` on its figure in each round: poolscope's own figure for
    /// [`Target::AtMost`], the ratio poolscope/peer for [`Target::RatioAtLeast`].
    fn judge(target: Target, rounds: &[Option<f64>]) -> Verdict {
        let meets = |value: f64| match target {
            Target::RatioAtLeast(goal) => value >= goal,
            Target::AtMost(goal) => value <= goal,
        };
        Verdict {
            median_meets: median_of_rounds(rounds).map(meets),
            rounds_met: rounds
                .iter()
                .flatten()
                .filter(|&&value| meets(value))
                .count(),
            rounds: rounds.len(),
        }
    }

    /// The verdict as written in the table's *met?* column.
    fn text(self) -> String {
        let Some(median_meets) = self.median_meets else {
            return "n/a".to_owned();
        };
        let plural = if self.rounds == 1 { "" } else { "s" };
        let count = format!("{} of {} round{plural}", self.rounds_met, self.rounds);
        if self.rounds_met == self.rounds {
            format!("yes ({count})")
        } else if median_meets {
            format!("**no**: met in {count}, though the median meets it")
        } else {
            format!("**no**: met in {count}")
        }
    }
}

/// A goal as written in the table.
fn target_text(target: Target, unit: Unit) -> String {
    match target {
        Target::RatioAtLeast(goal) => format!("ratio ≥ {goal}"),
        Target::AtMost(goal) => format!("≤ {goal} {}", unit.label()),
    }
}

/// A figure with as many digits as it deserves and thousands separated.
fn format_value(value: f64, unit: Unit) -> String {
    if unit == Unit::TasksPerSecond || value >= 1000.0 {
        return group_thousands(value.round() as u64);
    }
    match value {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

/// `1234567` as `1,234,567`.
fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{System, Workload};

    #[test]
    fn formats_figures() {
        assert_eq!(format_value(1234567.4, Unit::TasksPerSecond), "1,234,567");
        assert_eq!(format_value(999.0, Unit::TasksPerSecond), "999");
        assert_eq!(format_value(2.345, Unit::Microseconds), "2.35");
        assert_eq!(format_value(45.67, Unit::Microseconds), "45.7");
    }

    #[test]
    fn ratios_are_taken_within_each_round() {
        let figures = |values: &[f64]| values.iter().map(|&value| Ok(vec![value])).collect();
        let workload = Workload {
            name: "w",
            metrics: &[""],
            unit: Unit::TasksPerSecond,
            systems: vec![
                System::new("ours", || Ok(vec![])),
                System::new("theirs", || Ok(vec![])).with_target(Target::RatioAtLeast(1.0)),
            ],
            compared: true,
        };
        let entry = Measured {
            workload,
            figures: vec![figures(&[10.0, 20.0]), figures(&[5.0, 40.0])],
        };
        let rows = rows(&entry);
        assert_eq!(rows[1].ratio, "1.25");
        assert_eq!(
            rows[1].met,
            "**no**: met in 1 of 2 rounds, though the median meets it"
        );
        assert_eq!((rows[0].ratio.as_str(), rows[0].met.as_str()), ("", ""));
    }

    /// The verdict text of `target` on one figure per round.
    fn verdict(target: Target, rounds: &[Option<f64>]) -> String {
        Verdict::judge(target, rounds).text()
    }

    #[test]
    fn a_target_is_met_only_when_every_round_meets_it() {
        let at_least = Target::RatioAtLeast(1.0);
        let every = [Some(1.2), Some(1.1), Some(1.0)];
        assert_eq!(verdict(at_least, &every), "yes (3 of 3 rounds)");
        let most = [Some(1.2), Some(0.9), Some(1.1)];
        assert_eq!(
            verdict(at_least, &most),
            "**no**: met in 2 of 3 rounds, though the median meets it"
        );
        let few = [Some(0.8), Some(1.1), Some(0.9)];
        assert_eq!(verdict(at_least, &few), "**no**: met in 1 of 3 rounds");
        assert_eq!(verdict(at_least, &[Some(1.5)]), "yes (1 of 1 round)");
    }

    #[test]
    fn an_upper_bound_is_judged_on_each_round_figure() {
        let at_most = Target::AtMost(3.0);
        assert_eq!(
            verdict(at_most, &[Some(2.5), Some(3.0)]),
            "yes (2 of 2 rounds)"
        );
        assert_eq!(
            verdict(at_most, &[Some(3.77)]),
            "**no**: met in 0 of 1 round"
        );
    }

    #[test]
    fn a_failed_round_does_not_meet_a_target() {
        let at_most = Target::AtMost(3.0);
        assert_eq!(
            verdict(at_most, &[Some(2.0), None, Some(2.0)]),
            "**no**: met in 2 of 3 rounds, though the median meets it"
        );
        assert_eq!(verdict(at_most, &[None, None]), "n/a");
        assert_eq!(verdict(at_most, &[]), "n/a");
    }
}
