//! The thread pool: Python's `ThreadPoolExecutor`.

use std::cell::{Cell, UnsafeCell};
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::error::{BuildError, TaskError, panic_message};
use crate::gate::Gate;
use crate::handle::{Handle, TaskCell};
use crate::map::Map;
use crate::state::Shared;

/// Numbers thread pools in creation order, for their threads' names.
static POOL_NUMBER: AtomicUsize = AtomicUsize::new(0);

/// How many times an idle worker looks for a task before it sleeps.
const POLLS_BEFORE_SLEEPING: u32 = 32;

thread_local! {
    /// The number of the pool this thread works for, or `usize::MAX` outside any pool.
    static CURRENT_POOL: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[cfg(test)]
thread_local! {
    /// Makes the operating system's refusal to start a thread happen on demand in tests:
    /// while set, this thread cannot start pool threads.
    static REFUSE_THREAD_STARTS: Cell<bool> = const { Cell::new(false) };
}

/// A pool of threads that run submitted closures: Python's `ThreadPoolExecutor`.
///
/// Threads start lazily, one per submit that finds no idle thread, up to the pool's size.
/// They are named `{prefix}-{pool number}_{worker number}`, `ThreadPool-0_0` for the first
/// worker of the first pool.
///
/// Dropping the pool is [`ThreadPool::shutdown`] with `wait = true`.
///
/// # Examples
///
/// ```
/// use poolscope_runtime::ThreadPool;
///
/// let pool = ThreadPool::new(4);
/// let handles: Vec<_> = (0..10).map(|i| pool.submit(move || i * i)).collect();
/// let squares: Vec<i32> = handles.into_iter().map(|h| h.result().unwrap()).collect();
/// assert_eq!(squares[9], 81);
/// pool.shutdown(true);
/// ```
pub struct ThreadPool {
    /// The state the pool shares with its worker threads.
    inner: Arc<Inner>,
}

/// Configures a [`ThreadPool`]; made by [`ThreadPool::builder`].
pub struct Builder {
    /// How many threads at most; `None` for the available parallelism.
    workers: Option<usize>,
    /// The start of every thread's name.
    name_prefix: String,
    /// Runs once on each new thread before its first task.
    initializer: Option<Initializer>,
}

/// A function each worker runs once before its first task.
type Initializer = Arc<dyn Fn() + Send + Sync>;

/// A queued unit of work, with its type erased.
trait Job: Send + Sync {
    /// Runs the task, unless it was cancelled, and settles its handle.
    ///
    /// `ran` is called once the work is over and before the handle is settled.
    fn run(&self, ran: &dyn Fn());
    /// Settles the task's handle with `error` without running it.
    fn abandon(&self, error: TaskError);
}

/// A closure and its task's state, in the one allocation both the queue and the handle
/// point to.
struct Task<F, T> {
    /// The task's state, which the handle reads.
    shared: Shared<T>,
    /// The user's closure, until the thread that starts the task takes it.
    work: UnsafeCell<Option<F>>,
}

// SAFETY: `work` is taken once, by the one thread whose `Shared::start` succeeded or by the
// one call that cancelled the task (after which no start succeeds), and is otherwise only
// dropped with the task; `Shared` is `Sync` for a `Send` value. The closure
// moves to a worker thread, so it must be `Send`.
unsafe impl<F: Send, T: Send> Sync for Task<F, T> {}

/// What the queue carries to the workers.
enum Message {
    /// A task to run.
    Run(Arc<dyn Job>),
    /// One worker is to exit. Sent only after every task has been queued.
    Stop,
}

/// The state a pool shares with its workers.
struct Inner {
    /// The pool's number, in its threads' names.
    number: usize,
    /// The start of every thread's name.
    name_prefix: String,
    /// How many threads at most.
    max_workers: usize,
    /// Runs once on each new thread.
    initializer: Option<Initializer>,
    /// The queue's entrance.
    sender: Sender<Message>,
    /// The queue's exit, shared by all workers.
    receiver: Receiver<Message>,
    /// Closed by shutdown.
    gate: Gate,
    /// How many threads were started.
    started: AtomicUsize,
    /// Idle threads not yet claimed by a submit; counted only while the pool can still grow.
    idle: AtomicUsize,
    /// The running threads.
    workers: Mutex<Workers>,
    /// Signalled when a worker exits.
    worker_exited: Condvar,
    /// The initializer's panic message, once it failed.
    broken: OnceLock<String>,
}

/// The pool's threads.
#[derive(Default)]
struct Workers {
    /// Threads not yet joined.
    threads: Vec<JoinHandle<()>>,
    /// Threads started and not yet exited.
    alive: usize,
}

impl ThreadPool {
    /// A pool of at most `workers` threads, named `ThreadPool-{n}_{k}`.
    ///
    /// # Panics
    ///
    /// If `workers` is 0. [`ThreadPool::builder`] reports that as an error instead.
    pub fn new(workers: usize) -> ThreadPool {
        match ThreadPool::builder().workers(workers).build() {
            Ok(pool) => pool,
            Err(error) => panic!("ThreadPool::new({workers}): {error}"),
        }
    }

    /// A builder to set the size, the thread names and an initializer.
    pub fn builder() -> Builder {
        Builder {
            workers: None,
            name_prefix: "ThreadPool".to_owned(),
            initializer: None,
        }
    }

    /// Queues `task` and returns its handle at once.
    ///
    /// After [`ThreadPool::shutdown`] the handle is already finished with
    /// [`TaskError::Shutdown`]; if the initializer failed, with
    /// [`TaskError::InitializerFailed`].
    pub fn submit<F, T>(&self, task: F) -> Handle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let job = Arc::new(Task {
            shared: Shared::new(),
            work: UnsafeCell::new(Some(task)),
        });
        let handle = Handle::new(Arc::clone(&job) as Arc<dyn TaskCell<T>>);
        self.inner.enqueue(job);
        handle
    }

    /// Runs `function` on every item of `items`, yielding the outcomes in input order.
    ///
    /// Items are taken from `items` only as results are consumed, keeping a bounded number
    /// of tasks in flight, so an endless iterator works. A task that fails yields its
    /// error in its place; the items after it still run.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = poolscope_runtime::ThreadPool::new(2);
    /// let doubled: Vec<u64> = pool.map(|x: u64| x * 2, 1..).take(3).map(Result::unwrap).collect();
    /// assert_eq!(doubled, [2, 4, 6]);
    /// ```
    pub fn map<'a, I, F, T>(&'a self, function: F, items: I) -> Map<'a, T>
    where
        I: IntoIterator,
        I::IntoIter: 'a,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let function = Arc::new(function);
        let mut items = items.into_iter();
        Map::new(self.inner.max_workers * 4, move || {
            let item = items.next()?;
            let function = Arc::clone(&function);
            Some(self.submit(move || function(item)))
        })
    }

    /// Stops taking tasks; with `wait`, blocks until every queued task is done and every
    /// thread has exited.
    ///
    /// Tasks already queued still run either way. Calling it again is harmless. Called from
    /// one of this pool's own tasks or callbacks, it never waits, since the calling thread
    /// belongs to the pool.
    pub fn shutdown(&self, wait: bool) {
        self.inner.close(false);
        if wait {
            self.inner.join();
        }
    }

    /// Like [`ThreadPool::shutdown`], but first cancels the queued tasks that have not
    /// started; their handles report [`TaskError::Cancelled`].
    ///
    /// This is Python's `shutdown(cancel_futures=True)`.
    pub fn shutdown_cancel(&self, wait: bool) {
        self.inner.close(true);
        if wait {
            self.inner.join();
        }
    }

    /// The most threads this pool runs at once.
    pub fn max_workers(&self) -> usize {
        self.inner.max_workers
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shutdown(true);
    }
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field(
                "name",
                &format_args!("{}-{}", self.inner.name_prefix, self.inner.number),
            )
            .field("max_workers", &self.inner.max_workers)
            .field("closed", &self.inner.gate.is_closed())
            .finish()
    }
}

