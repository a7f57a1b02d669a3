//! Scenarios about waiting on many handles: `wait` in each mode and `as_completed`.
//!
//! Ported from the `wait` and `as_completed` cases of CPython's `test_concurrent_futures`.
//! Tasks that must still be running when the wait returns are held at file gates.

use std::time::Duration;

use poolscope::{Handle, TaskError, WaitFor, as_completed, wait};

use super::{Gates, TestPool, double, explode, held};

/// A short timeout for waits that are meant to run out: held tasks never finish within it.
const SHORT: Duration = Duration::from_millis(30);

/// How long a task stays held after a wait for it began, so that a wait returning early
/// finds it not done.
const HELD_WHILE_WAITING: Duration = Duration::from_millis(100);

/// The results of `handles`, in order.
fn results<T>(handles: Vec<Handle<T>>) -> Vec<Result<T, TaskError>> {
    handles.into_iter().map(Handle::result).collect()
}

/// `FirstCompleted` returns once one task is done, leaving the held one not done.
pub fn wait_first_completed<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    let gates = Gates::new();
    let gate = gates.gate("held");

    let slow = pool.submit_fn(held, gate.hold(1));
    gate.wait_started();
    let quick = pool.submit_fn(double, 2);
    let waited = wait([slow, quick], WaitFor::FirstCompleted, None);
    assert_eq!(waited.done.len(), 1);
    assert_eq!(waited.not_done.len(), 1);

    gate.open();
    assert_eq!(results(waited.done), [Ok(4)]);
    assert_eq!(results(waited.not_done), [Ok(1)]);
}

/// `FirstCompleted` on tasks of which one is already done returns at once with it.
pub fn wait_first_completed_already_done<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    let gates = Gates::new();
    let gate = gates.gate("held");

    let finished = pool.submit_fn(double, 5);
    finished.wait();
    let slow = pool.submit_fn(held, gate.hold(1));
    let waited = wait([slow, finished], WaitFor::FirstCompleted, None);
    assert_eq!(waited.not_done.len(), 1);
    assert_eq!(results(waited.done), [Ok(10)]);

    gate.open();
    assert_eq!(results(waited.not_done), [Ok(1)]);
}

/// `FirstError` returns once a task fails, with the earlier successes done and the held task
/// not done.
pub fn wait_first_error<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(3);
    let gates = Gates::new();
    let gate = gates.gate("held");

    let succeeded = pool.submit_fn(double, 1);
    succeeded.wait();
    let slow = pool.submit_fn(held, gate.hold(1));
    gate.wait_started();
    let failed = pool.submit_fn(explode, 2);
    let waited = wait([succeeded, slow, failed], WaitFor::FirstError, None);

    let done = results(waited.done);
    assert_eq!(done[0], Ok(2));
    assert!(matches!(done[1], Err(TaskError::Panicked(_))));
    assert_eq!(done.len(), 2);
    gate.open();
    assert_eq!(results(waited.not_done), [Ok(1)]);
}

/// `FirstError` on tasks of which one has already failed returns at once, the held task not
/// done.
pub fn wait_first_error_already_failed<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    let gates = Gates::new();
    let gate = gates.gate("held");

    let failed = pool.submit_fn(explode, 3);
    failed.wait();
    let slow = pool.submit_fn(held, gate.hold(1));
    gate.wait_started();
    let waited = wait([slow, failed], WaitFor::FirstError, None);
    let done = results(waited.done);
    assert!(
        matches!(done[..], [Err(TaskError::Panicked(_))]),
        "{done:?}"
    );

    gate.open();
    assert_eq!(results(waited.not_done), [Ok(1)]);
}

/// `FirstError` with no failure waits for every task, like `AllCompleted`.
pub fn wait_first_error_without_errors<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    let gates = Gates::new();
    let gate = gates.gate("held");

    let slow = pool.submit_fn(held, gate.hold(3));
    let quick = pool.submit_fn(double, 3);
    let opener = gate.open_after(HELD_WHILE_WAITING);
    let waited = wait([slow, quick], WaitFor::FirstError, None);
    assert!(waited.not_done.is_empty());
    assert_eq!(results(waited.done), [Ok(3), Ok(6)]);
    opener.join().expect("the opener thread");
}

