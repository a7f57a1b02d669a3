//! Ten tasks on a pool of five threads, written with the runtime API alone.
//!
//! Python's version of this program:
//!
//! ```python
//! pool = ThreadPoolExecutor(5)
//! for i in range(10):
//!     pool.submit(task)
//! pool.shutdown(wait=True)
//! print("main")
//! ```
//!
//! Every task prints the name of the thread it runs on and the process id, then sleeps one to
//! three seconds. Only five threads exist, so their names repeat, and the pid is the same for
//! all: threads share one process. `main` comes last, because `shutdown(true)` waits for
//! every task.
//!
//! Run it with `cargo run --example thread_pool_api`.

use std::thread;
use std::time::Duration;

use poolscope::ThreadPool;

/// Prints where it runs, then sleeps one to three seconds.
fn task() {
    let name = thread::current().name().unwrap_or("unnamed").to_owned();
    println!("name: {name} pid: {} run", std::process::id());
    thread::sleep(Duration::from_secs(rand::random_range(1..=3)));
}

fn main() {
    let pool = ThreadPool::new(5);
    for _ in 0..10 {
        pool.submit(task);
    }
    pool.shutdown(true);
    println!("main");
}
