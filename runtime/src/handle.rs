//! The handle to a submitted task's outcome, and the pool's side of it.
//!
//! A task's state lives in one shared cell. The caller holds a [`Handle`]; the pool holds the
//! matching [`Promise`] and settles it exactly once: with the task's outcome, or with an error
//! when the task is cancelled or its worker is lost.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::TaskError;
use crate::wait::Signal;

/// What a finished task produced: its value, or why there is none.
pub type Outcome<T> = Result<T, TaskError>;

/// A callback registered with [`Handle::add_done_callback`].
type Callback<T> = Box<dyn FnOnce(&Outcome<T>) + Send>;

/// The caller's side of a submitted task: poll it, wait for it, cancel it or take its outcome.
///
/// This is Python's `concurrent.futures.Future`. It also implements
/// [`std::future::Future`], so `handle.await` works in any async runtime.
///
/// Dropping a handle does not cancel its task; the task still runs and its outcome is dropped.
///
/// # Examples
///
/// ```
/// let pool = poolscope_runtime::ThreadPool::new(2);
/// let handle = pool.submit(|| 6 * 7);
/// assert_eq!(handle.result(), Ok(42));
/// ```
pub struct Handle<T> {
    /// The cell shared with the pool's [`Promise`].
    shared: Arc<Shared<T>>,
}

/// The pool's side of a submitted task: it starts and settles the task exactly once.
///
/// Dropping an unsettled promise settles it with [`TaskError::Cancelled`], so that a task the
/// pool lost track of can never leave its handle waiting forever.
pub(crate) struct Promise<T> {
    /// The cell shared with the caller's [`Handle`]; `None` once settled.
    shared: Option<Arc<Shared<T>>>,
}

/// The state both sides share.
pub(crate) struct Shared<T> {
    /// Where the task is, and who waits for it.
    state: Mutex<State<T>>,
    /// Signalled when the task leaves its last unsettled phase, if anybody is blocked on it.
    finished: Condvar,
    /// The outcome, stored before the task is published as done and taken by `result`.
    ///
    /// It has its own lock so that callbacks added after completion can read it without
    /// holding `state`: such a callback may then query the task without deadlocking.
    outcome: Mutex<Option<Outcome<T>>>,
}

/// The mutable part of [`Shared`].
struct State<T> {
    /// Where the task is in its life.
    phase: Phase,
    /// Callbacks, wait signals and wakers to run once the task settles; boxed, since most
    /// tasks have none and a queued task should stay small.
    #[allow(
        clippy::box_collection,
        reason = "one pointer instead of a three-word Vec in every queued task"
    )]
    listeners: Option<Box<Vec<Listener<T>>>>,
    /// How many threads block on [`Shared::finished`].
    blocked: u32,
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Queued; it can still be cancelled.
    Pending,
    /// A worker is running it.
    Running,
    /// Its outcome is known and its callbacks are running; it is not yet published as done.
    Settling,
    /// It finished: with a value, an error, or a failure of its worker.
    Finished,
    /// It was cancelled before it started.
    Cancelled,
}

/// Something to notify when a task settles.
enum Listener<T> {
    /// A user callback, given the outcome before the task is published as done.
    Callback(Callback<T>),
    /// A signal of [`crate::wait`], told this handle's index once the task is done.
    Signal(Arc<Signal>, usize),
    /// The waker of the async task awaiting this handle.
    Waker(Waker),
}

impl<T> State<T> {
    /// Adds a listener.
    fn listen(&mut self, listener: Listener<T>) {
        self.listeners.get_or_insert_default().push(listener);
    }

    /// Takes every listener.
    fn take_listeners(&mut self) -> Vec<Listener<T>> {
        self.listeners
            .take()
            .map(|listeners| *listeners)
            .unwrap_or_default()
    }

    /// Sets the waker to wake on settling, replacing an earlier one.
    fn set_waker(&mut self, waker: &Waker) {
        let listeners = self.listeners.get_or_insert_default();
        for listener in listeners.iter_mut() {
            if let Listener::Waker(old) = listener {
                old.clone_from(waker);
                return;
            }
        }
        listeners.push(Listener::Waker(waker.clone()));
    }
}

impl Phase {
    /// Whether the task is done: finished or cancelled.
    fn is_done(self) -> bool {
        matches!(self, Phase::Finished | Phase::Cancelled)
    }
}

