//! A program killed with `SIGKILL` takes its process pool's workers, and the fork server,
//! with it, whatever the start method.
//!
//! Each test re-runs this binary as a child program, in a process group of its own, that
//! starts a pool, keeps its workers busy sleeping (each worker marks a directory from
//! inside its task) and reports their pids (and the fork server's). The test takes every descendant of the child from `/proc` (they must be the
//! reported processes), kills the child outright, so that no destructor or exit handler of
//! it runs, and watches all of them, and the child's process group, end.
//!
//! This test process makes itself a child subreaper: processes orphaned by the child's
//! death become its children, not init's. A process that has exited but not yet been
//! reaped (a zombie, state `Z` in `/proc/<pid>/stat`) already released its memory,
//! descriptors and sockets; only its exit status waits in the process table. Such a process
//! has ended, so it counts as gone; being the subreaper, this test then reaps it itself,
//! learns how it ended, and leaves nothing behind.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use poolscope::ProcessPool;

use support::{
    Rerun, await_ends, become_subreaper, child_role, children_of, descendants_of, group_members,
    mark_then_sleep, marked_pids, process, report, scaled, serial, start_method, wait_until,
};

/// How long the reported processes may take to end once the child is dead.
const GRACE: Duration = Duration::from_secs(1);

/// The workers of the child's pool.
const WORKERS: usize = 2;

/// The environment variable naming the directory the child's tasks mark, made and removed
/// by the test.
const MARKERS: &str = "POOLSCOPE_TEST_MARKERS";

/// The child's side: a busy pool, its processes reported, then sleep until killed.
fn busy_child(role: &str) {
    let pool = ProcessPool::builder()
        .workers(WORKERS)
        .start_method(start_method(role))
        .build()
        .expect("a valid pool");
    let markers = PathBuf::from(std::env::var_os(MARKERS).expect("the marker directory"));
    let _handles: Vec<_> = (0..WORKERS * 2)
        .map(|_| pool.submit(mark_then_sleep, (markers.clone(), 60)))
        .collect();
    // Every worker has marked the directory from inside a task.
    let busy = wait_until(Duration::from_secs(20), || {
        let workers: BTreeSet<u32> = pool.worker_pids().into_iter().collect();
        workers.len() == WORKERS && marked_pids(&markers) == workers
    });
    assert!(busy, "the workers never all got a task");

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

/// Kills the child running `role`, as often as the soak factor says, and checks each time
/// that its pool's processes all end.
fn killed_parent_takes_its_processes(test: &str, role: &str) {
    if let Some(role) = child_role() {
        return busy_child(&role);
    }
    let _serial = serial();
    become_subreaper();
    for _ in 0..scaled(1) {
        kill_and_watch(test, role);
    }
}

/// Starts the child in a process group of its own, takes all its descendants once it is
/// ready, kills it, and checks that every one of them and every process of its group ends
/// within [`GRACE`], the workers killed by the kernel.
fn kill_and_watch(test: &str, role: &str) {
    let markers = tempfile::tempdir().expect("a temporary directory");
    let env = [(MARKERS, markers.path().as_os_str())];
    let mut child = Rerun::start_in_own_group(test, role, &env);
    let reported = read_reports(&mut child);
    check_family(&reported, role, child.pid());
    let descendants = descendants_of(child.pid());
    let reported_pids: BTreeSet<u32> = reported.keys().copied().collect();
    assert_eq!(
        descendants, reported_pids,
        "{role}: the child's descendants are its pool's processes, and only those"
    );

    let status = child.kill();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    let mut watched = descendants;
    watched.extend(group_members(child.pid()));
    watched.extend(children_of(std::process::id()).iter().map(|info| info.pid));
    let statuses = match await_ends(&watched, GRACE) {
        Ok(statuses) => statuses,
        Err(left) => panic!("{role}: still there after {GRACE:?}: {left:?}"),
    };
    let left: Vec<_> = (group_members(child.pid()).into_iter())
        .chain(children_of(std::process::id()).iter().map(|info| info.pid))
        .filter_map(process)
        .filter(|info| !info.is_zombie())
        .collect();
    assert!(left.is_empty(), "{role}: left behind: {left:?}");

    // Every worker this process reaped was killed by the kernel on its parent's death.
    for (pid, status) in &statuses {
        if reported.get(pid).is_some_and(|(kind, _)| kind == "worker") {
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
