use poolscope::pool;

#[pool(thread, workers = N)]
fn total<const N: usize>(items: [u64; N]) -> u64 {
    items.iter().sum()
}

fn main() {}
