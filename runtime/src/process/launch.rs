//! Starting worker processes, and learning how they ended.
//!
//! Every process is started from one long-lived launcher thread. A process asks the kernel
//! to kill it when its parent dies (`PR_SET_PDEATHSIG`), and for the kernel "parent" means
//! the thread that started it: a short-lived thread would take its workers with it.

use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use nix::sys::signal::{Signal, kill};
use nix::sys::socket::{ControlMessage, MsgFlags, send, sendmsg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::error::ExitCause;
use crate::process::boot::{self, ROLE, prepare_forked_child};
use crate::process::frame::FrameReader;
use crate::process::server::{self, EXITED};

/// How a pool starts its worker processes; the names are Python's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartMethod {
    /// Workers are forked by a fork server: a clean process started by executing the
    /// program afresh, shared by all pools of the program. Safe in multi-threaded programs
    /// and fast to start workers. The default.
    ///
    /// The server is started with the first pool that needs it and lives until the program
    /// ends, as Python's does, so that later pools start in a millisecond or two. It holds
    /// one socket and no tasks' data, and it dies with the program, even one killed by
    /// `SIGKILL`.
    #[default]
    ForkServer,
    /// Each worker is a fresh execution of the program. Safe, and the slowest to start.
    Spawn,
    /// Each worker is a fork of this process: the fastest, and it inherits this process's
    /// memory. Not its signal handlers: they are reset to the default, as in a worker that
    /// executes afresh.
    ///
    /// # Warning
    ///
    /// A fork copies only the forking thread. A lock that another thread held at that
    /// instant stays locked forever in the child, so a task that takes it (a `Mutex` of the
    /// program, or one inside a library, the allocator's or stdout's) freezes. Use it only
    /// where no other thread runs while pools start.
    Fork,
}

/// How the parent learns that a worker ended, and how.
#[derive(Clone)]
pub(crate) enum Reaper {
    /// The worker is this process's child; `waitpid` it.
    Child,
    /// The worker is the fork server's child; the server reports its end.
    Server(Arc<ServerLink>),
}

impl Reaper {
    /// Waits for worker `pid` to end, killing it if it outlives its closed socket.
    pub(crate) fn reap(&self, pid: u32) -> ExitCause {
        match self {
            Reaper::Child => reap_child(pid),
            Reaper::Server(server) => server.reap(pid),
        }
    }

    /// Kills worker `pid` with `SIGKILL`, unless it has already been reaped.
    ///
    /// Only the parent that reaps a process may kill it by pid: once reaped, the pid may name
    /// another process. This process reaps its own children only after this call, so it
    /// kills them directly; the fork server's children are killed by the server.
    pub(crate) fn kill(&self, pid: u32) {
        match self {
            Reaper::Child => {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            Reaper::Server(server) => server.kill(pid),
        }
    }
}

/// A request to the launcher thread.
enum Launch {
    /// Execute the program afresh in `role`, handing it `socket`.
    Execute {
        /// `worker` or `forkserver`.
        role: &'static str,
        /// The child's end of its socket to the parent.
        socket: OwnedFd,
    },
    /// Fork this process into a worker that serves on `socket`.
    Fork {
        /// The child's end of its socket to the parent.
        socket: OwnedFd,
    },
}

/// Where launch requests go, with the channel for the new process's pid.
type LaunchQueue = Sender<(Launch, Sender<io::Result<u32>>)>;

/// Starts a process from the launcher thread; returns its pid.
fn launch(request: Launch) -> io::Result<u32> {
    static LAUNCHER: OnceLock<io::Result<LaunchQueue>> = OnceLock::new();
    let queue = LAUNCHER.get_or_init(start_launcher).as_ref();
    let queue = queue.map_err(|error| io::Error::new(error.kind(), error.to_string()))?;
    let (reply, answer) = crossbeam_channel::bounded(1);
    let lost = || io::Error::other("the launcher thread is gone");
    queue.send((request, reply)).map_err(|_| lost())?;
    answer.recv().map_err(|_| lost())?
}

/// Starts the launcher thread, which lives as long as the program.
fn start_launcher() -> io::Result<LaunchQueue> {
    let (queue, requests) = crossbeam_channel::unbounded::<(Launch, Sender<io::Result<u32>>)>();
    std::thread::Builder::new()
        .name("poolscope-launcher".to_owned())
        .spawn(move || {
            for (request, reply) in requests {
                let _ = reply.send(match request {
                    Launch::Execute { role, socket } => execute(role, socket),
                    Launch::Fork { socket } => fork_worker(socket),
                });
            }
        })?;
    Ok(queue)
}

/// Executes the program afresh in `role`, passing it `socket`.
fn execute(role: &'static str, socket: OwnedFd) -> io::Result<u32> {
    let fd = socket.as_raw_fd();
    let parent = std::process::id();
    let mut command = Command::new("/proc/self/exe");
    if let Some(name) = std::env::args_os().next() {
        command.arg0(name);
    }
    command.env(ROLE, format!("{role}:{fd}:{parent}"));
    command.stdin(Stdio::null());
    // SAFETY: the hook runs in the forked child before exec and makes only
    // async-signal-safe system calls.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() as u32 != parent {
                return Err(io::Error::other("parent died"));
            }
            // Let the socket survive exec; every other descriptor of ours is close-on-exec.
            if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let child = command.spawn()?;
    drop(socket);
    Ok(child.id())
}