/// Locks a mutex, ignoring poisoning: no user code ever runs while one of these is held.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes a linked handle and promise for a new, pending task.
pub(crate) fn pair<T>() -> (Handle<T>, Promise<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            phase: Phase::Pending,
            listeners: None,
            blocked: 0,
        }),
        finished: Condvar::new(),
        outcome: Mutex::new(None),
    });
    let handle = Handle {
        shared: Arc::clone(&shared),
    };
    (
        handle,
        Promise {
            shared: Some(shared),
        },
    )
}

impl<T> Handle<T> {
    /// A handle that is already finished with `error`.
    pub(crate) fn failed(error: TaskError) -> Self {
        let (handle, promise) = pair();
        promise.settle(Err(error));
        handle
    }

    /// Blocks until the task is done, then returns its outcome.
    ///
    /// # Errors
    ///
    /// The task's [`TaskError`]: it panicked, was cancelled, timed out, lost its worker, or
    /// was submitted to a pool that had shut down.
    pub fn result(self) -> Outcome<T> {
        self.wait();
        self.take_outcome()
    }

    /// Returns the outcome if the task is done, or the handle back if it is not.
    ///
    /// # Errors
    ///
    /// `Err(self)` while the task is not done.
    pub fn try_result(self) -> Result<Outcome<T>, Self> {
        if self.done() {
            Ok(self.take_outcome())
        } else {
            Err(self)
        }
    }

    /// Blocks until the task is done.
    pub fn wait(&self) {
        let mut state = lock(&self.shared.state);
        state.blocked += 1;
        while !state.phase.is_done() {
            state = (self.shared.finished.wait(state)).unwrap_or_else(PoisonError::into_inner);
        }
        state.blocked -= 1;
    }

    /// Blocks until the task is done or `timeout` has passed; returns whether it is done.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = lock(&self.shared.state);
        state.blocked += 1;
        while !state.phase.is_done() {
            let Some(left) = deadline.map(|d| d.saturating_duration_since(Instant::now())) else {
                state = (self.shared.finished.wait(state)).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            if left.is_zero() {
                break;
            }
            let (next, _) = (self.shared.finished.wait_timeout(state, left))
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
        }
        state.blocked -= 1;
        state.phase.is_done()
    }

    /// Whether the task is done: it finished, failed, or was cancelled.
    pub fn done(&self) -> bool {
        self.phase().is_done()
    }

    /// Whether a worker is running the task right now.
    pub fn running(&self) -> bool {
        matches!(self.phase(), Phase::Running | Phase::Settling)
    }

    /// Whether the task was cancelled before it started.
    pub fn cancelled(&self) -> bool {
        self.phase() == Phase::Cancelled
    }

    /// Cancels the task if it has not started; returns whether it is now cancelled.
    ///
    /// A task that is running or done cannot be cancelled, and this returns `false` for it.
    /// Cancelling an already cancelled task returns `true`. The task's callbacks run on the
    /// calling thread, before this returns.
    pub fn cancel(&self) -> bool {
        let claimed = {
            let mut state = lock(&self.shared.state);
            match state.phase {
                Phase::Pending => {
                    state.phase = Phase::Settling;
                    Some(state.take_listeners())
                }
                Phase::Cancelled => return true,
                _ => return false,
            }
        };
        if let Some(listeners) = claimed {
            self.shared
                .publish(listeners, Err(TaskError::Cancelled), Phase::Cancelled);
        }
        true
    }

    /// Registers `callback` to receive the task's outcome once it is done.
    ///
    /// The callback runs exactly once: on the thread that settles the task (usually a worker,
    /// before waiters see the task as done), or at once on this thread if the task is already
    /// done. A callback that panics is caught there; it stops neither the other callbacks nor
    /// the worker.
    pub fn add_done_callback<F>(&self, callback: F)
    where
        F: FnOnce(&Outcome<T>) + Send + 'static,
    {
        {
            let mut state = lock(&self.shared.state);
            if !state.phase.is_done() {
                state.listen(Listener::Callback(Box::new(callback)));
                return;
            }
        }
        let outcome = lock(&self.shared.outcome);
        if let Some(outcome) = outcome.as_ref() {
            run_callback(Box::new(callback), outcome);
        }
    }

    /// Whether the task finished with an error; `false` while it is not done or if cancelled.
    pub(crate) fn failed_already(&self) -> bool {
        self.phase() == Phase::Finished
            && lock(&self.shared.outcome)
                .as_ref()
                .is_some_and(Result::is_err)
    }

