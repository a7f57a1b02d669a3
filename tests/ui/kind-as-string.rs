use poolscope::pool;

#[pool("thread")]
fn task() {}

fn main() {}
