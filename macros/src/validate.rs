//! Checking the parsed options against the kind, and the function against what a pool can
//! run, into the forms `expand` works from.
//!
//! Every check reports at the user's own tokens, and the checks go on after a failure, so
//! that each mistake gets its one error.

use proc_macro2::Span;
use syn::{Expr, Ident, ItemFn, Lit};

use crate::message;
use crate::parse::{Args, Setting};
use crate::signature;

/// Which pool a `#[pool]` function runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[pool(thread)]`: a `ThreadPool`.
    Thread,
    /// `#[pool(process)]`: a `ProcessPool`.
    Process,
}

impl Kind {
    /// The kind as written in `#[pool(...)]`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Thread => "thread",
            Kind::Process => "process",
        }
    }

    /// The names of the options this kind takes.
    fn option_names(self) -> Vec<&'static str> {
        OPTIONS
            .iter()
            .filter(|(_, owner)| owner.is_none_or(|owner| owner == self))
            .map(|(name, _)| *name)
            .collect()
    }
}

/// Every option, with the kind it belongs to, or `None` when both kinds take it.
const OPTIONS: &[(&str, Option<Kind>)] = &[
    ("workers", None),
    ("name", Some(Kind::Thread)),
    ("timeout", Some(Kind::Process)),
    ("max_tasks_per_child", Some(Kind::Process)),
    ("start", Some(Kind::Process)),
];

/// The checked options of one `#[pool]`; `None` where the pool's default applies.
pub(crate) struct Pool {
    /// The pool kind.
    pub(crate) kind: Kind,
    /// `workers = EXPR`: the most workers at once.
    pub(crate) workers: Option<Expr>,
    /// `name = EXPR`: the start of the thread names.
    pub(crate) name: Option<Expr>,
    /// `timeout = EXPR`: the longest a task may run.
    pub(crate) timeout: Option<Expr>,
    /// `max_tasks_per_child = EXPR`: tasks before a worker process is replaced.
    pub(crate) max_tasks_per_child: Option<Expr>,
    /// `start = WORD`: the `StartMethod` variant, spanned at the user's word.
    pub(crate) start: Option<Ident>,
}

/// Checks the options of `#[pool(...)]`.
pub(crate) fn pool(args: Args) -> syn::Result<Pool> {
    let mut pool = Pool::new(kind(&args.kind)?);
    let mut errors = Errors::default();
    for setting in args.settings {
        errors.record(pool.set(setting));
    }
    errors.finish()?;
    Ok(pool)
}

/// The most arguments a `#[pool(process)]` function takes: they travel to the worker as one
/// tuple, and serde implements its traits for tuples of at most 16 elements.
const MAX_PROCESS_ARGUMENTS: usize = 16;

/// Checks that `function` is something a pool of `kind` can run; `kind` is `None` when the
/// kind itself is wrong, and only the checks common to both kinds apply.
pub(crate) fn function(function: &ItemFn, kind: Option<Kind>) -> syn::Result<()> {
    let mut errors = Errors::default();
    for error in signature::problems(&function.sig) {
        errors.record(Err(error));
    }
    if kind == Some(Kind::Process) {
        errors.record(process_argument_count(&function.sig));
    }
    errors.finish()
}

