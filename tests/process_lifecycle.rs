//! A process pool's life apart from task failures: the builder's refusals, functions it
//! cannot name to a worker, a failing initializer, workers retired after a number of tasks,
//! and cancelling queued tasks.

mod support;

use std::io::Write;
use std::time::Duration;

use poolscope::{BuildError, Handle, ProcessPool, TaskError};

use support::{Rerun, child_role, double, exists, report, sleep_then_pid, wait_until, worker_pid};

/// The environment variable naming the file the failing initializer appends to.
const INITIALIZER_LOG: &str = "POOLSCOPE_TEST_INITIALIZER_LOG";

/// The message the failing initializer panics with.
const INITIALIZER_PANIC: &str = "the initializer refuses on purpose";

#[test]
fn builder_refuses_zero_settings() {
    let zero_workers = ProcessPool::builder().workers(0).build();
    assert!(
        matches!(zero_workers, Err(BuildError::ZeroWorkers)),
        "{zero_workers:?}"
    );

    let zero_tasks = ProcessPool::builder().max_tasks_per_child(0).build();
    match zero_tasks {
        Err(BuildError::Invalid(message)) => assert!(message.contains("max_tasks_per_child")),
        other => panic!("expected an invalid setting, got {other:?}"),
    }

    let zero_timeout = ProcessPool::builder().task_timeout(Duration::ZERO).build();
    match zero_timeout {
        Err(BuildError::Invalid(message)) => assert!(message.contains("task_timeout")),
        other => panic!("expected an invalid setting, got {other:?}"),
    }
}

/// A function outside the executable, posing as a task: the C library's `getpid`.
///
/// Only its address matters; the pool must refuse it before anything could call it.
fn foreign_function() -> fn(u64) -> u64 {
    let address = libc::getpid as *const () as usize;
    // SAFETY: a function pointer is valid when it is not null; calling this one through
    // the wrong signature would be undefined, and nothing here or in the pool calls it.
    unsafe { std::mem::transmute::<usize, fn(u64) -> u64>(address) }
}

#[test]
fn functions_outside_the_executable_are_refused() {
    let pool = ProcessPool::new(1);
    let foreign = foreign_function();
    match pool.submit(foreign, 1).result() {
        Err(TaskError::ForeignFunction(message)) => {
            assert!(message.contains("libc"), "{message}");
        }
        other => panic!("expected a foreign function, got {other:?}"),
    }
    let chunked: Vec<_> = pool.map_chunked(foreign, 0..10, 4).collect();
    assert_eq!(chunked.len(), 10);
    for outcome in chunked {
        assert!(
            matches!(outcome, Err(TaskError::ForeignFunction(_))),
            "{outcome:?}"
        );
    }
    assert_eq!(pool.submit(double, 4).result(), Ok(8), "the pool serves on");

    // SAFETY: as in `foreign_function`: only the address is looked at, and it is refused.
    let initializer =
        unsafe { std::mem::transmute::<usize, fn()>(libc::getpid as *const () as usize) };
    match ProcessPool::builder().initializer(initializer).build() {
        Err(BuildError::Invalid(message)) => assert!(message.contains("initializer"), "{message}"),
        other => panic!("expected the initializer refused, got {other:?}"),
    }
}

#[test]
fn worker_is_replaced_after_max_tasks_per_child() {
    let pool = ProcessPool::builder()
        .workers(1)
        .max_tasks_per_child(3)
        .build()
        .expect("a valid pool");
    let handles: Vec<_> = (0..7).map(|_| pool.submit(worker_pid, ())).collect();
    let pids: Vec<u32> = handles.into_iter().map(|h| h.result().unwrap()).collect();

    assert_eq!(
        pids[0..3],
        [pids[0]; 3],
        "tasks 1 to 3 share a worker: {pids:?}"
    );
    assert_eq!(
        pids[3..6],
        [pids[3]; 3],
        "tasks 4 to 6 share a worker: {pids:?}"
    );
    assert_ne!(pids[3], pids[0], "task 4 runs on a new worker: {pids:?}");
    assert_ne!(pids[6], pids[3], "task 7 runs on a third worker: {pids:?}");
    assert!(
        !exists(pids[0]),
        "the retired worker {} was reaped",
        pids[0]
    );
}

