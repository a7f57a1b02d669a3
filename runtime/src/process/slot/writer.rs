//! A slot's writer thread: it starts the slot's worker, takes tasks from the pool's queue
//! in batches, writes them, and replaces the worker when it ends or has served its tasks.

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::select;

use super::{Job, MAX_START_FAILURES, Slot, WINDOW_TARGET};
use crate::error::TaskError;
use crate::process::boot::TASK;
use crate::process::frame::{self, FrameReader, send_all_vectored};
use crate::process::launch::Reaper;
use crate::process::reader::{Worker, read_replies};
use crate::process::start::{StartFailure, start_worker};
use crate::process::{Inner, Message};

/// The writer's view of the worker it feeds.
struct Current {
    /// The parent's end of the worker's socket, for writing.
    socket: UnixStream,
    /// The worker's generation in the slot.
    generation: u64,
    /// How many jobs were sent to it.
    sent: usize,
    /// The thread reading its replies.
    reader: JoinHandle<()>,
}

/// The writer thread's state.
struct Writer {
    /// The pool.
    pool: Arc<Inner>,
    /// This writer's slot.
    slot: Arc<Slot>,
    /// Whether a stop message arrived: finish what was taken, take nothing more.
    stopping: bool,
    /// Failed starts in a row.
    failures: u32,
    /// The worker being fed.
    current: Option<Current>,
    /// Frames being written, reused between batches.
    buffer: Vec<u8>,
}

/// The body of a slot's writer thread.
pub(crate) fn run(pool: Arc<Inner>, slot: Arc<Slot>) {
    pool.mark_current_thread();
    let mut writer = Writer {
        pool,
        slot,
        stopping: false,
        failures: 0,
        current: None,
        buffer: Vec::new(),
    };
    writer.run();
}

impl Writer {
    /// Feeds workers until stopped and drained, or until the pool breaks.
    fn run(&mut self) {
        loop {
            if let Some(error) = self.pool.broken.get() {
                self.fail_requeued(error);
                break;
            }
            if !self.worker_serves() {
                self.forget_worker();
                if self.stopping && self.slot.lock().requeued.is_empty() {
                    break;
                }
                self.start_worker();
                continue;
            }
            if self.at_task_limit() {
                self.retire_worker();
                continue;
            }
            let batch = self.take_batch();
            if !batch.is_empty() {
                self.send(batch);
            } else if self.stopping && self.drained() {
                break;
            }
        }
        self.close_worker();
    }

    /// Whether the current worker serves.
    fn worker_serves(&self) -> bool {
        let Some(current) = &self.current else {
            return false;
        };
        self.slot.lock().serves(current.generation)
    }

    /// Joins the reader of an ended worker.
    fn forget_worker(&mut self) {
        if let Some(current) = self.current.take() {
            let _ = current.reader.join();
        }
    }

    /// Starts a worker and its reader; on failure, counts it or breaks the pool.
    fn start_worker(&mut self) {
        match start_worker(&self.pool) {
            Ok((reader, pid, reaper)) => {
                self.failures = 0;
                if let Err(error) = self.adopt(reader, pid, reaper) {
                    self.start_failed(StartFailure::Other(error.to_string()));
                }
            }
            Err(failure) => self.start_failed(failure),
        }
    }

    /// Takes over a started worker: records it and starts its reader thread.
    fn adopt(
        &mut self,
        reader: FrameReader<UnixStream>,
        pid: u32,
        reaper: Reaper,
    ) -> io::Result<()> {
        let socket = reader.source().try_clone()?;
        let generation = {
            let mut state = self.slot.lock();
            state.generation += 1;
            state.live = true;
            state.pid = Some(pid);
            // A failed write to the worker before may be recorded after its end was settled;
            // it says nothing of this one.
            state.undelivered_from = None;
            state.generation
        };
        let (pool, slot) = (Arc::clone(&self.pool), Arc::clone(&self.slot));
        let worker = Worker {
            pid,
            reaper: reaper.clone(),
            generation,
        };
        let thread = std::thread::Builder::new()
            .name(format!("poolscope-reader-{pid}"))
            .spawn(move || read_replies(&pool, &slot, reader, &worker));
        let thread = match thread {
            Ok(thread) => thread,
            Err(error) => {
                reaper.kill(pid);
                reaper.reap(pid);
                self.slot.lock().live = false;
                return Err(error);
            }
        };
        self.current = Some(Current {
            socket,
            generation,
            sent: 0,
            reader: thread,
        });
        Ok(())
    }

