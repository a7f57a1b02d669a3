//! The reader side of a slot: settling a worker's replies, and its end.

use std::io;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::TaskError;
use crate::process::Inner;
use crate::process::frame::FrameReader;
use crate::process::launch::Reaper;
use crate::process::slot::Slot;

/// What a reader thread knows of its worker.
pub(crate) struct Worker {
    /// The worker's pid.
    pub(crate) pid: u32,
    /// How to learn how it ended.
    pub(crate) reaper: Reaper,
    /// Its generation in the slot.
    pub(crate) generation: u64,
}

/// The body of a reader thread: settles replies in order until the worker ends, then
/// settles the job it was running and hands the rest back to the writer.
pub(crate) fn read_replies(
    pool: &Inner,
    slot: &Slot,
    mut reader: FrameReader<UnixStream>,
    worker: &Worker,
) {
    pool.mark_current_thread();
    let timeout = pool.config.task_timeout;
    let mut killed_running: Option<u64> = None;
    // Whether the task the worker was killed for answered after all: the worker then died
    // of that kill, with the next task perhaps started, and that task is not to blame.
    let mut spared = false;
    loop {
        if let Some(limit) = timeout {
            let poll = slot
                .time_left(limit)
                .clamp(Duration::from_millis(1), Duration::from_millis(50));
            let _ = reader.source().set_read_timeout(Some(poll));
        }
        match reader.next_frame() {
            Ok(Some((kind, body))) => match slot.pop_head(pool) {
                Some(entry) => {
                    spared |= killed_running == Some(entry.sequence);
                    entry.job.pending.finish(kind, body);
                }
                None => break,
            },
            Ok(None) => break,
            Err(error) if is_timeout(&error) => {
                if let (Some(limit), None) = (timeout, killed_running) {
                    killed_running = slot.overdue_head(limit);
                    if killed_running.is_some() {
                        let _ = kill(Pid::from_raw(worker.pid as i32), Signal::SIGKILL);
                    }
                }
            }
            Err(_) => {
                let _ = kill(Pid::from_raw(worker.pid as i32), Signal::SIGKILL);
                break;
            }
        }
    }

    let cause = worker.reaper.reap(worker.pid);
    let Some(head) = slot.worker_ended(pool, worker.generation, spared) else {
        return;
    };
    let error = match (killed_running, timeout) {
        (Some(sequence), Some(limit)) if sequence == head.sequence => TaskError::TimedOut(limit),
        _ => TaskError::WorkerDied {
            pid: worker.pid,
            cause,
        },
    };
    head.job.pending.fail(error);
}

/// Whether a read error is a read timeout.
pub(crate) fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
