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
    /// Whether the goal was met.
    met: &'static str,
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
needs less. Pool creation and shutdown are timed in every throughput workload, for every
system. Python's figures exclude the interpreter's start. Every run checks its results.
Why a target is missed, with profiles, is in `ANALYSIS.md` beside this file.

- tiny-thread: 100,000 submits of `x + 1` on 2 threads, every result collected. rayon and
  threadpool send results back through a channel.
- latency-thread, latency-process: one task at a time on a warm pool of 2, submit to result.
- tiny-process: 20,000 tasks `x -> 2x` on 2 processes, one submit each; procspawn keeps at
  most 1,024 calls in flight.
- tiny-process-chunked: the same through `map_chunked(f, items, 64)`, against
  `multiprocessing.Pool(2).imap(f, items, chunksize=64)`.
- payload-process: 2,000 tasks that take a 64 KiB `Vec<u8>` (`bytes` in Python) and return
  its byte sum.
- startup-process: start 4 workers, run 1 task, shut down; the median of 20 per round. Every
  poolscope pool of a program shares one fork server, so after the first pool this measures
  forking workers from a running server; startup-process-cold times the first pool of a fresh
  program, fork server start included (the median of 5 programs per round).
- cpu-process: 16 tasks of about 50 ms of CPU each (a calibrated busy loop) on 2 workers,
  against the same tasks run one after the other, and split between 2 plain threads.
- memory-thread, memory-process: 1,000,000 tasks queued at once behind blocked workers; the
  growth of the parent's peak resident size (VmHWM) per queued task, handles and the
  caller's vector of them included; *beyond payload* subtracts the task's own 8-byte
  argument, wherever the pool keeps it.

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
            let values = figures(entry, index, metric);
            let ratio = (index > 0 && workload.compared)
                .then(|| ratio(entry, index, metric))
                .flatten();
            let target = if metric == 0 { system.target } else { None };
            rows.push(Row {
                workload: label.clone(),
                system: system.name,
                median: median_text(entry, index, &values, workload.unit),
                unit: workload.unit.label(),
                ratio: ratio.map_or_else(String::new, |ratio| format!("{ratio:.2}")),
                target: target.map_or_else(String::new, |t| target_text(t, workload.unit)),
                met: met(target, median(&values), ratio),
            });
        }
    }
    rows
}

/// One metric's figures of one system, from the rounds that succeeded.
fn figures(entry: &Measured, system: usize, metric: usize) -> Vec<f64> {
    entry.figures[system]
        .iter()
        .filter_map(|round| round.as_ref().ok()?.get(metric).copied())
        .collect()
}

/// The median, or the first error when no round succeeded.
fn median_text(entry: &Measured, system: usize, values: &[f64], unit: Unit) -> String {
    if let Some(value) = median(values) {
        return format_value(value, unit);
    }
    let error = entry.figures[system]
        .iter()
        .find_map(|round| round.as_ref().err());
    format!("failed: {}", error.map_or("no rounds", String::as_str))
}

/// The median over rounds of poolscope's figure over the peer's, from rounds where both ran.
fn ratio(entry: &Measured, peer: usize, metric: usize) -> Option<f64> {
    let pairs = entry.figures[0].iter().zip(&entry.figures[peer]);
    let ratios: Vec<f64> = pairs
        .filter_map(|(ours, theirs)| {
            let ours = ours.as_ref().ok()?.get(metric)?;
            let theirs = theirs.as_ref().ok()?.get(metric)?;
            Some(ours / theirs)
        })
        .collect();
    median(&ratios)
}

/// Whether `target` was met, given the row's median and ratio.
fn met(target: Option<Target>, median: Option<f64>, ratio: Option<f64>) -> &'static str {
    let reached = match target {
        None => return "",
        Some(Target::RatioAtLeast(goal)) => ratio.map(|ratio| ratio >= goal),
        Some(Target::AtMost(goal)) => median.map(|median| median <= goal),
    };
    match reached {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "n/a",
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

    #[test]
    fn formats_figures() {
        assert_eq!(format_value(1234567.4, Unit::TasksPerSecond), "1,234,567");
        assert_eq!(format_value(999.0, Unit::TasksPerSecond), "999");
        assert_eq!(format_value(2.345, Unit::Microseconds), "2.35");
        assert_eq!(format_value(45.67, Unit::Microseconds), "45.7");
    }

    #[test]
    fn judges_targets() {
        assert_eq!(
            met(Some(Target::RatioAtLeast(1.0)), Some(5.0), Some(1.2)),
            "yes"
        );
        assert_eq!(
            met(Some(Target::RatioAtLeast(1.0)), Some(5.0), Some(0.8)),
            "**no**"
        );
        assert_eq!(met(Some(Target::AtMost(3.0)), Some(3.5), None), "**no**");
        assert_eq!(met(Some(Target::AtMost(3.0)), Some(2.5), None), "yes");
        assert_eq!(met(Some(Target::AtMost(3.0)), None, None), "n/a");
        assert_eq!(met(None, Some(1.0), Some(1.0)), "");
    }
}
