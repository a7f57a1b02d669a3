//! Writing the code of a checked `#[pool]` function. Nothing here can fail.
//!
//! ```text
//! #[pool(thread, workers = 5)]            /// docs
//! fn task(n: u32) -> u64 { body }   =>    fn task(n: u32) -> ::poolscope::Handle<u64> {
//!                                             fn __build_pool() -> ... { builder with options }
//!                                             static __POOL: PoolSlot<ThreadPool> = ...;
//!                                             assert_thread_argument::<u32>(); ...
//!                                             fn __call((n,): (u32,)) -> u64 { task_sync(n) }
//!                                             (&&Call::thread(__call))
//!                                                 .submit(&__POOL, __build_pool, (n,))
//!                                         }
//!                                         /// Runs the body of [`task`] on the calling thread...
//!                                         fn task_sync(n: u32) -> u64 { body }
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Block, FnArg, Ident, ItemFn, Pat, ReturnType, Signature, Type, Visibility};

use crate::validate::{Kind, Pool, Setting};

/// The wrapper that submits calls, followed by the `_sync` function that keeps the body.
pub(crate) fn pool_function(pool: &Pool, function: ItemFn) -> TokenStream {
    let parts = Parts::of(function);
    let wrapper = wrapper(pool, &parts);
    let sync = sync_function(&parts);
    quote! {
        #wrapper
        #sync
    }
}

/// The user's function, taken apart.
struct Parts {
    /// The `///` comments and `#[doc]` attributes: they document the wrapper.
    docs: Vec<Attribute>,
    /// Every other attribute: both functions carry them.
    attributes: Vec<Attribute>,
    /// The function's visibility, shared by both functions.
    visibility: Visibility,
    /// The signature as written.
    signature: Signature,
    /// The body as written.
    body: Box<Block>,
    /// The arguments, each with a plain name for the wrapper.
    arguments: Vec<Argument>,
    /// The return type; `()` when none is written.
    result: Type,
    /// The name of the function that keeps the body: `{name}_sync`.
    sync_name: Ident,
}

/// One argument of the user's function.
struct Argument {
    /// The name the wrapper gives it: the user's own for a plain name, else `__argN`.
    binding: Ident,
    /// Its type, with the user's spans.
    ty: Type,
}

impl Parts {
    /// Takes `function` apart.
    fn of(function: ItemFn) -> Parts {
        let ItemFn {
            attrs,
            vis,
            sig,
            block,
        } = function;
        let (docs, attributes) = attrs
            .into_iter()
            .partition(|attr| attr.path().is_ident("doc"));
        let result = match &sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => (**ty).clone(),
        };
        Parts {
            docs,
            attributes,
            visibility: vis,
            arguments: sig.inputs.iter().enumerate().map(argument).collect(),
            result,
            sync_name: format_ident!("{}_sync", sig.ident, span = sig.ident.span()),
            signature: sig,
            body: block,
        }
    }

    /// The names of the arguments, in order.
    fn bindings(&self) -> Vec<&Ident> {
        self.arguments
            .iter()
            .map(|argument| &argument.binding)
            .collect()
    }

    /// The types of the arguments, in order.
    fn types(&self) -> Vec<&Type> {
        self.arguments.iter().map(|argument| &argument.ty).collect()
    }
}

/// The wrapper's view of the argument at `index`: validation left only typed ones.
fn argument((index, input): (usize, &FnArg)) -> Argument {
    let FnArg::Typed(typed) = input else {
        unreachable!("validation refuses `self` receivers");
    };
    let binding = match &*typed.pat {
        Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
        _ => Ident::new(&format!("__arg{index}"), Span::mixed_site()),
    };
    Argument {
        binding,
        ty: (*typed.ty).clone(),
    }
}

/// The function users call: it submits the body and returns the handle.
fn wrapper(pool: &Pool, parts: &Parts) -> TokenStream {
    let Parts {
        docs,
        attributes,
        visibility,
        ..
    } = parts;
    let signature = wrapper_signature(parts);
    let build = build_function(pool);
    let slot = slot(pool, &parts.signature.ident);
    let checks = value_checks(pool.kind, parts);
    let submit = submit(pool.kind, parts);
    quote! {
        #(#docs)*
        #(#attributes)*
        #visibility #signature {
            #build
            #slot
            #checks
            #submit
        }
    }
}

