//! Helpers for the fault and load campaign: sizes that grow in soak mode, and views of
//! processes through `/proc`.
//!
//! Set `POOLSCOPE_SOAK` to a whole number N to run every campaign test N times larger.

#![allow(
    dead_code,
    reason = "each campaign file uses a different part of these helpers"
)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// How many times larger than in CI the campaign runs: `POOLSCOPE_SOAK`, or 1.
pub fn soak() -> usize {
    std::env::var("POOLSCOPE_SOAK")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|&factor| factor >= 1)
        .unwrap_or(1)
}

/// `size` scaled by [`soak`].
pub fn scaled(size: usize) -> usize {
    size * soak()
}

/// The open descriptors of this process.
pub fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// This process's resident memory, in bytes.
pub fn resident_bytes() -> usize {
    status_field("VmRSS").map_or(0, |kib| kib * 1024)
}

/// A `kB` field of `/proc/self/status`, in KiB.
fn status_field(name: &str) -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The state letter and parent pid of process `pid`, if it exists.
pub fn state_and_parent(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces; the fields follow its end.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// Every process whose parent is `parent`.
pub fn children_of(parent: u32) -> BTreeSet<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return BTreeSet::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| state_and_parent(pid).is_some_and(|(_, p)| p == parent))
        .collect()
}

/// Every process in process group `group`.
pub fn processes_in_group(group: u32) -> BTreeSet<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return BTreeSet::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| process_group(pid) == Some(group))
        .collect()
}

/// The process group of `pid`.
fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split_whitespace().nth(2)?.parse().ok()
}

/// Whether `pid` is gone: no such process, or a zombie waiting only to be reaped.
pub fn is_gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
        || state_and_parent(pid).is_none_or(|(state, _)| state == 'Z' || state == 'X')
}

/// Polls `condition` until it holds or `limit` passes; returns whether it held.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Spins for about `micros` microseconds, so that a task takes time without sleeping.
pub fn spin(micros: u64) {
    let until = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}
