//! A crate that requires documentation on everything public.
#![deny(missing_docs)]

use poolscope::pool;

/// Adds one, on a thread of its own pool.
#[pool(thread, name = "adder")]
#[must_use]
pub fn add_one(n: u32) -> u32 {
    n + 1
}

/// Adds two, in a worker process.
#[doc(alias = "plus_two")]
#[pool(process, workers = 1, start = forkserver)]
pub fn add_two(n: u32) -> u32 {
    n + 2
}

fn main() {
    assert_eq!(add_one(1).result(), Ok(2));
    assert_eq!(add_two_sync(1), 3);
}