#[test]
fn queued_tasks_cancel_and_a_running_one_does_not() {
    let pool = ProcessPool::new(1);
    let running = pool.submit(sleep_then_pid, 1_000);
    assert!(wait_until(Duration::from_secs(10), || running.running()));
    let queued: Vec<Handle<u64>> = (0..20).map(|x| pool.submit(double, x)).collect();

    let cancelled: Vec<bool> = queued.iter().map(Handle::cancel).collect();
    assert!(!running.cancel(), "a running task cannot be cancelled");

    // The pool hands a few tasks to a worker ahead of time; those count as running. Tasks
    // are handed over in order, so the cancelled ones are the tail of the queue.
    let first_cancelled = cancelled.iter().position(|&c| c).unwrap_or(cancelled.len());
    assert!(
        first_cancelled <= 10,
        "tasks far back in the queue cancel: {cancelled:?}"
    );
    assert!(
        cancelled[first_cancelled..].iter().all(|&c| c),
        "{cancelled:?}"
    );
    for ((x, handle), was_cancelled) in (0..).zip(queued).zip(cancelled) {
        assert_eq!(handle.cancelled(), was_cancelled);
        assert_eq!(
            handle.cancel(),
            was_cancelled,
            "cancel answers the same again"
        );
        let expected = if was_cancelled {
            Err(TaskError::Cancelled)
        } else {
            Ok(x * 2)
        };
        assert_eq!(handle.result(), expected, "task {x}");
    }
    let pid = running.result().expect("the running task completes");
    assert_eq!(pool.submit(worker_pid, ()).result(), Ok(pid));
}

/// Records its process in the file named by [`INITIALIZER_LOG`], then panics.
fn failing_initializer() {
    let path = std::env::var_os(INITIALIZER_LOG).expect("the initializer log is named");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("the initializer log opens");
    writeln!(log, "{}", std::process::id()).expect("the initializer log is writable");
    panic!("{INITIALIZER_PANIC}");
}

/// Asserts that a task was refused because the initializer failed.
fn assert_initializer_failed(outcome: Result<u64, TaskError>) {
    match outcome {
        Err(TaskError::InitializerFailed(message)) => {
            assert!(message.contains(INITIALIZER_PANIC), "{message}");
        }
        other => panic!("expected the initializer's failure, got {other:?}"),
    }
}

/// The child's side: every pending and later task reports the initializer's panic.
fn initializer_child() {
    let workers = 2;
    let pool = ProcessPool::builder()
        .workers(workers)
        .initializer(failing_initializer)
        .build()
        .expect("a valid pool");
    let pending: Vec<_> = (0..6).map(|x| pool.submit(double, x)).collect();
    for handle in pending {
        assert_initializer_failed(handle.result());
    }
    for x in 0..3 {
        assert_initializer_failed(pool.submit(double, x).result());
    }
    drop(pool);
    report(&format!("workers {workers}"));
}

/// The initializer's log names its file through the environment, which the fork server
/// inherits when it starts. A fresh child program guarantees the server starts after the
/// variable is set (a server started by an earlier test would not know it).
#[test]
fn failing_initializer_fails_every_task_without_respawning() {
    if child_role().is_some() {
        return initializer_child();
    }
    let directory = tempfile::tempdir().expect("a temporary directory");
    let log = directory.path().join("initializer-starts");
    let env = [(INITIALIZER_LOG, log.as_os_str())];
    let test = "failing_initializer_fails_every_task_without_respawning";
    let finished = Rerun::start(test, "initializer", &env).finish(Duration::from_secs(30));
    finished.assert_success();

    let reported = finished.reports();
    let workers: usize = match reported.as_slice() {
        [line] => line.strip_prefix("workers ").and_then(|n| n.parse().ok()),
        _ => None,
    }
    .unwrap_or_else(|| panic!("unexpected reports {reported:?}"));
    let starts = std::fs::read_to_string(&log).expect("the initializer ran");
    let starts = starts.lines().count();
    assert!(
        (1..=workers * 3).contains(&starts),
        "{starts} worker starts for {workers} workers"
    );
}

/// An initializer that never returns.
fn endless_initializer() {
    std::thread::sleep(Duration::from_secs(3600));
}

#[test]
fn an_initializer_that_overruns_the_task_timeout_fails_every_task() {
    let pool = ProcessPool::builder()
        .workers(2)
        .initializer(endless_initializer)
        .task_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    for x in 0..3 {
        match pool.submit(double, x).result() {
            Err(TaskError::InitializerFailed(message)) => {
                assert!(message.contains("task timeout"), "{message}");
            }
            other => panic!("expected the initializer's overrun, got {other:?}"),
        }
    }
    pool.shutdown(true);
}

#[test]
fn an_initializer_timeout_bounds_the_initializer_alone() {
    // No task timeout: the initializer timeout alone ends the endless initializer.
    let pool = ProcessPool::builder()
        .workers(1)
        .initializer(endless_initializer)
        .initializer_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    match pool.submit(double, 1).result() {
        Err(TaskError::InitializerFailed(message)) => {
            assert!(message.contains("300ms initializer timeout"), "{message}");
        }
        other => panic!("expected the initializer's overrun, got {other:?}"),
    }
    pool.shutdown(true);

    // A slow initializer within its own limit, though longer than a task may take.
    let pool = ProcessPool::builder()
        .workers(1)
        .initializer(slow_initializer)
        .initializer_timeout(Duration::from_secs(30))
        .task_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    assert_eq!(pool.submit(double, 2).result(), Ok(4));
    assert!(
        ProcessPool::builder()
            .initializer_timeout(Duration::ZERO)
            .build()
            .is_err()
    );
}

/// An initializer that takes longer than the task timeout of its pool.
fn slow_initializer() {
    std::thread::sleep(Duration::from_millis(200));
}
