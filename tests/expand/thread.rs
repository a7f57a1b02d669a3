use poolscope::{pool, pool_scope};

/// Counts the words of `text` on a thread pool of four.
#[pool(thread, workers = 4, name = "counter")]
pub fn count_words(text: String) -> usize {
    text.split_whitespace().count()
}

fn main() {
    let total: usize = pool_scope! {
        let first = count_words("one two".to_owned());
        let second = count_words("three".to_owned());
        first.result().unwrap() + second.result().unwrap()
    };
    std::process::exit(if total == 3 { 0 } else { 1 });
}