impl Builder {
    /// The most threads the pool runs at once; the default is the available parallelism.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// The start of the threads' names, `ThreadPool` by default.
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = prefix.into();
        self
    }

    /// A function each thread runs once before its first task.
    ///
    /// If it panics, the pool is broken: the tasks queued then and submitted later report
    /// [`TaskError::InitializerFailed`] with the panic's message.
    pub fn initializer(mut self, initializer: impl Fn() + Send + Sync + 'static) -> Self {
        self.initializer = Some(Arc::new(initializer));
        self
    }

    /// Makes the pool. No thread starts until the first submit.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroWorkers`] if the size was set to 0.
    pub fn build(self) -> Result<ThreadPool, BuildError> {
        let max_workers = match self.workers {
            Some(0) => return Err(BuildError::ZeroWorkers),
            Some(workers) => workers,
            None => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        };
        let (sender, receiver) = crossbeam_channel::unbounded();
        let inner = Inner {
            number: POOL_NUMBER.fetch_add(1, Ordering::Relaxed),
            name_prefix: self.name_prefix,
            max_workers,
            initializer: self.initializer,
            sender,
            receiver,
            gate: Gate::default(),
            started: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            workers: Mutex::new(Workers::default()),
            worker_exited: Condvar::new(),
            broken: OnceLock::new(),
        };
        Ok(ThreadPool {
            inner: Arc::new(inner),
        })
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("name_prefix", &self.name_prefix)
            .field("initializer", &self.initializer.is_some())
            .finish()
    }
}

