//! Thread and process pools in the manner of Python's `concurrent.futures`.
//!
//! ```
//! use poolscope::ThreadPool;
//!
//! let pool = ThreadPool::new(2);
//! let answer = pool.submit(|| 6 * 7);
//! assert_eq!(answer.result(), Ok(42));
//! ```

#![deny(missing_docs)]

pub use poolscope_macros::{pool, pool_scope};
pub use poolscope_runtime::*;
