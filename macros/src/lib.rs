//! Procedural macros of poolscope: `#[pool]` and `pool_scope!`.
//!
//! Use them through the `poolscope` crate, which re-exports them. The code they generate
//! names only `::poolscope::...` paths.
//!
//! The attribute works in three stages, one module each: `parse` reads the options as
//! written, `validate` checks them and the function and reports errors at the user's
//! tokens, `expand` writes the code and cannot fail.

#![deny(missing_docs)]

mod expand;
mod generics;
mod message;
mod parse;
mod scope;
mod signature;
mod validate;

use proc_macro::TokenStream;

/// Turns a free function into one whose calls run on a pool and return a handle at once.
///
/// ```
/// use poolscope::{pool, pool_scope};
///
/// /// Squares `n` on a thread of its own pool.
/// #[pool(thread, workers = 2)]
/// fn square(n: u64) -> u64 {
///     n * n
/// }
///
/// let total: u64 = pool_scope! {
///     let handles: Vec<_> = (1..=4).map(square).collect();
///     handles.into_iter().map(|handle| handle.result().unwrap()).sum()
/// };
/// assert_eq!(total, 1 + 4 + 9 + 16);
/// assert_eq!(square_sync(5), 25);
/// ```
///
/// # Kinds and options
///
/// `#[pool(KIND, OPTION = VALUE, ...)]`, the kind first:
///
/// | option | kinds | value | default |
/// |---|---|---|---|
/// | `workers` | both | a `usize` expression | the available parallelism |
/// | `name` | `thread` | the thread-name prefix: a `&str`, a `String`, or another type that derefs to `str` | `"ThreadPool"` |
/// | `timeout` | `process` | a `Duration`: the longest a task may run | none |
/// | `max_tasks_per_child` | `process` | a `usize`: tasks before a worker is replaced | none |
/// | `start` | `process` | `forkserver`, `spawn` or `fork` | `forkserver` |
///
/// Option values are evaluated when the function's pool is made, at its first call in a
/// scope or in the process.
///
/// # What a call does
///
/// The function keeps its name, visibility, documentation and attributes, but returns
/// `::poolscope::Handle<R>` for its return type `R`. A call submits the body with the
/// given arguments and returns at once.
///
/// - Inside [`pool_scope!`] the call runs on a pool that the innermost scope of the
///   calling thread owns, one per function, made at its first call there. Calls from
///   helper functions made on the same thread during the block belong to the scope too.
/// - Outside any scope it runs on a process-wide pool of that function, made at its first
///   call. When `main` returns, the process waits for those pools' tasks before it exits.
///
/// The arguments are packed into one tuple and submitted with a function that unpacks them
/// and runs the body. With `process` they go to `ProcessPool::submit`, and arguments and
/// result must be `Serialize + DeserializeOwned + Send + 'static`; with `thread` they go to
/// `ThreadPool::submit`, and must be `Send + 'static`.
///
/// # The body, synchronously
///
/// The body stays callable on the current thread as a sibling function named
/// `{name}_sync`, with the original signature, visibility and attributes: for
/// `fn square(n: u64) -> u64`, `square_sync(n)` returns the `u64` directly. Tests and code
/// that already runs on a worker use it.
///
/// # What it writes
///
/// ```text
/// #[pool(thread, workers = 2)]
/// fn square(n: u64) -> u64 { n * n }
/// ```
///
/// becomes, in short:
///
/// ```text
/// fn square(n: u64) -> ::poolscope::Handle<u64> {
///     fn __build_pool() -> Result<::poolscope::ThreadPool, ::poolscope::BuildError> {
///         let __workers: usize = 2;
///         ::poolscope::ThreadPool::builder().workers(__workers).build()
///     }
///     static __POOL: ::poolscope::__private::PoolSlot<::poolscope::ThreadPool> = /* ... */;
///     ::poolscope::__private::assert_thread_argument::<u64>();
///     ::poolscope::__private::assert_thread_result::<u64>();
///     fn __call((n,): (u64,)) -> u64 {
///         square_sync(n)
///     }
///     use ::poolscope::__private::{RejectedCall as _, Submit as _};
///     (&&::poolscope::__private::Call::thread(__call)).submit(&__POOL, __build_pool, (n,))
/// }
///
/// /// Runs the body of [`square`] on the calling thread and returns its value.
/// fn square_sync(n: u64) -> u64 { n * n }
/// ```
///
/// # Errors at compile time
///
/// Unknown kinds and options, repeated options, options of the other kind, a literal
/// `workers = 0`, option values that use the function's generic parameters, malformed
/// option lists, `async`, `const`, `unsafe` and `extern` functions, `self` receivers,
/// lifetime parameters, borrowed arguments and results, `impl Trait`, and
/// `#[pool(process)]` functions of more than 16 arguments are reported at the tokens
/// concerned. An option value of the wrong type is reported at the value, with the type
/// the option takes; an argument or result type that cannot reach a worker, at the type.
///
/// When only the options are wrong, the function is still expanded, with the defaults in
/// place of the wrong options, so that its callers type-check as usual and one mistake
/// gives one error. When the kind or the function itself is wrong, the function is emitted
/// as written, so its callers see the original return type.
///
/// # Panics
///
/// The first call panics if its pool cannot be built because of its options, such as
/// `workers` evaluating to 0. A pool whose workers the system cannot start is reported
/// through the handle instead, as `TaskError::WorkerStart`.
///
/// # Limitations
///
/// - `#[pool]` applies to free functions. On an associated function in an `impl` block the
///   build fails with "cannot find function `{name}_sync` in this scope": an attribute
///   does not see the `impl` around its function, so the wrapper names the `_sync`
///   function beside it as a free function. Write the function outside the `impl` block,
///   and call it from there.
/// - Generic functions are supported with type and const parameters; the bounds the
///   body needs, and `Send + 'static` (thread) or the serde traits (process) for the types
///   that cross to the worker, are written by the user.
/// - One pool serves every instance of a generic function, so option values cannot use
///   its generic parameters: `workers = N` for a `const N: usize` is a compile error.
/// - A `#[pool(process)]` function takes at most 16 arguments: they travel to the worker as
///   one tuple, and serde implements its traits for tuples of up to 16 elements. Group more
///   in a struct or a tuple.
/// - A call made by a task running on a worker does not belong to the scope that
///   submitted the task: it runs on that function's process-wide pool.
/// - Process-wide pools are waited for when `main` returns or `std::process::exit` is
///   called, not when the process ends by a signal or `_exit`. A worker process of a
///   `ProcessPool` ends with `_exit`, so process-wide pools its tasks make are not waited
///   for.
#[proc_macro_attribute]
pub fn pool(args: TokenStream, item: TokenStream) -> TokenStream {
    pool_attribute(args.into(), item.into()).into()
}

