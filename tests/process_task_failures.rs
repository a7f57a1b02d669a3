//! A process pool's task that fails in every way a process can: it panics, aborts,
//! segfaults, exits, is killed (by itself or from outside), overruns the task timeout, or
//! has an argument or result that cannot cross between processes.
//!
//! Every failure is real: the tasks really abort, fault and die. Each test checks that the
//! failure lands on that task's handle alone, names the worker and how it ended, and that
//! the pool serves on: the same worker where it survives, a new one where it does not.

mod support;

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use poolscope::{ExitCause, ProcessPool, StartMethod, TaskError};
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use support::{
    Rerun, child_role, double, exists, outcome_within, process, report, send_signal,
    sleep_then_pid, wait_until, worker_pid,
};

/// A task that panics with a message naming its argument.
fn panics(x: u32) -> u32 {
    panic!("deliberate panic {x}")
}

/// The descriptor of a forked worker's socket to the pool.
const WORKER_SOCKET: libc::c_int = 3;

/// A task that writes a frame prefix announcing 16 EiB to its worker's socket, then
/// sleeps: the pool must stop trusting the worker and kill it.
fn corrupts_its_socket((): ()) -> u32 {
    let prefix = u64::MAX.to_le_bytes();
    // SAFETY: writing from a live buffer to a descriptor; a wrong one only fails.
    unsafe { libc::write(WORKER_SOCKET, prefix.as_ptr().cast(), prefix.len()) };
    std::thread::sleep(Duration::from_secs(60));
    0
}

/// A task that closes its worker's socket, then sleeps: the pool sees the worker gone
/// while it still runs, and must kill it rather than wait.
fn closes_its_socket((): ()) -> u32 {
    // SAFETY: closing a descriptor this process owns; nothing in it uses the socket while
    // the task runs.
    unsafe { libc::close(WORKER_SOCKET) };
    std::thread::sleep(Duration::from_secs(60));
    0
}

/// A task that aborts its worker (`SIGABRT`).
fn aborts((): ()) -> u32 {
    std::process::abort()
}

/// A task that writes to an unmapped address: a real segmentation fault.
fn segfaults((): ()) -> u32 {
    // The lowest page of the address space is never mapped, so this write faults.
    let unmapped = std::ptr::without_provenance_mut::<u64>(16);
    // SAFETY: not safe at all, on purpose: the worker is meant to die of SIGSEGV here.
    unsafe { std::ptr::write_volatile(unmapped, 1) };
    std::process::id()
}

/// A task that exits its worker with status 3.
fn exits((): ()) -> u32 {
    std::process::exit(3)
}

/// A task that kills its own worker with `SIGKILL`.
fn kills_itself((): ()) -> u32 {
    // SAFETY: `raise` has no memory-safety preconditions.
    unsafe { libc::raise(libc::SIGKILL) };
    std::process::id()
}