impl<F: Send, T: Send> TaskCell<T> for Task<F, T> {
    fn shared(&self) -> &Shared<T> {
        &self.shared
    }

    /// Also drops the closure at once: a cancelled task may wait long in the queue before a
    /// worker takes it off, and should not hold what its closure captured until then.
    fn cancel(&self) -> bool {
        self.shared.cancel(|| {
            // SAFETY: this call cancelled the task, so no `Shared::start` can succeed on it
            // any more: no worker takes the closure, and only this call touches it.
            drop(unsafe { (*self.work.get()).take() });
        })
    }
}

impl<F, T> Job for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self, ran: &dyn Fn()) {
        if !self.shared.start() {
            return ran();
        }
        // SAFETY: `start` succeeded on this thread, and succeeds once per task, so nothing
        // else touches the closure.
        let work = unsafe { (*self.work.get()).take() };
        let Some(work) = work else {
            return ran();
        };
        let outcome = catch_unwind(AssertUnwindSafe(work));
        ran();
        let outcome = outcome.map_err(|payload| TaskError::Panicked(panic_message(&*payload)));
        self.shared.settle(outcome);
    }

    fn abandon(&self, error: TaskError) {
        self.shared.settle(Err(error));
    }
}

impl Inner {
    /// Queues `job`, or settles it at once if the pool cannot take it.
    fn enqueue(self: &Arc<Self>, job: Arc<dyn Job>) {
        if let Some(message) = self.broken.get() {
            return job.abandon(TaskError::InitializerFailed(message.clone()));
        }
        let mut refused = None;
        let queued = self.gate.pass(job, |job| {
            // The receiver lives in `self`, so the queue cannot be disconnected here.
            let _ = self.sender.send(Message::Run(job));
            refused = self.add_worker_if_needed().err();
        });
        if let Err(job) = queued {
            job.abandon(TaskError::Shutdown);
        }
        // Past the entrance: failing tasks runs their callbacks, which may shut down.
        if let Some(error) = refused {
            self.fail_if_no_worker(&error);
        }
    }

    /// Starts a thread unless an idle one can take the task just queued, or the pool is full.
    ///
    /// # Errors
    ///
    /// The operating system's refusal to start the thread.
    fn add_worker_if_needed(self: &Arc<Self>) -> std::io::Result<()> {
        if self.started.load(Ordering::Relaxed) >= self.max_workers {
            return Ok(());
        }
        let claimed = self
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if claimed.is_ok() {
            return Ok(());
        }
        self.start_worker()
    }

