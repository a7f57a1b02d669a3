//! The tutorial's first program: ten tasks on a pool of four worker processes, outside any
//! scope. `main` prints first and returns; the program still waits for all ten tasks.
//!
//! ```text
//! cargo run --example process_pool
//! ```

use std::time::Duration;

use poolscope::pool;
use rand::Rng;

/// Prints who runs it, then works for one to three seconds.
#[pool(process, workers = 4)]
fn task(name: String, number: u32) {
    println!("name: {name} {number} pid: {} run", std::process::id());
    let seconds = rand::rng().random_range(1..=3);
    std::thread::sleep(Duration::from_secs(seconds));
}

fn main() {
    for number in 0..10 {
        task("egon".to_owned(), number);
    }
    println!("main");
}
