//! The process pool: Python's `ProcessPoolExecutor`, done so that a crashing, hanging or
//! leaking task harms nothing but itself.

mod boot;
mod call;
mod chunks;
mod code;
mod frame;
#[cfg(test)]
mod hostile;
mod launch;
mod payload;
mod reader;
mod server;
mod slot;
mod start;

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{BuildError, TaskError};
use crate::gate::Gate;
use crate::handle::{Handle, Promise, pair};
use crate::map::Map;
use crate::state::Shared;

pub use chunks::ChunkedMap;
pub use launch::StartMethod;

pub(crate) use boot::read_tasks;

use call::{Call, REPLY_CODEC, REPLY_PANICKED, REPLY_VALUE};
use payload::Payload;
use slot::{Job, Pending, Slot};

/// Numbers process pools in creation order.
static POOL_NUMBER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The number of the process pool whose writer or reader this thread is, if any.
    static CURRENT_POOL: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// A pool of worker processes that run functions on serialized arguments: Python's
/// `ProcessPoolExecutor`.
///
/// Workers are processes running this same program, started before `main` takes over
/// (see [`StartMethod`]); a program needs no set-up call. Arguments and results cross as
/// compact binary (postcard), over one socket per worker.
///
/// What Python's pool does not do:
/// - a task that aborts, segfaults, exits or is killed fails alone with
///   [`TaskError::WorkerDied`]; a new worker takes the dead one's place;
/// - a task that runs past the [task timeout](ProcessPoolBuilder::task_timeout) has its
///   worker killed and fails with [`TaskError::TimedOut`];
/// - workers die with the program, even when it is killed with `SIGKILL`.
///
/// Dropping the pool is [`ProcessPool::shutdown`] with `wait = true`.
///
/// # Examples
///
/// ```
/// use poolscope_runtime::ProcessPool;
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let pool = ProcessPool::new(2);
/// let handle = pool.submit(square, 12);
/// assert_eq!(handle.result(), Ok(144));
/// ```
///
/// # Limitations
///
/// Linux only. Functions are named to workers by their offset in the executable, so a
/// submitted function must live in the executable itself, not in a dynamic library.
pub struct ProcessPool {
    /// The state shared with the slot threads.
    inner: Arc<Inner>,
}

/// Configures a [`ProcessPool`]; made by [`ProcessPool::builder`].
#[derive(Debug, Clone)]
pub struct ProcessPoolBuilder {
    /// How many workers; `None` for the available parallelism.
    workers: Option<usize>,
    /// The settings passed on to the pool.
    config: Config,
}

/// A pool's settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    /// How workers are started.
    pub(crate) start: StartMethod,
    /// Run once in each worker before its first task.
    pub(crate) initializer: Option<fn()>,
    /// After this many tasks a worker is replaced by a fresh one.
    pub(crate) max_tasks_per_child: Option<usize>,
    /// A task running longer has its worker killed.
    pub(crate) task_timeout: Option<Duration>,
    /// An initializer running longer breaks the pool; the task timeout if not set.
    pub(crate) initializer_timeout: Option<Duration>,
    /// The executable identity workers must prove, in place of the real one: lets tests
    /// see workers refuse a parent that runs another executable.
    #[cfg(test)]
    pub(crate) identity: Option<(u64, u64)>,
}

/// What the pool's queue carries to the slots.
pub(crate) enum Message {
    /// A task to send to a worker.
    Run(Job),
    /// One slot is to finish and stop.
    Stop,
}

/// The state a pool shares with its slot threads.
pub(crate) struct Inner {
    /// The pool's number, for its threads.
    number: usize,
    /// The pool's settings.
    pub(crate) config: Config,
    /// The device and inode of this executable, which workers must match.
    pub(crate) identity: (u64, u64),
    /// The queue's entrance.
    sender: Sender<Message>,
    /// The queue's exit, shared by the slots.
    pub(crate) receiver: Receiver<Message>,
    /// Closed by shutdown.
    gate: Gate,
    /// How many slots have tasks in flight.
    pub(crate) busy_slots: AtomicUsize,
    /// Why the pool can run no task, once that is so.
    pub(crate) broken: OnceLock<TaskError>,
    /// The worker places.
    slots: Vec<Arc<Slot>>,
    /// The slots' writer threads, until joined.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl ProcessPool {
    /// A pool of `workers` processes, started by a fork server.
    ///
    /// # Panics
    ///
    /// If `workers` is 0, or if the pool cannot be started. [`ProcessPool::builder`]
    /// reports those as errors instead.
    pub fn new(workers: usize) -> ProcessPool {
        match ProcessPool::builder().workers(workers).build() {
            Ok(pool) => pool,
            Err(error) => panic!("ProcessPool::new({workers}): {error}"),
        }
    }

