//! The task functions the process workloads send to workers, shared by every Rust system.
//!
//! They are plain functions, since both poolscope and procspawn send a function by its
//! address in this executable, not a closure.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `x + 1`: the task of the latency and startup workloads.
pub fn increment(x: u64) -> u64 {
    x + 1
}

/// `2x`: the task of `tiny-process` and `tiny-process-chunked`.
pub fn double(x: u64) -> u64 {
    2 * x
}

/// The sum of the bytes: the task of `payload-process`.
pub fn byte_sum(data: Vec<u8>) -> u64 {
    data.iter().map(|&byte| u64::from(byte)).sum()
}

/// The sum of the bytes of a [`poolscope::Bytes`]: the task of `payload-process-bytes`.
pub fn block_sum(data: poolscope::Bytes) -> u64 {
    byte_sum(data.into_vec())
}

/// The 64 KiB argument of the `index`-th `payload-process` task.
pub fn payload(index: usize, bytes: usize) -> Vec<u8> {
    vec![(index % 256) as u8; bytes]
}

/// What the `payload-process` results must sum to.
pub fn payload_total(tasks: usize, bytes: usize) -> u64 {
    (0..tasks)
        .map(|index| (index % 256) as u64 * bytes as u64)
        .sum()
}

/// Burns CPU for `iterations` steps of a xorshift generator; returns its last state.
///
/// Each step depends on the one before, so the loop can be neither vectorized nor skipped.
pub fn burn(iterations: u64) -> u64 {
    let mut state = iterations | 1;
    for _ in 0..iterations {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
    }
    std::hint::black_box(state)
}

/// A CPU-bound task sized for this machine: how many [`burn`] steps, and what they return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burn {
    /// The argument to pass to [`burn`].
    pub iterations: u64,
    /// What `burn(iterations)` returns, to check the workers' results against.
    pub result: u64,
}

/// The calibrations made so far, by milliseconds wanted.
static CALIBRATED: Mutex<Vec<(u64, Burn)>> = Mutex::new(Vec::new());

/// A [`Burn`] that takes about `millis` milliseconds of CPU on this machine.
///
/// Measured once per `millis`: the fastest of five timed runs, since other load on the
/// machine can only make a run slower.
pub fn calibrate(millis: u64) -> Burn {
    let mut calibrated = CALIBRATED
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    if let Some(&(_, known)) = calibrated.iter().find(|(wanted, _)| *wanted == millis) {
        return known;
    }
    const PROBE: u64 = 1 << 22;
    let fastest = (0..5)
        .map(|_| time_burn(PROBE))
        .min()
        .unwrap_or(Duration::from_millis(1));
    let per_iteration = fastest.as_secs_f64() / PROBE as f64;
    let iterations = (millis as f64 / 1e3 / per_iteration) as u64;
    let found = Burn {
        iterations,
        result: burn(iterations),
    };
    calibrated.push((millis, found));
    found
}

/// The wall time of one `burn(iterations)`.
fn time_burn(iterations: u64) -> Duration {
    let started = Instant::now();
    burn(iterations);
    started.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_total_matches_the_tasks() {
        let sums: u64 = (0..300).map(|index| byte_sum(payload(index, 16))).sum();
        assert_eq!(sums, payload_total(300, 16));
    }

    #[test]
    fn burn_depends_on_its_iterations() {
        assert_ne!(burn(1000), burn(1001));
    }
}
