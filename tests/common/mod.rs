//! What the pool test suites share: the [`TestPool`] trait that lets one scenario run on every
//! pool kind, the tasks the scenarios submit, file gates that hold a task in the running state
//! across threads and processes alike, and a tiny executor for `handle.await`.
//!
//! Each suite compiles this module on its own and uses only part of it.
#![allow(
    dead_code,
    reason = "every test binary compiles this module and uses a part of it"
)]

pub mod handle;
pub mod lifecycle;
pub mod waiting;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use poolscope::{Handle, Map, ProcessPool, ThreadPool};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

/// What a scenario needs from a pool, whatever kind it is.
///
/// Tasks are plain functions with one serializable argument, so that a process pool can send
/// them to its workers as well as a thread pool can run them in place.
pub trait TestPool {
    /// Submits `function(argument)`.
    fn submit_fn<A, R>(&self, function: fn(A) -> R, argument: A) -> Handle<R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static;

    /// Maps `function` over `items`, yielding the outcomes in input order.
    fn map_fn<'a, A, R, I>(&'a self, function: fn(A) -> R, items: I) -> Map<'a, R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a;

    /// Stops taking tasks; with `wait`, waits for the queued ones.
    fn shutdown(&self, wait: bool);

    /// Stops taking tasks and cancels the queued ones; with `wait`, waits for the running ones.
    fn shutdown_cancel(&self, wait: bool);

    /// The most tasks the pool runs at once.
    fn max_workers(&self) -> usize;
}

impl TestPool for ThreadPool {
    fn submit_fn<A, R>(&self, function: fn(A) -> R, argument: A) -> Handle<R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit(move || function(argument))
    }

    fn map_fn<'a, A, R, I>(&'a self, function: fn(A) -> R, items: I) -> Map<'a, R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        self.map(function, items)
    }

    fn shutdown(&self, wait: bool) {
        ThreadPool::shutdown(self, wait);
    }

    fn shutdown_cancel(&self, wait: bool) {
        ThreadPool::shutdown_cancel(self, wait);
    }

    fn max_workers(&self) -> usize {
        ThreadPool::max_workers(self)
    }
}

impl TestPool for ProcessPool {
    fn submit_fn<A, R>(&self, function: fn(A) -> R, argument: A) -> Handle<R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit(function, argument)
    }

    fn map_fn<'a, A, R, I>(&'a self, function: fn(A) -> R, items: I) -> Map<'a, R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        self.map(function, items)
    }

    fn shutdown(&self, wait: bool) {
        ProcessPool::shutdown(self, wait);
    }

    fn shutdown_cancel(&self, wait: bool) {
        ProcessPool::shutdown_cancel(self, wait);
    }

    fn max_workers(&self) -> usize {
        ProcessPool::max_workers(self)
    }
}

/// How long a scenario waits for something that should happen almost at once before it
/// declares the run broken; it bounds a failing test instead of letting it hang.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Doubles a number.
pub fn double(x: u32) -> u32 {
    x * 2
}

/// Squares a number.
pub fn square(x: u64) -> u64 {
    x * x
}

/// Panics with a message naming `x`.
pub fn explode(x: u32) -> u32 {
    panic!("task {x} exploded")
}

/// Squares a number, but panics on 3.
pub fn square_unless_three(x: u64) -> u64 {
    if x == 3 {
        panic!("three is not welcome");
    }
    x * x
}

/// The argument of [`held`]: where to mark the start, what to wait for, what to return.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hold {
    /// Created by the task as it starts.
    started: PathBuf,
    /// The task returns once this file exists, or once its directory is gone.
    release: PathBuf,
    /// What the task returns.
    value: u32,
}

/// A task that marks itself started, then waits for its gate to open and returns its value.
///
/// # Panics
///
/// If the gate stays closed for [`PATIENCE`].
pub fn held(hold: Hold) -> u32 {
    // The directory is gone only when the scenario ended early; the task then just returns.
    let _ = std::fs::write(&hold.started, b"");
    let directory = hold
        .release
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    poll_until("the gate to open", || {
        hold.release.exists() || !directory.exists()
    });
    hold.value
}

