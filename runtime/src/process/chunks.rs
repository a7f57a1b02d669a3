//! The iterator of [`ProcessPool::map_chunked`].

use std::collections::VecDeque;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::TaskError;
use crate::handle::{Handle, Outcome};
use crate::process::ProcessPool;
use crate::process::call::Call;
use crate::process::payload::Payload;

/// What a worker returns for a chunk: each item's result, or its panic message.
type ChunkResult<R> = Vec<Result<R, String>>;

/// A submitted chunk and how many items it holds.
type Chunk<R> = (Handle<ChunkResult<R>>, usize);

/// The outcomes of [`ProcessPool::map_chunked`], in input order.
///
/// A bounded number of chunks is in flight; the input is read only as results are
/// consumed. Dropping the iterator cancels the chunks not yet handed to a worker.
pub struct ChunkedMap<'a, R> {
    /// Takes the next chunk of input and submits it; `None` at the end of input.
    feed: Box<dyn FnMut() -> Option<Chunk<R>> + 'a>,
    /// Submitted chunks and their sizes, oldest first.
    in_flight: VecDeque<Chunk<R>>,
    /// How many chunks may be in flight.
    window: usize,
    /// Outcomes of the oldest chunk, not yet yielded.
    ready: std::vec::IntoIter<Outcome<R>>,
    /// Whether the input is exhausted.
    exhausted: bool,
}

impl<'a, R> ChunkedMap<'a, R>
where
    R: Serialize + DeserializeOwned + Send + 'static,
{
    /// Maps `function` over `items` on `pool`, `chunk_size` items per task.
    pub(crate) fn new<A, I>(
        pool: &'a ProcessPool,
        function: fn(A) -> R,
        mut items: I,
        chunk_size: usize,
    ) -> Self
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        I: Iterator<Item = A> + 'a,
    {
        let call = Call::chunk_of(function);
        let feed = move || {
            let chunk: Vec<A> = items.by_ref().take(chunk_size).collect();
            if chunk.is_empty() {
                return None;
            }
            let size = chunk.len();
            let encoded = call.clone().and_then(|call| {
                let payload = Payload::encode(&chunk).map_err(|e| super::encode_error(&e))?;
                Ok((call, payload))
            });
            let handle = match encoded {
                Ok((call, payload)) => pool.submit_encoded(call, payload),
                Err(error) => Handle::failed(error),
            };
            Some((handle, size))
        };
        ChunkedMap {
            feed: Box::new(feed),
            in_flight: VecDeque::new(),
            window: pool.max_workers() * 4,
            ready: Vec::new().into_iter(),
            exhausted: false,
        }
    }
}

impl<R> ChunkedMap<'_, R> {
    /// Submits chunks until the window is full or the input ends.
    fn fill(&mut self) {
        while !self.exhausted && self.in_flight.len() < self.window {
            match (self.feed)() {
                Some(chunk) => self.in_flight.push_back(chunk),
                None => self.exhausted = true,
            }
        }
    }
}

/// The outcomes of a chunk's items; a chunk-wide error repeats for each item.
fn unpack<R>(outcome: Outcome<ChunkResult<R>>, size: usize) -> Vec<Outcome<R>> {
    match outcome {
        Ok(results) => results
            .into_iter()
            .map(|result| result.map_err(TaskError::Panicked))
            .collect(),
        Err(error) => (0..size).map(|_| Err(error.clone())).collect(),
    }
}

impl<R> Iterator for ChunkedMap<'_, R> {
    type Item = Outcome<R>;

    fn next(&mut self) -> Option<Outcome<R>> {
        loop {
            if let Some(outcome) = self.ready.next() {
                return Some(outcome);
            }
            self.fill();
            let (handle, size) = self.in_flight.pop_front()?;
            self.ready = unpack(handle.result(), size).into_iter();
        }
    }
}

impl<R> Drop for ChunkedMap<'_, R> {
    fn drop(&mut self) {
        for (handle, _) in &self.in_flight {
            handle.cancel();
        }
    }
}

impl<R> std::fmt::Debug for ChunkedMap<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkedMap")
            .field("in_flight", &self.in_flight.len())
            .field("window", &self.window)
            .finish()
    }
}
