//! Where calls of `#[pool]` functions run: scopes, nesting, every way out of a scope, and
//! the process-wide pools.
//!
//! The tests of process pools count this process's children, so they run one at a time,
//! and call their functions only inside scopes: a process-wide pool would keep its workers
//! until the test binary exits.

mod support;

use std::collections::HashSet;
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use poolscope::{Handle, TaskError, pool, pool_scope};

use support::{children_of, descendants_of, exists, is_zombie, pids_of, serial, wait_until};

/// A short pause, so that tasks are still running when their scope ends unless it waits.
const PAUSE: Duration = Duration::from_millis(30);

/// The name of the thread that runs the call.
#[pool(thread, workers = 2, name = "scoped")]
fn thread_name() -> String {
    std::thread::current().name().unwrap_or_default().to_owned()
}

#[test]
fn calls_in_a_scope_run_on_the_named_pool() {
    let name = pool_scope! { thread_name().result().unwrap() };
    assert!(name.starts_with("scoped-"), "ran on {name}");
}

#[test]
fn body_runs_synchronously_under_its_sync_name() {
    let here = std::thread::current().name().map(str::to_owned);
    assert_eq!(thread_name_sync(), here.unwrap_or_default());
}

/// The pool part of a thread name: `scoped-3` for `scoped-3_1`.
fn pool_of(thread: &str) -> &str {
    thread.split('_').next().unwrap_or(thread)
}

#[test]
fn nested_scopes_own_their_own_pools() {
    let (outer, inner, outer_again) = pool_scope! {
        let outer = thread_name().result().unwrap();
        let inner = pool_scope! { thread_name().result().unwrap() };
        let outer_again = thread_name().result().unwrap();
        (outer, inner, outer_again)
    };
    assert_ne!(pool_of(&outer), pool_of(&inner));
    assert_eq!(pool_of(&outer), pool_of(&outer_again));
}

#[test]
fn each_scope_makes_a_new_pool() {
    let first = pool_scope! { thread_name().result().unwrap() };
    let second = pool_scope! { thread_name().result().unwrap() };
    assert_ne!(pool_of(&first), pool_of(&second));
}

/// Calls made by a helper during a scope, on the scope's thread.
fn name_from_helper() -> String {
    thread_name().result().unwrap()
}

#[test]
fn calls_from_helpers_belong_to_the_scope() {
    let (direct, helped) = pool_scope! { (thread_name().result().unwrap(), name_from_helper()) };
    assert_eq!(pool_of(&direct), pool_of(&helped));
}

#[test]
fn calls_outside_any_scope_share_one_process_wide_pool() {
    let first = thread_name().result().unwrap();
    let second = thread_name().result().unwrap();
    let scoped = pool_scope! { thread_name().result().unwrap() };
    assert_eq!(pool_of(&first), pool_of(&second));
    assert_ne!(pool_of(&first), pool_of(&scoped));
}

/// Finished calls of `count_after_pause`, one counter per test so that the tests, which
/// run at the same time, do not disturb each other.
static FINISHED: [AtomicUsize; 6] = [const { AtomicUsize::new(0) }; 6];
/// The counter of the test of a normal end.
const NORMALLY: usize = 0;
/// The counter of the test of that way out.
const BY_QUESTION_MARK: usize = 1;
/// The counter of the test of that way out.
const BY_RETURN: usize = 2;
/// The counter of the test of that way out.
const BY_BREAK: usize = 3;
/// The counter of the test of that way out.
const BY_PANIC: usize = 4;
/// The counter of the test of a nested scope.
const IN_NESTED_SCOPE: usize = 5;

/// Sleeps, then counts itself finished.
#[pool(thread, workers = 2)]
fn count_after_pause(counter: usize) {
    std::thread::sleep(PAUSE);
    FINISHED[counter].fetch_add(1, Ordering::SeqCst);
}

#[test]
fn leaving_a_scope_normally_waits_for_its_tasks() {
    pool_scope! {
        for _ in 0..5 {
            count_after_pause(NORMALLY);
        }
    }
    assert_eq!(FINISHED[NORMALLY].load(Ordering::SeqCst), 5);
}

/// Submits three calls, then fails with `?` inside the scope.
fn fail_inside_scope() -> Result<(), std::num::ParseIntError> {
    pool_scope! {
        for _ in 0..3 {
            count_after_pause(BY_QUESTION_MARK);
        }
        "not a number".parse::<u32>()?;
        Ok(())
    }
}

#[test]
fn leaving_a_scope_by_question_mark_waits_for_its_tasks() {
    assert!(fail_inside_scope().is_err());
    assert_eq!(FINISHED[BY_QUESTION_MARK].load(Ordering::SeqCst), 3);
}

/// Submits three calls, then returns from inside the scope if `early`.
fn return_inside_scope(early: bool) -> &'static str {
    pool_scope! {
        for _ in 0..3 {
            count_after_pause(BY_RETURN);
        }
        if early {
            return "returned early";
        }
    }
    "ran to the end"
}

#[test]
fn leaving_a_scope_by_return_waits_for_its_tasks() {
    assert_eq!(return_inside_scope(true), "returned early");
    assert_eq!(FINISHED[BY_RETURN].load(Ordering::SeqCst), 3);
}

