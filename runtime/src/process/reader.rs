//! The reader side of a slot: settling a worker's replies, and its end.

use std::io;
use std::os::unix::net::UnixStream;
use std::time::Duration;

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
    let mut watch = Watch {
        pool,
        slot,
        worker,
        killed_for: None,
        spared: false,
    };
    while watch.settle_next(&mut reader) {}
    watch.settle_end();
}

/// A reader thread's record of its worker.
struct Watch<'a> {
    /// The pool.
    pool: &'a Inner,
    /// The slot the worker serves.
    slot: &'a Slot,
    /// The worker.
    worker: &'a Worker,
    /// The sequence of the task the worker was killed for overrunning, if it was.
    killed_for: Option<u64>,
    /// Whether that task answered after all: the worker then died of the kill with the
    /// next task perhaps started, and that task is not to blame.
    spared: bool,
}

impl Watch<'_> {
    /// Reads and settles the next reply, or kills an overdue worker; `false` once the
    /// worker is gone or its stream broken.
    fn settle_next(&mut self, reader: &mut FrameReader<UnixStream>) -> bool {
        let timeout = self.pool.config.task_timeout;
        if let Some(limit) = timeout {
            let poll = (self.slot.time_left(limit))
                .clamp(Duration::from_millis(1), Duration::from_millis(50));
            let _ = reader.source().set_read_timeout(Some(poll));
        }
        match reader.next_frame() {
            Ok(Some((kind, body))) => {
                let Some(entry) = self.slot.pop_head(self.pool) else {
                    return false;
                };
                self.spared |= self.killed_for == Some(entry.sequence);
                entry.job.pending.finish(kind, body);
                true
            }
            Ok(None) => false,
            Err(error) if is_timeout(&error) => {
                if let (Some(limit), None) = (timeout, self.killed_for) {
                    self.killed_for = self.slot.overdue_head(limit);
                    if self.killed_for.is_some() {
                        self.kill_worker();
                    }
                }
                true
            }
            Err(_) => {
                self.kill_worker();
                false
            }
        }
    }

    /// Kills the worker.
    fn kill_worker(&self) {
        self.worker.reaper.kill(self.worker.pid);
    }

    /// Reaps the ended worker and fails the task it was running, if any.
    fn settle_end(self) {
        let worker = self.worker;
        let cause = worker.reaper.reap(worker.pid);
        let ended = self
            .slot
            .worker_ended(self.pool, worker.generation, self.spared);
        let Some(head) = ended else {
            return;
        };
        let error = match (self.killed_for, self.pool.config.task_timeout) {
            (Some(sequence), Some(limit)) if sequence == head.sequence => {
                TaskError::TimedOut(limit)
            }
            _ => TaskError::WorkerDied {
                pid: worker.pid,
                cause,
            },
        };
        head.job.pending.fail(error);
    }
}

/// Whether a read error is a read timeout.
pub(crate) fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
