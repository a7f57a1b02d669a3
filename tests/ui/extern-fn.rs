use poolscope::pool;

#[pool(thread)]
extern "C" fn task() {}

fn main() {}