    /// A builder for the size, start method, initializer, task limit and timeout.
    pub fn builder() -> ProcessPoolBuilder {
        ProcessPoolBuilder {
            workers: None,
            config: Config::default(),
        }
    }

    /// Queues `function(argument)` to run in a worker, and returns its handle at once.
    ///
    /// `function` is a function item or a closure without captures. Several arguments go
    /// as a tuple.
    ///
    /// The handle reports [`TaskError::Codec`] if the argument cannot be serialized (at
    /// once) or the worker cannot deserialize it or serialize the result;
    /// [`TaskError::Shutdown`] after shutdown.
    pub fn submit<A, R>(&self, function: fn(A) -> R, argument: A) -> Handle<R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let (handle, promise) = pair();
        let call = match Call::of(function) {
            Ok(call) => call,
            Err(error) => {
                promise.settle(Err(error));
                return handle;
            }
        };
        match Payload::encode(&argument) {
            Ok(payload) => self.inner.enqueue(call, payload, promise),
            Err(error) => promise.settle(Err(encode_error(&error))),
        }
        handle
    }

    /// Runs `function` on every item, yielding the outcomes in input order, one task per
    /// item; a bounded number in flight, so an endless input works.
    pub fn map<'a, A, R, I>(&'a self, function: fn(A) -> R, items: I) -> Map<'a, R>
    where
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let mut items = items.into_iter();
        let window = self.max_workers() * 64;
        Map::new(window, move || Some(self.submit(function, items.next()?)))
    }

    /// Like [`ProcessPool::map`], sending items in chunks of `chunk_size` per task: far
    /// less overhead for small tasks. A panic fails only its own item; a worker's death
    /// fails every item of its chunk.
    ///
    /// # Panics
    ///
    /// If `chunk_size` is 0.
    pub fn map_chunked<'a, A, R, I>(
        &'a self,
        function: fn(A) -> R,
        items: I,
        chunk_size: usize,
    ) -> ChunkedMap<'a, R>
    where
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        assert!(
            chunk_size > 0,
            "map_chunked needs a chunk size of at least 1"
        );
        ChunkedMap::new(self, function, items.into_iter(), chunk_size)
    }

    /// Stops taking tasks; with `wait`, blocks until every queued task is done and every
    /// worker has exited and been reaped.
    ///
    /// Queued tasks still run either way. Calling it again is harmless. Called from a
    /// callback of one of this pool's tasks, it never waits.
    pub fn shutdown(&self, wait: bool) {
        self.inner.close(false);
        if wait {
            self.inner.join();
        }
    }

    /// Like [`ProcessPool::shutdown`], but first cancels the queued tasks not yet handed to
    /// a worker; their handles report [`TaskError::Cancelled`].
    ///
    /// A task already handed to a worker counts as running and is not cancelled.
    pub fn shutdown_cancel(&self, wait: bool) {
        self.inner.close(true);
        if wait {
            self.inner.join();
        }
    }

    /// How many worker processes the pool keeps.
    pub fn max_workers(&self) -> usize {
        self.inner.slots.len()
    }

    /// The pids of the workers serving right now.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.inner
            .slots
            .iter()
            .filter_map(|slot| slot.pid())
            .collect()
    }

    /// Queues a call with an already encoded argument.
    pub(crate) fn submit_encoded<R>(&self, call: Call, payload: Payload) -> Handle<R>
    where
        R: DeserializeOwned + Send + 'static,
    {
        let (handle, promise) = pair();
        self.inner.enqueue(call, payload, promise);
        handle
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        self.shutdown(true);
    }
}

impl std::fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPool")
            .field("number", &self.inner.number)
            .field("workers", &self.inner.slots.len())
            .field("start", &self.inner.config.start)
            .field("closed", &self.inner.gate.is_closed())
            .finish()
    }
}

impl ProcessPoolBuilder {
    /// How many worker processes; the default is the available parallelism.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// How workers start; [`StartMethod::ForkServer`] by default.
    pub fn start_method(mut self, start: StartMethod) -> Self {
        self.config.start = start;
        self
    }

