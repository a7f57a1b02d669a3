use poolscope::pool;

#[pool(thread, worker = 4)]
fn task() {}

fn main() {}
