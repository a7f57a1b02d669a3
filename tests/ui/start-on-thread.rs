use poolscope::pool;

#[pool(thread, start = spawn)]
fn task() {}

fn main() {}
