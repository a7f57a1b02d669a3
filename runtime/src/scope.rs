//! Where a call of a `#[pool]` function runs: the pools of `pool_scope!` blocks, and the
//! process-wide pools used outside any scope.
//!
//! Each annotated function owns one `static` [`PoolSlot`]. A call looks for the innermost
//! scope open on the calling thread:
//!
//! - inside a scope, the scope's frame maps the slot's address to the pool made for that
//!   function at its first call in the scope; the [`Scope`] guard shuts those pools down,
//!   waiting, when the block is left in any way, a panic included;
//! - outside any scope, the slot keeps one process-wide pool. The first such pool registers
//!   an `atexit` handler that shuts every process-wide pool down, waiting, once `main` has
//!   returned, as Python waits for its executors at interpreter exit.

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::{Mutex, Once, OnceLock, PoisonError};

use crate::error::{BuildError, TaskError};
use crate::handle::Handle;
use crate::process::ProcessPool;
use crate::thread::ThreadPool;

/// A pool kind that `#[pool]` can place calls on.
pub trait ScopedPool: Send + Sync + 'static {
    /// Stops taking tasks and waits until the queued ones are done and the workers are gone.
    fn shutdown_and_wait(&self);

    /// The pool as [`Any`], to get its concrete type back from a scope's frame.
    fn as_any(&self) -> &dyn Any;
}

