//! The process pool on every scenario shared with the other pool kinds.
//!
//! The process pool's own failure modes (crashing, hanging and killed workers, the
//! initializer, parent death) have their own test files.

mod common;

use poolscope::ProcessPool;

shared_scenarios!(ProcessPool::new);
