use std::rc::Rc;

use poolscope::pool;

#[pool(thread)]
fn length(text: Rc<String>) -> usize {
    text.len()
}

fn main() {}