/// Runs the statements of its block with a scope of pools of its own, and shuts those
/// pools down, waiting for every task, when the block is left in any way.
///
/// The block's value is the macro's value. `return`, `?` and `break` inside it act on the
/// enclosing function or loop, as in any block, and still shut the pools down first; so
/// does a panic. Scopes nest: an inner scope owns its own pools.
///
/// ```
/// use poolscope::{pool, pool_scope};
///
/// #[pool(thread, workers = 1)]
/// fn slow_double(n: u32) -> u32 {
///     std::thread::sleep(std::time::Duration::from_millis(20));
///     n * 2
/// }
///
/// let handle = pool_scope! {
///     slow_double(21)
/// };
/// // The scope waited for the task before it ended.
/// assert!(handle.done());
/// assert_eq!(handle.result(), Ok(42));
/// ```
#[proc_macro]
pub fn pool_scope(statements: TokenStream) -> TokenStream {
    scope::pool_scope(statements.into()).into()
}

/// Parses, checks and expands `#[pool(args)] item`.
///
/// The errors come first, then the expansion, or `item` unchanged when it cannot be
/// expanded: see `validate` for which mistakes still let it be.
fn pool_attribute(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let error = syn::Error::new(error.span(), message::not_a_function());
            let mut output = error.to_compile_error();
            output.extend(item);
            return output;
        }
    };
    let args = parse::Args::parse(args, proc_macro2::Span::call_site());
    let checked = validate::check(args, &function);
    let mut output = checked
        .errors
        .map(|errors| errors.to_compile_error())
        .unwrap_or_default();
    match checked.pool {
        Some(pool) => output.extend(expand::pool_function(&pool, function)),
        None => output.extend(item),
    }
    output
}
