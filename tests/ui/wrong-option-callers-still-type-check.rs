use poolscope::pool;

#[pool(thread, worker = 2)]
fn double(n: u32) -> u32 {
    n * 2
}

fn main() {
    assert_eq!(double(2).result(), Ok(4));
}
