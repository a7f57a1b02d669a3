//! Scenarios about the pool as a whole: `map`, `shutdown` in its forms, and dropping it.
//!
//! Ported from the `map` and `shutdown` cases of CPython's `test_concurrent_futures`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use poolscope::{Handle, TaskError};

use super::{Gate, Gates, TestPool, double, held, poll_until, square, square_unless_three};

/// Tasks queued behind a held one in the shutdown scenarios.
const QUEUED: u32 = 4;

/// How long a task stays held after a waiting shutdown began.
const HOLD_DURING_SHUTDOWN: Duration = Duration::from_millis(100);

/// A one-worker pool busy with a task held at `gate`, and tasks queued behind it.
fn busy_pool<P: TestPool>(
    make: impl Fn(usize) -> P,
    gate: &Gate,
) -> (P, Handle<u32>, Vec<Handle<u32>>) {
    let pool = make(1);
    let running = pool.submit_fn(held, gate.hold(100));
    gate.wait_started();
    let queued = (0..QUEUED).map(|i| pool.submit_fn(double, i)).collect();
    (pool, running, queued)
}

/// `map` yields results in input order, also with many more items than workers.
pub fn map_in_order<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    let squares: Vec<u64> = pool.map_fn(square, 0..100).map(Result::unwrap).collect();
    let expected: Vec<u64> = (0..100).map(|x| x * x).collect();
    assert_eq!(squares, expected);
    assert_eq!(pool.map_fn(square, Vec::new()).count(), 0);
}

/// A panic in the middle of a `map` yields its error in its place; the rest still run.
pub fn map_with_panic<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    let outcomes: Vec<_> = pool.map_fn(square_unless_three, 0..6).collect();
    let panicked = Err(TaskError::Panicked("three is not welcome".to_owned()));
    assert_eq!(outcomes, [Ok(0), Ok(1), Ok(4), panicked, Ok(16), Ok(25)]);
}

/// `map` on an endless input submits only what is consumed, plus a bounded window ahead.
pub fn map_endless<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    let pulled = AtomicU64::new(0);
    let items = (0..).inspect(|_| {
        // A map that pulled its whole input would never stop: fail it instead.
        let count = pulled.fetch_add(1, Ordering::SeqCst);
        assert!(
            count < 100_000,
            "map pulled its endless input without bound"
        );
    });
    let squares: Vec<u64> = pool
        .map_fn(square, items)
        .take(10)
        .map(Result::unwrap)
        .collect();
    assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    let pulled = pulled.load(Ordering::SeqCst);
    assert!(
        pulled <= 10 + 64 * 2,
        "map pulled {pulled} items to yield 10"
    );
}

/// `shutdown(true)` waits until the running task and every queued one are done.
pub fn shutdown_waits<P: TestPool>(make: impl Fn(usize) -> P) {
    let gates = Gates::new();
    let gate = gates.gate("running");
    let (pool, running, queued) = busy_pool(make, &gate);

    // The gate opens well after shutdown began: returning before that would not be waiting.
    let opener = gate.open_after(HOLD_DURING_SHUTDOWN);
    pool.shutdown(true);
    assert!(
        gate.is_open(),
        "shutdown(true) returned while its task was held"
    );
    assert!(running.done() && queued.iter().all(Handle::done));
    assert_eq!(running.result(), Ok(100));
    for (i, handle) in (0..QUEUED).zip(queued) {
        assert_eq!(handle.result(), Ok(i * 2));
    }
    opener.join().expect("the opener thread");
}

/// `shutdown(false)` returns at once; the queued tasks still run afterwards.
pub fn shutdown_without_wait<P: TestPool>(make: impl Fn(usize) -> P) {
    let gates = Gates::new();
    let gate = gates.gate("running");
    let (pool, running, queued) = busy_pool(make, &gate);

    pool.shutdown(false);
    assert!(
        !running.done(),
        "shutdown(false) returned while its task was held"
    );
    assert_eq!(pool.submit_fn(double, 1).result(), Err(TaskError::Shutdown));

    gate.open();
    assert_eq!(running.result(), Ok(100));
    for (i, handle) in (0..QUEUED).zip(queued) {
        assert_eq!(handle.result(), Ok(i * 2));
    }
}

/// `shutdown_cancel(true)` cancels the queued tasks and waits for the running one to finish.
pub fn shutdown_cancel_waits<P: TestPool>(make: impl Fn(usize) -> P) {
    let gates = Gates::new();
    let gate = gates.gate("running");
    let (pool, running, queued) = busy_pool(make, &gate);

    // Release the running task only once the queued ones are cancelled, so none can start.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            poll_until("the queued tasks to be cancelled", || {
                queued.iter().all(Handle::cancelled)
            });
            gate.open();
        });
        pool.shutdown_cancel(true);
    });
    assert!(running.done());
    assert_eq!(running.result(), Ok(100));
    for handle in queued {
        assert_eq!(handle.result(), Err(TaskError::Cancelled));
    }
}

/// `shutdown_cancel(false)` cancels the queued tasks and returns while the running one runs.
pub fn shutdown_cancel_without_wait<P: TestPool>(make: impl Fn(usize) -> P) {
    let gates = Gates::new();
    let gate = gates.gate("running");
    let (pool, running, queued) = busy_pool(make, &gate);

    pool.shutdown_cancel(false);
    assert!(running.running());
    assert!(queued.iter().all(Handle::cancelled));

    gate.open();
    assert_eq!(running.result(), Ok(100));
    pool.shutdown(true);
}

/// Submitting after shutdown gives `Shutdown`, and shutting down again is harmless.
pub fn submit_after_shutdown<P: TestPool>(make: impl Fn(usize) -> P) {
    let pool = make(2);
    assert_eq!(pool.submit_fn(double, 1).result(), Ok(2));
    pool.shutdown(true);
    assert_eq!(pool.submit_fn(double, 2).result(), Err(TaskError::Shutdown));
    let refused: Vec<_> = pool.map_fn(double, 0..3).collect();
    assert_eq!(refused, vec![Err(TaskError::Shutdown); 3]);

    pool.shutdown(true);
    pool.shutdown(false);
    pool.shutdown_cancel(true);
    assert_eq!(pool.submit_fn(double, 3).result(), Err(TaskError::Shutdown));
}

/// Dropping the pool waits for its queued tasks, as `shutdown(true)` does.
pub fn drop_waits<P: TestPool>(make: impl Fn(usize) -> P) {
    let gates = Gates::new();
    let gate = gates.gate("running");
    let (pool, running, queued) = busy_pool(make, &gate);

    let opener = gate.open_after(HOLD_DURING_SHUTDOWN);
    drop(pool);
    assert!(
        gate.is_open(),
        "dropping the pool returned while its task was held"
    );
    assert!(running.done() && queued.iter().all(Handle::done));
    assert_eq!(running.result(), Ok(100));
    opener.join().expect("the opener thread");
}

/// The pool reports the size it was made with.
pub fn reports_size<P: TestPool>(make: impl Fn(usize) -> P) {
    assert_eq!(make(3).max_workers(), 3);
    assert_eq!(make(1).max_workers(), 1);
}
