use poolscope::pool;

#[pool(thread)]
fn task() {}

fn task_sync() {}

fn main() {}