/// A set of file gates in a temporary directory, each holding one task until it is opened.
///
/// Files work in a worker process as well as in a thread. Dropping the set removes the
/// directory, which releases every task still held, so a scenario that fails does not leave
/// its pool waiting on a held task: made after the pool, the gates are dropped before it.
/// Either way a held task gives up after [`PATIENCE`].
pub struct Gates {
    /// Where the gate files live.
    directory: TempDir,
}

/// One gate: the task behind it marks its start here and waits for it to open.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The file the task creates as it starts.
    started: PathBuf,
    /// The file whose creation opens the gate.
    release: PathBuf,
}

impl Gates {
    /// A fresh, empty set of gates.
    pub fn new() -> Gates {
        let directory = tempfile::tempdir().expect("a temporary directory for the gates");
        Gates { directory }
    }

    /// A new closed gate called `name`.
    pub fn gate(&self, name: &str) -> Gate {
        Gate {
            started: self.directory.path().join(format!("{name}.started")),
            release: self.directory.path().join(format!("{name}.release")),
        }
    }
}

impl Gate {
    /// The argument that makes [`held`] wait at this gate, then return `value`.
    pub fn hold(&self, value: u32) -> Hold {
        Hold {
            started: self.started.clone(),
            release: self.release.clone(),
            value,
        }
    }

    /// Blocks until the task behind this gate has started.
    pub fn wait_started(&self) {
        poll_until("a held task to start", || self.started.exists());
    }

    /// Lets the task behind this gate return.
    pub fn open(&self) {
        std::fs::write(&self.release, b"").expect("the gate's release file can be written");
    }

    /// Whether the gate has been opened.
    pub fn is_open(&self) -> bool {
        self.release.exists()
    }

    /// Opens the gate from another thread once `delay` has passed, so that the caller can
    /// block on the pool meanwhile.
    pub fn open_after(&self, delay: Duration) -> thread::JoinHandle<()> {
        let gate = self.clone();
        thread::spawn(move || {
            thread::sleep(delay);
            gate.open();
        })
    }
}

/// Polls `condition` every millisecond until it holds.
///
/// # Panics
///
/// If it does not hold within [`PATIENCE`]; `what` names what was awaited.
pub fn poll_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Wakes a parked thread, and records that it did.
struct Unpark {
    /// The thread to wake.
    thread: Thread,
    /// Set by every wake, cleared by the thread before it polls again.
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Runs `future` to completion on this thread, parking between polls.
///
/// It polls again only once the future's waker was called, so a lost wake-up fails the test
/// after [`PATIENCE`] instead of being hidden by a spurious return from `park`.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let unpark = Arc::new(Unpark {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        let deadline = Instant::now() + PATIENCE;
        while !unpark.woken.swap(false, Ordering::SeqCst) {
            assert!(
                Instant::now() < deadline,
                "the pending future was never woken"
            );
            thread::park_timeout(Duration::from_millis(10));
        }
    }
}

/// Defines one `#[test]` per scenario shared by every pool kind, each making its pools with
/// `$make` (a `fn(usize) -> impl TestPool`).
#[macro_export]
macro_rules! shared_scenarios {
    ($make:path) => {
        $crate::shared_scenarios!($make;
    handle::states_and_cancel,
    handle::try_result_and_wait_timeout,
    handle::panic_is_reported,
    handle::callbacks_run_once,
    handle::callback_sees_its_task_done,
    handle::callback_sees_cancel,
    handle::panicking_callback_is_contained,
    handle::shutdown_from_callback,
    handle::await_handles,
    waiting::wait_first_completed,
    waiting::wait_first_completed_already_done,
    waiting::wait_first_error,
    waiting::wait_first_error_already_failed,
    waiting::wait_first_error_without_errors,
    waiting::wait_all_completed,
    waiting::wait_timeout,
    waiting::as_completed_order,
    waiting::as_completed_timeout,
    lifecycle::map_in_order,
    lifecycle::map_with_panic,
    lifecycle::map_endless,
    lifecycle::shutdown_waits,
    lifecycle::shutdown_without_wait,
    lifecycle::shutdown_cancel_waits,
    lifecycle::shutdown_cancel_without_wait,
    lifecycle::submit_after_shutdown,
    lifecycle::drop_waits,
    lifecycle::reports_size,
        );
    };
    ($make:path; $($module:ident::$scenario:ident),* $(,)?) => {
        $(
            #[test]
            fn $scenario() {
                common::$module::$scenario($make);
            }
        )*
    };
}
