//! Workers of the default start method do not inherit the locks other threads of the
//! program hold; forked workers do, and freeze on them.
//!
//! A thread holds a static `Mutex` all the while a pool starts, its workers start and its
//! tasks run; the tasks lock that same `Mutex`.

mod support;

use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use poolscope::{ProcessPool, StartMethod, TaskError};

use support::{Rerun, child_role, report};

/// The lock another thread holds while pools start.
static SHARED: Mutex<u64> = Mutex::new(0);

/// A task that takes [`SHARED`] in its worker, then doubles its argument.
fn lock_shared(x: u64) -> u64 {
    let guard = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    drop(guard);
    x * 2
}

/// A thread holding [`SHARED`] until told to let go.
struct Holder {
    /// Tells the thread to let go.
    release: mpsc::Sender<()>,
    /// The thread.
    thread: JoinHandle<()>,
}

impl Holder {
    /// Starts the thread and returns once it holds the lock.
    fn hold() -> Holder {
        let (held, is_held) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            let _guard = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
            held.send(()).expect("the test waits");
            let _ = released.recv();
        });
        is_held.recv().expect("the holder took the lock");
        Holder { release, thread }
    }

    /// Lets go of the lock and joins the thread.
    fn release(self) {
        assert!(SHARED.try_lock().is_err(), "the lock was held all along");
        self.release.send(()).expect("the holder waits");
        self.thread.join().expect("the holder ends");
    }
}

#[test]
fn fork_server_workers_take_a_lock_held_in_the_program() {
    let holder = Holder::hold();
    let pool = ProcessPool::new(2);
    let handles: Vec<_> = (0..8).map(|x| pool.submit(lock_shared, x)).collect();
    for (x, handle) in (0..).zip(handles) {
        assert_eq!(handle.result(), Ok(x * 2));
    }
    pool.shutdown(true);
    holder.release();
}

/// The child's side: a forked worker's task freezes on the inherited lock until the task
/// timeout kills it.
fn forked_child(limit: Duration) {
    let holder = Holder::hold();
    let pool = ProcessPool::builder()
        .workers(1)
        .start_method(StartMethod::Fork)
        .task_timeout(limit)
        .build()
        .expect("a valid pool");
    let outcome = pool.submit(lock_shared, 1).result();
    assert_eq!(outcome, Err(TaskError::TimedOut(limit)));
    pool.shutdown(true);
    holder.release();
    report("timed out");
}

/// A fork copies the lock in its held state, and no thread in the worker will ever release
/// it. The task timeout bounds the freeze; the child program bounds everything else, so a
/// worker that froze elsewhere cannot hang this test.
#[test]
fn forked_worker_freezes_on_a_lock_held_in_the_program() {
    let limit = Duration::from_secs(2);
    if child_role().is_some() {
        return forked_child(limit);
    }
    let test = "forked_worker_freezes_on_a_lock_held_in_the_program";
    let finished = Rerun::start(test, "fork", &[]).finish(Duration::from_secs(30));
    finished.assert_success();
    assert_eq!(finished.reports(), ["timed out"]);
}
