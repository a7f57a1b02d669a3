//! One worker place of a process pool: the threads that feed a worker process and read its
//! replies, and the bookkeeping that survives the worker's death.
//!
//! Each slot has a writer thread, alive as long as the pool, and a reader thread per worker
//! process. The writer starts a worker, takes tasks from the pool's queue in batches and
//! writes them; the reader settles the replies in order. The worker answers tasks strictly
//! in the order it got them, and each reply leaves it before the next task starts, so the
//! oldest unanswered task is the one running. When a worker dies, that task alone fails;
//! the tasks sent after it never started and go to the next worker.
//!
//! The writer thread is in `slot/writer.rs`, the reader thread's loop in `reader.rs`, the
//! start-up exchange in `start.rs`.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::error::TaskError;
use crate::process::Inner;
use crate::process::call::Call;
use crate::process::payload::Payload;

mod writer;

pub(crate) use writer::run;

/// The fewest and most tasks in flight to one worker, the running one included.
///
/// A new worker starts at the fewest: nothing waits behind its first tasks until their
/// times show they are short enough for a backlog to pay.
const WINDOW: (usize, usize) = (1, 64);
/// How much work to keep queued in a worker, measured in its recent time per task.
const WINDOW_TARGET: Duration = Duration::from_millis(2);
/// Consecutive failed starts after which the pool is declared broken.
const MAX_START_FAILURES: u32 = 3;

/// The pool's side of a task whose outcome arrives as bytes, its value type erased.
///
/// Settling is idempotent: the first outcome wins.
pub(crate) trait Pending: Send + Sync {
    /// Marks the task running; `false` if it was cancelled and must not be sent.
    fn start(&self) -> bool;
    /// Settles the task from a reply frame of `kind` with `body`.
    fn finish(&self, kind: u8, body: &[u8]);
    /// Settles the task with `error`.
    fn fail(&self, error: TaskError);
}

/// A task as the pool queues and sends it.
pub(crate) struct Job {
    /// The function to run and its trampoline.
    pub(crate) call: Call,
    /// The encoded argument; kept until answered, to resend if the worker dies first.
    pub(crate) payload: Payload,
    /// Where the outcome goes.
    pub(crate) pending: Arc<dyn Pending>,
}

impl Drop for Job {
    fn drop(&mut self) {
        // A job dropped unsettled (only if the pool lost track of it) must not leave its
        // handle waiting; this is a no-op for a settled one.
        self.pending.fail(TaskError::Cancelled);
    }
}

/// A job sent to the current worker.
pub(crate) struct InFlight {
    /// The order in which jobs were sent to this slot.
    pub(crate) sequence: u64,
    /// The job.
    pub(crate) job: Job,
}

/// One worker place of a pool.
pub(crate) struct Slot {
    /// What the writer and reader share.
    state: Mutex<SlotState>,
    /// Signalled when a reply frees room in the window, or the worker ends.
    changed: Condvar,
    /// Wakes the writer from waiting on the pool's queue when the worker ends.
    wake: (Sender<()>, Receiver<()>),
}

/// The mutable part of a [`Slot`].
struct SlotState {
    /// Counts the workers started, naming the current one.
    generation: u64,
    /// Whether the current worker still serves.
    live: bool,
    /// The current worker's pid.
    pid: Option<u32>,
    /// Jobs sent to the current worker, oldest (the running one) first.
    in_flight: VecDeque<InFlight>,
    /// Started jobs whose worker died before running them, to send first.
    requeued: VecDeque<Job>,
    /// When the oldest in-flight job started, as far as the parent can tell.
    head_since: Instant,
    /// The sequence number the next sent job gets.
    next_sequence: u64,
    /// The first job of a batch whose write failed: the worker was gone before it could
    /// read the batch, so none of it ran.
    undelivered_from: Option<u64>,
    /// Whether the writer waits on [`Slot::changed`].
    writer_waiting: bool,
    /// A moving average of the worker's time per task.
    time_per_task: Duration,
}

impl Slot {
    /// A slot with no worker yet.
    pub(crate) fn new() -> Slot {
        Slot {
            state: Mutex::new(SlotState {
                generation: 0,
                live: false,
                pid: None,
                in_flight: VecDeque::new(),
                requeued: VecDeque::new(),
                head_since: Instant::now(),
                next_sequence: 0,
                undelivered_from: None,
                writer_waiting: false,
                time_per_task: WINDOW_TARGET,
            }),
            changed: Condvar::new(),
            wake: crossbeam_channel::bounded(1),
        }
    }

