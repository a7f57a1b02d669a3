//! Calls made outside any scope still finish when the program ends: the process waits for
//! its process-wide pools once `main` has returned.
//!
//! The test re-runs this test binary as a child that submits slow tasks and returns at
//! once, then reads the child's output.

use std::process::Command;
use std::time::Duration;

use poolscope::pool;

/// Set in the child's environment to make it the child.
const CHILD: &str = "POOLSCOPE_EXIT_TEST_CHILD";

/// Prints its number after a pause long enough to outlast the test harness.
#[pool(thread, workers = 2)]
fn late_print(number: u32) {
    std::thread::sleep(Duration::from_millis(100));
    println!("task {number} done");
}

/// Prints its number from a worker process after the same pause.
#[pool(process, workers = 2)]
fn late_print_in_process(number: u32) {
    std::thread::sleep(Duration::from_millis(100));
    println!("process task {number} done");
}

/// In the child: submits the tasks and returns without waiting for them.
#[test]
fn submit_and_return() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    for number in 0..4 {
        late_print(number);
        late_print_in_process(number);
    }
    println!("test body returned");
}

#[test]
fn process_wide_pools_finish_their_tasks_at_exit() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "submit_and_return",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed: {stdout}");

    // Every task of both pools ran, and each after the harness had finished its run. The
    // lines are matched whole: "task 1 done" is also the end of "process task 1 done".
    let lines: Vec<&str> = stdout.lines().collect();
    let summary = lines
        .iter()
        .position(|line| line.starts_with("test result:"))
        .expect("the harness summary");
    for number in 0..4 {
        for line in [
            format!("task {number} done"),
            format!("process task {number} done"),
        ] {
            let at = lines
                .iter()
                .position(|printed| *printed == line)
                .unwrap_or_else(|| panic!("no line `{line}` in {stdout}"));
            assert!(at > summary, "`{line}` came before the summary: {stdout}");
        }
    }
}
