// The submission a `#[pool]` wrapper falls back to when its types cannot cross to a worker
// must never be built: here it is reached with no check failing beside it, through the
// hidden API the macro uses, and the build fails instead of the call panicking.
use poolscope::__private::{Call, PoolSlot, RejectedCall as _};
use poolscope::{BuildError, ProcessPool};

type Seventeen = (u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8);

static SLOT: PoolSlot<ProcessPool> = PoolSlot::new("first");

fn build() -> Result<ProcessPool, BuildError> {
    ProcessPool::builder().workers(1).build()
}

fn first(arguments: Seventeen) -> u8 {
    arguments.0
}

fn main() {
    let arguments = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    let _ = (&&Call::process(first)).submit(&SLOT, build, arguments);
}
