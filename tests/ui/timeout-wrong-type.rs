use poolscope::pool;

#[pool(process, timeout = 5)]
fn task() {}

fn main() {}
