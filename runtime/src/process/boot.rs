//! What runs in a worker process: taking over before `main`, and serving tasks.
//!
//! A process started for a pool runs the program's own executable with the
//! [`ROLE`] environment variable set. The constructor [`BOOT`] runs before `main` in every
//! process of the program; where that variable is set, it becomes a worker or a fork server
//! and never returns to `main`. So no program needs to call anything for workers to exist.

use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::panic_message;
use crate::process::call::{Call, address_at};
use crate::process::frame::{self, FrameReader, send_all};
use crate::process::server;

/// The environment variable that gives a started process its role.
pub(crate) const ROLE: &str = "POOLSCOPE_ROLE";

/// Frame kind, parent to worker: identity and initializer, once, first.
pub(crate) const SETUP: u8 = 1;
/// Frame kind, parent to worker: one task.
pub(crate) const TASK: u8 = 2;
/// Frame kind, worker to parent: started; the body is the worker's pid.
pub(crate) const READY: u8 = 1;
/// Frame kind, worker to parent: the initializer panicked; the body is its message.
pub(crate) const INIT_FAILED: u8 = 2;
/// Frame kind, worker to parent: the worker runs another executable; the body says how.
pub(crate) const MISMATCH: u8 = 3;
/// Frame kind, worker to parent: the executable matches and the initializer starts; the
/// body is the worker's pid, so that the parent can kill a worker whose initializer hangs.
pub(crate) const STARTING: u8 = 8;

/// The initializer offset that means "no initializer".
pub(crate) const NO_INITIALIZER: u64 = u64::MAX;

/// The exit status of a process started with a role it could not carry out.
const EXIT_BAD_ROLE: i32 = 121;

/// Runs before `main` in every process of a program that links this crate.
#[used]
#[unsafe(link_section = ".init_array")]
pub(crate) static BOOT: extern "C" fn() = boot;

/// A process's role, as the parent wrote it in [`ROLE`]: `KIND:FD:PARENT_PID`.
struct Role {
    /// `worker` or `forkserver`.
    kind: String,
    /// The descriptor of this process's end of the socket to its parent.
    socket: RawFd,
    /// The pid of the process that started this one.
    parent: u32,
}

/// Becomes a worker or a fork server if [`ROLE`] says so; otherwise returns at once.
extern "C" fn boot() {
    let Some(value) = std::env::var_os(ROLE) else {
        return;
    };
    // SAFETY: constructors run before `main`, while the process has a single thread, so
    // nothing can read the environment concurrently.
    unsafe { std::env::remove_var(ROLE) };

    let Some(role) = value.to_str().and_then(parse_role) else {
        exit_now(EXIT_BAD_ROLE);
    };
    if std::os::unix::process::parent_id() != role.parent {
        // The parent died before this process could ask to die with it.
        exit_now(EXIT_BAD_ROLE);
    }
    // SAFETY: the parent opened this descriptor for this process alone and named it in
    // the role; nothing else in this process knows of it.
    let socket = UnixStream::from(unsafe { OwnedFd::from_raw_fd(role.socket) });
    keep_from_children(&socket);
    ignore_broken_pipes();
    match role.kind.as_str() {
        "worker" => serve(socket),
        "forkserver" => server::serve(socket),
        _ => exit_now(EXIT_BAD_ROLE),
    }
}

