//! The handle to a submitted task's outcome, and the pool's side of it.
//!
//! A task's state lives in one shared cell. The caller holds a [`Handle`]; the pool holds the
//! matching [`Promise`] and settles it exactly once: with the task's outcome, or with an error
//! when the task is cancelled or its worker is lost.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::TaskError;
use crate::state::Shared;
use crate::wait::Signal;

/// What a finished task produced: its value, or why there is none.
pub type Outcome<T> = Result<T, TaskError>;

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

    /// Cancels the task if it has not started; whether it is now cancelled.
    fn cancel(&self) -> bool {
        self.shared().cancel(|| ())
    }
}

/// The pool's side of a submitted task: it starts and settles the task exactly once.
///
/// Dropping an unsettled promise settles it with [`TaskError::Cancelled`], so that a task the
/// pool lost track of can never leave its handle waiting forever.
pub(crate) struct Promise<T> {
    /// The state shared with the caller's [`Handle`]; `None` once settled.
    shared: Option<Arc<Shared<T>>>,
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
        self.shared().block_until_done();
    }

    /// Blocks until the task is done or `timeout` has passed; returns whether it is done.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.shared().block_until_done_within(timeout)
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
        self.shared().is_running()
    }

    /// Whether the task was cancelled before it started.
    pub fn cancelled(&self) -> bool {
        self.shared().is_cancelled()
    }

    /// Cancels the task if it has not started; returns whether it is now cancelled.
    ///
    /// A task that is running or done cannot be cancelled, and this returns `false` for it;
    /// for a process pool that includes the few tasks already handed to a worker ahead of
    /// their turn (see [`Handle::running`]). Cancelling an already cancelled task returns
    /// `true`. The task's callbacks run on the calling thread, before this returns; so does
    /// the drop of a thread pool task's closure, which frees what it holds at once.
    pub fn cancel(&self) -> bool {
        self.cell.cancel()
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
        self.shared().add_callback(Box::new(callback));
    }

    /// Whether the task finished with an error; `false` while it is not done or if cancelled.
    pub(crate) fn failed_already(&self) -> bool {
        self.shared().failed_already()
    }

    /// Asks for `signal` to be told `index` once the task is done (at once if it is).
    pub(crate) fn notify_when_done(&self, signal: &Arc<Signal>, index: usize) {
        self.shared().notify_when_done(signal, index);
    }

    /// Withdraws the request of [`Handle::notify_when_done`] for `signal`, if still pending.
    pub(crate) fn stop_notifying(&self, signal: &Arc<Signal>) {
        self.shared().stop_notifying(signal);
    }

    /// A second handle on the same task, to look at it in tests; its outcome is never taken.
    #[cfg(test)]
    pub(crate) fn observer(&self) -> Handle<T> {
        Handle::new(Arc::clone(&self.cell))
    }

    /// How many callbacks, signals and wakers wait for the task.
    #[cfg(test)]
    pub(crate) fn listener_count(&self) -> usize {
        self.shared().listener_count()
    }

    /// Takes the outcome of a done task, once its callbacks have run.
    fn take_outcome(self) -> Outcome<T> {
        let taken = self.shared().take_when_called_back();
        taken.expect("the outcome of a done task is taken once, by its only handle")
    }
}

impl<T> std::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = self.shared().phase_name();
        f.debug_struct("Handle").field("phase", &phase).finish()
    }
}

impl<T> Future for Handle<T> {
    type Output = Outcome<T>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Outcome<T>> {
        let polled = self.shared().poll_outcome(context.waker());
        polled.map(|taken| {
            taken.expect("a poolscope handle was polled after it returned its outcome")
        })
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
