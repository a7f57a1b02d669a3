//! The error a task's handle reports instead of a value.

use std::fmt;
use std::time::Duration;

/// Why a task produced no value.
///
/// Every pool kind reports failures through this one type, so code that waits on handles
/// does not care where the task ran.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The task panicked; the payload's message, or a placeholder when it was not a string.
    Panicked(String),
    /// The task was cancelled before it started.
    Cancelled,
    /// The task ran longer than the pool's task timeout, and its worker was killed.
    TimedOut(Duration),
    /// The worker process running the task ended before it answered.
    WorkerDied {
        /// The process id of the worker.
        pid: u32,
        /// How it ended.
        cause: ExitCause,
    },
    /// The task was submitted after the pool was shut down.
    Shutdown,
    /// The pool's initializer failed, so no worker could take the task.
    InitializerFailed(String),
    /// The task's argument or result could not be encoded or decoded.
    Codec(String),
    /// The pool could not start a worker to run the task.
    WorkerStart(String),
    /// The task's function is not in the program's executable (it lives in a shared
    /// library, say), so no worker process can be told which function to run.
    ForeignFunction(String),
}

/// How a worker process ended.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCause {
    /// It exited with this status code.
    Exited(i32),
    /// It was killed by this signal number.
    Signaled(i32),
    /// Its end was seen, but not its exit status.
    Unknown,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(message) => write!(f, "task panicked: {message}"),
            TaskError::Cancelled => f.write_str("task was cancelled before it started"),
            TaskError::TimedOut(limit) => {
                write!(
                    f,
                    "task ran longer than its {limit:?} timeout and was killed"
                )
            }
            TaskError::WorkerDied { pid, cause } => {
                write!(
                    f,
                    "worker process {pid} died while running the task: {cause}"
                )
            }
            TaskError::Shutdown => f.write_str("task was submitted after the pool shut down"),
            TaskError::InitializerFailed(message) => {
                write!(
                    f,
                    "pool initializer failed, no worker can run tasks: {message}"
                )
            }
            TaskError::Codec(message) => {
                write!(f, "task data could not be encoded or decoded: {message}")
            }
            TaskError::WorkerStart(message) => write!(f, "could not start a worker: {message}"),
            TaskError::ForeignFunction(message) => {
                write!(f, "task function is not in the executable: {message}")
            }
        }
    }
}

impl fmt::Display for ExitCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitCause::Exited(code) => write!(f, "exited with status {code}"),
            ExitCause::Signaled(signal) => match signal_name(signal) {
                Some(name) => write!(f, "killed by signal {signal} ({name})"),
                None => write!(f, "killed by signal {signal}"),
            },
            ExitCause::Unknown => f.write_str("exit status unknown"),
        }
    }
}

impl std::error::Error for TaskError {}

/// The conventional name of a signal number, where the platform knows it.
fn signal_name(signal: i32) -> Option<&'static str> {
    nix::sys::signal::Signal::try_from(signal)
        .ok()
        .map(|s| s.as_str())
}

/// Turns a caught panic payload into its message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic payload was not a string".to_owned()
    }
}

/// Why a pool could not be built.
#[non_exhaustive]
#[derive(Debug)]
pub enum BuildError {
    /// The pool was asked for 0 workers; it needs at least one.
    ZeroWorkers,
    /// A setting was out of range; the message says which and why.
    Invalid(String),
    /// The operating system refused to start the pool's processes or threads.
    Start(std::io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroWorkers => f.write_str("a pool needs at least 1 worker, got 0"),
            BuildError::Invalid(message) => f.write_str(message),
            BuildError::Start(error) => write!(f, "could not start the pool: {error}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Start(error) => Some(error),
            _ => None,
        }
    }
}
