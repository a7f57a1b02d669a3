use std::rc::Rc;

use poolscope::pool;

#[pool(thread)]
fn shared() -> Rc<u8> {
    Rc::new(7)
}

fn main() {}
