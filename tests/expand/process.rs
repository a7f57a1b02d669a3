use std::time::Duration;

use poolscope::pool;

/// Checks one input in a worker process, giving up after ten seconds.
#[pool(process, workers = 4, timeout = Duration::from_secs(10), start = spawn)]
fn check(path: String, (offset, length): (u64, u64)) -> Result<u64, String> {
    if path.is_empty() {
        return Err("no path".to_owned());
    }
    Ok(offset + length)
}

fn main() {
    let handle = check("input.bin".to_owned(), (0, 512));
    let _ = handle.result();
}