#[test]
fn leaving_a_scope_by_break_waits_for_its_tasks() {
    let mut rounds = 0;
    loop {
        rounds += 1;
        pool_scope! {
            count_after_pause(BY_BREAK);
            if rounds == 2 {
                break;
            }
        }
    }
    assert_eq!(FINISHED[BY_BREAK].load(Ordering::SeqCst), 2);
}

#[test]
fn leaving_a_scope_by_panic_waits_for_its_tasks() {
    let outcome = catch_unwind(|| {
        pool_scope! {
            for _ in 0..3 {
                count_after_pause(BY_PANIC);
            }
            panic!("the scope's own code failed");
        }
    });
    assert!(outcome.is_err());
    assert_eq!(FINISHED[BY_PANIC].load(Ordering::SeqCst), 3);
}

/// A task that panics.
#[pool(thread, workers = 1)]
fn fail(message: String) -> u8 {
    panic!("{message}")
}

#[test]
fn a_task_panic_reaches_its_handle() {
    let outcome = pool_scope! { fail("broken".to_owned()).result() };
    assert_eq!(
        outcome,
        Err(poolscope::TaskError::Panicked("broken".to_owned()))
    );
}

/// Whether `wait_for_release` may return.
static RELEASED: AtomicBool = AtomicBool::new(false);

/// Waits until [`RELEASED`] is set, for at most ten seconds, and returns whether it was.
#[pool(thread, workers = 1)]
fn wait_for_release() -> bool {
    wait_until(Duration::from_secs(10), || RELEASED.load(Ordering::SeqCst))
}

#[test]
fn a_nested_scope_waits_for_its_own_tasks_at_its_own_end() {
    pool_scope! {
        let outer = wait_for_release();
        pool_scope! {
            for _ in 0..3 {
                count_after_pause(IN_NESTED_SCOPE);
            }
        }

        // The inner scope waited for its three tasks, and not for the outer scope's task,
        // which waits for the release below.
        assert_eq!(FINISHED[IN_NESTED_SCOPE].load(Ordering::SeqCst), 3);
        assert!(!outer.done(), "the inner scope waited for the outer scope's task");
        RELEASED.store(true, Ordering::SeqCst);
        assert_eq!(outer.result(), Ok(true));
    }
}

/// Fails for 3, and multiplies the others by ten, on a thread.
#[pool(thread, workers = 2)]
fn fail_on_three_in_thread(n: u32) -> u32 {
    assert_ne!(n, 3, "task {n} failed");
    n * 10
}

/// Fails for 3, and multiplies the others by ten, in a worker process.
#[pool(process, workers = 2)]
fn fail_on_three_in_process(n: u32) -> u32 {
    assert_ne!(n, 3, "task {n} failed");
    n * 10
}

/// Checks that only the task for 3 failed among `results`, those of 0 to 5.
fn only_three_failed(results: Vec<Result<u32, TaskError>>) {
    for (n, result) in (0..).zip(results) {
        match n {
            3 => assert!(
                matches!(&result, Err(TaskError::Panicked(message)) if message.contains("task 3 failed")),
                "task 3 gave {result:?}"
            ),
            _ => assert_eq!(result, Ok(n * 10), "task {n}"),
        }
    }
}

#[test]
fn a_panicking_thread_task_harms_no_other_task_of_its_scope() {
    let results = pool_scope! {
        let handles: Vec<_> = (0..6).map(fail_on_three_in_thread).collect();
        handles.into_iter().map(Handle::result).collect()
    };
    only_three_failed(results);
}

#[test]
fn a_panicking_process_task_harms_no_other_task_of_its_scope() {
    let _serial = serial();
    let results = pool_scope! {
        let handles: Vec<_> = (0..6).map(fail_on_three_in_process).collect();
        handles.into_iter().map(Handle::result).collect()
    };
    only_three_failed(results);
}

/// Sleeps a little, then returns the pid of the worker process.
#[pool(process, workers = 3)]
fn pid_after_pause() -> u32 {
    std::thread::sleep(PAUSE);
    std::process::id()
}

#[test]
fn a_process_scope_reaps_every_worker_when_it_ends() {
    let _serial = serial();

    // The handles leave the scope unfinished unless the scope waits for them.
    let handles: Vec<Handle<u32>> = pool_scope! { (0..6).map(|_| pid_after_pause()).collect() };
    assert!(handles.iter().all(Handle::done), "the scope did not wait");
    let pids: HashSet<u32> = handles
        .into_iter()
        .map(|handle| handle.result().unwrap())
        .collect();
    assert!(!pids.contains(&std::process::id()));

    // Every worker is gone, not even left a zombie, and what remains is the fork server:
    // one child of this process, with no child of its own.
    for pid in &pids {
        assert!(!exists(*pid), "worker {pid} outlived its scope");
    }
    let me = std::process::id();
    let children = pids_of(&children_of(me));
    assert!(children.len() <= 1, "children left: {children:?}");
    let descendants = descendants_of(me);
    assert_eq!(descendants, children, "the fork server has children");
    let zombies: Vec<u32> = descendants
        .into_iter()
        .filter(|&pid| is_zombie(pid))
        .collect();
    assert!(zombies.is_empty(), "zombies: {zombies:?}");
}
