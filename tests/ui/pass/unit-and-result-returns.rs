use std::sync::atomic::{AtomicU32, Ordering};

use poolscope::{Handle, pool, pool_scope};

static CALLS: AtomicU32 = AtomicU32::new(0);

#[pool(thread)]
fn record() {
    CALLS.fetch_add(1, Ordering::SeqCst);
}

#[pool(process, workers = 1)]
fn parse(text: String) -> Result<u32, String> {
    text.trim().parse().map_err(|_| format!("not a number: {text}"))
}

fn main() {
    let unit: Handle<()> = pool_scope! { record() };
    assert_eq!(unit.result(), Ok(()));
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);

    let (good, bad) = pool_scope! { (parse(" 42 ".to_owned()), parse("x".to_owned())) };
    assert_eq!(good.result(), Ok(Ok(42)));
    assert_eq!(bad.result(), Ok(Err("not a number: x".to_owned())));
}
