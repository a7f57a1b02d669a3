use poolscope::pool;

#[pool(process, start = forkk)]
fn task() {}

fn main() {}
