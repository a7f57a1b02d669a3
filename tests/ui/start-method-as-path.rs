use poolscope::pool;

#[pool(process, start = poolscope::StartMethod::Fork)]
fn task() {}

fn main() {}
