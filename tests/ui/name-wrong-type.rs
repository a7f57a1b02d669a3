use poolscope::pool;

#[pool(thread, name = 5)]
fn task() {}

fn main() {}
