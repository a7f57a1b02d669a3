use std::rc::Rc;

use poolscope::pool;

#[pool(process)]
fn length(text: Rc<String>) -> usize {
    text.len()
}

fn main() {}
