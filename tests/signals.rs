//! Killing a program that runs a busy pool: with `SIGKILL`, and with Ctrl-C.
//!
//! Each test re-runs this test binary as a child program that leads a process group of its
//! own, as a terminal's foreground program does. The child queues 10,000 tasks that each
//! sleep for ten minutes, so its workers sit inside tasks and none can end by itself, and
//! reports its workers once every one of them has marked a directory from inside a task. The test then takes every descendant of the
//! child from `/proc`, signals the child, and checks that within 1 s none of them, and no
//! process of the child's group, is left.
//!
//! This test process makes itself a child subreaper, so a process orphaned by the child's
//! death becomes its own child: it is seen (a missed descendant shows up among this
//! process's children) and reaped here rather than left as a zombie.

mod support;

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use poolscope::ProcessPool;

use support::{
    Rerun, START_METHOD_NAMES, await_ends, become_subreaper, child_role, children_of,
    descendants_of, group_members, mark_then_sleep, marked_pids, process, report, scaled, serial,
    start_method, wait_until,
};

/// The workers of the child's pool.
const WORKERS: usize = 4;

/// The tasks the child queues.
const QUEUED: usize = 10_000;

/// How long each of the child's tasks sleeps: far longer than any test, so that no worker
/// can end by itself in time.
const TASK_SECONDS: u64 = 600;

/// How long the child's processes may take to end once it is gone.
const GRACE: Duration = Duration::from_secs(1);

/// How long the child may take to exit on Ctrl-C.
const EXIT_DEADLINE: Duration = Duration::from_secs(2);

/// The environment variable naming the directory the child's tasks mark, made and removed
/// by the test.
const MARKERS: &str = "POOLSCOPE_TEST_MARKERS";

/// The role suffix for a child whose workers ignore Ctrl-C.
const DEAF: &str = "+deaf";

/// A worker initializer that ignores Ctrl-C, as a worker running a library that masks it
/// would: such a worker goes only when the pool takes it down with the program.
fn ignore_ctrl_c() {
    // SAFETY: setting a signal's disposition to "ignore" installs no handler code.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
}

/// The child program: a pool of four with 10,000 long tasks queued, reported once each
/// worker is inside one; then it waits on its tasks until the test ends it.
fn run_busy_pool(role: &str) -> ! {
    // A program started from a terminal dies of Ctrl-C. This one may have inherited it
    // ignored, as every program does that a shell starts in the background without job
    // control; the test is of a pool in a program that Ctrl-C ends.
    // SAFETY: restoring a signal's default disposition installs no handler code.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
    let (method, deaf) = match role.strip_suffix(DEAF) {
        Some(method) => (method, true),
        None => (role, false),
    };
    let mut builder = ProcessPool::builder()
        .workers(WORKERS)
        .start_method(start_method(method));
    if deaf {
        builder = builder.initializer(ignore_ctrl_c);
    }
    let pool = builder.build().expect("a valid pool");
    let markers = PathBuf::from(std::env::var_os(MARKERS).expect("the marker directory"));
    let handles: Vec<_> = (0..QUEUED)
        .map(|_| pool.submit(mark_then_sleep, (markers.clone(), TASK_SECONDS)))
        .collect();

    // Every worker of the pool has marked the directory: each one is inside a task.
    let all_busy = wait_until(Duration::from_secs(20), || {
        let workers: BTreeSet<u32> = pool.worker_pids().into_iter().collect();
        workers.len() == WORKERS && marked_pids(&markers) == workers
    });
    assert!(all_busy, "the workers never all got a task");
    for pid in pool.worker_pids() {
        report(&format!("worker {pid}"));
    }
    report("ready");

    handles[0].wait_timeout(Duration::from_secs(60));
    panic!("the test should have ended this program within a minute");
}

/// The processes of a child program, as the test saw them before signalling it.
struct Family {
    /// The child's pid, which is also its process group.
    leader: u32,
    /// The workers the child reported.
    workers: BTreeSet<u32>,
    /// Every descendant of the child, walked through `/proc`.
    descendants: BTreeSet<u32>,
}

