use poolscope::pool;

#[pool(process, initializer = setup)]
fn task() {}

fn main() {}
