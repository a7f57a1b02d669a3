use poolscope::pool;

struct Report {
    lines: usize,
}

#[pool(process)]
fn count(text: String) -> Report {
    Report { lines: text.lines().count() }
}

fn main() {}
