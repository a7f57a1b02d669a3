use poolscope::pool;

#[pool(thread, workers = )]
fn task() {}

fn main() {}
