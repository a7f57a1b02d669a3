//! The entrance of a pool's queue, which shutdown closes.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The bit that says the entrance is closed; the rest counts submits under way.
const CLOSED: usize = 1;
/// What one submit under way adds.
const ENTERED: usize = 2;

/// The entrance of a pool's queue.
///
/// Shutdown must queue its stop messages after every task, or a task queued behind them
/// would never run. A submit holds the gate open while it queues; closing waits for the
/// submits under way, after which nothing more can enter.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    /// [`CLOSED`], plus [`ENTERED`] for each submit under way.
    state: AtomicUsize,
}

impl Gate {
    /// Runs `queue` on `item` unless the gate is closed, in which case it returns `item`.
    pub(crate) fn pass<T>(&self, item: T, queue: impl FnOnce(T)) -> Result<(), T> {
        if self.state.fetch_add(ENTERED, Ordering::Acquire) & CLOSED != 0 {
            self.state.fetch_sub(ENTERED, Ordering::Release);
            return Err(item);
        }
        queue(item);
        self.state.fetch_sub(ENTERED, Ordering::Release);
        Ok(())
    }

    /// Closes the gate and waits for the submits under way; `true` the first time.
    pub(crate) fn close(&self) -> bool {
        let first = self.state.fetch_or(CLOSED, Ordering::AcqRel) & CLOSED == 0;
        while self.state.load(Ordering::Acquire) != CLOSED {
            std::thread::yield_now();
        }
        first
    }

    /// Whether the gate is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Relaxed) & CLOSED != 0
    }
}
