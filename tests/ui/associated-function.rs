use poolscope::pool;

struct Parser;

impl Parser {
    // `#[pool]` cannot see the `impl` block around it: the wrapper calls `parse_sync` by its
    // bare name, which does not find an associated function.
    #[pool(thread)]
    fn parse(text: String) -> usize {
        text.len()
    }
}

fn main() {}
