use poolscope::pool;

#[pool(process, workers = 1)]
fn first<T: Send + 'static>(items: Vec<T>) -> usize {
    items.len()
}

fn main() {
    let _ = first(vec![1_u8]);
}
