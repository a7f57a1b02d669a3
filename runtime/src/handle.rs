//! The handle to a submitted task's outcome, and the pool's side of it.
//!
//! A task's state lives in one shared cell. The caller holds a [`Handle`]; the pool holds the
//! matching [`Promise`] and settles it exactly once: with the task's outcome, or with an error
//! when the task is cancelled or its worker is lost.

use std::cell::UnsafeCell;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
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
///
/// A handle can be shared between threads (`Sync`) only if its value can: callbacks added
/// on several threads read the value at once.
///
/// ```compile_fail
/// fn shareable<T: Sync>() {}
/// shareable::<poolscope_runtime::Handle<std::cell::Cell<u32>>>();
/// ```
pub struct Handle<T> {
    /// The allocation holding the task's [`Shared`] state, and for a thread pool the task
    /// itself: one allocation per task.
    cell: Arc<dyn TaskCell<T>>,
    /// Makes the handle `Send` only for a `Send` value and `Sync` only for a `Sync` one:
    /// callbacks added through a shared handle on several threads read the value at once.
    value: PhantomData<T>,
}

/// An allocation that holds a task's [`Shared`] state.
pub(crate) trait TaskCell<T>: Send + Sync {
    /// The task's state.
    fn shared(&self) -> &Shared<T>;
}

/// The pool's side of a submitted task: it starts and settles the task exactly once.
///
/// Dropping an unsettled promise settles it with [`TaskError::Cancelled`], so that a task the
/// pool lost track of can never leave its handle waiting forever.
pub(crate) struct Promise<T> {
    /// The state shared with the caller's [`Handle`]; `None` once settled.
    shared: Option<Arc<Shared<T>>>,
}

/// A task's state, shared by its handle and its pool.
///
/// The phase is one atomic byte, so that starting a task, settling one nobody watches, and
/// asking whether one is done take no lock. Whoever waits, or registers a callback, a wait
/// signal or a waker, sets [`WATCHED`] under the `watchers` lock; a task so marked is
/// published under that lock too, which is what keeps wake-ups from being lost.
pub(crate) struct Shared<T> {
    /// A phase constant, plus [`WATCHED`].
    phase: AtomicU8,
    /// Who waits for the task to settle.
    watchers: Mutex<Watchers<T>>,
    /// Signalled when a watched task is published as done and threads block on it.
    finished: Condvar,
    /// The outcome: written once, by the thread that moved the task to [`SETTLING`], before
    /// it publishes a done phase; read only after a done phase is seen; taken only through
    /// the one [`Handle`], by value or pinned, so never while anyone else reads it.
    outcome: UnsafeCell<Option<Outcome<T>>>,
}

// SAFETY: the phase protocol above makes every access to `outcome` either exclusive (the
// settler before publishing, the sole handle owner when taking) or a shared read after
// publication; everything else is atomic or behind a mutex. A `T` crosses threads, so it must
// be `Send`.
unsafe impl<T: Send> Sync for Shared<T> {}

