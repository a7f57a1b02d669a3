//! Finding a function's generic parameters in the value of an option.
//!
//! The options build one pool per function, shared by every instance of a generic
//! function, in a nested function that cannot see the outer generics. A value such as
//! `workers = N` cannot work there, so it is refused at the parameter, with its reason.

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;
use syn::{Expr, GenericParam, Generics, Ident};

/// The first of the type and const parameters of `generics` that `value` uses, as written
/// there.
pub(crate) fn used_parameter(value: &Expr, generics: &Generics) -> Option<Ident> {
    let names: Vec<&Ident> = generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(param) => Some(&param.ident),
            GenericParam::Const(param) => Some(&param.ident),
            GenericParam::Lifetime(_) => None,
        })
        .collect();
    if names.is_empty() {
        return None;
    }
    let mut finder = FindParameter { names, found: None };
    finder.visit_expr(value);
    finder.found
}

/// Walks an expression, noting the first path that starts with one of `names`.
struct FindParameter<'a> {
    /// The parameters looked for.
    names: Vec<&'a Ident>,
    /// The first use found.
    found: Option<Ident>,
}

impl FindParameter<'_> {
    /// Notes `ident` if it names a parameter and nothing was found yet.
    fn note(&mut self, ident: &Ident) {
        if self.found.is_none() && self.names.contains(&ident) {
            self.found = Some(ident.clone());
        }
    }

    /// Looks for the parameters among the words of a macro's tokens, which are not parsed.
    fn scan(&mut self, tokens: TokenStream) {
        for token in tokens {
            match token {
                TokenTree::Ident(ident) => self.note(&ident),
                TokenTree::Group(group) => self.scan(group.stream()),
                TokenTree::Punct(_) | TokenTree::Literal(_) => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for FindParameter<'_> {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            if let Some(first) = path.segments.first() {
                self.note(&first.ident);
            }
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.scan(mac.tokens.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameter of `generics` that `value` uses, as text.
    fn used(value: &str, generics: &str) -> Option<String> {
        let value: Expr = syn::parse_str(value).unwrap();
        let generics: Generics = syn::parse_str(generics).unwrap();
        used_parameter(&value, &generics).map(|ident| ident.to_string())
    }

    #[test]
    fn finds_a_const_parameter_in_arithmetic() {
        assert_eq!(used("N * 2", "<const N: usize>"), Some("N".to_owned()));
    }

    #[test]
    fn finds_a_type_parameter_in_a_turbofish() {
        let value = "std::mem::size_of::<T>().max(1)";
        assert_eq!(used(value, "<T: Send>"), Some("T".to_owned()));
    }

    #[test]
    fn finds_a_parameter_among_macro_arguments() {
        let value = r#"format!("pool-{}", N)"#;
        assert_eq!(used(value, "<const N: usize>"), Some("N".to_owned()));
    }

    #[test]
    fn ignores_paths_that_only_contain_the_name() {
        assert_eq!(used("config::N + ::N", "<const N: usize>"), None);
    }

    #[test]
    fn ignores_functions_without_type_or_const_parameters() {
        assert_eq!(used("N", "<'a>"), None);
    }
}
