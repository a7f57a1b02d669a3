//! Scenarios about one task's handle: its states, `cancel`, callbacks, failures and `.await`.
//!
//! Ported from the cases of CPython's `test_concurrent_futures` that apply to every pool kind.
//! Each one takes a function that makes a pool of the given size.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use poolscope::TaskError;

use super::{Gates, TestPool, block_on, double, explode, held};

/// Tasks queued behind the held one before the task whose pending state is checked, so that
/// a pool which hands a few queued tasks to its workers early still has that one pending.
const FILLERS: u32 = 3;

/// Pending, running, cancelled and finished each answer `done`, `running`, `cancelled` and
/// `cancel` as Python's futures do.
pub fn states_and_cancel<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(1);
    let gates = Gates::new();
    let gate = gates.gate("running");

    // Running: one worker, held at its gate.
    let running = pool.submit_fn(held, gate.hold(7));
    gate.wait_started();
    assert!(running.running() && !running.done() && !running.cancelled());
    assert!(!running.cancel(), "a running task cannot be cancelled");
    assert!(running.running());

    // Pending: queued behind it.
    let fillers: Vec<_> = (0..FILLERS).map(|i| pool.submit_fn(double, i)).collect();
    let pending = pool.submit_fn(double, 21);
    assert!(!pending.running() && !pending.done() && !pending.cancelled());

    // Cancelled: cancel succeeds on a pending task, and again on a cancelled one.
    assert!(pending.cancel());
    assert!(pending.cancelled() && pending.done() && !pending.running());
    assert!(
        pending.cancel(),
        "cancelling a cancelled task again reports success"
    );

    // Finished: the running task completes once released.
    gate.open();
    running.wait();
    assert!(running.done() && !running.running() && !running.cancelled());
    assert!(!running.cancel(), "a finished task cannot be cancelled");
    assert_eq!(running.result(), Ok(7));
    assert_eq!(pending.result(), Err(TaskError::Cancelled));
    for (i, filler) in (0..FILLERS).zip(fillers) {
        assert_eq!(filler.result(), Ok(i * 2));
    }
}

/// `try_result` hands the handle back while the task runs and the outcome once it is done;
/// `wait_timeout` reports whether the task finished in time.
pub fn try_result_and_wait_timeout<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(1);
    let gates = Gates::new();
    let gate = gates.gate("slow");

    let handle = pool.submit_fn(held, gate.hold(5));
    gate.wait_started();
    assert!(!handle.wait_timeout(Duration::from_millis(20)));
    let handle = handle
        .try_result()
        .expect_err("a running task has no outcome yet");

    gate.open();
    assert!(handle.wait_timeout(Duration::from_secs(30)));
    assert_eq!(handle.try_result().ok(), Some(Ok(5)));
}

/// A panicking task reports `Panicked` with its message, and the pool goes on serving.
pub fn panic_is_reported<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    let failed = pool.submit_fn(explode, 7);
    assert_eq!(
        failed.result(),
        Err(TaskError::Panicked("task 7 exploded".to_owned()))
    );

    let answers: Vec<_> = (0..4).map(|i| pool.submit_fn(double, i)).collect();
    let answers: Vec<_> = answers.into_iter().map(|h| h.result()).collect();
    assert_eq!(answers, [Ok(0), Ok(2), Ok(4), Ok(6)]);
}

/// A callback that checks the task succeeded and counts its runs in `count`.
fn counting_callback(count: &Arc<AtomicUsize>) -> impl FnOnce(&Result<u32, TaskError>) + use<> {
    let count = Arc::clone(count);
    move |outcome| {
        assert!(outcome.is_ok(), "the callback saw {outcome:?}");
        count.fetch_add(1, Ordering::SeqCst);
    }
}

/// A callback that sleeps for `millis`, then counts its run in `count`.
fn slow_counting_callback(
    count: &Arc<AtomicUsize>,
    millis: u64,
) -> impl FnOnce(&Result<u32, TaskError>) + use<> {
    let count = Arc::clone(count);
    move |_| {
        std::thread::sleep(Duration::from_millis(millis));
        count.fetch_add(1, Ordering::SeqCst);
    }
}