    /// A function each worker runs once before its first task.
    ///
    /// If it panics, no worker can start: every pending and later task reports
    /// [`TaskError::InitializerFailed`] with the panic's message, and no worker is retried.
    /// The [initializer timeout](ProcessPoolBuilder::initializer_timeout) bounds it, or
    /// else the [task timeout](ProcessPoolBuilder::task_timeout); without either, an
    /// initializer that never returns keeps the pool from starting, and `shutdown(true)`
    /// from returning.
    pub fn initializer(mut self, initializer: fn()) -> Self {
        self.config.initializer = Some(initializer);
        self
    }

    /// Replaces each worker by a fresh process after it has run `tasks` tasks.
    pub fn max_tasks_per_child(mut self, tasks: usize) -> Self {
        self.config.max_tasks_per_child = Some(tasks);
        self
    }

    /// Kills the worker of a task that runs longer than `timeout`; the task reports
    /// [`TaskError::TimedOut`] and a new worker takes the place.
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.config.task_timeout = Some(timeout);
        self
    }

    /// Gives each worker's [initializer](ProcessPoolBuilder::initializer) at most `timeout`
    /// to return; one that runs longer is killed and breaks the pool, as one that panics.
    ///
    /// Without it the task timeout, if any, bounds the initializer: set this for an
    /// initializer that legitimately takes longer than one task may.
    pub fn initializer_timeout(mut self, timeout: Duration) -> Self {
        self.config.initializer_timeout = Some(timeout);
        self
    }

    /// Makes the pool and starts its workers in the background.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroWorkers`] for 0 workers, [`BuildError::Invalid`] for a task limit
    /// or timeout of 0, and [`BuildError::Start`] if the executable cannot be identified or
    /// the pool's threads cannot start. A worker that fails to start later is reported
    /// through the handles of the tasks.
    pub fn build(self) -> Result<ProcessPool, BuildError> {
        let workers = match self.workers {
            Some(0) => return Err(BuildError::ZeroWorkers),
            Some(workers) => workers,
            None => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        };
        self.check()?;
        let identity = self.identity()?;
        // Keep the constructor that turns started processes into workers in the program.
        std::hint::black_box(&boot::BOOT);

        let (sender, receiver) = crossbeam_channel::unbounded();
        let inner = Arc::new(Inner {
            number: POOL_NUMBER.fetch_add(1, Ordering::Relaxed),
            config: self.config,
            identity,
            sender,
            receiver,
            gate: Gate::default(),
            busy_slots: AtomicUsize::new(0),
            broken: OnceLock::new(),
            slots: (0..workers).map(|_| Arc::new(Slot::new())).collect(),
            threads: Mutex::new(Vec::new()),
        });
        inner.start_slots().map_err(BuildError::Start)?;
        Ok(ProcessPool { inner })
    }

    /// The executable identity the pool's workers must prove.
    fn identity(&self) -> Result<(u64, u64), BuildError> {
        let identity = boot::executable_identity().map_err(BuildError::Start)?;
        #[cfg(test)]
        let identity = self.config.identity.unwrap_or(identity);
        Ok(identity)
    }

    /// Rejects settings of zero, and an initializer outside the executable.
    fn check(&self) -> Result<(), BuildError> {
        if self.config.max_tasks_per_child == Some(0) {
            let message = "max_tasks_per_child must be at least 1, got 0";
            return Err(BuildError::Invalid(message.to_owned()));
        }
        if self.config.task_timeout == Some(Duration::ZERO) {
            let message = "task_timeout must be longer than zero";
            return Err(BuildError::Invalid(message.to_owned()));
        }
        if self.config.initializer_timeout == Some(Duration::ZERO) {
            let message = "initializer_timeout must be longer than zero";
            return Err(BuildError::Invalid(message.to_owned()));
        }
        if let Some(initializer) = self.config.initializer {
            Call::check_address(initializer as usize).map_err(|error| {
                BuildError::Invalid(format!("initializer is not in the executable: {error}"))
            })?;
        }
        Ok(())
    }
}