/// Those waiting for a task, kept under [`Shared::watchers`].
struct Watchers<T> {
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

/// Queued; it can still be cancelled.
const PENDING: u8 = 0;
/// A worker is running it.
const RUNNING: u8 = 1;
/// Its outcome is being stored; it is not yet published as done.
const SETTLING: u8 = 2;
/// It finished: with a value, an error, or a failure of its worker.
const FINISHED: u8 = 3;
/// It was cancelled before it started.
const CANCELLED: u8 = 4;
/// The bits of [`Shared::phase`] that hold the phase.
const PHASE: u8 = 0b111;
/// Set once anybody waits or listens: settling must then take the lock and wake them.
const WATCHED: u8 = 0b1000;
/// Set on a done task while the settling thread runs its callbacks: they read the outcome,
/// so it cannot be taken yet, and callbacks added meanwhile queue behind them.
const CALLING: u8 = 0b1_0000;

/// Something to notify when a task settles.
enum Listener<T> {
    /// A user callback, given the outcome once the task is published as done.
    Callback(Callback<T>),
    /// A signal of [`crate::wait`], told this handle's index once the task is done.
    Signal(Arc<Signal>, usize),
    /// The waker of the async task awaiting this handle.
    Waker(Waker),
}

/// How often [`Handle::wait`] checks a task before it blocks: a task in a busy pool often
/// finishes within that time, and a check is far cheaper than sleeping and being woken.
const SPINS_BEFORE_BLOCKING: u32 = 64;

impl<T> Watchers<T> {
    /// Adds a listener.
    fn listen(&mut self, listener: Listener<T>) {
        self.listeners.get_or_insert_default().push(listener);
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

/// Whether `phase` (flags masked off) is done: finished or cancelled.
fn is_done(phase: u8) -> bool {
    matches!(phase, FINISHED | CANCELLED)
}

/// Locks a mutex, ignoring poisoning: no user code ever runs while one of these is held.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes a linked handle and promise for a new, pending task.
pub(crate) fn pair<T: Send + 'static>() -> (Handle<T>, Promise<T>) {
    let shared = Arc::new(Shared::new());
    let handle = Handle::new(Arc::clone(&shared) as Arc<dyn TaskCell<T>>);
    let promise = Promise {
        shared: Some(shared),
    };
    (handle, promise)
}

impl<T: Send + 'static> Handle<T> {
    /// A handle that is already finished with `error`.
    pub(crate) fn failed(error: TaskError) -> Self {
        let (handle, promise) = pair();
        promise.settle(Err(error));
        handle
    }
}

impl<T> Handle<T> {
    /// The handle of the task whose state `cell` holds.
    pub(crate) fn new(cell: Arc<dyn TaskCell<T>>) -> Self {
        Handle {
            cell,
            value: PhantomData,
        }
    }

    /// The task's state.
    fn shared(&self) -> &Shared<T> {
        self.cell.shared()
    }

    /// Blocks until the task is done and its callbacks have run, then returns its outcome.
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
    /// A task that is done but whose callbacks are still running on its worker gives its
    /// outcome once they have run.
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
    ///
    /// The task's callbacks may still be running when this returns; it does not wait for
    /// them, so a callback can wait on its own task. [`Handle::result`] waits for them.
    pub fn wait(&self) {
        for _ in 0..SPINS_BEFORE_BLOCKING {
            if self.done() {
                return;
            }
            std::hint::spin_loop();
        }
        let shared = self.shared();
        let mut watchers = shared.watch();
        watchers.blocked += 1;
        while !shared.is_done() {
            watchers = (shared.finished.wait(watchers)).unwrap_or_else(PoisonError::into_inner);
        }
        watchers.blocked -= 1;
    }

    /// Blocks until the task is done or `timeout` has passed; returns whether it is done.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let shared = self.shared();
        if shared.is_done() {
            return true;
        }
        let deadline = Instant::now().checked_add(timeout);
        let mut watchers = shared.watch();
        watchers.blocked += 1;
        while !shared.is_done() {
            let Some(left) = deadline.map(|d| d.saturating_duration_since(Instant::now())) else {
                watchers = (shared.finished.wait(watchers)).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            if left.is_zero() {
                break;
            }
            let (next, _) = (shared.finished.wait_timeout(watchers, left))
                .unwrap_or_else(PoisonError::into_inner);
            watchers = next;
        }
        watchers.blocked -= 1;
        shared.is_done()
    }

    /// Whether the task is done: it finished, failed, or was cancelled.
    pub fn done(&self) -> bool {
        self.shared().is_done()
    }

    /// Whether a worker is running the task right now.
    ///
    /// A process pool hands a worker a few tasks ahead so that it never waits between them;
    /// such a task counts as running from the moment it is handed over, though it still
    /// waits its turn in the worker.
    pub fn running(&self) -> bool {
        matches!(self.shared().phase(), RUNNING | SETTLING)
    }

    /// Whether the task was cancelled before it started.
    pub fn cancelled(&self) -> bool {
        self.shared().phase() == CANCELLED
    }

