//! Procedural macros of poolscope: `#[pool]` and `pool_scope!`.
//!
//! Use them through the `poolscope` crate, which re-exports them.
