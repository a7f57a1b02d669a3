use poolscope::pool;

#[pool(thread)]
fn label<'a>() -> &'a str {
    "label"
}

fn main() {}
