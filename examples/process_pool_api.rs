//! Ten tasks on a pool of four processes, written with the runtime API alone.
//!
//! Python's version of this program:
//!
//! ```python
//! pool = ProcessPoolExecutor(4)
//! for i in range(10):
//!     pool.submit(task, "egon %s" % i)
//! pool.shutdown(wait=True)
//! print("main")
//! ```
//!
//! Every task prints its name and the pid of the worker process it runs in, then sleeps one
//! to three seconds. Only four workers exist, so at most four pids appear and they repeat.
//! `main` comes last, because `shutdown(true)` waits for every task.
//!
//! The sleep is drawn in the worker, as Python's `random.randint` is. No set-up call is
//! needed: a worker is this same program, which becomes a worker before `main` runs.
//!
//! Run it with `cargo run --example process_pool_api`.

use std::thread;
use std::time::Duration;

use poolscope::ProcessPool;

/// Prints its name and worker pid, then sleeps one to three seconds.
fn task(name: String) {
    println!("name: {name} pid: {} run", std::process::id());
    thread::sleep(Duration::from_secs(rand::random_range(1..=3)));
}

fn main() {
    let pool = ProcessPool::new(4);
    for i in 0..10 {
        pool.submit(task, format!("egon {i}"));
    }
    pool.shutdown(true);
    println!("main");
}
