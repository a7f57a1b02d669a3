use poolscope::pool;

#[pool(thread, workers = (0))]
fn task() {}

fn main() {}
