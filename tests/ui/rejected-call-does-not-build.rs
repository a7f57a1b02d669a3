// The submission a `#[pool(process)]` wrapper falls back to when its types cannot cross to a
// worker must never be built: here it is reached with no check failing beside it, through
// the hidden API the macro uses, and the build fails instead of the call panicking.
use poolscope::__private::{ProcessCall, ProcessCallRejected as _};
use poolscope::ProcessPool;

type Seventeen = (u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8);

fn first(arguments: Seventeen) -> u8 {
    arguments.0
}

fn main() {
    let pool = ProcessPool::new(1);
    let arguments = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    let _ = (&&ProcessCall::new(first)).submit(&pool, arguments);
}
