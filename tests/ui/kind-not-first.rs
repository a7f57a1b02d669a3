use poolscope::pool;

#[pool(workers = 4, thread)]
fn task() {}

fn main() {}
