//! Feeds arbitrary bytes to a worker's reading of its task stream: it must return tasks or
//! an error, never panic, and never allocate for a length it has not received.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = poolscope_runtime::__fuzz::read_tasks(bytes);
});
