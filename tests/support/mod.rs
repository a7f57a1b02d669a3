//! What the process pool's test files share: reading processes and descriptors from `/proc`,
//! a lock for the tests that count this process's descriptors, the tasks most tests submit,
//! and re-running this test binary as a child program (for tests that kill or watch a whole
//! program).
//!
//! Each test file compiles this module on its own and uses only part of it.
#![allow(
    dead_code,
    reason = "every test binary compiles this module and uses a part of it"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The environment variable that turns a re-run of this binary into a child program; its
/// value names the role the child plays.
pub const CHILD_ROLE: &str = "POOLSCOPE_TEST_CHILD_ROLE";

/// The prefix of the lines a child program writes for its parent test to read.
pub const REPORT: &str = "poolscope-report";

/// A task: the pid of the worker process that runs it.
pub fn worker_pid((): ()) -> u32 {
    std::process::id()
}

/// A task: sleeps `millis` milliseconds, then returns the worker's pid.
pub fn sleep_then_pid(millis: u64) -> u32 {
    thread::sleep(Duration::from_millis(millis));
    std::process::id()
}

/// A task: doubles its argument.
pub fn double(x: u64) -> u64 {
    x * 2
}

/// A task: waits until the file at `gate` exists or its directory is gone (at most a
/// minute), then returns the worker's pid. It holds a worker busy for as long as the test
/// wants, in any process.
pub fn wait_for_file(gate: PathBuf) -> u32 {
    let directory = gate
        .parent()
        .expect("the gate is in a directory")
        .to_owned();
    let opened = wait_until(Duration::from_secs(60), || {
        gate.exists() || !directory.exists()
    });
    assert!(opened, "the gate {} never opened", gate.display());
    std::process::id()
}

/// A task: marks `directory` with a file named after the worker's pid, then sleeps
/// `seconds`, so that a test can see which workers are inside a task.
pub fn mark_then_sleep((directory, seconds): (PathBuf, u64)) -> u32 {
    let marker = directory.join(format!("started-{}", std::process::id()));
    std::fs::write(marker, b"").expect("the marker is writable");
    thread::sleep(Duration::from_secs(seconds));
    std::process::id()
}

/// The pids of the workers that have marked `directory` with [`mark_then_sleep`].
pub fn marked_pids(directory: &Path) -> BTreeSet<u32> {
    let entries = std::fs::read_dir(directory).expect("the marker directory is readable");
    let names = entries.filter_map(|entry| entry.ok()?.file_name().into_string().ok());
    names
        .filter_map(|name| name.strip_prefix("started-")?.parse().ok())
        .collect()
}

/// A file whose existence releases the [`wait_for_file`] tasks waiting on it; it opens when
/// dropped at the latest, so a failing test leaves no task waiting.
pub struct FileGate {
    /// The directory the file goes in, removed on drop.
    directory: tempfile::TempDir,
}

impl FileGate {
    /// A closed gate.
    pub fn new() -> FileGate {
        let directory = tempfile::tempdir().expect("a temporary directory");
        FileGate { directory }
    }

    /// The file the tasks wait for.
    pub fn path(&self) -> PathBuf {
        self.directory.path().join("open")
    }

    /// Releases the waiting tasks.
    pub fn open(&self) {
        std::fs::write(self.path(), b"").expect("the gate file is writable");
    }
}

impl Drop for FileGate {
    fn drop(&mut self) {
        self.open();
    }
}

/// Serializes the tests of one binary that count this process's descriptors or children.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What `/proc/<pid>/stat` says of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Its pid.
    pub pid: u32,
    /// Its state letter: `R`, `S`, `D`, `Z` (zombie: exited, not yet reaped), ...
    pub state: char,
    /// Its parent's pid.
    pub ppid: u32,
    /// Its process group.
    pub group: u32,
}

impl ProcessInfo {
    /// Whether it has exited and only waits for its parent to collect its status.
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// Reads `/proc/<pid>/stat`; `None` if no such process exists (any more).
pub fn process(pid: u32) -> Option<ProcessInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name sits in parentheses and may itself hold spaces and parentheses.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let group = fields.next()?.parse().ok()?;
    Some(ProcessInfo {
        pid,
        state,
        ppid,
        group,
    })
}

/// Every process for which `select` holds, zombies included, by pid.
pub fn processes(select: impl Fn(&ProcessInfo) -> bool) -> Vec<ProcessInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<ProcessInfo> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(process)
        .filter(|info| select(info))
        .collect();
    found.sort_by_key(|info| info.pid);
    found
}

/// Every process whose parent is `parent`, zombies included.
pub fn children_of(parent: u32) -> Vec<ProcessInfo> {
    processes(|info| info.ppid == parent)
}

/// Whether a process with this pid still has a `/proc` entry.
pub fn exists(pid: u32) -> bool {
    process(pid).is_some()
}

/// Whether `pid` has exited and waits to be reaped.
pub fn is_zombie(pid: u32) -> bool {
    process(pid).is_some_and(|info| info.is_zombie())
}