impl ScopedPool for ThreadPool {
    fn shutdown_and_wait(&self) {
        self.shutdown(true);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl ScopedPool for ProcessPool {
    fn shutdown_and_wait(&self) {
        self.shutdown(true);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Makes the pool of one function, with the options written in its `#[pool(...)]`.
pub type BuildPool<P> = fn() -> Result<P, BuildError>;

/// The pools of one annotated function: the key of its pools in every scope, and its
/// process-wide pool.
pub struct PoolSlot<P> {
    /// The function's name, for the message of a pool that cannot be built.
    function: &'static str,
    /// The pool used outside any scope, made at the first such call.
    global: OnceLock<P>,
    /// Held while the process-wide pool is made, so that only one is.
    making: Mutex<()>,
}

impl<P: ScopedPool> PoolSlot<P> {
    /// The slot of the function named `function`.
    pub const fn new(function: &'static str) -> Self {
        PoolSlot {
            function,
            global: OnceLock::new(),
            making: Mutex::new(()),
        }
    }

    /// Submits a call with `submit` to the pool this call belongs to, made by `build` if
    /// this is the first call there.
    ///
    /// # Panics
    ///
    /// If `build` reports anything but a failure to start workers: that is a mistake in
    /// the function's options, such as `workers` evaluating to 0. A failure to start
    /// workers is reported through the returned handle as [`TaskError::WorkerStart`].
    pub fn submit<R: Send + 'static>(
        &'static self,
        build: BuildPool<P>,
        submit: impl FnOnce(&P) -> Handle<R>,
    ) -> Handle<R> {
        let pool = match scoped_pool(self, build) {
            Some(pool) => pool,
            None => return self.submit_global(build, submit),
        };
        match pool {
            Ok(pool) => submit(downcast(&*pool)),
            Err(error) => Handle::failed(self.start_failure(error)),
        }
    }

    /// Submits a call to the process-wide pool, making it first if needed.
    fn submit_global<R: Send + 'static>(
        &'static self,
        build: BuildPool<P>,
        submit: impl FnOnce(&P) -> Handle<R>,
    ) -> Handle<R> {
        match self.global_pool(build) {
            Ok(pool) => submit(pool),
            Err(error) => Handle::failed(self.start_failure(error)),
        }
    }

    /// The process-wide pool, made and registered for the exit handler on first use.
    fn global_pool(&'static self, build: BuildPool<P>) -> Result<&'static P, BuildError> {
        if let Some(pool) = self.global.get() {
            return Ok(pool);
        }
        let _making = self.making.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = self.global.get() {
            return Ok(pool);
        }

        // Only this thread makes the pool now, so the one just built is the one kept.
        let built = build()?;
        let pool = self.global.get_or_init(|| built);
        register_global(pool);
        Ok(pool)
    }

    /// Turns a build error into the error of the call's handle, or panics for a mistake.
    fn start_failure(&self, error: BuildError) -> TaskError {
        match error {
            BuildError::Start(error) => TaskError::WorkerStart(error.to_string()),
            error => panic!(
                "the pool of #[pool] fn `{}` cannot be built: {error}",
                self.function
            ),
        }
    }
}

/// The pool of `slot` in the innermost scope of this thread, made there by `build` at the
/// first call; `None` outside any scope.
fn scoped_pool<P: ScopedPool>(
    slot: &'static PoolSlot<P>,
    build: BuildPool<P>,
) -> Option<Result<Rc<dyn ScopedPool>, BuildError>> {
    let key = slot as *const PoolSlot<P> as usize;
    let found = SCOPES.try_with(|scopes| {
        let scopes = scopes.borrow();
        let frame = scopes.last()?;
        Some(frame.pool(key))
    });
    match found.ok()?? {
        Some(pool) => Some(Ok(pool)),
        None => Some(make_scoped_pool(key, build)),
    }
}

/// Builds a pool and adds it to the innermost scope under `key`.
///
/// `build` runs with no borrow of the scopes held: it evaluates the user's option
/// expressions, which may themselves call `#[pool]` functions.
fn make_scoped_pool<P: ScopedPool>(
    key: usize,
    build: BuildPool<P>,
) -> Result<Rc<dyn ScopedPool>, BuildError> {
    let pool: Rc<dyn ScopedPool> = Rc::new(build()?);
    SCOPES.with(|scopes| {
        let mut scopes = scopes.borrow_mut();
        if let Some(frame) = scopes.last_mut() {
            frame.pools.push((key, Rc::clone(&pool)));
        }
    });
    Ok(pool)
}

/// The concrete pool behind a scope's entry.
fn downcast<P: ScopedPool>(pool: &dyn ScopedPool) -> &P {
    match pool.as_any().downcast_ref::<P>() {
        Some(pool) => pool,
        None => unreachable!("a slot's key only ever maps to the slot's own kind of pool"),
    }
}

thread_local! {
    /// The scopes open on this thread, innermost last.
    static SCOPES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// The pools one open scope owns.
#[derive(Default)]
struct Frame {
    /// Each pool with the address of its function's slot, in the order they were made.
    pools: Vec<(usize, Rc<dyn ScopedPool>)>,
}

impl Frame {
    /// The pool made in this scope for the slot at `key`, if any.
    fn pool(&self, key: usize) -> Option<Rc<dyn ScopedPool>> {
        let (_, pool) = self.pools.iter().find(|(slot, _)| *slot == key)?;
        Some(Rc::clone(pool))
    }
}

/// The guard of one `pool_scope!` block: while it lives, calls of `#[pool]` functions on
/// this thread run on pools it owns; dropping it shuts them down and waits for them.
///
/// It is neither `Send` nor `Sync`: the scope belongs to the thread that opened it.
pub struct Scope {
    /// How many scopes were open on this thread before this one.
    depth: usize,
    /// Keeps the guard on its thread.
    not_send: PhantomData<*const ()>,
}

impl Scope {
    /// Opens a scope on the calling thread.
    pub fn enter() -> Scope {
        let depth = SCOPES.with(|scopes| {
            let mut scopes = scopes.borrow_mut();
            scopes.push(Frame::default());
            scopes.len() - 1
        });
        Scope {
            depth,
            not_send: PhantomData,
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        // Take this scope's frame off the stack first, so that calls made while the pools
        // wind down go to the enclosing scope.
        let frame = SCOPES.with(|scopes| {
            let mut scopes = scopes.borrow_mut();
            scopes.truncate(self.depth + 1);
            scopes.pop().unwrap_or_default()
        });

        // Wait for every task, then let the pools go.
        for (_, pool) in &frame.pools {
            pool.shutdown_and_wait();
        }
    }
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope").field("depth", &self.depth).finish()
    }
}

/// The process-wide pools, waited for when the process exits.
static GLOBAL_POOLS: Mutex<Vec<&'static dyn ScopedPool>> = Mutex::new(Vec::new());

/// Registers the exit handler once.
static EXIT_HANDLER: Once = Once::new();

/// Adds a process-wide pool to those the exit handler waits for.
fn register_global(pool: &'static dyn ScopedPool) {
    GLOBAL_POOLS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(pool);
    EXIT_HANDLER.call_once(|| {
        // SAFETY: `shut_down_global_pools` is a plain function that lives as long as the
        // process and does not unwind: a panic in an `extern "C"` function aborts.
        let status = unsafe { libc::atexit(shut_down_global_pools) };
        debug_assert_eq!(status, 0, "atexit has room for at least 32 handlers");
    });
}

/// Runs at process exit: shuts every process-wide pool down and waits for its tasks.
///
/// A task that runs now may make a new process-wide pool; the loop waits for those too.
extern "C" fn shut_down_global_pools() {
    loop {
        let pools =
            std::mem::take(&mut *GLOBAL_POOLS.lock().unwrap_or_else(PoisonError::into_inner));
        if pools.is_empty() {
            return;
        }
        for pool in pools {
            pool.shutdown_and_wait();
        }
    }
}
