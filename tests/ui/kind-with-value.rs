use poolscope::pool;

#[pool(thread = 1)]
fn task() {}

fn main() {}
