use poolscope::pool;

#[pool(thread workers = 4)]
fn task() {}

fn main() {}