    /// Starts one more worker thread.
    fn start_worker(self: &Arc<Self>) -> std::io::Result<()> {
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        let index = self.started.load(Ordering::Relaxed);
        if index >= self.max_workers {
            return Ok(());
        }
        #[cfg(test)]
        if REFUSE_THREAD_STARTS.with(Cell::get) {
            return Err(std::io::Error::other(
                "thread starts are refused in this test",
            ));
        }
        let name = format!("{}-{}_{}", self.name_prefix, self.number, index);
        let inner = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || inner.work())?;
        workers.threads.push(thread);
        workers.alive += 1;
        self.started.store(index + 1, Ordering::Relaxed);
        Ok(())
    }

    /// Fails every queued task if no thread could be started at all.
    fn fail_if_no_worker(&self, error: &std::io::Error) {
        if self.started.load(Ordering::Relaxed) > 0 {
            return;
        }
        while let Ok(message) = self.receiver.try_recv() {
            if let Message::Run(job) = message {
                job.abandon(TaskError::WorkerStart(error.to_string()));
            }
        }
    }

    /// The body of a worker thread.
    fn work(self: Arc<Self>) {
        CURRENT_POOL.with(|pool| pool.set(self.number));
        self.initialize();
        while let Some(Message::Run(job)) = self.next_message() {
            // Count this thread idle before the outcome is published: a caller woken by it
            // may submit at once, and must find this thread instead of starting another.
            match self.broken.get() {
                Some(message) => {
                    self.mark_idle();
                    job.abandon(TaskError::InitializerFailed(message.clone()));
                }
                None => job.run(&|| self.mark_idle()),
            }
        }
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        workers.alive -= 1;
        self.worker_exited.notify_all();
    }

    /// The next message, looking for one a while before sleeping: in a busy pool the next
    /// task usually comes within microseconds, and waking a sleeping thread costs its
    /// submitter a system call.
    fn next_message(&self) -> Option<Message> {
        for _ in 0..POLLS_BEFORE_SLEEPING {
            if let Ok(message) = self.receiver.try_recv() {
                return Some(message);
            }
            std::thread::yield_now();
        }
        self.receiver.recv().ok()
    }

    /// Counts this thread as idle, while the pool can still grow.
    fn mark_idle(&self) {
        if self.started.load(Ordering::Relaxed) < self.max_workers {
            self.idle.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Runs the initializer on this thread; a panic breaks the pool.
    fn initialize(&self) {
        let Some(initializer) = &self.initializer else {
            return;
        };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| initializer())) {
            let _ = self.broken.set(panic_message(&*payload));
        }
    }

    /// Closes the entrance once; with `cancel`, cancels every queued task not yet started.
    fn close(&self, cancel: bool) {
        let first = self.gate.close();
        if cancel {
            self.cancel_queued();
        }
        if first {
            for _ in 0..self.started.load(Ordering::Relaxed) {
                let _ = self.sender.send(Message::Stop);
            }
        }
    }

    /// Cancels every queued task, keeping the stop messages in the queue.
    fn cancel_queued(&self) {
        let mut stops = 0;
        while let Ok(message) = self.receiver.try_recv() {
            match message {
                Message::Run(job) => job.abandon(TaskError::Cancelled),
                Message::Stop => stops += 1,
            }
        }
        for _ in 0..stops {
            let _ = self.sender.send(Message::Stop);
        }
    }

    /// Waits for every worker to exit and joins them; returns at once on a worker thread.
    fn join(&self) {
        if CURRENT_POOL.with(Cell::get) == self.number {
            return;
        }
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        while workers.alive > 0 {
            workers = (self.worker_exited.wait(workers)).unwrap_or_else(PoisonError::into_inner);
        }
        let threads = std::mem::take(&mut workers.threads);
        drop(workers);
        for thread in threads {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{REFUSE_THREAD_STARTS, ThreadPool};
    use crate::TaskError;

    /// A pool that cannot start a single thread fails its tasks with `WorkerStart`, and one
    /// that started threads before goes on with them.
    #[test]
    fn refused_thread_starts_fail_tasks_with_a_typed_error() {
        let pool = ThreadPool::new(2);
        REFUSE_THREAD_STARTS.with(|refuse| refuse.set(true));
        let refused = pool.submit(|| 1);
        REFUSE_THREAD_STARTS.with(|refuse| refuse.set(false));
        match refused.result() {
            Err(TaskError::WorkerStart(message)) => assert!(message.contains("refused")),
            other => panic!("expected a start failure, got {other:?}"),
        }
        assert_eq!(pool.submit(|| 2).result(), Ok(2));

        REFUSE_THREAD_STARTS.with(|refuse| refuse.set(true));
        let handles: Vec<_> = (0..10).map(|x| pool.submit(move || x * 3)).collect();
        REFUSE_THREAD_STARTS.with(|refuse| refuse.set(false));
        let results: Vec<_> = handles.into_iter().map(|h| h.result()).collect();
        assert_eq!(results, (0..10).map(|x| Ok(x * 3)).collect::<Vec<_>>());
    }
}
