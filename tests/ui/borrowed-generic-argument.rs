use poolscope::pool;

#[pool(thread)]
fn describe<T: std::fmt::Debug>(value: &T) -> String {
    format!("{value:?}")
}

fn main() {}