/// Forks this process into a worker serving on `socket`.
fn fork_worker(socket: OwnedFd) -> io::Result<u32> {
    let parent = std::process::id();
    // SAFETY: the child makes only async-signal-safe calls until it owns its socket, then
    // serves; the hazards of forking a multi-threaded process are documented on
    // `StartMethod::Fork`, which the user chose.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(child.as_raw() as u32),
        ForkResult::Child => {
            // SAFETY: in the child just forked, which has made no other call yet.
            unsafe { reset_signal_handlers() };
            // SAFETY: in the child just forked; `socket` is open in it.
            let socket = unsafe { prepare_forked_child(socket.as_raw_fd(), parent) };
            boot::serve(UnixStream::from(socket))
        }
    }
}

/// Resets every signal with a handler to its default, as executing a program does; ignored
/// signals stay ignored.
///
/// A worker forked from the program would otherwise run the program's handlers, written for
/// a process with the program's threads and descriptors, which the worker has not. (The
/// fork server's workers need none of this: the server was just executed, and installs no
/// handler.) It costs some 15 µs: a `sigaction` call for each signal.
///
/// # Safety
///
/// Only in a process just forked, before it runs anything but async-signal-safe calls.
unsafe fn reset_signal_handlers() {
    for signal in 1..=libc::SIGRTMAX() {
        // SAFETY: a zeroed `sigaction` is a valid place for the kernel to write into.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: `sigaction` is async-signal-safe; with no new action given it only writes
        // the current one into `action`. Signals that cannot be queried are skipped.
        if unsafe { libc::sigaction(signal, std::ptr::null(), &mut action) } != 0 {
            continue;
        }
        if action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN {
            // SAFETY: restoring the default installs no handler code.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
    }
}

/// Starts a process serving on a new socket; returns the parent's end and the reaper.
pub(crate) fn start_process(method: StartMethod) -> io::Result<(UnixStream, Reaper, Option<u32>)> {
    let (parent_end, child_end) = UnixStream::pair()?;
    let child_end = OwnedFd::from(child_end);
    match method {
        StartMethod::Spawn => {
            let pid = launch(Launch::Execute {
                role: "worker",
                socket: child_end,
            })?;
            Ok((parent_end, Reaper::Child, Some(pid)))
        }
        StartMethod::Fork => {
            let pid = launch(Launch::Fork { socket: child_end })?;
            Ok((parent_end, Reaper::Child, Some(pid)))
        }
        StartMethod::ForkServer => {
            let server = ServerLink::shared()?;
            server.request_worker(child_end)?;
            Ok((parent_end, Reaper::Server(server), None))
        }
    }
}

/// Waits for child `pid`; kills it if it has not ended within a second.
fn reap_child(pid: u32) -> ExitCause {
    let pid = Pid::from_raw(pid as i32);
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let flags = if Instant::now() < deadline {
            Some(WaitPidFlag::WNOHANG)
        } else {
            let _ = kill(pid, Signal::SIGKILL);
            None
        };
        match waitpid(pid, flags) {
            Ok(WaitStatus::Exited(_, code)) => return ExitCause::Exited(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => return ExitCause::Signaled(signal as i32),
            Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(1)),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return ExitCause::Unknown,
        }
    }
}

/// The parent's link to the fork server.
pub(crate) struct ServerLink {
    /// The control socket; requests are written under this lock.
    control: Mutex<UnixStream>,
    /// Ends of workers reported by the server, not yet claimed, and whether it still runs.
    ended: Mutex<(HashMap<u32, ExitCause>, bool)>,
    /// Signalled on every report, and when the server goes away.
    reported: Condvar,
}

/// The fork server all pools of this program share, started on first use.
static SERVER: Mutex<Option<Arc<ServerLink>>> = Mutex::new(None);

impl ServerLink {
    /// The running fork server, started now if there is none or it died.
    fn shared() -> io::Result<Arc<ServerLink>> {
        let mut server = SERVER.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(link) = server.as_ref().filter(|link| link.is_running()) {
            return Ok(Arc::clone(link));
        }
        let link = ServerLink::start()?;
        *server = Some(Arc::clone(&link));
        Ok(link)
    }

