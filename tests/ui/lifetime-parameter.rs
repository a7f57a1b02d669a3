use poolscope::pool;

#[pool(thread)]
fn first<'a>(words: Vec<String>) -> usize {
    words.len()
}

fn main() {}
