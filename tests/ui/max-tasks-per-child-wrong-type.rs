use poolscope::pool;

#[pool(process, max_tasks_per_child = "3")]
fn task() {}

fn main() {}
