use poolscope::pool;

#[pool(thread)]
async fn task() {}

fn main() {}
