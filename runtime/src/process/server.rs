//! The fork server: a clean, single-threaded process that forks the workers.
//!
//! Forking a program that runs other threads can freeze the child on a lock one of them
//! held at that instant. The server is started by executing the program afresh, before its
//! `main`, so it holds no such lock; workers forked from it start clean, and fast.
//!
//! Protocol on the control socket: the parent asks for a worker with the byte [`FORK`] and
//! one descriptor attached (`SCM_RIGHTS`), the worker's end of a new socket pair; the server
//! forks a worker that serves on it. The parent asks for a worker to be killed with the byte
//! [`KILL`] and its pid; the server kills it only if it has not reaped it, since a reaped
//! pid may be another process's by then. The server reports each worker's end as an
//! [`EXITED`] frame.

use std::collections::HashSet;
use std::io::{self, IoSliceMut, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, kill, pthread_sigmask, signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::process::boot::{self, exit_now, prepare_forked_child};
use crate::process::frame::{self, send_all};

/// Frame kind, server to parent: a worker ended. Body: pid (u32), how (u8: 0 exited,
/// 1 killed by a signal), code or signal (i32), all little-endian.
pub(crate) const EXITED: u8 = 7;
/// Request byte, parent to server: fork a worker on the descriptor attached.
pub(crate) const FORK: u8 = 0;
/// Request byte, parent to server: kill the worker whose pid (u32, little-endian) follows.
pub(crate) const KILL: u8 = 1;

/// Forks workers on request and reports their ends, until the parent closes the socket.
pub(crate) fn serve(control: UnixStream) -> ! {
    match serve_requests(&control) {
        Ok(()) => exit_now(0),
        Err(_) => exit_now(1),
    }
}

/// The server's state.
struct Server<'a> {
    /// The control socket to the parent.
    control: &'a UnixStream,
    /// SIGCHLD, blocked in the server (it reads it from a signal descriptor) and unblocked
    /// again in each worker.
    child_ended: SigSet,
    /// How the server inherited SIGINT (the default, or ignored), which its workers get
    /// back; it cannot be a handler, since the server was just executed.
    interrupt: SigHandler,
    /// The server's children not yet reaped: the only pids it may kill.
    workers: HashSet<i32>,
}

/// The server's loop.
fn serve_requests(control: &UnixStream) -> io::Result<()> {
    // Ctrl-C in a terminal reaches the whole process group; the server leaves it to the
    // parent to decide, and dies with the parent in any case.
    // SAFETY: ignoring a signal installs no handler code.
    let interrupt = unsafe { signal(Signal::SIGINT, SigHandler::SigIgn) }?;
    let mut child_ended = SigSet::empty();
    child_ended.add(Signal::SIGCHLD);
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&child_ended), None)?;
    let ended_signals =
        SignalFd::with_flags(&child_ended, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    let mut server = Server {
        control,
        child_ended,
        interrupt,
        workers: HashSet::new(),
    };

    loop {
        let mut fds = [
            PollFd::new(control.as_fd(), PollFlags::POLLIN),
            PollFd::new(ended_signals.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            result => result?,
        };
        let request = fds[0].any().unwrap_or(false);
        let ended = fds[1].any().unwrap_or(false);

        // Report ended workers first, so the parent learns of an end before a new start.
        if ended {
            while ended_signals.read_signal()?.is_some() {}
            server.report_ended()?;
        }
        if request && !server.serve_request()? {
            return Ok(());
        }
    }
}

impl Server<'_> {
    /// Serves one request; `false` once the parent closed the socket.
    fn serve_request(&mut self) -> io::Result<bool> {
        match receive_request(self.control)? {
            None => return Ok(false),
            Some((FORK, Some(socket))) => self.fork_worker(socket)?,
            Some((KILL, None)) => self.kill_worker()?,
            Some((request, socket)) => {
                let attached = if socket.is_some() { "with" } else { "without" };
                let message = format!("request {request} {attached} a descriptor");
                return Err(io::Error::new(io::ErrorKind::InvalidData, message));
            }
        }
        Ok(true)
    }

    /// Forks a worker serving on `socket`, with the signals the server inherited.
    fn fork_worker(&mut self, socket: OwnedFd) -> io::Result<()> {
        let server = std::process::id();
        // SAFETY: this process is single-threaded, so the child is a faithful copy of it.
        match unsafe { fork() }? {
            ForkResult::Parent { child } => {
                self.workers.insert(child.as_raw());
                Ok(())
            }
            ForkResult::Child => {
                pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&self.child_ended), None)?;
                // SAFETY: `interrupt` is the default or "ignore": no handler code.
                unsafe { signal(Signal::SIGINT, self.interrupt) }?;
                // SAFETY: in the child just forked; `socket` is open in it.
                let socket = unsafe { prepare_forked_child(socket.as_raw_fd(), server) };
                boot::serve(UnixStream::from(socket));
            }
        }
    }

    /// Reads the pid of a kill request and kills that worker, if it is one not yet reaped.
    fn kill_worker(&self) -> io::Result<()> {
        let mut pid = [0u8; 4];
        (&*self.control).read_exact(&mut pid)?;
        let pid = i32::from_le_bytes(pid);
        if self.workers.contains(&pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        Ok(())
    }

    /// Reaps every ended worker and tells the parent how each ended.
    fn report_ended(&mut self) -> io::Result<()> {
        let mut out = Vec::new();
        loop {
            let (pid, how, value) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, 0u8, code),
                Ok(WaitStatus::Signaled(pid, signal, _)) => (pid, 1u8, signal as i32),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(_) => continue,
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(errno.into()),
            };
            self.workers.remove(&pid.as_raw());
            frame::encode(&mut out, EXITED, |body| {
                body.extend_from_slice(&(pid.as_raw() as u32).to_le_bytes());
                body.push(how);
                body.extend_from_slice(&value.to_le_bytes());
            });
        }
        if out.is_empty() {
            return Ok(());
        }
        send_all(self.control, &out)
    }
}

/// Receives a request's byte and the descriptor sent with it, if any; `None` at end of
/// stream.
fn receive_request(control: &UnixStream) -> io::Result<Option<(u8, Option<OwnedFd>)>> {
    let mut byte = [0u8; 1];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut buffers = [IoSliceMut::new(&mut byte)];
    let message = recvmsg::<()>(
        control.as_raw_fd(),
        &mut buffers,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    if message.bytes == 0 {
        return Ok(None);
    }
    let mut socket = None;
    for control_message in message.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = control_message {
            for fd in fds {
                // SAFETY: the kernel just installed this descriptor in this process for us;
                // owning it closes any beyond the first.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                socket.get_or_insert(fd);
            }
        }
    }
    Ok(Some((byte[0], socket)))
}