    /// Handles a failed start: an initializer failure breaks the pool at once; other
    /// failures do after a few in a row, with a pause between tries.
    fn start_failed(&mut self, failure: StartFailure) {
        let error = match failure {
            StartFailure::Initializer(message) => TaskError::InitializerFailed(message),
            StartFailure::Other(message) => {
                self.failures += 1;
                if self.failures < MAX_START_FAILURES {
                    std::thread::sleep(Duration::from_millis(20 << self.failures));
                    return;
                }
                TaskError::WorkerStart(message)
            }
        };
        self.pool.break_with(error);
    }

    /// Whether the worker has been sent as many tasks as a worker may run.
    fn at_task_limit(&self) -> bool {
        let limit = self.pool.config.max_tasks_per_child;
        matches!((limit, &self.current), (Some(limit), Some(current)) if current.sent >= limit)
    }

    /// Lets the worker finish its tasks, then closes its socket so that it exits.
    fn retire_worker(&mut self) {
        let Some(current) = &self.current else {
            return;
        };
        let mut state = self.slot.lock();
        while state.serves(current.generation) && !state.in_flight.is_empty() {
            state = self.slot.wait(state);
        }
        drop(state);
        let _ = current.socket.shutdown(Shutdown::Write);
        let mut state = self.slot.lock();
        while state.serves(current.generation) {
            state = self.slot.wait(state);
        }
    }

    /// Closes the worker's socket at the end, and joins its reader, which reaps it.
    fn close_worker(&mut self) {
        if let Some(current) = self.current.take() {
            let _ = current.socket.shutdown(Shutdown::Write);
            let _ = current.reader.join();
        }
    }

    /// Whether nothing is left to send or to wait for.
    fn drained(&self) -> bool {
        let state = self.slot.lock();
        state.requeued.is_empty() && state.in_flight.is_empty()
    }

    /// The next jobs to send, at most the room left in the window; empty if woken instead.
    ///
    /// Only a writer whose worker is idle waits on the pool's queue, and it takes one job.
    /// A worker is sent more ahead only from a backlog, while no other worker is idle and
    /// its running task is not slow: a task should not wait behind a slow one while another
    /// worker could run it.
    fn take_batch(&mut self) -> Vec<Job> {
        let Some((room, in_flight)) = self.room() else {
            return Vec::new();
        };
        let room = match (self.pool.config.max_tasks_per_child, &self.current) {
            (Some(limit), Some(current)) => room.min(limit - current.sent),
            _ => room,
        };
        let requeued = self.take_requeued(room);
        if !requeued.is_empty() {
            return requeued;
        }
        if self.stopping {
            self.wait_for_reply(1);
            return Vec::new();
        }
        if in_flight == 0 {
            return self.take_first();
        }
        let batch = match self.may_send_ahead() {
            true => self.take_queued(room, None),
            false => Vec::new(),
        };
        if batch.is_empty() {
            self.wait_for_reply(in_flight);
        }
        batch
    }

    /// Whether to send more to a busy worker: no other worker idles, and the running task
    /// has not taken longer than the work the window is meant to hold.
    fn may_send_ahead(&self) -> bool {
        self.pool.busy_slots.load(Ordering::Acquire) == self.pool.slots.len()
            && self.slot.lock().head_since.elapsed() < WINDOW_TARGET
    }

    /// Waits for one job for an idle worker, or for a wake-up.
    fn take_first(&mut self) -> Vec<Job> {
        let first = select! {
            recv(self.pool.receiver) -> message => message.ok(),
            recv(self.slot.wake.1) -> _ => None,
        };
        match first {
            Some(first) => self.take_queued(1, Some(first)),
            None => Vec::new(),
        }
    }

    /// Waits until the window has room; returns the room and the jobs in flight, or `None`
    /// if the worker ended meanwhile.
    fn room(&self) -> Option<(usize, usize)> {
        let generation = self.current.as_ref()?.generation;
        let mut state = self.slot.lock();
        loop {
            if !state.serves(generation) {
                return None;
            }
            let (window, in_flight) = (state.window(), state.in_flight.len());
            if in_flight < window {
                return Some((window - in_flight, in_flight));
            }
            state = self.slot.wait(state);
        }
    }

