use poolscope::pool;

#[pool(thread)]
fn greet(name: &str) -> String {
    format!("hello {name}")
}

fn main() {}
