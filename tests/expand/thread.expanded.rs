use poolscope::{pool, pool_scope};
/// Counts the words of `text` on a thread pool of four.
pub fn count_words(text: String) -> ::poolscope::Handle<usize> {
    fn __build_pool() -> ::core::result::Result<
        ::poolscope::ThreadPool,
        ::poolscope::BuildError,
    > {
        let __workers: usize = 4;
        let __name: &str = &"counter";
        ::poolscope::ThreadPool::builder()
            .workers(__workers)
            .thread_name_prefix(__name)
            .build()
    }
    static __POOL: ::poolscope::__private::PoolSlot<::poolscope::ThreadPool> = ::poolscope::__private::PoolSlot::new(
        "count_words",
    );
    ::poolscope::__private::assert_thread_argument::<String>();
    ::poolscope::__private::assert_thread_result::<usize>();
    fn __call((text,): (String,)) -> usize {
        count_words_sync(text)
    }
    #[allow(unused_imports)]
    use ::poolscope::__private::{RejectedCall as _, Submit as _};
    (&&::poolscope::__private::Call::thread(__call))
        .submit(&__POOL, __build_pool, (text,))
}
/// Runs the body of [`count_words`] on the calling thread and returns its value.
pub fn count_words_sync(text: String) -> usize {
    text.split_whitespace().count()
}
fn main() {
    let total: usize = {
        let __scope = ::poolscope::__private::Scope::enter();
        {
            let first = count_words("one two".to_owned());
            let second = count_words("three".to_owned());
            first.result().unwrap() + second.result().unwrap()
        }
    };
    std::process::exit(if total == 3 { 0 } else { 1 });
}