/// Starts this binary as the child program of `test` in `role`, in a process group of its
/// own, its tasks marking `markers`, and takes its family once it reports ready.
fn start_child(test: &str, role: &str, markers: &Path) -> (Rerun, Family) {
    let mut child = Rerun::start_in_own_group(test, role, &[(MARKERS, markers.as_os_str())]);
    let mut workers = BTreeSet::new();
    loop {
        let line = child.next_report(Duration::from_secs(30));
        match line
            .as_deref()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>)
        {
            Some(fields) if fields == ["ready"] => break,
            Some(fields) if fields.len() == 2 && fields[0] == "worker" => {
                workers.insert(fields[1].parse().expect("a pid"));
            }
            _ => panic!("{role}: unexpected report {line:?}, workers so far {workers:?}"),
        }
    }
    let family = Family {
        leader: child.pid(),
        workers,
        descendants: descendants_of(child.pid()),
    };
    family.check(role);
    (child, family)
}

impl Family {
    /// Checks that the walk through `/proc` found the reported workers, and the fork
    /// server where there is one, and nothing else.
    fn check(&self, role: &str) {
        let expected = match role.starts_with("forkserver") {
            true => WORKERS + 1,
            false => WORKERS,
        };
        assert_eq!(self.workers.len(), WORKERS, "{role}: {:?}", self.workers);
        assert!(
            self.workers.is_subset(&self.descendants),
            "{role}: workers {:?} are not all among the descendants {:?}",
            self.workers,
            self.descendants
        );
        assert_eq!(
            self.descendants.len(),
            expected,
            "{role}: descendants {:?}",
            self.descendants
        );
    }

    /// Checks that within [`GRACE`] every descendant and every process of the group has
    /// ended, and that no orphan came to this process.
    fn assert_all_end(&self, role: &str) {
        let me = std::process::id();
        let mut watched = self.descendants.clone();
        watched.extend(group_members(self.leader));
        watched.extend(children_of(me).iter().map(|info| info.pid));
        let started = Instant::now();
        if let Err(left) = await_ends(&watched, GRACE) {
            panic!("{role}: still running {GRACE:?} after the child's end: {left:?}");
        }
        eprintln!(
            "signals: {role}: {} processes under the child, all gone {:?} after it",
            self.descendants.len(),
            started.elapsed()
        );

        let stray: Vec<_> = (group_members(self.leader).into_iter())
            .chain(children_of(me).iter().map(|info| info.pid))
            .filter_map(process)
            .filter(|info| !info.is_zombie())
            .collect();
        assert!(stray.is_empty(), "{role}: left behind: {stray:?}");
    }
}

#[test]
fn killing_a_busy_parent_leaves_no_pool_process() {
    const TEST: &str = "killing_a_busy_parent_leaves_no_pool_process";
    if let Some(role) = child_role() {
        run_busy_pool(&role);
    }
    let _serial = serial();
    become_subreaper();
    for _ in 0..scaled(1) {
        for role in START_METHOD_NAMES {
            let markers = tempfile::tempdir().expect("a temporary directory");
            let (mut child, family) = start_child(TEST, role, markers.path());
            let status = child.kill();
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{role}: {status:?}");
            family.assert_all_end(role);
        }
    }
}

#[test]
fn ctrl_c_ends_the_program_and_its_pool() {
    const TEST: &str = "ctrl_c_ends_the_program_and_its_pool";
    if let Some(role) = child_role() {
        run_busy_pool(&role);
    }
    let _serial = serial();
    become_subreaper();
    let roles = START_METHOD_NAMES
        .iter()
        .flat_map(|method| [method.to_string(), format!("{method}{DEAF}")]);
    let roles: Vec<String> = roles.collect();
    for _ in 0..scaled(1) {
        for role in &roles {
            let markers = tempfile::tempdir().expect("a temporary directory");
            let (mut child, family) = start_child(TEST, role, markers.path());

            // What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
            send_signal_to_group(family.leader, libc::SIGINT);
            let status = child.exit_within(EXIT_DEADLINE);
            let Some(status) = status else {
                panic!("{role}: the child still runs {EXIT_DEADLINE:?} after Ctrl-C");
            };
            assert_eq!(status.signal(), Some(libc::SIGINT), "{role}: {status:?}");
            family.assert_all_end(role);
        }
    }
}

/// Sends `signal` to every process of process group `group`.
fn send_signal_to_group(group: u32, signal: libc::c_int) {
    // SAFETY: `kill` has no memory-safety preconditions; the group is the test's child's.
    let sent = unsafe { libc::kill(-(group as libc::pid_t), signal) };
    assert_eq!(sent, 0, "kill(-{group}, {signal}) failed");
}
