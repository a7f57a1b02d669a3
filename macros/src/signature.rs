//! The checks on a `#[pool]` function's signature: what a pool can call with arguments it
//! sends elsewhere and a result it sends back.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit::Visit;
use syn::{FnArg, GenericParam, ReturnType, Signature, Type};

use crate::message;

/// Every problem with `signature`, each at its tokens.
pub(crate) fn problems(signature: &Signature) -> Vec<syn::Error> {
    let mut types = Vec::new();
    for argument in &signature.inputs {
        types.extend(argument_problems(argument));
    }
    if let ReturnType::Type(_, ty) = &signature.output {
        types.extend(type_problems(ty, Position::Return));
    }

    // A lifetime parameter comes with the borrows that use it; report those alone.
    let mut errors = qualifiers(signature);
    if types.is_empty() {
        errors.extend(lifetime_parameters(signature));
    }
    errors.extend(types);
    errors
}

/// `async`, `const`, `unsafe` and `extern`, which a pool call cannot keep.
fn qualifiers(signature: &Signature) -> Vec<syn::Error> {
    let mut errors = Vec::new();
    let mut refuse = |tokens: &dyn ToTokens, word: &str, fix: &str| {
        errors.push(syn::Error::new_spanned(
            tokens,
            message::qualifier(word, fix),
        ));
    };
    if let Some(token) = &signature.constness {
        refuse(
            token,
            "const",
            "remove `const`: a pool call happens at run time",
        );
    }
    if let Some(token) = &signature.asyncness {
        refuse(
            token,
            "async",
            "remove `async`: the body runs to its end on a worker, and the handle a call returns is itself a future",
        );
    }
    if let Some(token) = &signature.unsafety {
        refuse(
            token,
            "unsafe",
            "remove `unsafe` and put an `unsafe` block in the body",
        );
    }
    if let Some(abi) = &signature.abi {
        refuse(
            abi,
            "extern",
            "remove the `extern` ABI: the pool calls the body as a Rust function",
        );
    }
    errors
}

/// Lifetime parameters, which only borrowed arguments need.
fn lifetime_parameters(signature: &Signature) -> Vec<syn::Error> {
    let lifetimes = signature
        .generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Lifetime(lifetime) => Some(lifetime),
            _ => None,
        });
    lifetimes
        .map(|lifetime| syn::Error::new_spanned(lifetime, message::lifetime_parameter()))
        .collect()
}

/// The problems of one argument: a receiver, attributes, a type that borrows.
fn argument_problems(argument: &FnArg) -> Vec<syn::Error> {
    let (attributes, ty) = match argument {
        FnArg::Receiver(receiver) => {
            let error = syn::Error::new(receiver.self_token.span, message::self_receiver());
            return vec![error];
        }
        FnArg::Typed(typed) => (&typed.attrs, &typed.ty),
    };
    let mut errors: Vec<syn::Error> = attributes
        .iter()
        .map(|attribute| syn::Error::new_spanned(attribute, message::argument_attribute()))
        .collect();
    errors.extend(type_problems(ty, Position::Argument));
    errors
}

/// Where a type stands in the signature.
#[derive(Clone, Copy)]
enum Position {
    /// The type of an argument.
    Argument,
    /// The return type.
    Return,
}

/// Borrows and `impl Trait` anywhere inside `ty`.
fn type_problems(ty: &Type, position: Position) -> Vec<syn::Error> {
    let mut finder = FindProblems {
        position,
        errors: Vec::new(),
        lifetime: false,
    };
    finder.visit_type(ty);

    // A lifetime outside a reference borrows too; the whole type is what to replace.
    if finder.lifetime {
        finder.borrowed(ty, None);
    }
    finder.errors
}

/// Walks a type, noting each part a pool cannot send.
struct FindProblems {
    /// Whether the type is an argument's or the result's.
    position: Position,
    /// One error per problem found.
    errors: Vec<syn::Error>,
    /// Whether a lifetime other than `'static` appears outside the references reported.
    lifetime: bool,
}

impl<'ast> Visit<'ast> for FindProblems {
    fn visit_type_reference(&mut self, reference: &'ast syn::TypeReference) {
        let is_static = reference
            .lifetime
            .as_ref()
            .is_some_and(|lifetime| lifetime.ident == "static");
        if !is_static {
            self.borrowed(reference, Some(owned(&reference.elem)));
            return;
        }
        syn::visit::visit_type_reference(self, reference);
    }

    fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
        if lifetime.ident != "static" {
            self.lifetime = true;
        }
    }

    fn visit_type_impl_trait(&mut self, impl_trait: &'ast syn::TypeImplTrait) {
        let text = match self.position {
            Position::Argument => message::impl_trait_argument(),
            Position::Return => message::impl_trait_return(),
        };
        self.errors.push(syn::Error::new_spanned(impl_trait, text));
    }
}

impl FindProblems {
    /// Notes a borrow at `tokens`; `owned` is the type to use instead, if known.
    fn borrowed(&mut self, tokens: &dyn ToTokens, owned: Option<String>) {
        let written = tidy(tokens.to_token_stream());
        let owned = owned.map_or_else(|| "value".to_owned(), |owned| format!("`{owned}`"));
        let text = match self.position {
            Position::Argument => message::borrowed_argument(&written, &owned),
            Position::Return => message::borrowed_return(&written, &owned),
        };
        self.errors.push(syn::Error::new_spanned(tokens, text));
    }
}

/// The owned counterpart of the borrowed type `elem`, as text.
fn owned(elem: &Type) -> String {
    let written = tidy(elem.to_token_stream());
    match elem {
        Type::Slice(slice) => format!("Vec<{}>", tidy(slice.elem.to_token_stream())),
        Type::TraitObject(_) => format!("Box<{written}>"),
        _ => match written.as_str() {
            "str" => "String".to_owned(),
            "Path" => "PathBuf".to_owned(),
            "OsStr" => "OsString".to_owned(),
            "CStr" => "CString".to_owned(),
            _ => written,
        },
    }
}

/// Tokens as text the way a person writes them: `Vec<&str>`, not `Vec < & str >`.
pub(crate) fn tidy(tokens: TokenStream) -> String {
    let spaced = tokens.to_string();
    let pairs = [
        (" < ", "<"),
        ("< ", "<"),
        (" >", ">"),
        ("& ", "&"),
        (" ,", ","),
        (" :: ", "::"),
        (":: ", "::"),
        ("[ ", "["),
        (" ]", "]"),
        ("( ", "("),
        (" )", ")"),
        (" ;", ";"),
    ];
    pairs
        .iter()
        .fold(spaced, |text, (from, to)| text.replace(from, to))
}
