//! The checks `#[pool]` places on the argument and result types of the functions it
//! wraps, so that a type that cannot reach a worker is reported at the user's own type.
//!
//! Each check is a trait with a blanket implementation for the types that qualify and a
//! `#[diagnostic::on_unimplemented]` message; the generated code calls the matching
//! `assert_*` function with the user's type, spanned at that type.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::scope::{BuildPool, PoolSlot};
use crate::{Handle, ProcessPool, ThreadPool};

/// A type a `#[pool(thread)]` function can take as an argument.
#[diagnostic::on_unimplemented(
    message = "argument type `{Self}` cannot be sent to a `#[pool(thread)]` worker",
    label = "the arguments of a `#[pool(thread)]` function must be `Send + 'static`"
)]
pub trait ThreadArgument: Send + 'static {}

impl<T: Send + 'static> ThreadArgument for T {}

/// A type a `#[pool(thread)]` function can return.
#[diagnostic::on_unimplemented(
    message = "return type `{Self}` cannot be sent back from a `#[pool(thread)]` worker",
    label = "the result of a `#[pool(thread)]` function must be `Send + 'static`"
)]
pub trait ThreadResult: Send + 'static {}

impl<T: Send + 'static> ThreadResult for T {}

/// A type a `#[pool(process)]` function can take as an argument.
///
/// Its implementation is marked `do_not_recommend`, so that a type missing several of the
/// traits gives one error, this trait's, rather than one per missing trait, each naming
/// the crate that defines serde's traits rather than `serde`.
#[diagnostic::on_unimplemented(
    message = "argument type `{Self}` cannot be sent to a `#[pool(process)]` worker",
    label = "the arguments of a `#[pool(process)]` function must implement `serde::Serialize` and `serde::Deserialize` and be `Send + 'static`",
    note = "if a type parameter of the function is part of `{Self}`, bound it with `serde::Serialize + serde::de::DeserializeOwned + Send + 'static`"
)]
pub trait ProcessArgument: Serialize + DeserializeOwned + Send + 'static {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned + Send + 'static> ProcessArgument for T {}

/// A type a `#[pool(process)]` function can return; reported as one error like
/// [`ProcessArgument`].
#[diagnostic::on_unimplemented(
    message = "return type `{Self}` cannot be sent back from a `#[pool(process)]` worker",
    label = "the result of a `#[pool(process)]` function must implement `serde::Serialize` and `serde::Deserialize` and be `Send + 'static`",
    note = "if a type parameter of the function is part of `{Self}`, bound it with `serde::Serialize + serde::de::DeserializeOwned + Send + 'static`"
)]
pub trait ProcessResult: Serialize + DeserializeOwned + Send + 'static {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned + Send + 'static> ProcessResult for T {}

/// Fails to compile unless `T` can be an argument of a `#[pool(thread)]` function.
pub fn assert_thread_argument<T: ThreadArgument>() {}

/// Fails to compile unless `T` can be the result of a `#[pool(thread)]` function.
pub fn assert_thread_result<T: ThreadResult>() {}

/// Fails to compile unless `T` can be an argument of a `#[pool(process)]` function.
pub fn assert_process_argument<T: ProcessArgument>() {}

/// Fails to compile unless `T` can be the result of a `#[pool(process)]` function.
pub fn assert_process_result<T: ProcessResult>() {}

/// The call a `#[pool]` wrapper submits to a pool of kind `P`: a function taking the
/// arguments as one tuple `A` and returning `R`, with a way to submit it that compiles
/// whether or not its types qualify.
///
/// When they do, `(&&call).submit(slot, build, arguments)` resolves to [`Submit`] and
/// submits for real. When they do not, the `assert_*` checks above have already reported
/// the mistake at the user's type; the call then resolves to [`RejectedCall`] instead of
/// failing a second time at the `#[pool]` attribute, so that one mistake gives one error.
pub struct Call<P, A, R> {
    /// The function that unpacks the arguments and runs the body.
    function: fn(A) -> R,
    /// The kind of pool the call is for.
    kind: PhantomData<fn() -> P>,
}

impl<A, R> Call<ThreadPool, A, R> {
    /// The call of `function` on a thread pool.
    pub fn thread(function: fn(A) -> R) -> Self {
        Call {
            function,
            kind: PhantomData,
        }
    }
}

impl<A, R> Call<ProcessPool, A, R> {
    /// The call of `function` on a process pool.
    pub fn process(function: fn(A) -> R) -> Self {
        Call {
            function,
            kind: PhantomData,
        }
    }
}

/// Submits a call whose arguments and result can cross to a worker of its pool.
pub trait Submit<P, A, R> {
    /// Submits the call with `arguments` to the pool `slot` gives this call, which `build`
    /// makes if it does not exist yet.
    fn submit(&self, slot: &'static PoolSlot<P>, build: BuildPool<P>, arguments: A) -> Handle<R>;
}

impl<A: ThreadArgument, R: ThreadResult> Submit<ThreadPool, A, R> for &Call<ThreadPool, A, R> {
    fn submit(
        &self,
        slot: &'static PoolSlot<ThreadPool>,
        build: BuildPool<ThreadPool>,
        arguments: A,
    ) -> Handle<R> {
        let function = self.function;
        slot.submit(build, move |pool| pool.submit(move || function(arguments)))
    }
}

impl<A: ProcessArgument, R: ProcessResult> Submit<ProcessPool, A, R> for &Call<ProcessPool, A, R> {
    fn submit(
        &self,
        slot: &'static PoolSlot<ProcessPool>,
        build: BuildPool<ProcessPool>,
        arguments: A,
    ) -> Handle<R> {
        let function = self.function;
        slot.submit(build, move |pool| pool.submit(function, arguments))
    }
}

/// What a call resolves to when its arguments or result cannot cross to a worker.
///
/// Such a call is in a program that does not compile: an `assert_*` check fails beside it,
/// and type checking stops the build before any code is generated. Should a call ever
/// resolve here with every check passing, generating its code evaluates
/// `Unbuildable::CALL`, which fails the build: this is never run.
pub trait RejectedCall<P, A, R> {
    /// Never runs: see the trait's documentation.
    fn submit(&self, slot: &'static PoolSlot<P>, build: BuildPool<P>, arguments: A) -> Handle<R>;
}

impl<P, A, R> RejectedCall<P, A, R> for Call<P, A, R> {
    fn submit(&self, _: &'static PoolSlot<P>, _: BuildPool<P>, _: A) -> Handle<R> {
        let () = Unbuildable::<A, R>::CALL;
        unreachable!("a `#[pool]` call whose types fail their checks does not build")
    }
}

/// A call of a function from `A` to `R` whose types cannot cross to a worker.
struct Unbuildable<A, R>(PhantomData<fn(A) -> R>);

impl<A, R> Unbuildable<A, R> {
    /// Fails to evaluate, and so fails the build of any code that uses it. Being generic,
    /// it is evaluated only for the types of a call whose code is generated.
    const CALL: () = panic!(
        "a `#[pool]` call was built for types that cannot reach a worker, this is a bug in poolscope"
    );
}
