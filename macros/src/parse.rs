//! Parsing the arguments of `#[pool(...)]` into the items as written, spans and all.
//!
//! This stage only reads the syntax: items separated by commas, each a word with or without
//! `= value`. Which item is the kind, and whether an option exists, fits the kind or repeats,
//! is decided by `validate`, which can then point at the tokens kept here.
//!
//! A syntax error does not end the parse: it is recorded, the rest of its item is skipped up
//! to the next comma, and the items after it are still read. Each mistake then gets its own
//! error, and the items written correctly still reach the expansion.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Ident, LitStr, Token};

use crate::message;

/// The arguments of one `#[pool(...)]`, as written.
pub(crate) struct Args {
    /// The items, in order, repeats included: the kind first, if the user wrote it so.
    pub(crate) items: Vec<Item>,
    /// The syntax errors, in order.
    pub(crate) errors: Vec<syn::Error>,
    /// The span of the whole attribute, for the error when there are no items.
    pub(crate) attribute: Span,
}

/// One item: `word` or `word = value`.
pub(crate) struct Item {
    /// The word: a pool kind or an option name, not yet checked.
    pub(crate) key: Ident,
    /// What follows the word, if it is `= value`.
    pub(crate) value: Option<Value>,
}

/// The `= value` of an item.
pub(crate) struct Value {
    /// The `=` token.
    pub(crate) eq: Token![=],
    /// The value: any expression; `start` takes a bare word, which parses as a path.
    pub(crate) expr: Expr,
}

impl Value {
    /// The tokens of `= value`, to point at both.
    pub(crate) fn tokens(&self) -> TokenStream {
        let Value { eq, expr } = self;
        quote!(#eq #expr)
    }
}

impl Args {
    /// Parses the tokens inside `#[pool(...)]`; `attribute` is the span of the whole
    /// attribute. Never fails: syntax errors are kept in [`Args::errors`].
    pub(crate) fn parse(tokens: TokenStream, attribute: Span) -> Args {
        let mut args = Args {
            items: Vec::new(),
            errors: Vec::new(),
            attribute,
        };
        let read = |input: ParseStream<'_>| {
            args.read(input);
            Ok(())
        };
        // `read` consumes every token, so the parser has nothing left to complain about.
        let _ = read.parse2(tokens);
        args
    }

    // ITEM, ITEM, ... with or without a trailing comma
    fn read(&mut self, input: ParseStream<'_>) {
        while !input.is_empty() {
            if let Err(error) = self.read_item(input) {
                self.errors.push(error);
                skip_rest_of_item(input);
                let _ = input.parse::<Option<Token![,]>>();
            }
        }
    }

    /// Reads one item and the comma after it.
    fn read_item(&mut self, input: ParseStream<'_>) -> syn::Result<()> {
        let item = self.item(input)?;
        self.items.push(item);
        if input.is_empty() || input.parse::<Option<Token![,]>>()?.is_some() {
            return Ok(());
        }

        // Items run together, as in `thread workers = 4`: report it, and read on from the
        // next word as a new item.
        let Some((next, _)) = input.cursor().token_tree() else {
            return Ok(());
        };
        let error = syn::Error::new(next.span(), message::missing_comma(&next));
        if input.peek(Ident) {
            self.errors.push(error);
            return Ok(());
        }
        Err(error)
    }

    // word
    // word = value
    fn item(&mut self, input: ParseStream<'_>) -> syn::Result<Item> {
        let key = self.key(input)?;
        if !input.peek(Token![=]) {
            return Ok(Item { key, value: None });
        }
        let eq: Token![=] = input.parse()?;
        if input.is_empty() || input.peek(Token![,]) {
            let text = message::missing_value(&key);
            return Err(syn::Error::new_spanned(quote!(#key #eq), text));
        }

        // Try the value on a fork first: a failed parse leaves the input part-way through it,
        // and the error should cover all of it.
        if input.fork().parse::<Expr>().is_err() {
            let written = skip_rest_of_item(input);
            let text = message::not_an_expression(&key);
            return Err(syn::Error::new_spanned(quote!(#eq #written), text));
        }
        let expr = input.parse()?;
        Ok(Item {
            key,
            value: Some(Value { eq, expr }),
        })
    }

    // word
    // "word", reported, then read as the word
    fn key(&mut self, input: ParseStream<'_>) -> syn::Result<Ident> {
        if input.peek(LitStr) {
            let quoted: LitStr = input.parse()?;
            let word = quoted.value();
            let text = message::quoted_word(&word);
            let error = syn::Error::new(quoted.span(), text);
            let Ok(mut key) = syn::parse_str::<Ident>(&word) else {
                return Err(error);
            };
            self.errors.push(error);
            key.set_span(quoted.span());
            return Ok(key);
        }
        input.call(syn::ext::IdentExt::parse_any).map_err(|_| {
            let span = input.cursor().token_tree().map(|(token, _)| token.span());
            let text = match input.peek(Token![,]) {
                true => message::extra_comma(),
                false => message::expected_item(),
            };
            syn::Error::new(span.unwrap_or(self.attribute), text)
        })
    }
}

/// Consumes the tokens up to the next comma outside any brackets, and returns them.
fn skip_rest_of_item(input: ParseStream<'_>) -> TokenStream {
    let skipped = input.step(|cursor| {
        let mut skipped = TokenStream::new();
        let mut rest = *cursor;
        while let Some((token, next)) = rest.token_tree() {
            if matches!(&token, TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
            token.to_tokens(&mut skipped);
            rest = next;
        }
        Ok((skipped, rest))
    });
    skipped.unwrap_or_default()
}
