//! The checks `#[pool]` places on the argument and result types of the functions it
//! wraps, so that a type that cannot reach a worker is reported at the user's own type.
//!
//! Each check is a trait with a blanket implementation for the types that qualify and a
//! `#[diagnostic::on_unimplemented]` message; the generated code calls the matching
//! `assert_*` function with the user's type, spanned at that type.

use serde::Serialize;
use serde::de::DeserializeOwned;

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
#[diagnostic::on_unimplemented(
    message = "argument type `{Self}` cannot be sent to a `#[pool(process)]` worker",
    label = "the arguments of a `#[pool(process)]` function must be `Serialize + DeserializeOwned + Send + 'static`"
)]
pub trait ProcessArgument: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> ProcessArgument for T {}

/// A type a `#[pool(process)]` function can return.
#[diagnostic::on_unimplemented(
    message = "return type `{Self}` cannot be sent back from a `#[pool(process)]` worker",
    label = "the result of a `#[pool(process)]` function must be `Serialize + DeserializeOwned + Send + 'static`"
)]
pub trait ProcessResult: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> ProcessResult for T {}

/// Fails to compile unless `T` can be an argument of a `#[pool(thread)]` function.
pub fn assert_thread_argument<T: ThreadArgument>() {}

/// Fails to compile unless `T` can be the result of a `#[pool(thread)]` function.
pub fn assert_thread_result<T: ThreadResult>() {}

/// Fails to compile unless `T` can be an argument of a `#[pool(process)]` function.
pub fn assert_process_argument<T: ProcessArgument>() {}

/// Fails to compile unless `T` can be the result of a `#[pool(process)]` function.
pub fn assert_process_result<T: ProcessResult>() {}