/// Makes a write to a closed pipe an error, not a fatal `SIGPIPE`, as in any Rust program.
///
/// Rust's start-up does this before `main`, which a worker never reaches; without it, a task
/// whose `println!` meets a closed pipe would kill its worker instead of panicking.
fn ignore_broken_pipes() {
    // SAFETY: setting a signal's disposition to "ignore" installs no handler and runs no
    // code; the process has one thread.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Parses `KIND:FD:PARENT_PID`.
fn parse_role(value: &str) -> Option<Role> {
    let mut parts = value.split(':');
    let kind = parts.next()?.to_owned();
    let socket = parts.next()?.parse().ok()?;
    let parent = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some(Role {
        kind,
        socket,
        parent,
    })
}

/// The device and inode of the running executable: what the parent and workers compare.
pub(crate) fn executable_identity() -> io::Result<(u64, u64)> {
    let metadata = std::fs::metadata("/proc/self/exe")?;
    Ok((metadata.dev(), metadata.ino()))
}

/// Serves tasks on `socket` until the parent closes it, then exits the process.
pub(crate) fn serve(socket: UnixStream) -> ! {
    let served = serve_until_closed(&socket);
    exit_now(if served.is_ok() { 0 } else { 1 })
}

/// Flushes the standard streams and ends the process without running exit handlers.
///
/// Exit handlers belong to the program's `main`, which a worker never ran.
pub(crate) fn exit_now(code: i32) -> ! {
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    // SAFETY: `_exit` only ends the process; it has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Checks the setup, then answers task frames one by one, in order.
fn serve_until_closed(socket: &UnixStream) -> io::Result<()> {
    let mut reader = FrameReader::new(socket);
    let mut out = Vec::new();
    set_up(&mut reader, socket, &mut out)?;
    while let Some((call, argument)) = next_task(&mut reader)? {
        if !call.is_in_executable() {
            let message = "task frame names no code of the executable";
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
        let start = frame::begin(&mut out);
        // SAFETY: the setup proved this process runs the parent's executable, the parent
        // made the call's offsets with `Call::of` or `Call::chunk_of`, and they land in the
        // executable's code.
        let reply = unsafe { call.run(argument, &mut out) };
        frame::finish(&mut out, start, reply);

        // Answer each task at once: a worker that crashes later loses no finished result.
        send_all(socket, &out)?;
        out.clear();
        out.shrink_to(64 * 1024);
    }
    Ok(())
}

/// The next task's call and argument; `None` once the parent has closed the stream.
///
/// # Errors
///
/// What the frame reader reports, and [`parse_task`]'s refusal of a frame that is no task.
pub(crate) fn next_task<R: Read>(reader: &mut FrameReader<R>) -> io::Result<Option<(Call, &[u8])>> {
    match reader.next_frame()? {
        Some((kind, body)) => parse_task(kind, body).map(Some),
        None => Ok(None),
    }
}

/// Splits a task frame's body into its call (two offsets) and its encoded argument.
///
/// # Errors
///
/// `InvalidData` for a frame of another kind, or too short to hold the two offsets.
pub(crate) fn parse_task(kind: u8, body: &[u8]) -> io::Result<(Call, &[u8])> {
    // The body's head: the trampoline's offset, then the function's.
    const CALL: usize = frame::TASK_HEAD - 1;
    if kind != TASK || body.len() < CALL {
        let message = format!(
            "bad task frame: kind {kind} with {} bytes, where a task is kind {TASK} with at least {CALL}",
            body.len()
        );
        return Err(io::Error::new(io::ErrorKind::InvalidData, message));
    }
    let call = Call {
        trampoline: read_u64(&body[0..8]),
        function: read_u64(&body[8..CALL]),
    };
    Ok((call, &body[CALL..]))
}

/// Reads every task frame of `stream` as a worker does, without running any; for the fuzz
/// targets and the hostile-input tests.
pub(crate) fn read_tasks(stream: impl Read) -> io::Result<Vec<(Call, Vec<u8>)>> {
    let mut reader = FrameReader::new(stream);
    let mut tasks = Vec::new();
    while let Some((call, argument)) = next_task(&mut reader)? {
        tasks.push((call, argument.to_vec()));
    }
    Ok(tasks)
}

/// Reads the setup frame, checks the executable, runs the initializer, and says ready.
fn set_up(
    reader: &mut FrameReader<&UnixStream>,
    socket: &UnixStream,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let Some((SETUP, body)) = reader.next_frame()? else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "no setup frame"));
    };
    if body.len() != 24 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad setup frame",
        ));
    }
    let expected = (read_u64(&body[0..8]), read_u64(&body[8..16]));
    let initializer = read_u64(&body[16..24]);

    if let Err(message) = check_identity(expected) {
        reply(socket, out, MISMATCH, &message)?;
        exit_now(0);
    }
    let pid = std::process::id().to_string();
    reply(socket, out, STARTING, &pid)?;
    match run_initializer(initializer) {
        Ok(()) => reply(socket, out, READY, &pid),
        Err(message) => {
            reply(socket, out, INIT_FAILED, &message)?;
            exit_now(0)
        }
    }
}

/// Sends one frame of `kind` whose body is `text`.
fn reply(socket: &UnixStream, out: &mut Vec<u8>, kind: u8, text: &str) -> io::Result<()> {
    frame::encode(out, kind, |body| body.extend_from_slice(text.as_bytes()));
    let sent = send_all(socket, out);
    out.clear();
    sent
}

/// Checks that this process runs the executable the parent runs.
fn check_identity(expected: (u64, u64)) -> Result<(), String> {
    match executable_identity() {
        Ok(found) if found == expected => Ok(()),
        Ok(found) => Err(format!(
            "the worker runs another executable (device and inode {found:?}, expected {expected:?})"
        )),
        Err(error) => Err(format!(
            "the worker cannot identify its executable: {error}"
        )),
    }
}

/// Runs the initializer at `offset`, if any; its panic message on failure.
fn run_initializer(offset: u64) -> Result<(), String> {
    if offset == NO_INITIALIZER {
        return Ok(());
    }
    let address = address_at(offset);
    Call::check_address(address)
        .map_err(|error| format!("initializer is not in the executable: {error}"))?;
    // SAFETY: the identity check passed, and the parent took this offset from a `fn()`
    // with `call::offset_of`, so the address holds that function.
    let initializer = unsafe { std::mem::transmute::<usize, fn()>(address) };
    catch_unwind(AssertUnwindSafe(initializer)).map_err(|payload| panic_message(&*payload))
}

/// Reads a little-endian `u64` from exactly eight bytes.
pub(crate) fn read_u64(bytes: &[u8]) -> u64 {
    let mut array = [0; 8];
    array.copy_from_slice(bytes);
    u64::from_le_bytes(array)
}

/// Readies a freshly forked child to serve on `socket`, and makes it die with its parent.
///
/// Only async-signal-safe calls: the child of a multi-threaded process must make no others
/// before it is on its own. Returns the socket as descriptor 3, every other descriptor
/// above 2 closed.
///
/// # Safety
///
/// Call only in a child just forked, with `socket` a descriptor open in it.
pub(crate) unsafe fn prepare_forked_child(socket: RawFd, parent: u32) -> OwnedFd {
    const SOCKET: RawFd = 3;
    // SAFETY: plain system calls on descriptors this child owns; in a fresh child, moving
    // the socket to 3 and closing every other descriptor above it disturbs nobody.
    unsafe {
        if socket != SOCKET && libc::dup2(socket, SOCKET) < 0 {
            libc::_exit(EXIT_BAD_ROLE);
        }
        libc::close_range(SOCKET as u32 + 1, u32::MAX, 0);
        libc::fcntl(SOCKET, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        if libc::getppid() as u32 != parent {
            libc::_exit(EXIT_BAD_ROLE);
        }
        OwnedFd::from_raw_fd(SOCKET)
    }
}

/// Marks the socket given in the role close-on-exec again, once the worker runs.
pub(crate) fn keep_from_children(socket: &UnixStream) {
    use std::os::fd::AsRawFd;
    // SAFETY: setting a descriptor flag on a descriptor this process owns.
    unsafe { libc::fcntl(socket.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
}
