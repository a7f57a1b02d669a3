//! Python's side: `peers.py`, run as a fresh interpreter for every (workload, pool, round).
//!
//! A fresh process per run keeps the round-robin honest: Python's figures are taken between
//! the Rust systems' runs, under the same machine load. The script times only the work, not
//! the interpreter's start, and prints one line `RESULT v1 [v2 ...]` in the table's units.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::{BenchResult, System};

/// The interpreter to run; `PYTHON` overrides `python3`.
pub fn interpreter() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// The path of `peers.py`, beside this crate's manifest.
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers.py")
}

/// The Python pool a workload runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// `concurrent.futures.ThreadPoolExecutor`.
    Threads,
    /// `concurrent.futures.ProcessPoolExecutor`.
    Processes,
    /// `multiprocessing.Pool`, one `apply_async` per task (or `imap` where the workload
    /// says so).
    Multiprocessing,
}

impl Pool {
    /// The name `peers.py` knows the pool by.
    fn argument(self) -> &'static str {
        match self {
            Pool::Threads => "threads",
            Pool::Processes => "processes",
            Pool::Multiprocessing => "multiprocessing",
        }
    }
}

/// A contender named `name` that runs `peers.py WORKLOAD POOL ARGS...`.
pub fn system(name: &'static str, workload: &'static str, pool: Pool, args: Vec<String>) -> System {
    System::new(name, move || run(workload, pool, &args))
}

/// Runs the script once for `workload` on `pool` and parses its figures.
pub fn run(workload: &str, pool: Pool, args: &[String]) -> BenchResult<Vec<f64>> {
    let output = Command::new(interpreter())
        .arg(script())
        .arg(workload)
        .arg(pool.argument())
        .args(args)
        .output()
        .map_err(|error| format!("cannot run {}: {error}", interpreter()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("no error output");
        return Err(format!("peers.py {workload} failed ({}): {last}", output.status).into());
    }
    parse_result(&stdout)
        .ok_or_else(|| format!("peers.py {workload} printed no RESULT line").into())
}

/// The figures of the last `RESULT` line of `stdout`.
fn parse_result(stdout: &str) -> Option<Vec<f64>> {
    let line = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("RESULT "))?;
    line.split_whitespace()
        .map(|value| value.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_result;

    #[test]
    fn parses_the_last_result_line() {
        let stdout = "noise\nRESULT 1 2\nRESULT 3.5 4e3\n";
        assert_eq!(parse_result(stdout), Some(vec![3.5, 4000.0]));
        assert_eq!(parse_result("RESULT x\n"), None);
        assert_eq!(parse_result("nothing\n"), None);
    }
}
