//! Waiting on many handles at once: [`wait`] and [`as_completed`].

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::handle::Handle;

/// When [`wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// As soon as any task is done.
    FirstCompleted,
    /// As soon as any task finishes with an error, or when all are done.
    FirstError,
    /// When every task is done.
    AllCompleted,
}

/// The handles [`wait`] was given, split into the done and the not yet done.
///
/// Each list keeps the order in which the handles were given.
#[derive(Debug)]
pub struct Waited<T> {
    /// The handles whose task is done.
    pub done: Vec<Handle<T>>,
    /// The handles whose task is not done yet.
    pub not_done: Vec<Handle<T>>,
}

/// Collects the indices of handles as their tasks finish, and wakes whoever waits for them.
pub(crate) struct Signal {
    /// Indices in completion order, not yet consumed.
    finished: Mutex<VecDeque<usize>>,
    /// Signalled on every push to `finished`.
    pushed: Condvar,
}

impl Signal {
    /// A signal with nothing finished yet.
    fn new() -> Arc<Self> {
        Arc::new(Signal {
            finished: Mutex::new(VecDeque::new()),
            pushed: Condvar::new(),
        })
    }

    /// Records that the handle at `index` is done.
    pub(crate) fn notify(&self, index: usize) {
        let mut finished = self.finished.lock().unwrap_or_else(PoisonError::into_inner);
        finished.push_back(index);
        self.pushed.notify_all();
    }

    /// The next finished index, waiting at most until `deadline`; `None` if it passed.
    fn next(&self, deadline: Option<Instant>) -> Option<usize> {
        let mut finished = self.finished.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(index) = finished.pop_front() {
                return Some(index);
            }
            match deadline {
                None => {
                    finished = (self.pushed.wait(finished)).unwrap_or_else(PoisonError::into_inner);
                }
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    let (next, _) = (self.pushed.wait_timeout(finished, left))
                        .unwrap_or_else(PoisonError::into_inner);
                    finished = next;
                }
            }
        }
    }
}

/// Registers every handle with a fresh signal.
fn watch<T>(handles: &[Handle<T>]) -> Arc<Signal> {
    let signal = Signal::new();
    for (index, handle) in handles.iter().enumerate() {
        handle.notify_when_done(&signal, index);
    }
    signal
}

/// Blocks until the condition `until` holds for `handles`, or `timeout` passes.
///
/// Returns the handles split into done and not done, whichever way it ended. With
/// `timeout = None` it waits as long as it takes.
///
/// # Examples
///
/// ```
/// use poolscope_runtime::{ThreadPool, WaitFor, wait};
///
/// let pool = ThreadPool::new(2);
/// let handles: Vec<_> = (0..4).map(|i| pool.submit(move || i * 2)).collect();
/// let waited = wait(handles, WaitFor::AllCompleted, None);
/// assert_eq!(waited.done.len(), 4);
/// assert!(waited.not_done.is_empty());
/// ```
pub fn wait<T, I>(handles: I, until: WaitFor, timeout: Option<Duration>) -> Waited<T>
where
    I: IntoIterator<Item = Handle<T>>,
{
    let handles: Vec<Handle<T>> = handles.into_iter().collect();
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let signal = watch(&handles);

    // Count completions until the condition holds, the deadline passes, or all are done.
    let mut completed = 0;
    while completed < handles.len() {
        if completed > 0 && until == WaitFor::FirstCompleted {
            break;
        }
        let Some(index) = signal.next(deadline) else {
            break;
        };
        completed += 1;
        if until == WaitFor::FirstError && handles[index].failed_already() {
            break;
        }
    }

    // Withdraw the signal from the tasks still running, so repeated waits leave nothing
    // behind in them; then split by what is done now, which may be more than was counted.
    for handle in &handles {
        handle.stop_notifying(&signal);
    }
    let (done, not_done) = handles.into_iter().partition(Handle::done);
    Waited { done, not_done }
}