/// A task that writes to a pipe nobody reads: the write fails, as in any Rust program,
/// rather than a `SIGPIPE` killing the worker.
fn writes_to_a_closed_pipe((): ()) -> String {
    let mut ends = [0; 2];
    // SAFETY: `pipe` writes two descriptors into the array it is given.
    assert_eq!(unsafe { libc::pipe(ends.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just opened here and are owned by nothing else.
    let (reader, writer) =
        unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) };
    drop(reader);
    let error = std::fs::File::from(writer).write_all(b"lost").unwrap_err();
    format!("{:?}", error.kind())
}

#[test]
fn writing_to_a_closed_pipe_is_an_error_not_a_death() {
    for method in [
        StartMethod::ForkServer,
        StartMethod::Spawn,
        StartMethod::Fork,
    ] {
        let pool = ProcessPool::builder()
            .workers(1)
            .start_method(method)
            .build()
            .expect("a valid pool");
        let outcome = pool.submit(writes_to_a_closed_pipe, ()).result();
        assert_eq!(outcome.as_deref(), Ok("BrokenPipe"), "{method:?}");
    }
}

/// A one-worker pool, and the pid of its worker.
fn one_worker() -> (ProcessPool, u32) {
    let pool = ProcessPool::new(1);
    let pid = pool
        .submit(worker_pid, ())
        .result()
        .expect("a first task runs");
    (pool, pid)
}

/// Runs `crash` on a one-worker pool with normal tasks queued behind it: the crash alone
/// fails, naming the worker and `cause`; the queued tasks and later ones run on a new worker.
fn crash_fails_alone(crash: fn(()) -> u32, cause: ExitCause) {
    let (pool, first) = one_worker();
    let crashed = pool.submit(crash, ());
    let queued: Vec<_> = (0..5).map(|x| pool.submit(double, x)).collect();

    assert_eq!(
        crashed.result(),
        Err(TaskError::WorkerDied { pid: first, cause })
    );
    for (x, handle) in (0..5).zip(queued) {
        assert_eq!(handle.result(), Ok(x * 2));
    }
    let second = pool
        .submit(worker_pid, ())
        .result()
        .expect("a later task runs");
    assert_ne!(second, first, "a new worker replaced the dead one");
    assert!(!exists(first), "the dead worker {first} was reaped");
    assert_eq!(pool.worker_pids(), vec![second]);
}

#[test]
fn panic_fails_its_task_and_the_worker_serves_on() {
    let (pool, first) = one_worker();
    let panicked = pool.submit(panics, 7);
    let after = pool.submit(double, 21);

    assert_eq!(
        panicked.result(),
        Err(TaskError::Panicked("deliberate panic 7".to_owned()))
    );
    assert_eq!(after.result(), Ok(42));
    assert_eq!(pool.submit(worker_pid, ()).result(), Ok(first));
}

#[test]
fn abort_fails_its_task_with_sigabrt() {
    crash_fails_alone(aborts, ExitCause::Signaled(libc::SIGABRT));
}

#[test]
fn segfault_fails_its_task_with_sigsegv() {
    crash_fails_alone(segfaults, ExitCause::Signaled(libc::SIGSEGV));
}

#[test]
fn exit_fails_its_task_with_the_exit_status() {
    crash_fails_alone(exits, ExitCause::Exited(3));
}

#[test]
fn self_inflicted_sigkill_fails_its_task() {
    crash_fails_alone(kills_itself, ExitCause::Signaled(libc::SIGKILL));
}

/// Runs `breaks_protocol` on a one-worker pool of `method` with a task queued behind it:
/// the pool kills the worker (it is killed, not left to sleep out its minute), fails that
/// task alone, and serves on with a new worker.
fn protocol_breach_kills_the_worker(method: StartMethod, breaks_protocol: fn(()) -> u32) {
    let pool = ProcessPool::builder()
        .workers(1)
        .start_method(method)
        .build()
        .expect("a valid pool");
    let first = pool.submit(worker_pid, ()).result().expect("a first task");
    let breach = pool.submit(breaks_protocol, ());
    let queued = pool.submit(double, 4);

    let cause = ExitCause::Signaled(libc::SIGKILL);
    assert_eq!(
        outcome_within(breach, Duration::from_secs(20), "the breaching task"),
        Err(TaskError::WorkerDied { pid: first, cause }),
        "{method:?}"
    );
    assert_eq!(
        outcome_within(queued, Duration::from_secs(20), "the queued task"),
        Ok(8)
    );
    assert!(!exists(first), "{method:?}: the worker {first} was reaped");
}

#[test]
fn a_task_that_corrupts_its_socket_has_its_worker_killed() {
    for method in [StartMethod::ForkServer, StartMethod::Fork] {
        protocol_breach_kills_the_worker(method, corrupts_its_socket);
    }
}

#[test]
fn a_task_that_closes_its_socket_has_its_worker_killed() {
    for method in [StartMethod::ForkServer, StartMethod::Fork] {
        protocol_breach_kills_the_worker(method, closes_its_socket);
    }
}

#[test]
fn worker_killed_from_outside_fails_its_task() {
    let (pool, first) = one_worker();
    let sleeping = pool.submit(sleep_then_pid, 20_000);
    let queued = pool.submit(double, 4);
    assert!(wait_until(Duration::from_secs(5), || sleeping.running()));

    send_signal(first, libc::SIGKILL);
    let cause = ExitCause::Signaled(libc::SIGKILL);
    assert_eq!(
        sleeping.result(),
        Err(TaskError::WorkerDied { pid: first, cause })
    );
    assert_eq!(queued.result(), Ok(8));
    let second = pool
        .submit(worker_pid, ())
        .result()
        .expect("a later task runs");
    assert_ne!(second, first);
}

#[test]
fn overrunning_task_times_out_and_its_worker_is_killed() {
    let limit = Duration::from_secs(1);
    let pool = ProcessPool::builder()
        .workers(1)
        .task_timeout(limit)
        .build()
        .expect("a valid pool");
    let first = pool
        .submit(worker_pid, ())
        .result()
        .expect("a first task runs");
    let overrunning = pool.submit(sleep_then_pid, 30_000);
    let queued: Vec<_> = (0..3).map(|x| pool.submit(double, x)).collect();

    assert_eq!(overrunning.result(), Err(TaskError::TimedOut(limit)));
    assert!(
        !exists(first),
        "the overrunning worker {first} was killed and reaped"
    );
    for (x, handle) in (0..3).zip(queued) {
        assert_eq!(handle.result(), Ok(x * 2));
    }
    let second = pool
        .submit(worker_pid, ())
        .result()
        .expect("a later task runs");
    assert_ne!(second, first);
}

/// A task that sleeps for `micros` microseconds and returns them.
fn sleep_micros(micros: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(micros));
    micros
}

