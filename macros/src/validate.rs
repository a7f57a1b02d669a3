//! Checking the parsed items against the kind, and the function against what a pool can
//! run, into the form `expand` works from.
//!
//! Every check reports at the user's own tokens, and the checks go on after a failure, so
//! that each mistake gets its one error. A wrong option is left out, so that its default
//! applies, and the function is still expanded: its callers then see the signature they
//! expect, and report nothing more. Only a missing or unknown kind, or a function a pool
//! cannot run, leaves the function as the user wrote it.

use syn::{Expr, Generics, Ident, ItemFn, Lit};

use crate::generics;
use crate::message;
use crate::parse::{Args, Item};
use crate::signature::{self, tidy};

/// Which pool a `#[pool]` function runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[pool(thread)]`: a `ThreadPool`.
    Thread,
    /// `#[pool(process)]`: a `ProcessPool`.
    Process,
}

impl Kind {
    /// The kind `word` names, if any.
    fn named(word: &Ident) -> Option<Kind> {
        match word.to_string().as_str() {
            "thread" => Some(Kind::Thread),
            "process" => Some(Kind::Process),
            _ => None,
        }
    }

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

/// Whether `word` is the name of an option of either kind.
fn is_option(word: &Ident) -> bool {
    OPTIONS.iter().any(|(name, _)| word == name)
}

/// One `key = value` option.
pub(crate) struct Setting {
    /// The option's name, as written.
    pub(crate) key: Ident,
    /// The option's value, as written.
    pub(crate) value: Expr,
}

/// The checked options of one `#[pool]`; `None` where the pool's default applies.
pub(crate) struct Pool {
    /// The pool kind.
    pub(crate) kind: Kind,
    /// `workers = EXPR`: the most workers at once.
    pub(crate) workers: Option<Setting>,
    /// `name = EXPR`: the start of the thread names.
    pub(crate) name: Option<Setting>,
    /// `timeout = EXPR`: the longest a task may run.
    pub(crate) timeout: Option<Setting>,
    /// `max_tasks_per_child = EXPR`: tasks before a worker process is replaced.
    pub(crate) max_tasks_per_child: Option<Setting>,
    /// `start = WORD`: the `StartMethod` variant, spanned at the user's word.
    pub(crate) start: Option<Ident>,
}

/// What the checks of one `#[pool]` found.
pub(crate) struct Checked {
    /// The pool to expand the function for; `None` when the kind is missing or unknown, or
    /// the function is not one a pool can run, and the function is left as written.
    pub(crate) pool: Option<Pool>,
    /// Every error found, combined into one.
    pub(crate) errors: Option<syn::Error>,
}

/// Checks the items of `#[pool(...)]` and the function it is on.
pub(crate) fn check(args: Args, function: &ItemFn) -> Checked {
    let mut errors = Errors::default();
    for error in args.errors {
        errors.record(Err(error));
    }
    let (kind, settings) = split_kind(args.items, args.attribute, &mut errors);
    let runnable = runnable(function, kind, &mut errors);
    let pool = kind.map(|kind| pool(kind, settings, &function.sig.generics, &mut errors));
    Checked {
        pool: pool.filter(|_| runnable),
        errors: errors.first,
    }
}

/// The kind, from the first item, and the items after it as settings.
///
/// A kind word with a value counts as the kind; a first item that is an option lets a bare
/// kind word later stand for the kind, as in `#[pool(workers = 4, thread)]`, so that the
/// function is still expanded after the one error.
fn split_kind(
    items: Vec<Item>,
    attribute: proc_macro2::Span,
    errors: &mut Errors,
) -> (Option<Kind>, Vec<Setting>) {
    let mut items = items.into_iter();
    let Some(first) = items.next() else {
        errors.record(Err(syn::Error::new(attribute, message::expected_kind())));
        return (None, Vec::new());
    };
    let (mut kind, mut settings) = (None, Vec::new());
    let option_first = first.value.is_some() && is_option(&first.key);
    match (&first.value, Kind::named(&first.key)) {
        (None, Some(named)) => kind = Some(named),
        (Some(value), Some(named)) => {
            let text = message::kind_with_value(&first.key);
            errors.record(Err(syn::Error::new_spanned(value.tokens(), text)));
            kind = Some(named);
        }
        (None, None) => {
            let text = message::unknown_kind(&first.key);
            errors.record(Err(syn::Error::new(first.key.span(), text)));
        }
        (Some(_), None) => {
            let text = match option_first {
                true => message::kind_first(&first.key),
                false => message::expected_kind(),
            };
            errors.record(Err(syn::Error::new(first.key.span(), text)));
        }
    }
    if option_first {
        settings.extend(setting(first, errors));
    }
    for item in items {
        match Kind::named(&item.key) {
            Some(named) if item.value.is_none() && option_first && kind.is_none() => {
                kind = Some(named);
            }
            Some(_) if item.value.is_none() => {
                let text = message::second_kind(&item.key);
                errors.record(Err(syn::Error::new(item.key.span(), text)));
            }
            _ => settings.extend(setting(item, errors)),
        }
    }
    (kind, settings)
}

/// The setting an item after the kind gives, or `None` with an error if it has no value.
fn setting(item: Item, errors: &mut Errors) -> Option<Setting> {
    let Some(value) = item.value else {
        let text = message::missing_value(&item.key);
        errors.record(Err(syn::Error::new(item.key.span(), text)));
        return None;
    };
    Some(Setting {
        key: item.key,
        value: value.expr,
    })
}

/// The most arguments a `#[pool(process)]` function takes: they travel to the worker as one
/// tuple, and serde implements its traits for tuples of at most 16 elements.
const MAX_PROCESS_ARGUMENTS: usize = 16;

/// Checks that `function` is something a pool of `kind` can run, recording each problem;
/// `kind` is `None` when the kind itself is wrong, and only the checks common to both kinds
/// apply. Returns whether there was none.
fn runnable(function: &ItemFn, kind: Option<Kind>, errors: &mut Errors) -> bool {
    let mut problems = signature::problems(&function.sig);
    if kind == Some(Kind::Process) {
        problems.extend(process_argument_count(&function.sig).err());
    }
    let runnable = problems.is_empty();
    for problem in problems {
        errors.record(Err(problem));
    }
    runnable
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

/// The pool of `kind` with every setting that checks out; each other one is recorded as an
/// error and left out, so that its default applies.
fn pool(kind: Kind, settings: Vec<Setting>, generics: &Generics, errors: &mut Errors) -> Pool {
    let mut pool = Pool::new(kind);
    for setting in settings {
        errors.record(pool.set(setting, generics));
    }
    pool
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

    /// Takes one option, refusing unknown, misplaced and repeated ones, and values that use
    /// the function's generic parameters.
    fn set(&mut self, setting: Setting, generics: &Generics) -> syn::Result<()> {
        self.check_fits(&setting.key)?;
        if let Some(parameter) = generics::used_parameter(&setting.value, generics) {
            let text = message::generic_in_option(&setting.key, &parameter);
            return Err(syn::Error::new(parameter.span(), text));
        }
        let key = setting.key.clone();
        match key.to_string().as_str() {
            "workers" => set_once(&mut self.workers, &key, at_least_one(setting)?),
            "name" => set_once(&mut self.name, &key, setting),
            "timeout" => set_once(&mut self.timeout, &key, setting),
            "max_tasks_per_child" => {
                let setting = at_least_one(setting)?;
                set_once(&mut self.max_tasks_per_child, &key, setting)
            }
            _ => set_once(&mut self.start, &key, start_method(&setting.value)?),
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

/// Refuses a literal `0`, in parentheses or not; any other expression is left to the type
/// checker.
fn at_least_one(setting: Setting) -> syn::Result<Setting> {
    if let Expr::Lit(literal) = without_parentheses(&setting.value) {
        if let Lit::Int(int) = &literal.lit {
            if int.base10_digits() == "0" {
                let text = message::zero(&setting.key);
                return Err(syn::Error::new_spanned(&setting.value, text));
            }
        }
    }
    Ok(setting)
}

/// `value` without the parentheses around it, as in `(0)`, and the invisible groups that
/// `macro_rules!` puts around an `$expr`.
fn without_parentheses(mut value: &Expr) -> &Expr {
    loop {
        value = match value {
            Expr::Paren(paren) => &paren.expr,
            Expr::Group(group) => &group.expr,
            _ => return value,
        };
    }
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
            let written = tidy(quote::quote!(#value));
            let text = message::unknown_start_method(&written);
            return Err(syn::Error::new_spanned(value, text));
        }
    };
    let span = word.map_or_else(proc_macro2::Span::call_site, Ident::span);
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
}
