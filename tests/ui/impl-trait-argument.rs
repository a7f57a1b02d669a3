use poolscope::pool;

#[pool(thread)]
fn show(value: impl std::fmt::Display + Send + 'static) -> String {
    value.to_string()
}

fn main() {}
