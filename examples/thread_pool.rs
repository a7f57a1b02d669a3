//! The tutorial's thread version: ten tasks on a pool of five threads, each printing the
//! name of the thread that runs it, `ThreadPool-0_0` to `ThreadPool-0_4`.
//!
//! ```text
//! cargo run --example thread_pool
//! ```

use std::time::Duration;

use poolscope::{pool, pool_scope};
use rand::Rng;

/// Prints the thread that runs it, then works for up to half a second.
#[pool(thread, workers = 5)]
fn task(number: u32) -> u32 {
    let thread = std::thread::current();
    println!(
        "{} running task {number}",
        thread.name().unwrap_or("unnamed")
    );
    let millis = rand::rng().random_range(100..=500);
    std::thread::sleep(Duration::from_millis(millis));
    number * number
}

fn main() {
    let squares: Vec<u32> = pool_scope! {
        let handles: Vec<_> = (0..10).map(task).collect();
        handles.into_iter().map(|handle| handle.result().unwrap()).collect()
    };
    println!("main: squares {squares:?}");
}
