use poolscope::pool;

#[pool(thread)]
fn task(#[allow(unused_variables)] count: u32) {}

fn main() {}
