//! Settles arbitrary replies as the pool does, the first byte the reply's kind and the rest
//! its body, for typical result types: a value or a task error, never a panic or an
//! allocation out of proportion to the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolscope_runtime::__fuzz::decode_reply;

fuzz_target!(|reply: &[u8]| {
    let Some((&kind, body)) = reply.split_first() else {
        return;
    };
    let _ = decode_reply::<Vec<u8>>(kind, body);
    let _ = decode_reply::<(u64, String, Vec<u32>)>(kind, body);
    let _ = decode_reply::<Vec<Result<Vec<u64>, String>>>(kind, body);
});