    /// Asks for `signal` to be told `index` once the task is done (at once if it is).
    pub(crate) fn notify_when_done(&self, signal: &Arc<Signal>, index: usize) {
        {
            let mut state = lock(&self.shared.state);
            if !state.phase.is_done() {
                let listener = Listener::Signal(Arc::clone(signal), index);
                state.listen(listener);
                return;
            }
        }
        signal.notify(index);
    }

    /// The task's phase right now.
    fn phase(&self) -> Phase {
        lock(&self.shared.state).phase
    }

    /// Takes the outcome of a done task.
    fn take_outcome(&self) -> Outcome<T> {
        let taken = lock(&self.shared.outcome).take();
        taken.expect("the outcome of a done task is taken once, by its only handle")
    }
}

impl<T> std::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = self.phase();
        f.debug_struct("Handle").field("phase", &phase).finish()
    }
}

impl<T> Future for Handle<T> {
    type Output = Outcome<T>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Outcome<T>> {
        let mut state = lock(&self.shared.state);
        if !state.phase.is_done() {
            state.set_waker(context.waker());
            return Poll::Pending;
        }
        drop(state);
        let taken = lock(&self.shared.outcome).take();
        Poll::Ready(taken.expect("a poolscope handle was polled after it returned its outcome"))
    }
}

impl<T> Promise<T> {
    /// Moves a pending task to running; `false` if it was cancelled and must not run.
    pub(crate) fn start(&self) -> bool {
        self.shared.as_ref().is_some_and(|shared| shared.start())
    }

    /// The shared cell itself, for a pool that keeps it without the promise's wrapper.
    ///
    /// Whoever takes it must settle it: dropping it does not.
    pub(crate) fn into_shared(mut self) -> Arc<Shared<T>> {
        self.shared
            .take()
            .expect("an unsettled promise holds its cell")
    }

    /// Settles the task with `outcome`, unless it was already settled (cancelled).
    pub(crate) fn settle(mut self, outcome: Outcome<T>) {
        if let Some(shared) = self.shared.take() {
            shared.settle(outcome);
        }
    }
}

impl<T> Drop for Promise<T> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.settle(Err(TaskError::Cancelled));
        }
    }
}

impl<T> Shared<T> {
    /// Moves a pending task to running; `false` if it was cancelled and must not run.
    pub(crate) fn start(&self) -> bool {
        let mut state = lock(&self.state);
        if state.phase == Phase::Pending {
            state.phase = Phase::Running;
            true
        } else {
            false
        }
    }

    /// Claims the task for settling and publishes `outcome`; a no-op if already settled.
    pub(crate) fn settle(&self, outcome: Outcome<T>) {
        let listeners = {
            let mut state = lock(&self.state);
            if !matches!(state.phase, Phase::Pending | Phase::Running) {
                return;
            }
            state.phase = Phase::Settling;
            state.take_listeners()
        };

        // A task the pool cancels (at shutdown_cancel) is as cancelled as one the caller cancels.
        let phase = match outcome {
            Err(TaskError::Cancelled) => Phase::Cancelled,
            _ => Phase::Finished,
        };
        self.publish(listeners, outcome, phase);
    }

    /// Runs callbacks on `outcome`, stores it, marks the task `phase`, then wakes waiters.
    ///
    /// The caller has moved the task to [`Phase::Settling`] and taken its listeners.
    fn publish(&self, mut listeners: Vec<Listener<T>>, outcome: Outcome<T>, phase: Phase) {
        let mut to_wake = Vec::new();
        loop {
            // Run callbacks; keep signals and wakers for after the task is published as done.
            for listener in listeners.drain(..) {
                match listener {
                    Listener::Callback(callback) => run_callback(callback, &outcome),
                    other => to_wake.push(other),
                }
            }

            // Pick up listeners added while the callbacks ran, or publish.
            let mut state = lock(&self.state);
            if state.listeners.is_some() {
                listeners = state.take_listeners();
                continue;
            }
            *lock(&self.outcome) = Some(outcome);
            state.phase = phase;
            if state.blocked > 0 {
                self.finished.notify_all();
            }
            drop(state);

            // Wake whoever waits, outside the lock.
            for listener in to_wake {
                match listener {
                    Listener::Signal(signal, index) => signal.notify(index),
                    Listener::Waker(waker) => waker.wake(),
                    Listener::Callback(_) => {}
                }
            }
            return;
        }
    }
}

/// Runs one callback, containing its panic.
fn run_callback<T>(callback: Callback<T>, outcome: &Outcome<T>) {
    // The panic has already been reported by the panic hook; there is nobody to hand it to.
    let _ = catch_unwind(AssertUnwindSafe(move || callback(outcome)));
}