/// Refuses a `#[pool(process)]` function with more arguments than fit in one serializable
/// tuple, at the arguments past the limit.
fn process_argument_count(signature: &syn::Signature) -> syn::Result<()> {
    let count = signature.inputs.len();
    if count <= MAX_PROCESS_ARGUMENTS {
        return Ok(());
    }
    let extra: Vec<&syn::FnArg> = signature
        .inputs
        .iter()
        .skip(MAX_PROCESS_ARGUMENTS)
        .collect();
    let text = message::too_many_process_arguments(MAX_PROCESS_ARGUMENTS, count);
    Err(syn::Error::new_spanned(quote::quote!(#(#extra),*), text))
}

/// Reads the kind word.
fn kind(word: &Ident) -> syn::Result<Kind> {
    match word.to_string().as_str() {
        "thread" => Ok(Kind::Thread),
        "process" => Ok(Kind::Process),
        _ => Err(syn::Error::new(word.span(), message::unknown_kind(word))),
    }
}

impl Pool {
    /// A pool of `kind` with every option at its default.
    fn new(kind: Kind) -> Pool {
        Pool {
            kind,
            workers: None,
            name: None,
            timeout: None,
            max_tasks_per_child: None,
            start: None,
        }
    }

    /// Takes one option, refusing unknown, misplaced and repeated ones.
    fn set(&mut self, setting: Setting) -> syn::Result<()> {
        self.check_fits(&setting.key)?;
        let Setting { key, value } = setting;
        match key.to_string().as_str() {
            "workers" => set_once(&mut self.workers, &key, at_least_one(&key, value)?),
            "name" => set_once(&mut self.name, &key, value),
            "timeout" => set_once(&mut self.timeout, &key, value),
            "max_tasks_per_child" => {
                let value = at_least_one(&key, value)?;
                set_once(&mut self.max_tasks_per_child, &key, value)
            }
            _ => set_once(&mut self.start, &key, start_method(&value)?),
        }
    }

    /// Fails unless `key` is an option of this pool's kind.
    fn check_fits(&self, key: &Ident) -> syn::Result<()> {
        let name = key.to_string();
        let kind = self.kind.name();
        match OPTIONS.iter().find(|(option, _)| *option == name) {
            None => {
                let text = message::unknown_option(key, kind, &self.kind.option_names());
                Err(syn::Error::new(key.span(), text))
            }
            Some((_, Some(owner))) if *owner != self.kind => {
                let text = message::option_of_other_kind(key, kind, owner.name());
                Err(syn::Error::new(key.span(), text))
            }
            Some(_) => Ok(()),
        }
    }
}

/// Stores `value` in `slot` unless the option was already given.
fn set_once<T>(slot: &mut Option<T>, key: &Ident, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(key.span(), message::duplicate_option(key)));
    }
    *slot = Some(value);
    Ok(())
}

/// Refuses a literal `0`; any other expression is left to the type checker.
fn at_least_one(key: &Ident, value: Expr) -> syn::Result<Expr> {
    if let Expr::Lit(literal) = &value {
        if let Lit::Int(int) = &literal.lit {
            if int.base10_digits() == "0" {
                return Err(syn::Error::new_spanned(&value, message::zero(key)));
            }
        }
    }
    Ok(value)
}

/// Reads `forkserver`, `spawn` or `fork` into the matching `StartMethod` variant.
fn start_method(value: &Expr) -> syn::Result<Ident> {
    let word = match value {
        Expr::Path(path) => path.path.get_ident(),
        _ => None,
    };
    let variant = match word.map(Ident::to_string).as_deref() {
        Some("forkserver") => "ForkServer",
        Some("spawn") => "Spawn",
        Some("fork") => "Fork",
        _ => {
            let written = quote::quote!(#value);
            let text = message::unknown_start_method(&written);
            return Err(syn::Error::new_spanned(value, text));
        }
    };
    let span = word.map_or_else(Span::call_site, Ident::span);
    Ok(Ident::new(variant, span))
}

/// Errors gathered over several checks, reported together.
#[derive(Default)]
struct Errors {
    /// The first error, with the later ones combined into it.
    first: Option<syn::Error>,
}

impl Errors {
    /// Keeps the error of `result`, if any.
    fn record(&mut self, result: syn::Result<()>) {
        let Err(error) = result else {
            return;
        };
        match &mut self.first {
            Some(first) => first.combine(error),
            None => self.first = Some(error),
        }
    }

    /// All the errors as one, or `Ok` if there were none.
    fn finish(self) -> syn::Result<()> {
        self.first.map_or(Ok(()), Err)
    }
}
