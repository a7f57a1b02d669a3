//! `pool_scope! { ... }`: the user's statements inside a block that holds a scope guard.
//!
//! ```text
//! pool_scope! {              {
//!     task(1);          =>       let __scope = ::poolscope::__private::Scope::enter();
//!     task(2)                    { task(1); task(2) }
//! }                          }
//! ```
//!
//! The statements stay in a plain block, not a closure, so `return`, `?` and `break` in
//! them act on the enclosing function or loop. The guard's `Drop` shuts the scope's pools
//! down on every way out of the block, a panic included.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

/// The block that opens a scope around `statements`. The statements are passed on
/// untouched, so the compiler reports any mistake in them as it would anywhere else.
pub(crate) fn pool_scope(statements: TokenStream) -> TokenStream {
    let guard = Ident::new("__scope", Span::mixed_site());
    quote! {
        {
            let #guard = ::poolscope::__private::Scope::enter();
            { #statements }
        }
    }
}
