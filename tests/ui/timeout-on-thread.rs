use poolscope::pool;

#[pool(thread, timeout = std::time::Duration::from_secs(1))]
fn task() {}

fn main() {}
