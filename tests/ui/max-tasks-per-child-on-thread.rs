use poolscope::pool;

#[pool(thread, max_tasks_per_child = 10)]
fn task() {}

fn main() {}
