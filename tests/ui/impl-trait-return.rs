use poolscope::pool;

#[pool(thread)]
fn numbers() -> impl Iterator<Item = u32> {
    0..10
}

fn main() {}