/// The pids of `processes`, which may have been read at different times: a process's
/// state letter changes from one read to the next, its pid does not.
pub fn pids_of(processes: &[ProcessInfo]) -> BTreeSet<u32> {
    processes.iter().map(|info| info.pid).collect()
}

/// Whether `pid` is gone: no such process, or a zombie that only waits to be reaped.
pub fn is_gone(pid: u32) -> bool {
    process(pid).is_none_or(|info| info.is_zombie())
}

/// Every descendant of `ancestor`, zombies included: its children, theirs, and so on.
pub fn descendants_of(ancestor: u32) -> BTreeSet<u32> {
    let everyone = processes(|_| true);
    let mut found = BTreeSet::new();
    let mut parents = vec![ancestor];
    while let Some(parent) = parents.pop() {
        for info in everyone.iter().filter(|info| info.ppid == parent) {
            if found.insert(info.pid) {
                parents.push(info.pid);
            }
        }
    }
    found
}

/// Every process of process group `group`, zombies included.
pub fn group_members(group: u32) -> BTreeSet<u32> {
    processes(|info| info.group == group)
        .iter()
        .map(|info| info.pid)
        .collect()
}

/// Makes this process the reaper of its orphaned descendants: a process whose parent dies
/// becomes this process's child instead of init's, so that a test can see it and reap it.
pub fn become_subreaper() {
    // SAFETY: `prctl` with integer arguments only sets a flag of this process.
    let done = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) };
    assert_eq!(done, 0, "could not become a child subreaper");
}

/// Reaps `pid` if it is a zombie child of this process; its wait status, if reaped.
pub fn reap_zombie(pid: u32) -> Option<i32> {
    let info = process(pid)?;
    if !info.is_zombie() || info.ppid != std::process::id() {
        return None;
    }
    let mut status = 0;
    // SAFETY: `waitpid` writes only to `status`, a live local.
    let reaped = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
    (reaped == pid as libc::pid_t).then_some(status)
}

/// Waits up to `grace` for every one of `pids` to end, reaping those that are zombie
/// children of this process (a subreaper's orphans); returns the wait status of each one
/// reaped, or, once `grace` has passed, the processes still running.
///
/// A zombie that is another process's child has ended all the same: it counts as gone.
pub fn await_ends(
    pids: &BTreeSet<u32>,
    grace: Duration,
) -> Result<BTreeMap<u32, i32>, Vec<ProcessInfo>> {
    let me = std::process::id();
    let deadline = Instant::now() + grace;
    let mut statuses = BTreeMap::new();
    let mut left = pids.clone();
    loop {
        left.retain(|&pid| match process(pid) {
            None => false,
            Some(info) if info.is_zombie() => match reap_zombie(pid) {
                Some(status) => statuses.insert(pid, status).is_some(),
                None => info.ppid == me,
            },
            Some(_) => true,
        });
        if left.is_empty() {
            return Ok(statuses);
        }
        if Instant::now() >= deadline {
            return Err(left.iter().filter_map(|&pid| process(pid)).collect());
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// How many times larger than in CI the fault and load campaign runs: the whole number in
/// `POOLSCOPE_SOAK`, or 1.
pub fn soak() -> usize {
    std::env::var("POOLSCOPE_SOAK")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|&factor| factor >= 1)
        .unwrap_or(1)
}

/// `size` scaled by [`soak`].
pub fn scaled(size: usize) -> usize {
    size * soak()
}

/// This process's resident memory, in bytes.
pub fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|line| line.starts_with("VmRSS:"));
    let kib = line.and_then(|line| line.split_whitespace().nth(1)?.parse::<usize>().ok());
    kib.unwrap_or(0) * 1024
}

/// This process's resident memory after handing freed memory back to the system, so that
/// what an earlier phase freed and the allocator kept does not count.
pub fn settled_resident_bytes() -> usize {
    // SAFETY: `malloc_trim` only returns free memory to the system; it has no preconditions.
    unsafe { libc::malloc_trim(0) };
    resident_bytes()
}

/// How many threads this process runs.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task is readable")
        .count()
}

/// The outcome of `handle`, waiting at most `timeout`; panics, naming `what`, if the task
/// has not settled by then.
pub fn outcome_within<T>(
    handle: poolscope::Handle<T>,
    timeout: Duration,
    what: &str,
) -> poolscope::Outcome<T> {
    assert!(
        handle.wait_timeout(timeout),
        "{what} did not settle within {timeout:?}"
    );
    handle.result()
}

/// Spins for about `micros` microseconds, so that a task takes time without sleeping.
pub fn spin(micros: u64) {
    let until = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// How many descriptors this process has open (the directory listing's own included, which
/// is the same in every count).
pub fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd is readable")
        .count()
}

/// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns
/// whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `signal` to process `pid`.
pub fn send_signal(pid: u32, signal: libc::c_int) {
    // SAFETY: `kill` has no memory-safety preconditions; the pid is one of the test's own.
    let sent = unsafe { libc::kill(pid as libc::pid_t, signal) };
    assert_eq!(sent, 0, "kill({pid}, {signal}) failed");
}

