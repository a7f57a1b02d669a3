use poolscope::pool;

struct Counter(u32);

impl Counter {
    #[pool(thread)]
    fn bump(self) -> u32 {
        self.0 + 1
    }
}

fn main() {}
