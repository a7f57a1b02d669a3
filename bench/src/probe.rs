//! Measurements that need a fresh process: this same binary, re-run with a hidden argument.
//!
//! A memory figure must not inherit the peak resident size of earlier workloads, and a cold
//! start must not find the fork server of earlier pools already running. The child prints one
//! figure on standard output and exits.

use std::process::{Command, ExitCode};

use crate::harness::BenchResult;
use crate::{memory, startup};

/// The hidden first argument that makes this binary a probe.
const PROBE_FLAG: &str = "__probe";

/// Runs this binary as the probe `kind` and parses the figure it prints.
pub fn run(kind: &str, size: usize) -> BenchResult<f64> {
    let output = Command::new(std::env::current_exe()?)
        .args([PROBE_FLAG, kind, &size.to_string()])
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let status = output.status;
        return Err(format!("probe {kind} failed ({status}): {}", stderr.trim()).into());
    }
    let figure = stdout.trim().parse::<f64>();
    Ok(figure.map_err(|_| format!("probe {kind} printed `{}`", stdout.trim()))?)
}

/// Runs the probe if `args` ask for one, returning the exit code; `None` otherwise.
pub fn serve(args: &[String]) -> Option<ExitCode> {
    let [flag, kind, size] = args else {
        return None;
    };
    if flag != PROBE_FLAG {
        return None;
    }
    match measure(kind, size) {
        Ok(figure) => {
            println!("{figure}");
            Some(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("{error}");
            Some(ExitCode::FAILURE)
        }
    }
}

/// Takes the figure of the probe `kind` in this process.
fn measure(kind: &str, size: &str) -> BenchResult<f64> {
    let size: usize = size
        .parse()
        .map_err(|_| format!("bad probe size `{size}`"))?;
    let found = memory::probe(kind, size).or_else(|| startup::probe(kind, size));
    found.unwrap_or_else(|| Err(format!("unknown probe `{kind}`").into()))
}
