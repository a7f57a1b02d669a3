//! Decodes arbitrary reply bodies as typical task results: a value or an error, never a
//! panic or an allocation out of proportion to the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = postcard::from_bytes::<Vec<u8>>(body);
    let _ = postcard::from_bytes::<(u64, String, Vec<u32>)>(body);
    let _ = postcard::from_bytes::<Vec<Result<Vec<u64>, String>>>(body);
});
