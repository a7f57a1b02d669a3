use poolscope::pool;

#[pool(thread)]
unsafe fn task() {}

fn main() {}
