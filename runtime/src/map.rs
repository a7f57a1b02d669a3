//! The ordered, bounded-in-flight iterator behind every pool's `map`.

use std::collections::VecDeque;

use crate::handle::{Handle, Outcome};

/// The results of a pool's `map`, in input order.
///
/// At most a fixed window of tasks is in flight: the next input item is taken and submitted
/// only as earlier results are consumed, so an endless input works. Dropping the iterator
/// cancels the submitted tasks that have not started.
pub struct Map<'a, T> {
    /// Submitted tasks, oldest first.
    in_flight: VecDeque<Handle<T>>,
    /// How many tasks may be in flight at once.
    window: usize,
    /// Takes the next input item and submits it; `None` when the input is exhausted.
    feed: Box<dyn FnMut() -> Option<Handle<T>> + 'a>,
    /// Whether `feed` returned `None`.
    exhausted: bool,
}

impl<'a, T> Map<'a, T> {
    /// An iterator that submits through `feed`, keeping up to `window` tasks in flight.
    pub(crate) fn new(window: usize, feed: impl FnMut() -> Option<Handle<T>> + 'a) -> Self {
        Map {
            in_flight: VecDeque::with_capacity(window),
            window: window.max(1),
            feed: Box::new(feed),
            exhausted: false,
        }
    }

    /// Submits input items until the window is full or the input ends.
    fn fill(&mut self) {
        while !self.exhausted && self.in_flight.len() < self.window {
            match (self.feed)() {
                Some(handle) => self.in_flight.push_back(handle),
                None => self.exhausted = true,
            }
        }
    }
}

impl<T> Iterator for Map<'_, T> {
    type Item = Outcome<T>;

    fn next(&mut self) -> Option<Outcome<T>> {
        self.fill();
        let oldest = self.in_flight.pop_front()?;
        Some(oldest.result())
    }
}

impl<T> Drop for Map<'_, T> {
    fn drop(&mut self) {
        for handle in &self.in_flight {
            handle.cancel();
        }
    }
}

impl<T> std::fmt::Debug for Map<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Map")
            .field("in_flight", &self.in_flight.len())
            .field("window", &self.window)
            .field("exhausted", &self.exhausted)
            .finish()
    }
}
