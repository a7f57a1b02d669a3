//! A program killed with `SIGKILL` takes its process pool's workers, and the fork server,
//! with it, whatever the start method.
//!
//! Each test re-runs this binary as a child program that starts a pool, keeps its workers
//! busy sleeping and reports their pids (and the fork server's); the test then kills the
//! child outright, so that no destructor or exit handler of it runs, and watches the
//! reported processes end.
//!
//! This test process makes itself a child subreaper: processes orphaned by the child's
//! death become its children, not init's. A process that has exited but not yet been
//! reaped (a zombie, state `Z` in `/proc/<pid>/stat`) already released its memory,
//! descriptors and sockets; only its exit status waits in the process table. Such a process
//! has ended, so it counts as gone; being the subreaper, this test then reaps it itself,
//! learns how it ended, and leaves nothing behind.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use poolscope::ProcessPool;

use support::{
    Rerun, child_role, children_of, process, report, sleep_then_pid, start_method, wait_until,
};

/// How long the reported processes may take to end once the child is dead.
const GRACE: Duration = Duration::from_secs(1);

/// The workers of the child's pool.
const WORKERS: usize = 2;

/// The child's side: a busy pool, its processes reported, then sleep until killed.
fn busy_child(role: &str) {
    let pool = ProcessPool::builder()
        .workers(WORKERS)
        .start_method(start_method(role))
        .build()
        .expect("a valid pool");
    let handles: Vec<_> = (0..WORKERS * 2)
        .map(|_| pool.submit(sleep_then_pid, 60_000))
        .collect();
    let busy = wait_until(Duration::from_secs(20), || {
        pool.worker_pids().len() == WORKERS && handles[..WORKERS].iter().all(|h| h.running())
    });
    assert!(busy, "the workers started");

    let workers = pool.worker_pids();
    for &pid in &workers {
        let parent = process(pid).expect("a running worker").ppid;
        report(&format!("worker {pid} {parent}"));
    }
    for child in children_of(std::process::id()) {
        if !workers.contains(&child.pid) {
            report(&format!("server {} {}", child.pid, child.ppid));
        }
    }
    report("ready");
    std::thread::sleep(Duration::from_secs(60));
}

/// A process the child reported: its kind and its parent.
type Reported = BTreeMap<u32, (String, u32)>;

/// Reads the child's reports up to `ready`.
fn read_reports(child: &mut Rerun) -> Reported {
    let mut reported = Reported::new();
    while let Some(line) = child.next_report(Duration::from_secs(30)) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["ready"] => return reported,
            [kind, pid, parent] => {
                let (pid, parent) = (pid.parse().unwrap(), parent.parse().unwrap());
                reported.insert(pid, ((*kind).to_owned(), parent));
            }
            _ => panic!("unexpected report {line:?}"),
        }
    }
    panic!("the child never got ready; it reported {reported:?}")
}

/// Makes this process the reaper of orphaned descendants.
fn become_subreaper() {
    // SAFETY: `prctl` with integer arguments only sets a flag of this process.
    let done = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) };
    assert_eq!(done, 0, "could not become a child subreaper");
}

/// Reaps `pid` if it is a zombie child of this process; its wait status, if reaped.
fn reap_zombie(pid: u32) -> Option<i32> {
    let info = process(pid)?;
    if !info.is_zombie() || info.ppid != std::process::id() {
        return None;
    }
    let mut status = 0;
    // SAFETY: `waitpid` writes only to `status`, a live local.
    let reaped = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
    (reaped == pid as libc::pid_t).then_some(status)
}

/// Waits up to [`GRACE`] for every pid to end, reaping those orphaned to this process;
/// returns the wait status of each reaped one. Panics if any is still running.
fn await_ends(pids: &[u32]) -> BTreeMap<u32, i32> {
    let deadline = Instant::now() + GRACE;
    let mut statuses = BTreeMap::new();
    let mut left: Vec<u32> = pids.to_vec();
    loop {
        left.retain(|&pid| match process(pid) {
            None => false,
            Some(info) if info.is_zombie() => match reap_zombie(pid) {
                Some(status) => statuses.insert(pid, status).is_some(),
                // A zombie that is not (yet) this process's child has ended all the same.
                None => info.ppid == std::process::id(),
            },
            Some(_) => true,
        });
        if left.is_empty() {
            return statuses;
        }
        let running: Vec<_> = left.iter().filter_map(|&pid| process(pid)).collect();
        assert!(
            Instant::now() < deadline,
            "still there after {GRACE:?}: {running:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills the child running `role` and checks that its pool's processes all end.
fn killed_parent_takes_its_processes(test: &str, role: &str) {
    if let Some(role) = child_role() {
        return busy_child(&role);
    }
    become_subreaper();
    let mut child = Rerun::start(test, role, &[]);
    let reported = read_reports(&mut child);
    check_family(&reported, role, child.pid());

    let status = child.kill();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    let pids: Vec<u32> = reported.keys().copied().collect();
    let statuses = await_ends(&pids);

    // Every worker this process reaped was killed by the kernel on its parent's death.
    for (pid, status) in &statuses {
        if reported[pid].0 == "worker" {
            assert!(
                libc::WIFSIGNALED(*status),
                "worker {pid}: status {status:#x}"
            );
            assert_eq!(libc::WTERMSIG(*status), libc::SIGKILL, "worker {pid}");
        }
    }
}

/// Checks who the child reported: its workers, and the fork server where there is one.
fn check_family(reported: &Reported, role: &str, child: u32) {
    let servers: Vec<u32> = (reported.iter())
        .filter(|(_, (kind, _))| kind == "server")
        .map(|(&pid, _)| pid)
        .collect();
    let workers: Vec<u32> = (reported.iter())
        .filter(|(_, (kind, _))| kind == "worker")
        .map(|(_, &(_, parent))| parent)
        .collect();
    assert_eq!(workers.len(), WORKERS, "{reported:?}");
    match role {
        "forkserver" => {
            assert_eq!(servers.len(), 1, "one fork server: {reported:?}");
            assert_eq!(reported[&servers[0]].1, child, "{reported:?}");
            assert!(
                workers.iter().all(|&parent| parent == servers[0]),
                "{reported:?}"
            );
        }
        _ => {
            assert!(servers.is_empty(), "no fork server: {reported:?}");
            assert!(
                workers.iter().all(|&parent| parent == child),
                "{reported:?}"
            );
        }
    }
}

#[test]
fn killed_parent_takes_fork_server_and_its_workers() {
    killed_parent_takes_its_processes(
        "killed_parent_takes_fork_server_and_its_workers",
        "forkserver",
    );
}

#[test]
fn killed_parent_takes_spawned_workers() {
    killed_parent_takes_its_processes("killed_parent_takes_spawned_workers", "spawn");
}

#[test]
fn killed_parent_takes_forked_workers() {
    killed_parent_takes_its_processes("killed_parent_takes_forked_workers", "fork");
}
