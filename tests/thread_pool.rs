//! The thread pool: every scenario shared with the other pool kinds, then what only a thread
//! pool has: thread names, thread reuse, the initializer, the builder, and tasks that reach
//! back into their own pool.
//!
//! Ported from the thread pool cases of CPython's `test_concurrent_futures`. Tasks are held
//! in the running state with channels and barriers, never with sleeps.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};

use poolscope::{BuildError, Handle, TaskError, ThreadPool, WaitFor, wait};

shared_scenarios!(ThreadPool::new);

/// The name of the thread running this code.
fn thread_name() -> String {
    std::thread::current().name().unwrap_or_default().to_owned()
}

/// Splits a worker's name `{prefix}-{pool}_{worker}` into its two numbers.
fn name_numbers(name: &str, prefix: &str) -> (usize, usize) {
    let numbers = name
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or_else(|| panic!("{name:?} does not start with {prefix:?}"));
    let (pool, worker) = numbers
        .split_once('_')
        .expect("a `_` between the two numbers");
    (pool.parse().unwrap(), worker.parse().unwrap())
}

/// The names of the threads that run `workers` tasks all at once on `pool`.
fn names_of_all_workers(pool: &ThreadPool, workers: usize) -> BTreeSet<String> {
    let barrier = Arc::new(Barrier::new(workers));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            pool.submit(move || {
                barrier.wait();
                thread_name()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.result().unwrap()).collect()
}

#[test]
fn threads_are_named_after_pool_and_worker() {
    let pool = ThreadPool::new(3);
    let names = names_of_all_workers(&pool, 3);
    let numbers: Vec<_> = names
        .iter()
        .map(|n| name_numbers(n, "ThreadPool"))
        .collect();
    let pool_number = numbers[0].0;
    assert_eq!(
        numbers,
        [(pool_number, 0), (pool_number, 1), (pool_number, 2)]
    );

    let other = ThreadPool::new(1);
    let other_name = other.submit(thread_name).result().unwrap();
    assert_ne!(name_numbers(&other_name, "ThreadPool").0, pool_number);
}

#[test]
fn thread_name_prefix_is_used() {
    let pool = ThreadPool::builder()
        .workers(2)
        .thread_name_prefix("crawler")
        .build()
        .unwrap();
    let names = names_of_all_workers(&pool, 2);
    for (worker, name) in names.iter().enumerate() {
        assert_eq!(name_numbers(name, "crawler").1, worker);
    }
}

#[test]
fn idle_threads_are_reused() {
    let pool = ThreadPool::new(5);
    let names: BTreeSet<String> = (0..10)
        .map(|_| pool.submit(thread_name).result().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        1,
        "one task at a time needs one thread, got {names:?}"
    );
}

#[test]
fn never_more_threads_than_workers() {
    let pool = ThreadPool::new(3);
    let handles: Vec<_> = (0..60).map(|_| pool.submit(thread_name)).collect();
    let names: BTreeSet<String> = handles.into_iter().map(|h| h.result().unwrap()).collect();
    assert!(!names.is_empty() && names.len() <= 3, "{names:?}");
}

#[test]
fn initializer_runs_once_on_each_worker() {
    let initialized = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&initialized);
    let pool = ThreadPool::builder()
        .workers(3)
        .initializer(move || record.lock().unwrap().push(thread_name()))
        .build()
        .unwrap();

    let workers = names_of_all_workers(&pool, 3);
    let more: Vec<_> = (0..20).map(|_| pool.submit(thread_name)).collect();
    more.into_iter().for_each(|h| assert!(h.result().is_ok()));
    pool.shutdown(true);

    let mut initialized = initialized.lock().unwrap().clone();
    initialized.sort();
    assert_eq!(initialized, workers.into_iter().collect::<Vec<_>>());
}

#[test]
fn failing_initializer_breaks_the_pool() {
    // The initializer waits for a go so that tasks are queued, pending, when it fails.
    let (go, gone) = mpsc::channel::<()>();
    let gone = Mutex::new(gone);
    let pool = ThreadPool::builder()
        .workers(1)
        .initializer(move || {
            let _ = gone.lock().unwrap().recv();
            panic!("no database");
        })
        .build()
        .unwrap();

    let pending: Vec<_> = (0..3).map(|i| pool.submit(move || i)).collect();
    assert!(pending.iter().all(|h| !h.done()));
    go.send(()).unwrap();
    let broken = Err(TaskError::InitializerFailed("no database".to_owned()));
    for handle in pending {
        assert_eq!(handle.result(), broken);
    }
    assert_eq!(pool.submit(|| 4).result(), broken);
}

