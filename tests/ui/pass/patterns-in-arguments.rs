use poolscope::{pool, pool_scope};

struct Point {
    x: i64,
    y: i64,
}

#[pool(thread, workers = 2)]
fn manhattan((ax, ay): (i64, i64), Point { x, y }: Point, _: u8, mut scale: i64) -> i64 {
    scale += 0;
    ((ax - x).abs() + (ay - y).abs()) * scale
}

fn main() {
    let distance = pool_scope! { manhattan((0, 0), Point { x: 3, y: -4 }, 0, 2).result() };
    assert_eq!(distance, Ok(14));
    assert_eq!(manhattan_sync((1, 1), Point { x: 1, y: 1 }, 0, 1), 0);
}
