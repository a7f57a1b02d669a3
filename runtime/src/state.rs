//! A task's state: the cell its handle and its pool share, and the protocol by which the
//! pool settles it exactly once while callers wait, listen or cancel.

use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::TaskError;
use crate::handle::{Outcome, TaskCell};
use crate::wait::Signal;

/// A callback registered with [`crate::Handle::add_done_callback`].
pub(crate) type Callback<T> = Box<dyn FnOnce(&Outcome<T>) + Send>;

/// A task's state, shared by its handle and its pool.
///
/// The phase is one atomic byte, so that starting a task, settling one nobody watches, and
/// asking whether one is done take no lock. Whoever waits, or registers a callback, a wait
/// signal or a waker, sets [`WATCHED`] under the `watchers` lock; a task so marked is
/// published under that lock too, which is what keeps wake-ups from being lost.
pub(crate) struct Shared<T> {
    /// A phase constant, plus the flags [`WATCHED`] and [`CALLING`].
    phase: AtomicU8,
    /// Who waits for the task to settle.
    watchers: Mutex<Watchers<T>>,
    /// Signalled when a watched task is published as done and threads block on it.
    finished: Condvar,
    /// The outcome: written once, by the thread that moved the task to [`SETTLING`], before
    /// it publishes a done phase; read only after a done phase is seen; taken only through
    /// the one [`crate::Handle`], by value or pinned, and only once [`CALLING`] is clear, so
    /// never while anyone else reads it.
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
    /// A signal of [`wait`](crate::wait()), told this handle's index once the task is done.
    Signal(Arc<Signal>, usize),
    /// The waker of the async task awaiting this handle.
    Waker(Waker),
}

/// How often [`crate::Handle::wait`] checks a task before it blocks: a task in a busy pool often
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
    pub(crate) fn is_done(&self) -> bool {
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

    /// Whether a worker is running the task.
    pub(crate) fn is_running(&self) -> bool {
        matches!(self.phase(), RUNNING | SETTLING)
    }

    /// Whether the task was cancelled before it started.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.phase() == CANCELLED
    }

    /// The phase in words, for `Debug`.
    pub(crate) fn phase_name(&self) -> &'static str {
        match self.phase() {
            PENDING => "pending",
            RUNNING | SETTLING => "running",
            FINISHED => "finished",
            _ => "cancelled",
        }
    }

    /// Blocks until the task is done, its callbacks perhaps still running.
    pub(crate) fn block_until_done(&self) {
        for _ in 0..SPINS_BEFORE_BLOCKING {
            if self.is_done() {
                return;
            }
            std::hint::spin_loop();
        }
        self.block_until(None);
    }

    /// Blocks until the task is done or `timeout` has passed; whether it is done.
    pub(crate) fn block_until_done_within(&self, timeout: Duration) -> bool {
        self.is_done() || self.block_until(Instant::now().checked_add(timeout))
    }

    /// Blocks until the task is done or `deadline`, if any, has passed; whether it is done.
    fn block_until(&self, deadline: Option<Instant>) -> bool {
        let mut watchers = self.watch();
        watchers.blocked += 1;
        while !self.is_done() {
            let Some(left) = deadline.map(|d| d.saturating_duration_since(Instant::now())) else {
                watchers = (self.finished.wait(watchers)).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            if left.is_zero() {
                break;
            }
            let (next, _) = (self.finished.wait_timeout(watchers, left))
                .unwrap_or_else(PoisonError::into_inner);
            watchers = next;
        }
        watchers.blocked -= 1;
        self.is_done()
    }

    /// Cancels a pending task, running its callbacks here; whether it is now cancelled.
    ///
    /// The one call that cancels it runs `cancelled` afterwards: from then on no worker can
    /// start the task, so whatever it would have run is that call's alone.
    pub(crate) fn cancel(&self, cancelled: impl FnOnce()) -> bool {
        if self.claim(|phase| phase == PENDING) {
            self.publish(Err(TaskError::Cancelled), CANCELLED);
            cancelled();
            return true;
        }
        self.phase() == CANCELLED
    }

    /// Runs `callback` on the outcome once the task is done, at once if it is and no other
    /// callback of it is running.
    pub(crate) fn add_callback(&self, callback: Callback<T>) {
        {
            let mut watchers = self.watch();
            if !self.is_done() || self.calling() {
                watchers.listen(Listener::Callback(callback));
                return;
            }
        }
        if let Some(outcome) = self.published_outcome() {
            run_callback(callback, outcome);
        }
    }

    /// Whether the task finished with an error; `false` while it is not done or if cancelled.
    pub(crate) fn failed_already(&self) -> bool {
        self.phase() == FINISHED && self.published_outcome().is_some_and(Result::is_err)
    }

    /// Asks for `signal` to be told `index` once the task is done (at once if it is).
    pub(crate) fn notify_when_done(&self, signal: &Arc<Signal>, index: usize) {
        {
            let mut watchers = self.watch();
            if !self.is_done() {
                watchers.listen(Listener::Signal(Arc::clone(signal), index));
                return;
            }
        }
        signal.notify(index);
    }

    /// Withdraws the request of [`Shared::notify_when_done`] for `signal`, if still pending.
    pub(crate) fn stop_notifying(&self, signal: &Arc<Signal>) {
        let mut watchers = lock(&self.watchers);
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

    /// How many callbacks, signals and wakers wait for the task.
    #[cfg(test)]
    pub(crate) fn listener_count(&self) -> usize {
        let watchers = lock(&self.watchers);
        let listeners = watchers.listeners.as_ref();
        listeners.map_or(0, |listeners| listeners.len())
    }

    /// Takes the outcome of a done task once its callbacks have run; the caller is the sole
    /// handle, held by value.
    pub(crate) fn take_when_called_back(&self) -> Option<Outcome<T>> {
        self.wait_for_callbacks();
        self.take_outcome()
    }

    /// The outcome if the task is done and its callbacks have run; otherwise `waker` is
    /// woken when they have. The caller is the sole handle, pinned.
    pub(crate) fn poll_outcome(&self, waker: &Waker) -> Poll<Option<Outcome<T>>> {
        if !self.is_done() || self.calling() {
            let mut watchers = self.watch();
            if !self.is_done() || self.calling() {
                watchers.set_waker(waker);
                return Poll::Pending;
            }
        }
        Poll::Ready(self.take_outcome())
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

    /// Stores `outcome` and publishes the task as `done`, then wakes whoever waits and runs
    /// the callbacks. The caller has moved the task to [`SETTLING`].
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

    /// Takes the outcome of a done task whose callbacks have run; the caller is the sole
    /// handle, held exclusively.
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
