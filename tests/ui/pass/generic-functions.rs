use std::iter::Sum;

use poolscope::{pool, pool_scope};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[pool(thread, workers = 2)]
fn largest<T: PartialOrd + Copy + Send + 'static, const N: usize>(items: [T; N]) -> Option<T> {
    items.into_iter().reduce(|a, b| if b > a { b } else { a })
}

#[pool(process, workers = 1)]
fn total<T>(items: Vec<T>) -> T
where
    T: Sum + Serialize + DeserializeOwned + Send + 'static,
{
    items.into_iter().sum()
}

fn main() {
    let (ints, floats) = pool_scope! {
        (largest([3, 9, 2]).result(), largest([0.5, -1.0]).result())
    };
    assert_eq!(ints, Ok(Some(9)));
    assert_eq!(floats, Ok(Some(0.5)));
    assert_eq!(largest_sync::<u8, 0>([]), None);

    let (ints, floats) = pool_scope! {
        (total(vec![1_u64, 2, 3]).result(), total(vec![0.5_f64, 0.25]).result())
    };
    assert_eq!(ints, Ok(6));
    assert_eq!(floats, Ok(0.75));
}
