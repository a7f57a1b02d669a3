//! The examples print what the README and the tutorial say they print.
//!
//! Each test builds its example (a no-op when `cargo test` already built it), runs it as a
//! child program, and checks its output line by line: the order of `main` and the tasks,
//! the worker pids and thread names, and the input checker's summary.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Builds the example `name` and runs it; its output, having checked that it succeeded.
fn run_example(name: &str) -> (u32, Vec<String>, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "--example", name])
        .status()
        .expect("cargo runs");
    assert!(built.success(), "the example {name} builds");

    // Examples are built beside the test binaries' `deps` folder.
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test_binary.parent().and_then(|deps| deps.parent());
    let path: PathBuf = profile_dir
        .expect("a target folder")
        .join("examples")
        .join(name);
    let child = Command::new(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example starts");
    let pid = child.id();
    let child = child.wait_with_output().expect("the example runs");
    check_success(name, &child);

    let stdout = String::from_utf8(child.stdout).expect("UTF-8 output");
    let lines = stdout.lines().map(str::to_owned).collect();
    let stderr = String::from_utf8_lossy(&child.stderr).into_owned();
    (pid, lines, stderr)
}

/// Fails with the example's output unless it exited successfully.
fn check_success(name: &str, child: &Output) {
    assert!(
        child.status.success(),
        "{name} failed with {}:\n{}\n{}",
        child.status,
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
}

/// Parses `name: egon I pid: P run` into `(I, P)`.
fn task_line(line: &str) -> Option<(u32, u32)> {
    let rest = line.strip_prefix("name: egon ")?;
    let (index, rest) = rest.split_once(" pid: ")?;
    let pid = rest.strip_suffix(" run")?;
    Some((index.parse().ok()?, pid.parse().ok()?))
}

/// Checks that `lines` are the ten tasks of the tutorial, each once, on 1 to 4 worker
/// pids, none of them the pid of the program `main` runs in.
fn assert_ten_tasks_on_four_pids(lines: &[String], main_pid: u32) {
    let tasks: Vec<(u32, u32)> = lines.iter().map(|l| task_line(l).expect(l)).collect();
    let indices: BTreeSet<u32> = tasks.iter().map(|&(index, _)| index).collect();
    assert_eq!(indices, (0..10).collect(), "each task ran once: {lines:?}");
    assert_eq!(tasks.len(), 10, "{lines:?}");
    let pids: BTreeSet<u32> = tasks.iter().map(|&(_, pid)| pid).collect();
    assert!((1..=4).contains(&pids.len()), "tasks ran on {pids:?}");
    assert!(!pids.contains(&main_pid), "no task ran in main's process");
}

#[test]
fn process_pool_prints_main_first_then_ten_tasks_on_four_workers() {
    let (pid, lines, _) = run_example("process_pool");
    assert_eq!(lines.first().map(String::as_str), Some("main"), "{lines:?}");
    assert_ten_tasks_on_four_pids(&lines[1..], pid);
}

#[test]
fn process_pool_shutdown_prints_the_tasks_then_main() {
    let (pid, lines, _) = run_example("process_pool_shutdown");
    assert_eq!(lines.last().map(String::as_str), Some("main"), "{lines:?}");
    assert_ten_tasks_on_four_pids(&lines[..lines.len() - 1], pid);
}

#[test]
fn process_pool_api_prints_the_tasks_then_main() {
    let (pid, lines, _) = run_example("process_pool_api");
    assert_eq!(lines.last().map(String::as_str), Some("main"), "{lines:?}");
    assert_ten_tasks_on_four_pids(&lines[..lines.len() - 1], pid);
}

/// The worker numbers of `ThreadPool-0_N` thread names in `lines`, after `prefix`.
fn thread_numbers(lines: &[String], prefix: &str, suffix: &str) -> BTreeSet<u32> {
    let numbers = lines.iter().map(|line| {
        let rest = line.strip_prefix(prefix).expect(line);
        let (number, _) = rest.split_once(suffix).expect(line);
        number.parse().expect(line)
    });
    numbers.collect()
}

#[test]
fn thread_pool_names_its_five_threads_like_python() {
    let (_, lines, _) = run_example("thread_pool");
    let last = lines.last().expect("some output");
    assert_eq!(last, "main: squares [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]");
    let tasks = &lines[..lines.len() - 1];
    assert_eq!(tasks.len(), 10, "{lines:?}");
    let workers = thread_numbers(tasks, "ThreadPool-0_", " running task ");
    assert!(workers.iter().all(|&n| n < 5), "{workers:?}");
}

#[test]
fn thread_pool_api_runs_ten_tasks_in_one_process() {
    let (pid, lines, _) = run_example("thread_pool_api");
    assert_eq!(lines.last().map(String::as_str), Some("main"), "{lines:?}");
    let tasks = &lines[..lines.len() - 1];
    assert_eq!(tasks.len(), 10, "{lines:?}");
    let workers = thread_numbers(tasks, "name: ThreadPool-0_", " pid: ");
    assert!(workers.iter().all(|&n| n < 5), "{workers:?}");
    let expected = format!(" pid: {pid} run");
    assert!(
        tasks.iter().all(|line| line.ends_with(&expected)),
        "every thread runs in the example's own process {pid}: {tasks:?}"
    );
}

#[test]
fn check_inputs_sorts_every_input_into_its_verdict() {
    let (_, lines, stderr) = run_example("check_inputs");
    assert!(
        stderr.contains("34/34"),
        "the progress bar reached the end: {stderr}"
    );
    let count = |group: &str| {
        let line = lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{group}: ")));
        line.map(|n| n.parse::<usize>().expect(n))
    };
    assert_eq!(count("passed"), Some(24), "{lines:?}");
    assert_eq!(count("rejected"), Some(5), "{lines:?}");
    assert_eq!(count("crashed"), Some(2), "{lines:?}");
    assert_eq!(count("hung"), Some(3), "{lines:?}");
    let crashes = lines.iter().filter(|l| l.contains("SIGSEGV")).count();
    assert_eq!(crashes, 2, "{lines:?}");
    let hangs = lines
        .iter()
        .filter(|l| l.contains("still running after 2s"))
        .count();
    assert_eq!(hangs, 3, "{lines:?}");
}