    /// Takes up to `room` requeued jobs.
    fn take_requeued(&self, room: usize) -> Vec<Job> {
        let mut state = self.slot.lock();
        let count = room.min(state.requeued.len());
        state.requeued.drain(..count).collect()
    }

    /// Waits until fewer than `in_flight` jobs are in flight, or the worker ended.
    fn wait_for_reply(&self, in_flight: usize) {
        let Some(current) = &self.current else {
            return;
        };
        let mut state = self.slot.lock();
        while state.serves(current.generation) && state.in_flight.len() >= in_flight.max(1) {
            state = self.slot.wait(state);
        }
    }

    /// Takes up to `room` jobs, starting with `first` if given, then from the queue without
    /// waiting; marks each started, dropping the cancelled ones.
    fn take_queued(&mut self, room: usize, first: Option<Message>) -> Vec<Job> {
        let mut batch = Vec::new();
        let mut message = first.or_else(|| self.pool.receiver.try_recv().ok());
        while let Some(next) = message.take() {
            match next {
                Message::Run(job) if job.pending.start() => batch.push(job),
                Message::Run(_) => {}
                Message::Stop => {
                    self.stopping = true;
                    break;
                }
            }
            if batch.len() < room {
                message = self.pool.receiver.try_recv().ok();
            }
        }
        batch
    }

    /// Writes `batch` to the worker in one go, or requeues it if the worker ended.
    fn send(&mut self, batch: Vec<Job>) {
        let Some(current) = &mut self.current else {
            return self.slot.lock().requeued.extend(batch);
        };
        let long = encode_batch(&mut self.buffer, &batch);
        let count = batch.len();
        let Some(first) = self.slot.record_sent(&self.pool, current.generation, batch) else {
            return;
        };
        current.sent += count;

        // A failed write means the worker is gone; its reader settles the jobs, and none of
        // this batch is to blame.
        if write_batch(&current.socket, &self.buffer, &long).is_err() {
            self.slot.never_delivered(current.generation, first);
        }
        self.buffer.shrink_to(1 << 20);
    }

    /// Fails the requeued jobs: the pool is broken.
    fn fail_requeued(&self, error: &TaskError) {
        let requeued: Vec<Job> = self.slot.lock().requeued.drain(..).collect();
        for job in requeued {
            job.pending.fail(error.clone());
        }
    }
}

/// A long argument written from where it lies: where the buffer's bytes before it end, and
/// a reference that keeps it alive until written, since once in flight its job may be
/// settled and dropped at any moment.
type LongArgument = (usize, Arc<Vec<u8>>);

/// Encodes the frames of `batch` into `buffer`, all but the long arguments, which are
/// returned to be written from where they lie.
fn encode_batch(buffer: &mut Vec<u8>, batch: &[Job]) -> Vec<LongArgument> {
    buffer.clear();
    let mut long = Vec::new();
    for job in batch {
        let argument = job.payload.as_slice();
        let length = (frame::TASK_HEAD + argument.len()) as u64;
        buffer.extend_from_slice(&length.to_le_bytes());
        buffer.push(TASK);
        buffer.extend_from_slice(&job.call.trampoline.to_le_bytes());
        buffer.extend_from_slice(&job.call.function.to_le_bytes());
        match job.payload.shared() {
            Some(bytes) => long.push((buffer.len(), bytes)),
            None => buffer.extend_from_slice(argument),
        }
    }
    long
}

/// Writes the frames of a batch: `buffer`, with each long argument in its place.
fn write_batch(socket: &UnixStream, buffer: &[u8], long: &[LongArgument]) -> io::Result<()> {
    let mut pieces = Vec::with_capacity(2 * long.len() + 1);
    let mut written = 0;
    for (end, bytes) in long {
        pieces.push(IoSlice::new(&buffer[written..*end]));
        pieces.push(IoSlice::new(bytes));
        written = *end;
    }
    pieces.push(IoSlice::new(&buffer[written..]));
    send_all_vectored(socket, &mut pieces)
}
