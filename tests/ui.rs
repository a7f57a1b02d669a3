//! Compile-time behaviour of `#[pool]`: each misuse in `tests/ui/` gives the error in its
//! `.stderr`, and each program in `tests/ui/pass/` builds and runs.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