/// The role this process plays if it is a re-run child, `None` in the parent test.
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ROLE).ok()
}

/// Writes one report line for the parent test, outside the test harness's capture.
pub fn report(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{REPORT} {line}").expect("stdout is writable");
    stdout.flush().expect("stdout is writable");
}

/// The report in a line of a child's output, if any.
///
/// A report may follow other text on its line: the harness writes the test's name and no
/// line break before running it.
fn report_in(line: &str) -> Option<&str> {
    let (_, report) = line.split_once(REPORT)?;
    Some(report.trim())
}

/// This test binary, re-run as a child program that runs a single test in a given role.
pub struct Rerun {
    /// The child process.
    child: Child,
    /// Its standard output, line by line, as a reader thread receives it.
    lines: Receiver<String>,
    /// The thread collecting its standard error.
    stderr: Option<JoinHandle<String>>,
    /// Every line of standard output received so far.
    seen: Vec<String>,
}

/// How a re-run child ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status; `None` if it overran its time and was killed.
    pub status: Option<ExitStatus>,
    /// Its whole standard output.
    pub stdout: Vec<String>,
    /// Its whole standard error.
    pub stderr: String,
}

impl Rerun {
    /// Runs test `test` of this binary alone, as a child in `role`, with `env` added.
    pub fn start(test: &str, role: &str, env: &[(&str, &OsStr)]) -> Rerun {
        Rerun::spawn(Rerun::command(test, role, env))
    }

    /// Like [`Rerun::start`], with the child leading a process group of its own, as a
    /// terminal's foreground program does; the group's id is the child's pid.
    pub fn start_in_own_group(test: &str, role: &str, env: &[(&str, &OsStr)]) -> Rerun {
        let mut command = Rerun::command(test, role, env);
        command.process_group(0);
        Rerun::spawn(command)
    }

    /// The command that runs test `test` of this binary alone, as a child in `role`.
    fn command(test: &str, role: &str, env: &[(&str, &OsStr)]) -> Command {
        let mut command = Command::new(std::env::current_exe().expect("the test binary"));
        command
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD_ROLE, role)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        command
    }

    /// Starts `command`, with threads collecting its output.
    fn spawn(mut command: Command) -> Rerun {
        let mut child = command.spawn().expect("re-running the test binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Rerun {
            child,
            lines,
            stderr: Some(stderr),
            seen: Vec::new(),
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next report line (without its prefix), waiting at most until `timeout` passes.
    pub fn next_report(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            self.seen.push(line.clone());
            if let Some(report) = report_in(&line) {
                return Some(report.to_owned());
            }
        }
    }

    /// Waits at most `timeout` for the child to end, reaping it; its status, or `None` if
    /// it still runs.
    pub fn exit_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.child.try_wait().expect("polling the re-run child");
            if status.is_some() || Instant::now() >= deadline {
                return status;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Sends `SIGKILL` to the child and reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        send_signal(self.pid(), libc::SIGKILL);
        self.child.wait().expect("reaping the re-run child")
    }

    /// Waits for the child to end, killing it once `timeout` has passed, and collects its
    /// output (for at most a second after it ended: its own children may hold the pipes).
    pub fn finish(mut self, timeout: Duration) -> Finished {
        let deadline = Instant::now() + timeout;
        let mut status = None;
        while status.is_none() && Instant::now() < deadline {
            status = self.child.try_wait().expect("polling the re-run child");
            thread::sleep(Duration::from_millis(10));
        }
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let drain_until = Instant::now() + Duration::from_secs(1);
        loop {
            let left = drain_until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        let stderr = self.stderr.take().expect("stderr is collected once");
        wait_until(
            drain_until.saturating_duration_since(Instant::now()),
            || stderr.is_finished(),
        );
        let stderr = match stderr.is_finished() {
            true => stderr.join().unwrap_or_default(),
            false => String::from("(standard error still held open by a descendant)"),
        };
        Finished {
            status,
            stdout: std::mem::take(&mut self.seen),
            stderr,
        }
    }
}

impl Drop for Rerun {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Finished {
    /// Asserts that the child passed its test, showing its output if not.
    pub fn assert_success(&self) {
        assert!(
            self.status.is_some_and(|status| status.success()),
            "the re-run child failed ({:?})\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout.join("\n"),
            self.stderr
        );
    }

    /// The report lines, without their prefix.
    pub fn reports(&self) -> Vec<&str> {
        self.stdout
            .iter()
            .filter_map(|line| report_in(line))
            .collect()
    }
}

/// Every start method, by the name a child's role uses for it.
pub const START_METHOD_NAMES: [&str; 3] = ["forkserver", "spawn", "fork"];

/// The start method a child's role names: `forkserver`, `spawn` or `fork`, in any case.
pub fn start_method(role: &str) -> poolscope::StartMethod {
    match role.to_ascii_lowercase().as_str() {
        "forkserver" => poolscope::StartMethod::ForkServer,
        "spawn" => poolscope::StartMethod::Spawn,
        "fork" => poolscope::StartMethod::Fork,
        other => panic!("unknown start method {other}"),
    }
}