/// The user's signature with plain argument names and the handle as the return type.
fn wrapper_signature(parts: &Parts) -> Signature {
    let mut signature = parts.signature.clone();
    let arguments = parts.arguments.iter().map(|argument| -> FnArg {
        let Argument { binding, ty } = argument;
        syn::parse_quote!(#binding: #ty)
    });
    signature.inputs = arguments.collect();
    signature.output = handle_output(parts);
    signature
}

/// `-> ::poolscope::Handle<R>`, spanned from the start to the end of the user's return type,
/// or at the closing parenthesis of the arguments when there is none. The compiler places
/// its suggestions to add a `where` clause after this type, so they land where the user
/// would write one.
fn handle_output(parts: &Parts) -> ReturnType {
    let result = &parts.result;
    let (arrow, start, end) = match &parts.signature.output {
        ReturnType::Type(arrow, ty) => (*arrow, ty.span(), last_span(ty)),
        ReturnType::Default => {
            let close = parts.signature.paren_token.span.close();
            (syn::Token![->](close), close, close)
        }
    };
    let opening = quote_spanned!(start=> ::poolscope::Handle<);
    let closing = quote_spanned!(end=> >);
    syn::parse_quote!(#arrow #opening #result #closing)
}

/// The span of the last token of `ty`.
fn last_span(ty: &Type) -> Span {
    let last = ty.to_token_stream().into_iter().last();
    last.map_or_else(|| ty.span(), |token| token.span())
}

/// `fn __build_pool()`: the pool's builder with the options of `#[pool(...)]`.
///
/// Each value is first bound to a local of the type its option takes, so that a value of
/// another type is reported at the value, as not being of that type.
fn build_function(pool: &Pool) -> TokenStream {
    let build = Ident::new("__build_pool", Span::mixed_site());
    let pool_type = pool_type(pool.kind);
    let options = options(pool);
    let bindings = options.iter().filter_map(|option| option.binding.as_ref());
    let setters = options.iter().map(|option| &option.setter);
    quote! {
        fn #build() -> ::core::result::Result<#pool_type, ::poolscope::BuildError> {
            #(#bindings)*
            #pool_type::builder() #(#setters)* .build()
        }
    }
}

/// One option as the build function passes it on.
struct BuilderOption {
    /// `let __key: Type = value;`, for an option with a value of the user's.
    binding: Option<TokenStream>,
    /// The builder call, as in `.workers(__workers)`.
    setter: TokenStream,
}

/// The options that were given, in the order the builder takes them.
fn options(pool: &Pool) -> Vec<BuilderOption> {
    let mut options = Vec::new();
    if let Some(workers) = &pool.workers {
        options.push(typed(workers, quote!(usize), quote!(workers)));
    }
    if let Some(name) = &pool.name {
        options.push(borrowed_str(name, quote!(thread_name_prefix)));
    }
    if let Some(start) = &pool.start {
        let setter = quote!(.start_method(::poolscope::StartMethod::#start));
        options.push(BuilderOption {
            binding: None,
            setter,
        });
    }
    if let Some(count) = &pool.max_tasks_per_child {
        options.push(typed(count, quote!(usize), quote!(max_tasks_per_child)));
    }
    if let Some(timeout) = &pool.timeout {
        let duration = quote!(::core::time::Duration);
        options.push(typed(timeout, duration, quote!(task_timeout)));
    }
    options
}

/// The option `setting`, bound as a `ty` and passed to the builder's `method`.
fn typed(setting: &Setting, ty: TokenStream, method: TokenStream) -> BuilderOption {
    let value = &setting.value;
    bound(setting, ty, quote!(#value), method)
}

/// The option `setting`, borrowed as a `&str` and passed to the builder's `method`, so that
/// a `String`, a `&str` and anything else that derefs to `str` fit.
fn borrowed_str(setting: &Setting, method: TokenStream) -> BuilderOption {
    let value = &setting.value;
    let borrowed = quote_spanned!(value.span()=> &#value);
    bound(setting, quote!(&str), borrowed, method)
}

/// `let __key: ty = value;` and the call of the builder's `method` with it.
///
/// The type is spanned at the option's name, so that the compiler reports a value of
/// another type at the value, and notes the name as where the expected type comes from.
fn bound(
    setting: &Setting,
    ty: TokenStream,
    value: TokenStream,
    method: TokenStream,
) -> BuilderOption {
    let key = &setting.key;
    let local = format_ident!("__{}", key, span = Span::mixed_site());
    let ty = respan(ty, key.span());
    BuilderOption {
        binding: Some(quote!(let #local: #ty = #value;)),
        setter: quote!(.#method(#local)),
    }
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

/// The runtime type of a pool kind.
fn pool_type(kind: Kind) -> TokenStream {
    match kind {
        Kind::Thread => quote!(::poolscope::ThreadPool),
        Kind::Process => quote!(::poolscope::ProcessPool),
    }
}

/// `static __POOL`: the key of the function's pools, and its process-wide pool.
fn slot(pool: &Pool, name: &Ident) -> TokenStream {
    let slot = Ident::new("__POOL", Span::mixed_site());
    let pool_type = pool_type(pool.kind);
    let name = name.to_string();
    quote! {
        static #slot: ::poolscope::__private::PoolSlot<#pool_type> =
            ::poolscope::__private::PoolSlot::new(#name);
    }
}

/// One check per argument and one for the result that the type can reach the worker,
/// each spanned at the user's type so that a failure points there.
fn value_checks(kind: Kind, parts: &Parts) -> TokenStream {
    let (argument_check, result_check) = match kind {
        Kind::Thread => (quote!(assert_thread_argument), quote!(assert_thread_result)),
        Kind::Process => (
            quote!(assert_process_argument),
            quote!(assert_process_result),
        ),
    };
    let arguments = parts
        .types()
        .into_iter()
        .map(|ty| quote_spanned!(ty.span()=> ::poolscope::__private::#argument_check::<#ty>();));
    let result = match &parts.signature.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => {
            Some(quote_spanned!(ty.span()=> ::poolscope::__private::#result_check::<#ty>();))
        }
    };
    quote! {
        #(#arguments)*
        #result
    }
}

/// Defines `fn __call`, which takes the arguments as one tuple and calls `{name}_sync` with
/// them, and submits it with the arguments packed into that tuple.
///
/// The submission goes through `Call`, which still compiles when an argument or the result
/// cannot cross to a worker: the checks of [`value_checks`] report that at the user's type,
/// and nothing is reported a second time at the attribute.
fn submit(kind: Kind, parts: &Parts) -> TokenStream {
    let [slot, build, call] = generated_names();
    let sync_name = &parts.sync_name;
    let (generics, _, where_clause) = parts.signature.generics.split_for_impl();
    let turbofish = turbofish(&parts.signature);
    let packed = tuple(&parts.bindings());
    let packed_type = tuple(&parts.types());
    let bindings = parts.bindings();
    let result = &parts.result;
    let constructor = match kind {
        Kind::Thread => quote!(thread),
        Kind::Process => quote!(process),
    };
    quote! {
        fn #call #generics (#packed: #packed_type) -> #result #where_clause {
            #sync_name #turbofish(#(#bindings),*)
        }
        #[allow(unused_imports)]
        use ::poolscope::__private::{RejectedCall as _, Submit as _};
        (&&::poolscope::__private::Call::#constructor(#call #turbofish))
            .submit(&#slot, #build, #packed)
    }
}

/// The names of the slot, the build function and the function that unpacks the arguments.
fn generated_names() -> [Ident; 3] {
    ["__POOL", "__build_pool", "__call"].map(|name| Ident::new(name, Span::mixed_site()))
}

/// `::<T, N>` for a generic function, nothing otherwise.
fn turbofish(signature: &Signature) -> TokenStream {
    let (_, type_generics, _) = signature.generics.split_for_impl();
    let turbofish = type_generics.as_turbofish();
    quote!(#turbofish)
}

/// A tuple of `items`: `()`, `(a,)`, `(a, b)`.
fn tuple<T: quote::ToTokens>(items: &[T]) -> TokenStream {
    match items {
        [single] => quote!((#single,)),
        _ => quote!((#(#items),*)),
    }
}

/// The body as written, under the name `{name}_sync`, to call on the current thread.
fn sync_function(parts: &Parts) -> TokenStream {
    let Parts {
        attributes,
        visibility,
        body,
        sync_name,
        ..
    } = parts;
    let mut signature = parts.signature.clone();
    signature.ident = sync_name.clone();
    let doc = format!(
        " Runs the body of [`{}`] on the calling thread and returns its value.",
        parts.signature.ident
    );
    quote! {
        #[doc = #doc]
        #(#attributes)*
        #visibility #signature #body
    }
}
