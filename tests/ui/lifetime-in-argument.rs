use std::borrow::Cow;

use poolscope::pool;

#[pool(thread)]
fn shout(text: Cow<'_, str>) -> String {
    text.to_uppercase()
}

fn main() {}