impl Inner {
    /// Starts one writer thread per slot.
    fn start_slots(self: &Arc<Self>) -> std::io::Result<()> {
        let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
        for (index, slot) in self.slots.iter().enumerate() {
            let (pool, slot) = (Arc::clone(self), Arc::clone(slot));
            let name = format!("poolscope-process-{}_{}", self.number, index);
            let started = std::thread::Builder::new()
                .name(name)
                .spawn(move || slot::run(pool, slot));
            match started {
                Ok(thread) => threads.push(thread),
                Err(error) => {
                    drop(threads);
                    self.close(true);
                    self.join();
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Queues a task, or settles it at once if the pool cannot take it.
    fn enqueue<R>(&self, call: Call, payload: Payload, promise: Promise<R>)
    where
        R: DeserializeOwned + Send + 'static,
    {
        let job = Job {
            call,
            payload,
            pending: promise.into_shared(),
        };
        if let Some(error) = self.broken.get() {
            return job.pending.fail(error.clone());
        }
        let queued = self.gate.pass(job, |job| {
            // The receiver lives in `self`, so the queue cannot be disconnected here.
            let _ = self.sender.send(Message::Run(job));
        });
        if let Err(job) = queued {
            job.pending.fail(TaskError::Shutdown);
        }

        // The pool may have broken and emptied its queue just before this job went in.
        if self.broken.get().is_some() {
            self.fail_queued(false);
        }
    }

    /// Declares the pool unable to run tasks, failing every queued task with `error`.
    pub(crate) fn break_with(&self, error: TaskError) {
        if self.broken.set(error).is_ok() {
            self.fail_queued(false);
        }
    }

    /// Settles every queued task: cancelled, or failed with the pool's broken error.
    fn fail_queued(&self, cancel: bool) {
        let mut stops = 0;
        while let Ok(message) = self.receiver.try_recv() {
            match message {
                Message::Run(job) if cancel => job.pending.fail(TaskError::Cancelled),
                Message::Run(job) => {
                    let error = self.broken.get().cloned().unwrap_or(TaskError::Shutdown);
                    job.pending.fail(error);
                }
                Message::Stop => stops += 1,
            }
        }
        for _ in 0..stops {
            let _ = self.sender.send(Message::Stop);
        }
    }

    /// Closes the entrance once, and tells each slot to stop after the queued tasks.
    fn close(&self, cancel: bool) {
        let first = self.gate.close();
        if cancel {
            self.fail_queued(true);
        }
        if first {
            for _ in &self.slots {
                let _ = self.sender.send(Message::Stop);
            }
        }
    }

    /// Joins the slot threads, which reap their workers; returns at once on a pool thread.
    fn join(&self) {
        if CURRENT_POOL.with(Cell::get) == self.number {
            return;
        }
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for thread in threads {
            let _ = thread.join();
        }
        // Slots that stopped because the pool broke leave late arrivals in the queue.
        self.fail_queued(false);
    }

    /// Marks the calling thread as one of this pool's.
    pub(crate) fn mark_current_thread(&self) {
        CURRENT_POOL.with(|pool| pool.set(self.number));
    }
}

impl<R> Pending for Shared<R>
where
    R: DeserializeOwned + Send,
{
    fn start(&self) -> bool {
        Shared::start(self)
    }

    fn finish(&self, kind: u8, body: &[u8]) {
        self.settle(decode_reply(kind, body));
    }

    fn fail(&self, error: TaskError) {
        self.settle(Err(error));
    }
}

/// The outcome a worker's reply frame of `kind` with `body` stands for.
///
/// Any bytes at all give an outcome: a panic's text that is not UTF-8 is kept with its bad
/// bytes replaced, and a reply of a kind the pool never asks for is a codec error.
pub(crate) fn decode_reply<R: DeserializeOwned>(kind: u8, body: &[u8]) -> Result<R, TaskError> {
    match kind {
        REPLY_VALUE => postcard::from_bytes(body)
            .map_err(|error| TaskError::Codec(format!("could not decode the result: {error}"))),
        REPLY_PANICKED => Err(TaskError::Panicked(
            String::from_utf8_lossy(body).into_owned(),
        )),
        REPLY_CODEC => Err(TaskError::Codec(String::from_utf8_lossy(body).into_owned())),
        _ => Err(TaskError::Codec(format!(
            "the worker sent a reply of unknown kind {kind}"
        ))),
    }
}

/// Reads every frame of `stream`; for the fuzz targets and the hostile-input tests.
pub(crate) fn read_frames(stream: impl std::io::Read) -> std::io::Result<Vec<(u8, Vec<u8>)>> {
    let mut reader = frame::FrameReader::new(stream);
    let mut frames = Vec::new();
    while let Some((kind, body)) = reader.next_frame()? {
        frames.push((kind, body.to_vec()));
    }
    Ok(frames)
}

/// The error for an argument that cannot be serialized.
fn encode_error(error: &postcard::Error) -> TaskError {
    TaskError::Codec(format!("could not encode the argument: {error}"))
}
