//! Killing a program that runs a busy pool: with `SIGKILL`, and with Ctrl-C.
//!
//! Each test re-runs this test binary as a child program (selected by `POOLSCOPE_CHILD`)
//! that keeps a process pool busy and prints the pids of its pool's processes, then kills
//! it and watches `/proc` for any of them left behind.

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use poolscope::{ProcessPool, StartMethod};

use support::{children_of, is_gone, processes, scaled, spin, start_method, wait_until};

/// Names the child program a re-run of this binary should be.
const CHILD: &str = "POOLSCOPE_CHILD";

/// A task that keeps a worker busy for about a millisecond.
fn busy(x: u64) -> u64 {
    spin(1_000);
    x
}

/// A task that sleeps far longer than any test: its worker cannot notice its parent's end
/// by itself, so only the kernel's parent-death signal can end it in time.
fn nap(seconds: u64) -> u64 {
    std::thread::sleep(Duration::from_secs(seconds));
    seconds
}

/// The child program: a pool of four with 10,000 tasks queued, its workers busy with
/// tasks that finish quickly (`busy`) or not at all in time (`nap`); prints its
/// processes' pids, then waits.
fn run_busy_pool(start: StartMethod, long: bool) -> ! {
    let pool = ProcessPool::builder()
        .workers(4)
        .start_method(start)
        .build()
        .unwrap();
    let first: Vec<_> = (0..4).map(|x| pool.submit(busy, x)).collect();
    first.into_iter().for_each(|handle| drop(handle.result()));
    let queued: Vec<_> = (0..10_000)
        .map(|x| match long {
            true => pool.submit(nap, 600),
            false => pool.submit(busy, x),
        })
        .collect();
    let me = std::process::id();
    let mut pids: Vec<u32> = pool.worker_pids();
    pids.extend(children_of(me).iter().map(|info| info.pid));
    let listed: Vec<String> = pids.iter().map(u32::to_string).collect();
    println!("pids {}", listed.join(" "));
    queued.into_iter().for_each(|handle| drop(handle.result()));
    unreachable!("the test kills this program long before its tasks end");
}

/// Starts this binary as the child program of `test`, in `start` mode.
fn start_child(test: &str, start: StartMethod, own_group: bool) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, format!("{start:?}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if own_group {
        command.process_group(0);
    }
    command.spawn().unwrap()
}

/// Reads the child's `pids` line.
fn read_pids(child: &mut Child) -> Vec<u32> {
    let stdout = child.stdout.take().unwrap();
    // The test harness may have written the test's name on the same line first.
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| Some(line[line.find("pids ")? + 5..].to_owned()))
        .expect("the child printed its pids");
    line.split(' ').map(|pid| pid.parse().unwrap()).collect()
}

/// The start method a child was asked to use, if this process is a child.
fn child_start() -> Option<StartMethod> {
    Some(start_method(&std::env::var(CHILD).ok()?))
}

#[test]
fn killing_a_busy_parent_leaves_no_pool_process() {
    if let Some(start) = child_start() {
        run_busy_pool(start, true);
    }
    for _ in 0..scaled(1) {
        for start in [
            StartMethod::ForkServer,
            StartMethod::Spawn,
            StartMethod::Fork,
        ] {
            let mut child =
                start_child("killing_a_busy_parent_leaves_no_pool_process", start, false);
            let pids = read_pids(&mut child);
            assert!(pids.len() >= 4, "{start:?}: too few pids {pids:?}");
            assert!(
                pids.iter().all(|&pid| !is_gone(pid)),
                "{start:?}: a pid is gone early"
            );

            kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
            child.wait().unwrap();
            let all_gone = wait_until(Duration::from_secs(1), || pids.iter().all(|&p| is_gone(p)));
            let left: Vec<_> = pids.iter().filter(|&&p| !is_gone(p)).collect();
            assert!(
                all_gone,
                "{start:?}: processes left 1 s after SIGKILL: {left:?}"
            );
        }
    }
}

#[test]
fn ctrl_c_ends_the_program_and_its_pool() {
    if let Some(start) = child_start() {
        run_busy_pool(start, false);
    }
    for start in [StartMethod::ForkServer, StartMethod::Spawn] {
        let mut child = start_child("ctrl_c_ends_the_program_and_its_pool", start, true);
        let group = child.id();
        let pids = read_pids(&mut child);
        assert!(pids.len() >= 4, "{start:?}: too few pids {pids:?}");

        // What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
        kill(Pid::from_raw(-(group as i32)), Signal::SIGINT).unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "{start:?}: the child ignored Ctrl-C");
        let in_group = || processes(|info| info.group == group && !info.is_zombie());
        let emptied = wait_until(Duration::from_secs(1), || in_group().is_empty());
        assert!(emptied, "{start:?}: left in the group: {:?}", in_group());
    }
}
