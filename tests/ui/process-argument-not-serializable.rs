use poolscope::pool;

struct Config {
    retries: u32,
}

#[pool(process)]
fn run(name: String, config: Config) -> u32 {
    name.len() as u32 + config.retries
}

fn main() {}
