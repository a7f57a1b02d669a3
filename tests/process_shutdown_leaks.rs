//! Creating and shutting down process pools over and over leaves nothing behind: no
//! worker process, no zombie, no descriptor.
//!
//! The fork server is the one process meant to outlive a pool: all pools of a program share
//! it, and it lives as long as the program. The tests name it explicitly (the single child
//! of this process once a pool has used it) and check that it is the same process, still
//! running, and without children of its own, after all the cycles.
//!
//! The tests count this process's descriptors and children, so they run one at a time.

mod support;

use std::time::Instant;

use poolscope::{ProcessPool, StartMethod};

use support::{
    ProcessInfo, children_of, descendants_of, exists, is_zombie, open_descriptors, pids_of, serial,
    worker_pid,
};

/// One create-use-shutdown cycle; returns the pids of the workers it saw.
fn cycle(method: StartMethod, workers: usize) -> Vec<u32> {
    let pool = ProcessPool::builder()
        .workers(workers)
        .start_method(method)
        .build()
        .expect("a valid pool");
    let ran_on = pool.submit(worker_pid, ()).result().expect("the task runs");
    let mut pids = pool.worker_pids();
    pids.push(ran_on);
    pool.shutdown(true);
    pids
}

/// Runs `count` cycles with `method`, alternating one and two workers, and checks after
/// each that its workers are gone and no zombie is left, and at the end that the
/// descriptors and the long-lived children (the fork server) are those of the start.
/// Returns the long-lived children.
fn cycles_leave_nothing(method: StartMethod, count: usize) -> Vec<ProcessInfo> {
    // A first pool starts what lives as long as the program: the launcher thread and, for
    // the default start method, the fork server and its control socket.
    cycle(method, 1);
    let long_lived = children_of(std::process::id());
    let descriptors = open_descriptors();

    let started = Instant::now();
    for round in 0..count {
        for pid in cycle(method, 1 + round % 2) {
            assert!(
                !exists(pid),
                "round {round}: worker {pid} outlived its pool"
            );
        }
        let zombies: Vec<u32> = (descendants_of(std::process::id()).into_iter())
            .filter(|&pid| is_zombie(pid))
            .collect();
        assert!(zombies.is_empty(), "round {round}: zombies {zombies:?}");
    }
    eprintln!("{count} pools with {method:?} took {:?}", started.elapsed());

    assert_eq!(open_descriptors(), descriptors, "descriptors leaked");
    assert_eq!(
        pids_of(&children_of(std::process::id())),
        pids_of(&long_lived),
        "the long-lived children"
    );
    assert!(
        long_lived
            .iter()
            .all(|server| children_of(server.pid).is_empty())
    );
    long_lived
}

#[test]
fn fork_server_pools_leave_nothing_behind() {
    let _serial = serial();
    let server = cycles_leave_nothing(StartMethod::ForkServer, 200);
    assert_eq!(
        server.len(),
        1,
        "one fork server serves all pools: {server:?}"
    );
    assert!(!server[0].is_zombie(), "the fork server runs: {server:?}");
}

#[test]
fn spawned_pools_leave_nothing_behind() {
    let _serial = serial();
    cycles_leave_nothing(StartMethod::Spawn, 200);
}

#[test]
fn forked_pools_leave_nothing_behind() {
    let _serial = serial();
    cycles_leave_nothing(StartMethod::Fork, 200);
}
