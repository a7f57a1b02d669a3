use poolscope::pool;

#[pool(process, max_tasks_per_child = 0)]
fn task() {}

fn main() {}