    /// Cancels the task if it has not started; returns whether it is now cancelled.
    ///
    /// A task that is running or done cannot be cancelled, and this returns `false` for it;
    /// for a process pool that includes the few tasks already handed to a worker ahead of
    /// their turn (see [`Handle::running`]). Cancelling an already cancelled task returns
    /// `true`. The task's callbacks run on the calling thread, before this returns.
    pub fn cancel(&self) -> bool {
        let shared = self.shared();
        if shared.claim(|phase| phase == PENDING) {
            shared.publish(Err(TaskError::Cancelled), CANCELLED);
            return true;
        }
        shared.phase() == CANCELLED
    }

    /// Registers `callback` to receive the task's outcome once it is done.
    ///
    /// The callback runs exactly once, with the task already marked done (so [`Handle::done`]
    /// is `true` inside it): on the thread that settles the task, usually a worker; or at
    /// once on this thread if the task is already done, unless the settling thread is still
    /// running the task's other callbacks, in which case it runs right after them, there.
    /// A callback that panics is caught; it stops neither the other callbacks nor the worker.
    /// [`Handle::result`] returns once every callback added before it has run.
    pub fn add_done_callback<F>(&self, callback: F)
    where
        F: FnOnce(&Outcome<T>) + Send + 'static,
    {
        let shared = self.shared();
        {
            let mut watchers = shared.watch();
            if !shared.is_done() || shared.calling() {
                watchers.listen(Listener::Callback(Box::new(callback)));
                return;
            }
        }
        if let Some(outcome) = shared.published_outcome() {
            run_callback(Box::new(callback), outcome);
        }
    }

    /// Whether the task finished with an error; `false` while it is not done or if cancelled.
    pub(crate) fn failed_already(&self) -> bool {
        let shared = self.shared();
        shared.phase() == FINISHED && shared.published_outcome().is_some_and(Result::is_err)
    }

    /// Asks for `signal` to be told `index` once the task is done (at once if it is).
    pub(crate) fn notify_when_done(&self, signal: &Arc<Signal>, index: usize) {
        let shared = self.shared();
        {
            let mut watchers = shared.watch();
            if !shared.is_done() {
                watchers.listen(Listener::Signal(Arc::clone(signal), index));
                return;
            }
        }
        signal.notify(index);
    }

    /// Withdraws the request of [`Handle::notify_when_done`] for `signal`, if still pending.
    pub(crate) fn stop_notifying(&self, signal: &Arc<Signal>) {
        let mut watchers = lock(&self.shared().watchers);
        let Some(listeners) = watchers.listeners.as_mut() else {
            return;
        };
        listeners.retain(|listener| match listener {
            Listener::Signal(other, _) => !Arc::ptr_eq(other, signal),
            _ => true,
        });
        if listeners.is_empty() {
            watchers.listeners = None;
        }
    }

    /// A second handle on the same task, to look at it in tests; its outcome is never taken.
    #[cfg(test)]
    pub(crate) fn observer(&self) -> Handle<T> {
        Handle::new(Arc::clone(&self.cell))
    }

    /// How many callbacks, signals and wakers wait for the task.
    #[cfg(test)]
    pub(crate) fn listener_count(&self) -> usize {
        let watchers = lock(&self.shared().watchers);
        watchers
            .listeners
            .as_ref()
            .map_or(0, |listeners| listeners.len())
    }

    /// Takes the outcome of a done task, once its callbacks have run.
    fn take_outcome(self) -> Outcome<T> {
        self.shared().wait_for_callbacks();
        let taken = self.shared().take_outcome();
        taken.expect("the outcome of a done task is taken once, by its only handle")
    }
}

impl<T> std::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = match self.shared().phase() {
            PENDING => "pending",
            RUNNING | SETTLING => "running",
            FINISHED => "finished",
            _ => "cancelled",
        };
        f.debug_struct("Handle").field("phase", &phase).finish()
    }
}

