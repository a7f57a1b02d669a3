use poolscope::pool;

#[pool(thread, workers = 4, workers = 8)]
fn task() {}

fn main() {}
