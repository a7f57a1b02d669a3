//! Snapshots of what `#[pool]` and `pool_scope!` write: each `tests/expand/*.rs` beside
//! its reviewed `*.expanded.rs`.
//!
//! Needs `cargo expand` (see `.ci/install-tools`). Refresh the snapshots after a deliberate
//! change with `MACROTEST=overwrite cargo test --test expand`, and review them.

#[test]
fn expansions_match_their_snapshots() {
    // Without `MACROTEST=overwrite`, a missing snapshot fails the test rather than being
    // written, so that none goes unreviewed; `expand_without_refresh` never writes one.
    if std::env::var_os("MACROTEST").is_some_and(|value| value == "overwrite") {
        macrotest::expand("tests/expand/*.rs");
    } else {
        macrotest::expand_without_refresh("tests/expand/*.rs");
    }
}
