use poolscope::{pool, pool_scope};

#[pool(thread, workers = 2)]
fn largest<T: PartialOrd + Copy + Send + 'static, const N: usize>(items: [T; N]) -> Option<T> {
    items.into_iter().reduce(|a, b| if b > a { b } else { a })
}

fn main() {
    let (ints, floats) = pool_scope! {
        (largest([3, 9, 2]).result(), largest([0.5, -1.0]).result())
    };
    assert_eq!(ints, Ok(Some(9)));
    assert_eq!(floats, Ok(Some(0.5)));
    assert_eq!(largest_sync::<u8, 0>([]), None);
}
