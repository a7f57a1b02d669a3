//! The runtime of poolscope: thread and process pools in the manner of Python's
//! `concurrent.futures`.
//!
//! Submitting work to a pool returns a [`Handle`] at once. Handles are waited on one by one
//! ([`Handle::result`]), in groups ([`wait()`]), in completion order ([`as_completed`]), or
//! awaited as [`std::future::Future`]s. Every pool kind reports failures through the one
//! [`TaskError`].
//!
//! Users normally depend on the `poolscope` crate, which re-exports this one together with
//! the `#[pool]` and `pool_scope!` macros.

#![deny(missing_docs)]

mod bounds;
mod bytes;
#[cfg(test)]
mod counting_alloc;
mod error;
mod gate;
mod handle;
mod map;
mod process;
mod scope;
mod state;
mod thread;
mod wait;

pub use bytes::Bytes;
pub use error::{BuildError, ExitCause, TaskError};
pub use handle::{Handle, Outcome};
pub use map::Map;
pub use process::{ChunkedMap, ProcessPool, ProcessPoolBuilder, StartMethod};
pub use thread::{Builder as ThreadPoolBuilder, ThreadPool};
pub use wait::{AsCompleted, WaitFor, Waited, as_completed, wait};

/// What the code that `#[pool]` and `pool_scope!` generate calls. Not a public API: it may
/// change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::bounds::{
        Call, ProcessArgument, ProcessResult, RejectedCall, Submit, ThreadArgument, ThreadResult,
        assert_process_argument, assert_process_result, assert_thread_argument,
        assert_thread_result,
    };
    pub use crate::scope::{BuildPool, PoolSlot, Scope, ScopedPool};
    pub use serde;
}

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod __fuzz {
    /// Reads every frame of `bytes` as a worker's stream, returning the frames' kinds and
    /// bodies or the first error.
    ///
    /// # Errors
    ///
    /// What the frame reader reports for malformed, truncated or oversized frames.
    pub fn read_frames(bytes: &[u8]) -> std::io::Result<Vec<(u8, Vec<u8>)>> {
        crate::process::read_frames(bytes)
    }

    /// Reads every task frame of `bytes` as a worker does, without running any, returning
    /// each task's two code offsets and encoded argument or the first error.
    ///
    /// # Errors
    ///
    /// What the frame reader reports, and a frame that is not a well-formed task.
    pub fn read_tasks(bytes: &[u8]) -> std::io::Result<Vec<(u64, u64, Vec<u8>)>> {
        let tasks = crate::process::read_tasks(bytes)?;
        let tasks = tasks.into_iter();
        Ok(tasks
            .map(|(call, argument)| (call.trampoline, call.function, argument))
            .collect())
    }

    /// The outcome the pool makes of a worker's reply frame of `kind` with `body`.
    ///
    /// # Errors
    ///
    /// The task's error the reply stands for, or a codec error for bytes that are no reply.
    pub fn decode_reply<R: serde::de::DeserializeOwned>(
        kind: u8,
        body: &[u8],
    ) -> Result<R, crate::TaskError> {
        crate::process::decode_reply(kind, body)
    }
}
