//! The command line and the sizes it selects.

use std::path::PathBuf;

/// What the command line asked for.
#[derive(Debug)]
pub struct Options {
    /// How many round-robin rounds to run.
    pub rounds: usize,
    /// The sizes of every workload.
    pub sizes: Sizes,
    /// The workloads to run, by name; empty for all of them.
    pub only: Vec<String>,
    /// Where to write the markdown report, if anywhere.
    pub out: Option<PathBuf>,
    /// Whether `--quick` was given.
    pub quick: bool,
    /// Runs only the systems whose name contains this, for profiling one of them.
    pub system: Option<String>,
    /// Whether `--allow-debug` was given: run even from a build without optimizations.
    pub allow_debug: bool,
}

/// How big each workload is.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Tasks of `tiny-thread`.
    pub tiny_thread: usize,
    /// Tasks of `tiny-process` and `tiny-process-chunked`.
    pub tiny_process: usize,
    /// Tasks of `payload-process`.
    pub payload_tasks: usize,
    /// Bytes of each `payload-process` task's argument.
    pub payload_bytes: usize,
    /// Pool starts timed per round in `startup-process`.
    pub startup_repetitions: usize,
    /// Tasks of `cpu-process`.
    pub cpu_tasks: usize,
    /// Milliseconds of CPU each `cpu-process` task burns.
    pub cpu_task_ms: u64,
    /// Tasks timed one at a time per round in `latency-thread`.
    pub latency_thread_samples: usize,
    /// Tasks timed one at a time per round in `latency-process`.
    pub latency_process_samples: usize,
    /// Tasks queued at once in the memory workloads.
    pub memory_tasks: usize,
}

/// The usage text, printed for `--help` and after a mistake.
pub const USAGE: &str = "\
usage: poolscope-bench [--rounds N] [--quick] [--out PATH] [WORKLOAD...]

Runs poolscope and its peers side by side, round-robin, and prints a markdown table of
medians and ratios poolscope/peer. With no WORKLOAD, runs them all. Exits with 0 only
when every run of every system succeeded.

  --rounds N   rounds to run (default 5, or 1 with --quick)
  --quick      small sizes and 1 round, to check that everything runs
  --out PATH   also write the table to PATH (default: bench/RESULTS.md for a full run of
               every workload; nothing otherwise)
  --system S   run only the systems whose name contains S (to profile one; no ratios)
  --allow-debug
               run even when built without optimizations, to check that the workloads
               work; the figures then mean nothing and the report says so
  --list       print the workload names and exit";

impl Sizes {
    /// The sizes the figures are reported at.
    pub fn full() -> Self {
        Sizes {
            tiny_thread: 100_000,
            tiny_process: 20_000,
            payload_tasks: 2_000,
            payload_bytes: 64 * 1024,
            startup_repetitions: 20,
            cpu_tasks: 16,
            cpu_task_ms: 50,
            latency_thread_samples: 5_000,
            latency_process_samples: 2_000,
            memory_tasks: 1_000_000,
        }
    }

    /// Small sizes for a smoke check.
    pub fn quick() -> Self {
        Sizes {
            tiny_thread: 10_000,
            tiny_process: 2_000,
            payload_tasks: 200,
            payload_bytes: 64 * 1024,
            startup_repetitions: 5,
            cpu_tasks: 4,
            cpu_task_ms: 20,
            latency_thread_samples: 500,
            latency_process_samples: 200,
            memory_tasks: 100_000,
        }
    }
}

/// What a command line means: a run, or a request to print something and stop.
#[derive(Debug)]
pub enum Command {
    /// Run the benchmarks.
    Run(Options),
    /// Print the usage.
    Help,
    /// Print the workload names.
    List,
}

/// Parses the arguments after the program's name.
///
/// # Errors
///
/// A message for an unknown flag or a bad number.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut rounds = None;
    let mut quick = false;
    let mut out = None;
    let mut only = Vec::new();
    let mut system = None;
    let mut allow_debug = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--list" => return Ok(Command::List),
            "--quick" => quick = true,
            "--allow-debug" => allow_debug = true,
            "--rounds" => rounds = Some(parse_rounds(args.next())?),
            "--system" => system = Some(args.next().ok_or("--system needs a name")?),
            "--out" => out = Some(PathBuf::from(args.next().ok_or("--out needs a path")?)),
            flag if flag.starts_with('-') => return Err(format!("unknown flag `{flag}`")),
            _ => only.push(arg),
        }
    }
    Ok(Command::Run(Options {
        rounds: rounds.unwrap_or(if quick { 1 } else { 5 }),
        sizes: if quick { Sizes::quick() } else { Sizes::full() },
        only,
        out,
        quick,
        system,
        allow_debug,
    }))
}

/// The value of `--rounds`.
fn parse_rounds(value: Option<String>) -> Result<usize, String> {
    let value = value.ok_or("--rounds needs a number")?;
    match value.parse() {
        Ok(0) | Err(_) => Err(format!("--rounds takes a positive number, not `{value}`")),
        Ok(rounds) => Ok(rounds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `line`, split at spaces, and expects a run.
    fn run_options(line: &str) -> Options {
        match parse(line.split_whitespace().map(str::to_owned)) {
            Ok(Command::Run(options)) => options,
            other => panic!("`{line}` gave {other:?}"),
        }
    }

    #[test]
    fn defaults_to_five_full_rounds_of_everything() {
        let options = run_options("");
        assert_eq!(options.rounds, 5);
        assert_eq!(options.sizes.memory_tasks, 1_000_000);
        assert!(options.only.is_empty() && !options.quick && !options.allow_debug);
    }

    #[test]
    fn quick_means_one_round_of_small_sizes() {
        let options = run_options("--quick tiny-thread --allow-debug");
        assert_eq!(options.rounds, 1);
        assert_eq!(options.sizes.memory_tasks, 100_000);
        assert_eq!(options.only, ["tiny-thread"]);
        assert!(options.allow_debug);
    }

    #[test]
    fn rejects_bad_flags_and_numbers() {
        let error = |line: &str| parse(line.split_whitespace().map(str::to_owned)).unwrap_err();
        assert_eq!(error("--fast"), "unknown flag `--fast`");
        assert_eq!(
            error("--rounds 0"),
            "--rounds takes a positive number, not `0`"
        );
        assert_eq!(error("--rounds"), "--rounds needs a number");
        assert_eq!(error("--out"), "--out needs a path");
    }
}