impl<T> Future for Handle<T> {
    type Output = Outcome<T>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Outcome<T>> {
        let shared = self.shared();
        if !shared.is_done() || shared.calling() {
            let mut watchers = shared.watch();
            if !shared.is_done() || shared.calling() {
                watchers.set_waker(context.waker());
                return Poll::Pending;
            }
        }
        let taken = self.shared().take_outcome();
        Poll::Ready(taken.expect("a poolscope handle was polled after it returned its outcome"))
    }
}

impl<T> Promise<T> {
    /// The shared state itself, for a pool that keeps it without the promise's wrapper.
    ///
    /// Whoever takes it must settle it: dropping it does not.
    pub(crate) fn into_shared(mut self) -> Arc<Shared<T>> {
        self.shared
            .take()
            .expect("an unsettled promise holds its state")
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

impl<T: Send> TaskCell<T> for Shared<T> {
    fn shared(&self) -> &Shared<T> {
        self
    }
}

impl<T> Shared<T> {
    /// The state of a new, pending task.
    pub(crate) fn new() -> Self {
        Shared {
            phase: AtomicU8::new(PENDING),
            watchers: Mutex::new(Watchers {
                listeners: None,
                blocked: 0,
            }),
            finished: Condvar::new(),
            outcome: UnsafeCell::new(None),
        }
    }

    /// The phase, flags masked off.
    fn phase(&self) -> u8 {
        self.phase.load(Ordering::Acquire) & PHASE
    }

    /// Whether the task is done.
    fn is_done(&self) -> bool {
        is_done(self.phase())
    }

    /// Whether the settling thread is running the callbacks of this done task.
    fn calling(&self) -> bool {
        self.phase.load(Ordering::Acquire) & CALLING != 0
    }

    /// Blocks while the settling thread runs the task's callbacks.
    fn wait_for_callbacks(&self) {
        if !self.calling() {
            return;
        }
        let mut watchers = lock(&self.watchers);
        watchers.blocked += 1;
        while self.calling() {
            watchers = (self.finished.wait(watchers)).unwrap_or_else(PoisonError::into_inner);
        }
        watchers.blocked -= 1;
    }

    /// Locks the watchers and marks the task watched, so that settling will wake them.
    fn watch(&self) -> MutexGuard<'_, Watchers<T>> {
        let watchers = lock(&self.watchers);
        self.phase.fetch_or(WATCHED, Ordering::AcqRel);
        watchers
    }

    /// Moves a pending task to running; `false` if it was cancelled and must not run.
    pub(crate) fn start(&self) -> bool {
        self.move_phase(|phase| phase == PENDING, RUNNING)
    }

    /// Moves the task to [`SETTLING`] if `from` holds for its phase; whether it did.
    fn claim(&self, from: impl Fn(u8) -> bool) -> bool {
        self.move_phase(from, SETTLING)
    }

    /// Moves the phase to `to`, keeping the flags, if `from` holds for it; whether it did.
    fn move_phase(&self, from: impl Fn(u8) -> bool, to: u8) -> bool {
        let moved = self
            .phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |phase| {
                from(phase & PHASE).then_some((phase & !PHASE) | to)
            });
        moved.is_ok()
    }

    /// Claims the task for settling and publishes `outcome`; a no-op if already settled.
    pub(crate) fn settle(&self, outcome: Outcome<T>) {
        if !self.claim(|phase| phase == PENDING || phase == RUNNING) {
            return;
        }
        // A task the pool cancels (at shutdown_cancel) is as cancelled as one the caller cancels.
        let done = match outcome {
            Err(TaskError::Cancelled) => CANCELLED,
            _ => FINISHED,
        };
        self.publish(outcome, done);
    }

    /// Stores `outcome`, runs the callbacks on it, then publishes the task as `done` and
    /// wakes whoever waits. The caller has moved the task to [`SETTLING`].
    fn publish(&self, outcome: Outcome<T>, done: u8) {
        // SAFETY: this thread moved the task to SETTLING, and nobody reads or writes the
        // outcome before a done phase is published.
        unsafe { *self.outcome.get() = Some(outcome) };

        // Nobody watches: publishing is one atomic step.
        let published =
            self.phase
                .compare_exchange(SETTLING, done, Ordering::AcqRel, Ordering::Acquire);
        if published.is_err() {
            self.publish_watched(done);
        }
    }

