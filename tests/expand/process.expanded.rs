use std::time::Duration;
use poolscope::pool;
/// Checks one input in a worker process, giving up after ten seconds.
fn check(path: String, __arg1: (u64, u64)) -> ::poolscope::Handle<Result<u64, String>> {
    fn __build_pool() -> ::core::result::Result<
        ::poolscope::ProcessPool,
        ::poolscope::BuildError,
    > {
        let __workers: usize = 4;
        let __timeout: ::core::time::Duration = Duration::from_secs(10);
        ::poolscope::ProcessPool::builder()
            .workers(__workers)
            .start_method(::poolscope::StartMethod::Spawn)
            .task_timeout(__timeout)
            .build()
    }
    static __POOL: ::poolscope::__private::PoolSlot<::poolscope::ProcessPool> = ::poolscope::__private::PoolSlot::new(
        "check",
    );
    ::poolscope::__private::assert_process_argument::<String>();
    ::poolscope::__private::assert_process_argument::<(u64, u64)>();
    ::poolscope::__private::assert_process_result::<Result<u64, String>>();
    fn __call((path, __arg1): (String, (u64, u64))) -> Result<u64, String> {
        check_sync(path, __arg1)
    }
    #[allow(unused_imports)]
    use ::poolscope::__private::{RejectedCall as _, Submit as _};
    (&&::poolscope::__private::Call::process(__call))
        .submit(&__POOL, __build_pool, (path, __arg1))
}
/// Runs the body of [`check`] on the calling thread and returns its value.
fn check_sync(path: String, (offset, length): (u64, u64)) -> Result<u64, String> {
    if path.is_empty() {
        return Err("no path".to_owned());
    }
    Ok(offset + length)
}
fn main() {
    let handle = check("input.bin".to_owned(), (0, 512));
    let _ = handle.result();
}
