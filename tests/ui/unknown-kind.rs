use poolscope::pool;

#[pool(threads)]
fn task() {}

fn main() {}
