use poolscope::pool;

#[pool(process, name = "worker")]
fn task() {}

fn main() {}