    /// The current worker's pid, if it serves.
    pub(crate) fn pid(&self) -> Option<u32> {
        let state = self.lock();
        state.pid.filter(|_| state.live)
    }

    /// Locks the state.
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits on [`Slot::changed`].
    fn wait<'a>(&self, mut state: MutexGuard<'a, SlotState>) -> MutexGuard<'a, SlotState> {
        state.writer_waiting = true;
        let mut state = (self.changed.wait(state)).unwrap_or_else(PoisonError::into_inner);
        state.writer_waiting = false;
        state
    }

    /// Wakes the writer wherever it waits.
    fn wake_writer(&self, state: &mut SlotState) {
        if state.writer_waiting {
            self.changed.notify_all();
        }
        let _ = self.wake.0.try_send(());
    }
}

impl SlotState {
    /// How many jobs may be in flight, from the worker's recent time per task.
    fn window(&self) -> usize {
        let nanos = self.time_per_task.as_nanos().max(1);
        let fits = WINDOW_TARGET.as_nanos() / nanos;
        (fits as usize).clamp(WINDOW.0, WINDOW.1)
    }

    /// Whether the worker of `generation` still serves.
    fn serves(&self, generation: u64) -> bool {
        self.live && self.generation == generation
    }
}

impl Slot {
    /// Removes the oldest in-flight job, answered now, and updates the window.
    pub(crate) fn pop_head(&self, pool: &Inner) -> Option<InFlight> {
        let mut state = self.lock();
        let entry = state.in_flight.pop_front()?;
        if state.in_flight.is_empty() {
            pool.busy_slots.fetch_sub(1, Ordering::AcqRel);
        }
        let now = Instant::now();
        let took = now.saturating_duration_since(state.head_since);
        state.time_per_task = (state.time_per_task * 7 + took) / 8;
        state.head_since = now;
        if state.writer_waiting {
            self.changed.notify_all();
        }
        Some(entry)
    }

    /// How long the running job may still run under `limit`.
    pub(crate) fn time_left(&self, limit: Duration) -> Duration {
        let state = self.lock();
        if state.in_flight.is_empty() {
            return limit;
        }
        limit.saturating_sub(state.head_since.elapsed())
    }

    /// The sequence number of the running job if it has overrun `limit`.
    pub(crate) fn overdue_head(&self, limit: Duration) -> Option<u64> {
        let state = self.lock();
        let head = state.in_flight.front()?;
        (state.head_since.elapsed() >= limit).then_some(head.sequence)
    }

    /// Records `batch` as sent to the worker of `generation`, and returns the sequence of
    /// its first job; or requeues it, returning `None`, if that worker no longer serves.
    fn record_sent(&self, pool: &Inner, generation: u64, batch: Vec<Job>) -> Option<u64> {
        let mut state = self.lock();
        if !state.serves(generation) {
            state.requeued.extend(batch);
            return None;
        }
        if state.in_flight.is_empty() {
            state.head_since = Instant::now();
            pool.busy_slots.fetch_add(1, Ordering::AcqRel);
        }
        let first = state.next_sequence;
        for job in batch {
            let sequence = state.next_sequence;
            state.next_sequence += 1;
            state.in_flight.push_back(InFlight { sequence, job });
        }
        Some(first)
    }

    /// Records that the jobs of `generation` from sequence `first` on never reached it.
    fn never_delivered(&self, generation: u64, first: u64) {
        let mut state = self.lock();
        if state.generation == generation && state.undelivered_from.is_none() {
            state.undelivered_from = Some(first);
        }
    }

    /// Records that the worker of `generation` ended: returns the job it was running and
    /// requeues the jobs sent after it, which it never started.
    ///
    /// With `spared`, the job at the head was not running when the worker ended, or not by
    /// its own fault, and is requeued too; so is a head the worker never received.
    pub(crate) fn worker_ended(
        &self,
        pool: &Inner,
        generation: u64,
        spared: bool,
    ) -> Option<InFlight> {
        let mut state = self.lock();
        if state.generation == generation {
            state.live = false;
        }
        let undelivered = state.undelivered_from.take();
        let mut in_flight = std::mem::take(&mut state.in_flight);
        if !in_flight.is_empty() {
            pool.busy_slots.fetch_sub(1, Ordering::AcqRel);
        }
        let head = in_flight.pop_front();
        let head = match head {
            Some(head) if spared || undelivered.is_some_and(|first| head.sequence >= first) => {
                in_flight.push_front(head);
                None
            }
            head => head,
        };
        for entry in in_flight.into_iter().rev() {
            state.requeued.push_front(entry.job);
        }
        self.wake_writer(&mut state);
        head
    }
}
