//! Parsing the arguments of `#[pool(...)]` into the options as written, spans and all.
//!
//! This stage only reads the syntax. Whether a kind or an option exists, fits the kind or
//! repeats is decided by `validate`, which can then point at the tokens kept here.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, Token};

use crate::message;

/// The arguments of one `#[pool(...)]`, as written.
pub(crate) struct Args {
    /// The pool kind: `thread` or `process`, not yet checked.
    pub(crate) kind: Ident,
    /// The `key = value` options after the kind, in order, repeats included.
    pub(crate) settings: Vec<Setting>,
}

/// One `key = value` option.
pub(crate) struct Setting {
    /// The option's name.
    pub(crate) key: Ident,
    /// The option's value: any expression; `start` takes a bare word, which parses as a path.
    pub(crate) value: Expr,
}

impl Args {
    /// Parses the tokens inside `#[pool(...)]`; `attribute` is the span of the whole
    /// attribute, for the error when they are empty.
    pub(crate) fn parse(tokens: proc_macro2::TokenStream, attribute: Span) -> syn::Result<Args> {
        if tokens.is_empty() {
            return Err(syn::Error::new(attribute, message::expected_kind()));
        }
        syn::parse2(tokens)
    }
}

impl Parse for Args {
    // KIND
    // KIND, key = value, key = value,
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let kind: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if input.peek(Token![=]) {
            return Err(syn::Error::new(kind.span(), message::kind_first(&kind)));
        }
        let mut settings = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            settings.push(input.parse()?);
        }
        Ok(Args { kind, settings })
    }
}

impl Parse for Setting {
    // key = value
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(key.span(), message::missing_value(&key)));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Setting { key, value })
    }
}