/// Yields `handles` as their tasks finish: those already done first, then in completion order.
///
/// # Examples
///
/// ```
/// use poolscope_runtime::{ThreadPool, as_completed};
///
/// let pool = ThreadPool::new(2);
/// let handles: Vec<_> = (1..=3).map(|i| pool.submit(move || i)).collect();
/// let mut total = 0;
/// for handle in as_completed(handles) {
///     total += handle.result().unwrap();
/// }
/// assert_eq!(total, 6);
/// ```
pub fn as_completed<T, I>(handles: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = Handle<T>>,
{
    let handles: Vec<Option<Handle<T>>> = handles.into_iter().map(Some).collect();
    let signal = Signal::new();
    for (index, handle) in handles.iter().enumerate() {
        if let Some(handle) = handle {
            handle.notify_when_done(&signal, index);
        }
    }
    AsCompleted {
        left: handles.len(),
        handles,
        signal,
        deadline: None,
        timed_out: false,
    }
}

/// The iterator of [`as_completed`].
///
/// With [`AsCompleted::timeout`] it stops early when the time is up; [`AsCompleted::timed_out`]
/// then says so and [`AsCompleted::into_pending`] gives back the handles not yet yielded.
#[derive(Debug)]
pub struct AsCompleted<T> {
    /// The handles not yet yielded, at the index their signal reports.
    handles: Vec<Option<Handle<T>>>,
    /// How many handles have not been yielded.
    left: usize,
    /// Told the index of each handle as its task finishes.
    signal: Arc<Signal>,
    /// When to give up waiting, if ever.
    deadline: Option<Instant>,
    /// Whether the deadline passed with handles left.
    timed_out: bool,
}

impl<T> AsCompleted<T> {
    /// Stops yielding once `timeout` has passed from now, even if tasks are left.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Instant::now().checked_add(timeout);
        self
    }

    /// Whether iteration stopped because the timeout passed before every task finished.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// The handles not yielded yet, in the order they were given.
    pub fn into_pending(mut self) -> Vec<Handle<T>> {
        self.forget_pending();
        std::mem::take(&mut self.handles)
            .into_iter()
            .flatten()
            .collect()
    }

    /// Withdraws this iterator's signal from the handles not yielded yet.
    fn forget_pending(&self) {
        for handle in self.handles.iter().flatten() {
            handle.stop_notifying(&self.signal);
        }
    }
}

impl<T> Drop for AsCompleted<T> {
    fn drop(&mut self) {
        self.forget_pending();
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = Handle<T>;

    fn next(&mut self) -> Option<Handle<T>> {
        if self.left == 0 || self.timed_out {
            return None;
        }
        loop {
            let Some(index) = self.signal.next(self.deadline) else {
                self.timed_out = true;
                return None;
            };
            if let Some(handle) = self.handles[index].take() {
                self.left -= 1;
                return Some(handle);
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signal").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::{WaitFor, as_completed, wait};
    use crate::ThreadPool;

    /// Waits that time out, and `as_completed` iterators left early, leave no signal behind in
    /// the tasks they watched.
    #[test]
    fn abandoned_waits_leave_no_listeners() {
        let pool = ThreadPool::new(1);
        let (release, held) = mpsc::channel::<()>();
        let mut handles = vec![pool.submit(move || held.recv().is_ok())];

        for _ in 0..1000 {
            let waited = wait(handles, WaitFor::FirstCompleted, Some(Duration::ZERO));
            assert!(waited.done.is_empty());
            handles = waited.not_done;
        }
        assert_eq!(handles[0].listener_count(), 0);

        let mut iterator = as_completed(handles).timeout(Duration::from_millis(1));
        assert!(iterator.next().is_none() && iterator.timed_out());
        let handles = iterator.into_pending();
        assert_eq!(handles[0].listener_count(), 0);

        let observer = handles[0].observer();
        let iterator = as_completed(handles);
        assert_eq!(observer.listener_count(), 1);
        drop(iterator);
        assert_eq!(observer.listener_count(), 0);
        release.send(()).unwrap();
    }
}