/// Callbacks run exactly once, whether added before the task finishes or after.
pub fn callbacks_run_once<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(1);
    let gates = Gates::new();
    let gate = gates.gate("callbacks");
    let before = Arc::new(AtomicUsize::new(0));
    let late = Arc::new(AtomicUsize::new(0));

    // Added while the task runs: they run when it finishes, before its result is returned.
    let handle = pool.submit_fn(held, gate.hold(1));
    gate.wait_started();
    handle.add_done_callback(counting_callback(&before));
    handle.add_done_callback(counting_callback(&before));
    assert_eq!(before.load(Ordering::SeqCst), 0);
    gate.open();
    handle.wait();

    // Added once it is done, perhaps while the first two still run: it runs once too.
    handle.add_done_callback(counting_callback(&late));
    assert_eq!(handle.result(), Ok(1));
    assert_eq!(before.load(Ordering::SeqCst), 2, "no callback ran twice");
    assert_eq!(late.load(Ordering::SeqCst), 1);

    // Added to a done task that has no other callback: it runs at once, on this thread.
    let after = Arc::new(AtomicUsize::new(0));
    let handle = pool.submit_fn(double, 2);
    handle.wait();
    let counter = Arc::clone(&after);
    let caller = std::thread::current().id();
    handle.add_done_callback(move |outcome| {
        assert_eq!(outcome, &Ok(4));
        assert_eq!(std::thread::current().id(), caller);
        counter.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(after.load(Ordering::SeqCst), 1);
    assert_eq!(handle.result(), Ok(4));
}

/// Inside its callback a task is already done, as in Python, and `result` returns only once
/// the callbacks have run.
pub fn callback_sees_its_task_done<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(1);
    let gates = Gates::new();
    let gate = gates.gate("callback");

    // The callback asks its own task, through a shared handle, whether it is done.
    let handle = Arc::new(pool.submit_fn(held, gate.hold(6)));
    gate.wait_started();
    let (seen, observed) = std::sync::mpsc::channel();
    let own = Arc::clone(&handle);
    handle.add_done_callback(move |_| {
        let done = own.done() && own.wait_timeout(Duration::ZERO) && !own.running();
        seen.send(done).unwrap();
    });
    gate.open();
    let done = observed.recv_timeout(Duration::from_secs(30));
    assert_eq!(done, Ok(true), "the task was done inside its own callback");
    drop(handle);

    // A slow callback holds back the result, not the task's done state.
    let finished = Arc::new(AtomicUsize::new(0));
    let handle = pool.submit_fn(double, 3);
    handle.add_done_callback(slow_counting_callback(&finished, 100));
    assert_eq!(handle.result(), Ok(6));
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "result waited for the callback"
    );
}

/// Cancelling a pending task runs its callbacks with `Cancelled`, on the cancelling thread.
pub fn callback_sees_cancel<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(1);
    let gates = Gates::new();
    let gate = gates.gate("blocker");
    let blocker = pool.submit_fn(held, gate.hold(0));
    gate.wait_started();
    let fillers: Vec<_> = (0..FILLERS).map(|i| pool.submit_fn(double, i)).collect();
    let pending = pool.submit_fn(double, 1);

    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let caller = std::thread::current().id();
    pending.add_done_callback(move |outcome| {
        assert_eq!(outcome, &Err(TaskError::Cancelled));
        assert_eq!(std::thread::current().id(), caller);
        counter.fetch_add(1, Ordering::SeqCst);
    });
    assert!(pending.cancel());
    assert_eq!(seen.load(Ordering::SeqCst), 1);

    gate.open();
    assert_eq!(blocker.result(), Ok(0));
    fillers
        .into_iter()
        .for_each(|f| assert!(f.result().is_ok()));
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "the cancelled task's callback ran once"
    );
}

/// A panicking callback stops neither the callbacks after it nor the worker that ran it.
pub fn panicking_callback_is_contained<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(1);
    let gates = Gates::new();
    let gate = gates.gate("callbacks");
    let count = Arc::new(AtomicUsize::new(0));

    let handle = pool.submit_fn(held, gate.hold(3));
    gate.wait_started();
    handle.add_done_callback(counting_callback(&count));
    handle.add_done_callback(|_| panic!("a callback panicked on purpose"));
    handle.add_done_callback(counting_callback(&count));
    gate.open();
    assert_eq!(handle.result(), Ok(3));
    assert_eq!(count.load(Ordering::SeqCst), 2);

    // After completion the panic is contained on this thread too.
    let handle = pool.submit_fn(double, 4);
    handle.wait();
    handle.add_done_callback(|_| panic!("a late callback panicked on purpose"));
    handle.add_done_callback(counting_callback(&count));
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert_eq!(handle.result(), Ok(8));
}

/// Shutting the pool down with `wait` from a callback returns instead of deadlocking.
pub fn shutdown_from_callback<P>(make: impl Fn(usize) -> P)
where
    P: TestPool + Send + Sync + 'static,
{
    let pool = Arc::new(make(2));
    let gates = Gates::new();
    let gate = gates.gate("callback");

    let handle = pool.submit_fn(held, gate.hold(9));
    gate.wait_started();
    let in_callback = Arc::clone(&pool);
    handle.add_done_callback(move |_| in_callback.shutdown(true));
    gate.open();
    assert_eq!(handle.result(), Ok(9));

    let refused = pool.submit_fn(double, 1);
    assert_eq!(refused.result(), Err(TaskError::Shutdown));
}

/// A handle is a `std::future::Future`: awaiting it gives the task's outcome.
pub fn await_handles<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    let gates = Gates::new();
    let gate = gates.gate("awaited");

    // An already finished task.
    assert_eq!(block_on(pool.submit_fn(double, 21)), Ok(42));

    // A task still running at the first poll: the waker brings the future back.
    let mut slow = pool.submit_fn(held, gate.hold(8));
    gate.wait_started();
    let outcome = block_on(async {
        let first = poll_fn(|context| Poll::Ready(Pin::new(&mut slow).poll(context))).await;
        assert!(
            first.is_pending(),
            "the task is held, so the first poll is pending"
        );
        gate.open();
        slow.await
    });
    assert_eq!(outcome, Ok(8));

    // A task done while its callback still runs: the await ends once the callback has run.
    let finished = Arc::new(AtomicUsize::new(0));
    let handle = pool.submit_fn(double, 5);
    handle.add_done_callback(slow_counting_callback(&finished, 50));
    handle.wait();
    assert_eq!(block_on(handle), Ok(10));
    assert_eq!(finished.load(Ordering::SeqCst), 1);

    // A failure arrives as the error.
    let failed = block_on(pool.submit_fn(explode, 1));
    assert!(matches!(failed, Err(TaskError::Panicked(_))));
}
