//! Every start method runs tasks: one by one, mapped, and mapped in chunks; and a worker's
//! standard output is the program's own.

mod support;

use std::time::Duration;

use poolscope::{ProcessPool, StartMethod, TaskError};

use support::{Rerun, START_METHOD_NAMES, child_role, double, report, start_method};

/// A task that panics on 13 and doubles anything else.
fn double_but_not_13(x: u64) -> u64 {
    assert_ne!(x, 13, "13 is refused");
    x * 2
}

/// A task that prints a line naming its worker, and returns the worker's pid.
fn print_marker((): ()) -> u32 {
    let pid = std::process::id();
    println!("poolscope-marker printed by worker {pid}");
    pid
}

/// Submits, maps and maps in chunks on a pool started with `method`.
fn runs_tasks(method: StartMethod) {
    let pool = ProcessPool::builder()
        .workers(2)
        .start_method(method)
        .build()
        .expect("a valid pool");

    assert_eq!(pool.submit(double, 21).result(), Ok(42));

    let mapped: Vec<_> = pool.map(double, 0..100).collect();
    let expected: Vec<_> = (0..100).map(|x| Ok(x * 2)).collect();
    assert_eq!(mapped, expected);

    let chunked: Vec<_> = pool.map_chunked(double, 0..1_000, 7).collect();
    let expected: Vec<_> = (0..1_000).map(|x| Ok(x * 2)).collect();
    assert_eq!(chunked, expected);

    // A panic in a chunk fails its own item only.
    let chunked: Vec<_> = pool.map_chunked(double_but_not_13, 0..30, 4).collect();
    for (x, outcome) in (0..).zip(chunked) {
        match outcome {
            Err(TaskError::Panicked(message)) if x == 13 => {
                assert!(message.contains("13 is refused"), "{message}");
            }
            outcome => assert_eq!(outcome, Ok(x * 2), "item {x}"),
        }
    }
    pool.shutdown(true);
}

#[test]
fn fork_server_runs_tasks() {
    runs_tasks(StartMethod::ForkServer);
}

#[test]
fn spawn_runs_tasks() {
    runs_tasks(StartMethod::Spawn);
}

#[test]
fn fork_runs_tasks() {
    runs_tasks(StartMethod::Fork);
}

/// The child's side: a task prints its marker; the child reports the worker's pid only.
fn printing_child(role: &str) {
    let pool = ProcessPool::builder()
        .workers(1)
        .start_method(start_method(role))
        .build()
        .expect("a valid pool");
    let pid = pool
        .submit(print_marker, ())
        .result()
        .expect("the task runs");
    pool.shutdown(true);
    report(&format!("worker {pid}"));
}

/// Runs test `test` as a child whose pool starts with `role`, and finds the marker its
/// worker printed in the child's captured standard output.
fn worker_prints_to_program_stdout(test: &str, role: &str) {
    if let Some(role) = child_role() {
        return printing_child(&role);
    }
    let finished = Rerun::start(test, role, &[]).finish(Duration::from_secs(30));
    finished.assert_success();
    let reports = finished.reports();
    let Some(pid) = reports.iter().find_map(|line| line.strip_prefix("worker ")) else {
        panic!("no worker reported: {finished:?}");
    };
    let marker = format!("poolscope-marker printed by worker {pid}");
    assert!(
        finished.stdout.iter().any(|line| line.contains(&marker)),
        "{marker:?} missing from the program's output: {:?}",
        finished.stdout
    );
}

#[test]
fn fork_server_worker_prints_to_program_stdout() {
    worker_prints_to_program_stdout("fork_server_worker_prints_to_program_stdout", "forkserver");
}

#[test]
fn spawned_worker_prints_to_program_stdout() {
    worker_prints_to_program_stdout("spawned_worker_prints_to_program_stdout", "spawn");
}

#[test]
fn forked_worker_prints_to_program_stdout() {
    worker_prints_to_program_stdout("forked_worker_prints_to_program_stdout", "fork");
}

/// How this process takes SIGINT (Ctrl-C): `default`, `ignored` or `handled`.
fn ctrl_c_disposition((): ()) -> String {
    // SAFETY: a zeroed `sigaction` is a valid place for the kernel to write into.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: with no new action given, `sigaction` only reads the current one into
    // `current`, which lives through the call.
    let read = unsafe { libc::sigaction(libc::SIGINT, std::ptr::null(), &mut current) };
    assert_eq!(read, 0, "sigaction failed");
    match current.sa_sigaction {
        libc::SIG_DFL => "default",
        libc::SIG_IGN => "ignored",
        _ => "handled",
    }
    .to_owned()
}

/// A SIGINT handler that does nothing.
extern "C" fn on_ctrl_c(_: libc::c_int) {}

/// The child's side: with SIGINT taken as `role` says, a pool of each start method reports
/// how its worker takes it.
fn ctrl_c_child(role: &str) {
    let disposition = match role {
        "ignored" => libc::SIG_IGN,
        "handled" => on_ctrl_c as extern "C" fn(libc::c_int) as libc::sighandler_t,
        _ => libc::SIG_DFL,
    };
    // SAFETY: the handler, if any, does nothing, which is async-signal-safe.
    unsafe { libc::signal(libc::SIGINT, disposition) };
    for method in START_METHOD_NAMES {
        let pool = ProcessPool::builder()
            .workers(1)
            .start_method(start_method(method))
            .build()
            .expect("a valid pool");
        match pool.submit(ctrl_c_disposition, ()).result() {
            Ok(taken) => report(&format!("{method} {taken}")),
            Err(error) => report(&format!("{method} failed: {error}")),
        }
    }
}

/// Runs test `test` as a child that takes SIGINT as `role` says, and checks that the
/// workers of every start method take it as a program the child executed would: ignored
/// if the child ignores it, by default otherwise (a handler is the child's own code).
fn workers_take_ctrl_c_as_an_executed_program(test: &str, role: &str) {
    if let Some(role) = child_role() {
        return ctrl_c_child(&role);
    }
    let finished = Rerun::start(test, role, &[]).finish(Duration::from_secs(30));
    finished.assert_success();
    let expected = match role {
        "ignored" => "ignored",
        _ => "default",
    };
    let reports = finished.reports();
    for method in START_METHOD_NAMES {
        let line = format!("{method} {expected}");
        assert!(
            reports.contains(&line.as_str()),
            "{method}: expected {expected:?} in {reports:?}"
        );
    }
}

#[test]
fn workers_die_of_ctrl_c_when_their_program_would() {
    workers_take_ctrl_c_as_an_executed_program(
        "workers_die_of_ctrl_c_when_their_program_would",
        "default",
    );
}

#[test]
fn workers_ignore_ctrl_c_when_their_program_does() {
    workers_take_ctrl_c_as_an_executed_program(
        "workers_ignore_ctrl_c_when_their_program_does",
        "ignored",
    );
}

#[test]
fn workers_run_no_handler_of_their_program() {
    workers_take_ctrl_c_as_an_executed_program(
        "workers_run_no_handler_of_their_program",
        "handled",
    );
}