/// `AllCompleted` returns only once every task is done, failed ones included, keeping the
/// order the handles were given in.
pub fn wait_all_completed<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    let gates = Gates::new();
    let gate = gates.gate("held");

    let slow = pool.submit_fn(held, gate.hold(1));
    let failed = pool.submit_fn(explode, 2);
    let quick = pool.submit_fn(double, 3);
    let opener = gate.open_after(HELD_WHILE_WAITING);
    let waited = wait([slow, failed, quick], WaitFor::AllCompleted, None);
    assert!(waited.not_done.is_empty());
    let done = results(waited.done);
    assert_eq!(done[0], Ok(1));
    assert_eq!(
        done[1],
        Err(TaskError::Panicked("task 2 exploded".to_owned()))
    );
    assert_eq!(done[2], Ok(6));
    opener.join().expect("the opener thread");
}

/// Every mode gives up when the timeout passes, splitting the handles as they are then.
pub fn wait_timeout<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    let gates = Gates::new();
    let gate = gates.gate("held");
    let slow = pool.submit_fn(held, gate.hold(1));
    let quick = pool.submit_fn(double, 1);
    quick.wait();

    // All but the held task are done when the time is up.
    let waited = wait([slow, quick], WaitFor::AllCompleted, Some(SHORT));
    assert_eq!(results(waited.done), [Ok(2)]);
    assert_eq!(waited.not_done.len(), 1);

    // Nothing finishes in time.
    let waited = wait(waited.not_done, WaitFor::FirstCompleted, Some(SHORT));
    assert!(waited.done.is_empty());
    let waited = wait(waited.not_done, WaitFor::FirstError, Some(SHORT));
    assert!(waited.done.is_empty());

    gate.open();
    assert_eq!(results(waited.not_done), [Ok(1)]);
}

/// `as_completed` yields the tasks already done first, then the others as they finish.
pub fn as_completed_order<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(3);
    let gates = Gates::new();
    let (first, second) = (gates.gate("first"), gates.gate("second"));

    let finished: Vec<_> = [10, 20].map(|x| pool.submit_fn(double, x)).into();
    finished.iter().for_each(Handle::wait);
    let opened_last = pool.submit_fn(held, first.hold(1));
    let opened_first = pool.submit_fn(held, second.hold(2));
    let mut finished = finished.into_iter();
    let handles = [
        opened_last,
        finished.next().unwrap(),
        opened_first,
        finished.next().unwrap(),
    ];
    let mut completed = as_completed(handles);

    // The two that were done, whatever their position.
    let mut early: Vec<u32> = completed
        .by_ref()
        .take(2)
        .map(|h| h.result().unwrap())
        .collect();
    early.sort_unstable();
    assert_eq!(early, [20, 40]);

    // Then in the order their gates open.
    second.open();
    assert_eq!(completed.next().map(Handle::result), Some(Ok(2)));
    first.open();
    assert_eq!(completed.next().map(Handle::result), Some(Ok(1)));
    assert!(completed.next().is_none());
    assert!(!completed.timed_out());
}

/// With a timeout, `as_completed` stops once the time is up and hands back the rest.
pub fn as_completed_timeout<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    let gates = Gates::new();
    let gate = gates.gate("held");
    let slow = pool.submit_fn(held, gate.hold(1));
    let quick = pool.submit_fn(double, 4);
    quick.wait();

    let mut completed = as_completed([slow, quick]).timeout(SHORT);
    assert_eq!(completed.next().map(Handle::result), Some(Ok(8)));
    assert!(completed.next().is_none());
    assert!(completed.timed_out());
    assert!(
        completed.next().is_none(),
        "a timed out iterator stays ended"
    );

    let pending = completed.into_pending();
    assert_eq!(pending.len(), 1);
    gate.open();
    assert_eq!(results(pending), [Ok(1)]);
}
