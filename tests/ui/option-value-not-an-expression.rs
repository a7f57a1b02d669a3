use poolscope::pool;

#[pool(thread, workers = 1 +)]
fn task() {}

fn main() {}
