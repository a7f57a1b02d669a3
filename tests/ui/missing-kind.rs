use poolscope::pool;

#[pool]
fn task() {}

fn main() {}
