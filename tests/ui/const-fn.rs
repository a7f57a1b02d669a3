use poolscope::pool;

#[pool(thread)]
const fn task() {}

fn main() {}