#[test]
fn task_ending_at_its_deadline_never_fails_the_next_one() {
    // Tasks that end just about when the pool gives up on them: some answer in time, some
    // are killed, and some answer just as their worker is being killed. Each trial moves the
    // task's length towards that edge: longer after an answer, shorter after a timeout.
    // Either way the task queued behind one is not to blame and must run.
    let limit = Duration::from_millis(50);
    let pool = ProcessPool::builder()
        .workers(1)
        .task_timeout(limit)
        .build()
        .expect("a valid pool");
    let mut micros = limit.as_micros() as u64 + 1_000;
    let (mut answered, mut timed_out) = (0, 0);
    for trial in 0..100_u64 {
        let edge = pool.submit(sleep_micros, micros);
        let next = pool.submit(double, trial);
        match edge.result() {
            Ok(_) => {
                answered += 1;
                micros += 100;
            }
            Err(TaskError::TimedOut(_)) => {
                timed_out += 1;
                micros -= 100;
            }
            other => panic!("trial {trial}: the edge task ended with {other:?}"),
        }
        assert_eq!(next.result(), Ok(trial * 2), "trial {trial}");
    }
    eprintln!("{answered} edge tasks answered in time, {timed_out} timed out");
}

/// The child's side: the fork server dies under a running task.
fn server_killed_child() {
    let (pool, first) = one_worker();
    let server = process(first).expect("a running worker").ppid;
    let sleeping = pool.submit(sleep_then_pid, 20_000);
    assert!(wait_until(Duration::from_secs(5), || sleeping.running()));

    send_signal(server, libc::SIGKILL);
    match sleeping.result() {
        Err(TaskError::WorkerDied { pid, .. }) => assert_eq!(pid, first),
        other => panic!("expected the worker's death, got {other:?}"),
    }
    let second = pool
        .submit(worker_pid, ())
        .result()
        .expect("a later task runs");
    let new_server = process(second).expect("a running worker").ppid;
    assert_ne!(new_server, server, "a new fork server started");
    let reaped = wait_until(Duration::from_secs(5), || !exists(server));
    assert!(reaped, "the dead fork server was reaped");
    report("served on");
}

/// The fork server is shared by every pool of a program, so it is killed in a child
/// program, where no other test uses it.
#[test]
fn killed_fork_server_fails_running_tasks_and_is_replaced() {
    if child_role().is_some() {
        return server_killed_child();
    }
    let test = "killed_fork_server_fails_running_tasks_and_is_replaced";
    let finished = Rerun::start(test, "server", &[]).finish(Duration::from_secs(30));
    finished.assert_success();
    assert_eq!(finished.reports(), ["served on"]);
}

/// A value whose serialization always fails.
#[derive(Debug, Deserialize)]
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom("unencodable on purpose"))
    }
}

/// A value whose deserialization always fails.
#[derive(Debug, Serialize)]
struct Undecodable;

impl<'de> Deserialize<'de> for Undecodable {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(D::Error::custom("undecodable on purpose"))
    }
}

/// A task whose argument cannot be encoded, so it never reaches a worker.
fn takes_unencodable(_: Unencodable) -> u32 {
    std::process::id()
}

/// A task whose argument the worker cannot decode.
fn takes_undecodable(_: Undecodable) -> u32 {
    std::process::id()
}

/// A task whose result the worker cannot encode.
fn returns_unencodable((): ()) -> Unencodable {
    Unencodable
}

/// A task whose result the parent cannot decode.
fn returns_undecodable((): ()) -> Undecodable {
    Undecodable
}

/// Asserts a codec error whose message contains `stage`.
fn assert_codec<T: std::fmt::Debug>(outcome: Result<T, TaskError>, stage: &str) {
    match outcome {
        Err(TaskError::Codec(message)) => assert!(message.contains(stage), "{message}"),
        other => panic!("expected a codec error about {stage:?}, got {other:?}"),
    }
}

#[test]
fn codec_failures_fail_their_task_and_spare_the_worker() {
    let (pool, first) = one_worker();

    assert_codec(
        pool.submit(takes_unencodable, Unencodable).result(),
        "encode the argument",
    );
    assert_codec(
        pool.submit(takes_undecodable, Undecodable).result(),
        "decode the argument",
    );
    assert_codec(
        pool.submit(returns_unencodable, ()).result(),
        "encode the result",
    );
    assert_codec(
        pool.submit(returns_undecodable, ()).result(),
        "decode the result",
    );

    assert_eq!(
        pool.submit(worker_pid, ()).result(),
        Ok(first),
        "the same worker serves on"
    );
}
