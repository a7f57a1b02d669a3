use poolscope::pool;

#[pool(thread)]
struct Task;

fn main() {}
