//! Snapshots of what `#[pool]` and `pool_scope!` write: each `tests/expand/*.rs` beside
//! its reviewed `*.expanded.rs`.
//!
//! Needs `cargo expand` (see `.ci/install-tools`). Refresh the snapshots after a deliberate
//! change with `MACROTEST=overwrite cargo test --test expand`.

#[test]
fn expansions_match_their_snapshots() {
    macrotest::expand_without_refresh("tests/expand/*.rs");
}