    /// Publishes a watched task as done, then runs its callbacks and wakes its listeners.
    ///
    /// The phase is published first, so that callbacks and the threads woken see the task
    /// done; while callbacks run it carries [`CALLING`], which keeps the outcome from being
    /// taken under them and queues callbacks added meanwhile behind them.
    fn publish_watched(&self, done: u8) {
        let mut listeners = self.publish_locked(done);
        let mut wakers = Vec::new();
        while !listeners.is_empty() {
            // Tell wait signals now; run callbacks in the order they came; wake async tasks
            // last, when the outcome can be taken.
            for listener in listeners {
                match listener {
                    Listener::Signal(signal, index) => signal.notify(index),
                    Listener::Waker(waker) => wakers.push(waker),
                    Listener::Callback(callback) => self.run_queued_callback(callback),
                }
            }

            // Take the callbacks added while those ran, or end the calling phase.
            listeners = self.take_late_listeners();
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Publishes `done` under the lock, marked [`CALLING`] if callbacks wait, wakes the
    /// blocked threads, and returns the listeners to notify.
    fn publish_locked(&self, done: u8) -> Vec<Listener<T>> {
        let mut watchers = lock(&self.watchers);
        let listeners = watchers.listeners.take().map_or_else(Vec::new, |l| *l);
        let calling = listeners
            .iter()
            .any(|listener| matches!(listener, Listener::Callback(_)));
        let flags = if calling { WATCHED | CALLING } else { WATCHED };
        self.phase.store(done | flags, Ordering::Release);
        if watchers.blocked > 0 {
            self.finished.notify_all();
        }
        listeners
    }

    /// The listeners added during the calling phase, or none, having ended that phase.
    fn take_late_listeners(&self) -> Vec<Listener<T>> {
        let mut watchers = lock(&self.watchers);
        if let Some(listeners) = watchers.listeners.take() {
            return *listeners;
        }
        self.phase.fetch_and(!CALLING, Ordering::AcqRel);
        if watchers.blocked > 0 {
            self.finished.notify_all();
        }
        Vec::new()
    }

    /// Runs a callback taken from the listeners of a task in its calling phase.
    fn run_queued_callback(&self, callback: Callback<T>) {
        // SAFETY: the task is done and marked CALLING, which only this thread clears: the
        // outcome is written and cannot be taken until then, so reading it is sound.
        let outcome = unsafe { &*self.outcome.get() };
        if let Some(outcome) = outcome {
            run_callback(callback, outcome);
        }
    }

    /// The outcome of a done task, to read.
    fn published_outcome(&self) -> Option<&Outcome<T>> {
        if !self.is_done() {
            return None;
        }
        // SAFETY: the task is done, so its settler no longer writes the outcome (at most it
        // reads it, for callbacks), and it can only be taken through the sole handle by
        // value, which cannot coexist with the shared borrow through which this is called.
        unsafe { (*self.outcome.get()).as_ref() }
    }

    /// Takes the outcome of a done task; the caller is the sole handle, held exclusively.
    fn take_outcome(&self) -> Option<Outcome<T>> {
        if !self.is_done() || self.calling() {
            return None;
        }
        // SAFETY: the task is done and no longer CALLING, which is never set again, so its settler
        // no longer touches the outcome, and the caller holds the sole handle by value or
        // pinned, so nobody else reads it.
        unsafe { (*self.outcome.get()).take() }
    }
}

/// Runs one callback, containing its panic.
fn run_callback<T>(callback: Callback<T>, outcome: &Outcome<T>) {
    // The panic has already been reported by the panic hook; there is nobody to hand it to.
    let _ = catch_unwind(AssertUnwindSafe(move || callback(outcome)));
}

#[cfg(test)]
mod tests {
    use super::Handle;

    /// Handles of ordinary values cross and are shared between threads.
    #[test]
    fn handles_are_send_and_sync_for_send_and_sync_values() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Handle<u64>>();
        shareable::<Handle<Vec<String>>>();
    }
}