#[test]
fn dropping_a_handle_does_not_cancel_its_task() {
    let pool = ThreadPool::new(1);
    let (sender, receiver) = mpsc::channel();
    drop(pool.submit(move || sender.send("ran").unwrap()));
    assert_eq!(receiver.recv(), Ok("ran"));
}

#[test]
fn waiting_on_no_handles_returns_at_once() {
    for mode in [
        WaitFor::FirstCompleted,
        WaitFor::FirstError,
        WaitFor::AllCompleted,
    ] {
        let waited = wait(Vec::<Handle<u32>>::new(), mode, None);
        assert!(waited.done.is_empty() && waited.not_done.is_empty());
    }
}

#[test]
fn shutdown_from_a_task_does_not_deadlock() {
    let pool = Arc::new(ThreadPool::new(1));
    let (go, gone) = mpsc::channel::<()>();
    let own_pool = Arc::clone(&pool);
    let shutting = pool.submit(move || {
        gone.recv().unwrap();
        own_pool.shutdown(true);
        "returned"
    });
    let queued = pool.submit(|| "still ran");

    go.send(()).unwrap();
    assert_eq!(shutting.result(), Ok("returned"));
    assert_eq!(queued.result(), Ok("still ran"));
    assert_eq!(pool.submit(|| "refused").result(), Err(TaskError::Shutdown));
}

#[test]
fn shutdown_cancel_from_a_task_cancels_the_queue() {
    let pool = Arc::new(ThreadPool::new(1));
    let (go, gone) = mpsc::channel::<()>();
    let own_pool = Arc::clone(&pool);
    let cancelling = pool.submit(move || {
        gone.recv().unwrap();
        own_pool.shutdown_cancel(true);
        1
    });
    let queued = pool.submit(|| 2);

    go.send(()).unwrap();
    assert_eq!(cancelling.result(), Ok(1));
    assert_eq!(queued.result(), Err(TaskError::Cancelled));
}

#[test]
fn dropping_a_map_cancels_its_unstarted_tasks() {
    let pool = ThreadPool::new(1);
    let (started, starts) = mpsc::channel::<u32>();
    let (release, releases) = mpsc::channel::<()>();
    let releases = Mutex::new(releases);
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&ran);
    let task = move |item: u32| {
        started.send(item).unwrap();
        releases.lock().unwrap().recv().unwrap();
        counter.fetch_add(1, Ordering::SeqCst);
        item
    };

    // The first result comes back; the second item is then running, the rest queued.
    let mut results = pool.map(task, 0..100);
    release.send(()).unwrap();
    assert_eq!(results.next(), Some(Ok(0)));
    assert_eq!(starts.recv().unwrap(), 0);
    assert_eq!(starts.recv().unwrap(), 1);
    drop(results);

    release.send(()).unwrap();
    pool.shutdown(true);
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    assert!(
        starts.try_recv().is_err(),
        "no item after the second started"
    );
}

#[test]
fn builder_refuses_zero_workers() {
    let error = ThreadPool::builder().workers(0).build().unwrap_err();
    assert!(matches!(error, BuildError::ZeroWorkers));
    assert_eq!(error.to_string(), "a pool needs at least 1 worker, got 0");
}

#[test]
#[should_panic(expected = "ThreadPool::new(0): a pool needs at least 1 worker, got 0")]
fn new_panics_on_zero_workers() {
    let _ = ThreadPool::new(0);
}

#[test]
fn builder_defaults_to_available_parallelism() {
    let pool = ThreadPool::builder().build().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(pool.max_workers(), cores);
}

#[test]
fn cancelling_a_queued_task_frees_its_closure_at_once() {
    let pool = ThreadPool::new(1);
    let (release, held) = mpsc::channel::<()>();
    let blocker = pool.submit(move || held.recv().is_ok());

    let captured = Arc::new(());
    let inside = Arc::clone(&captured);
    let queued = pool.submit(move || Arc::strong_count(&inside));
    assert!(queued.cancel());
    // The only worker is still held, so the queue still holds the task; its closure is gone.
    assert_eq!(Arc::strong_count(&captured), 1, "the closure was kept");
    assert!(!blocker.done());

    release.send(()).unwrap();
    assert_eq!(blocker.result(), Ok(true));
    assert_eq!(queued.result(), Err(TaskError::Cancelled));
}
