//! The tutorial's program with an explicit shutdown: the same ten tasks inside
//! `pool_scope!`, which waits for them before the block ends, so `main` prints last.
//!
//! ```text
//! cargo run --example process_pool_shutdown
//! ```

use std::time::Duration;

use poolscope::{pool, pool_scope};
use rand::Rng;

/// Prints who runs it, then works for one to three seconds.
#[pool(process, workers = 4)]
fn task(name: String, number: u32) {
    println!("name: {name} {number} pid: {} run", std::process::id());
    let seconds = rand::rng().random_range(1..=3);
    std::thread::sleep(Duration::from_secs(seconds));
}

fn main() {
    pool_scope! {
        for number in 0..10 {
            task("egon".to_owned(), number);
        }
    }
    println!("main");
}
