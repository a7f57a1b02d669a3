use poolscope::pool;

#[pool(process)]
fn total(parts: Vec<&[u8]>) -> usize {
    parts.iter().map(|part| part.len()).sum()
}

fn main() {}