    /// Starts a fork server and the thread that reads its reports.
    fn start() -> io::Result<Arc<ServerLink>> {
        let (parent_end, child_end) = UnixStream::pair()?;
        let pid = launch(Launch::Execute {
            role: "forkserver",
            socket: OwnedFd::from(child_end),
        })?;
        let link = Arc::new(ServerLink {
            control: Mutex::new(parent_end.try_clone()?),
            ended: Mutex::new((HashMap::new(), true)),
            reported: Condvar::new(),
        });
        let reader = Arc::clone(&link);
        std::thread::Builder::new()
            .name("poolscope-forkserver".to_owned())
            .spawn(move || reader.read_reports(parent_end, pid))?;
        Ok(link)
    }

    /// Whether the server still runs.
    fn is_running(&self) -> bool {
        self.ended.lock().unwrap_or_else(PoisonError::into_inner).1
    }

    /// Asks the server to fork a worker serving on `socket`.
    fn request_worker(&self, socket: OwnedFd) -> io::Result<()> {
        let control = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        let fds = [socket.as_raw_fd()];
        let message = [ControlMessage::ScmRights(&fds)];
        sendmsg::<()>(
            control.as_raw_fd(),
            &[IoSlice::new(&[server::FORK])],
            &message,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        Ok(())
    }

    /// Asks the server to kill its worker `pid`, which it does only if it has not reaped it.
    ///
    /// A server that is gone has taken its workers with it.
    pub(crate) fn kill(&self, pid: u32) {
        let control = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        let mut request = [server::KILL; 5];
        request[1..].copy_from_slice(&pid.to_le_bytes());
        let _ = send(control.as_raw_fd(), &request, MsgFlags::MSG_NOSIGNAL);
    }

    /// Records the server's reports until it goes away, then reaps it.
    fn read_reports(&self, control: UnixStream, server_pid: u32) {
        let mut reader = FrameReader::new(&control);
        while let Ok(Some((EXITED, body))) = reader.next_frame() {
            if body.len() != 9 {
                break;
            }
            let pid = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
            let value = i32::from_le_bytes([body[5], body[6], body[7], body[8]]);
            let cause = match body[4] {
                0 => ExitCause::Exited(value),
                _ => ExitCause::Signaled(value),
            };
            let mut ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
            ended.0.insert(pid, cause);
            self.reported.notify_all();
        }
        self.ended.lock().unwrap_or_else(PoisonError::into_inner).1 = false;
        self.reported.notify_all();
        reap_child(server_pid);
    }

    /// Waits for the server's report of worker `pid`; kills it if none comes in a second.
    fn reap(&self, pid: u32) -> ExitCause {
        let mut deadline = Instant::now() + Duration::from_secs(1);
        let mut killed = false;
        let mut ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(cause) = ended.0.remove(&pid) {
                return cause;
            }
            if !ended.1 {
                return ExitCause::Unknown;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                if killed {
                    return ExitCause::Unknown;
                }
                // Not under the lock: the report reader needs it while the request is sent.
                drop(ended);
                self.kill(pid);
                ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
                killed = true;
                deadline = Instant::now() + Duration::from_secs(1);
                continue;
            }
            ended = (self.reported.wait_timeout(ended, left))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Reads a pid sent as decimal text in a `READY` frame.
pub(crate) fn parse_pid(body: &[u8]) -> Option<u32> {
    std::str::from_utf8(body).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::ServerLink;
    use crate::ProcessPool;

    /// A task: the worker's pid.
    fn worker_pid((): ()) -> u32 {
        std::process::id()
    }

    /// The fork server kills its own workers on request, and nothing else: a pid it did not
    /// fork, or has reaped already, may be another process's.
    #[test]
    fn the_fork_server_kills_only_its_own_workers() {
        let mut stranger = Command::new("sleep").arg("60").spawn().expect("sleep runs");
        let pool = ProcessPool::builder().workers(1).build().expect("a pool");
        let worker = pool.submit(worker_pid, ()).result().expect("a worker pid");

        let server = ServerLink::shared().expect("the pool's fork server");
        server.kill(stranger.id());
        // The server serves requests in order: once it has killed the worker, it has
        // served the request before too.
        server.kill(worker);
        let worker_entry = std::path::PathBuf::from(format!("/proc/{worker}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while worker_entry.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let worker_ended = !worker_entry.exists();
        let stranger_ended = stranger.try_wait().expect("waitpid works");
        let _ = stranger.kill();
        let _ = stranger.wait();
        assert!(worker_ended, "the server did not kill its worker {worker}");
        assert_eq!(
            stranger_ended, None,
            "the server killed a process it never forked"
        );
    }
}
