//! Every error message the macros write, in one place and one style: lowercase, no final
//! period, the construct as the user writes it, what is wrong, then the fix.

use std::fmt::Display;

/// The `#[pool]` attribute is empty.
pub(crate) fn expected_kind() -> String {
    "expected a pool kind, as in `#[pool(thread)]` or `#[pool(process)]`".to_owned()
}

/// The first word is an option name rather than a kind.
pub(crate) fn kind_first(key: &dyn Display) -> String {
    format!("the pool kind comes first, as in `#[pool(thread, {key} = ...)]`")
}

/// The kind word followed by `= value`.
pub(crate) fn kind_with_value(kind: &dyn Display) -> String {
    format!("the pool kind `{kind}` takes no value, write it alone, as in `#[pool({kind})]`")
}

/// A second kind word after the first.
pub(crate) fn second_kind(kind: &dyn Display) -> String {
    format!("`#[pool]` takes one pool kind, remove `{kind}`")
}

/// A word or option written as a string literal.
pub(crate) fn quoted_word(word: &str) -> String {
    format!("`\"{word}\"` is a string, write the word `{word}` without quotes")
}

/// A comma with no item before it.
pub(crate) fn extra_comma() -> String {
    "unexpected extra `,`, remove it".to_owned()
}

/// Something other than a word where a kind or an option name belongs.
pub(crate) fn expected_item() -> String {
    "expected a pool kind or an option name, as in `#[pool(thread, workers = 4)]`".to_owned()
}

/// Two items without a comma between them; `next` is where the second starts.
pub(crate) fn missing_comma(next: &dyn Display) -> String {
    format!("expected `,` before `{next}`, separate the kind and the options with commas")
}

/// An option whose value does not parse as an expression.
pub(crate) fn not_an_expression(key: &dyn Display) -> String {
    format!("the value of option `{key}` is not an expression, write one as in `{key} = ...`")
}

/// An option value that uses a generic parameter of the function.
pub(crate) fn generic_in_option(key: &dyn Display, parameter: &dyn Display) -> String {
    format!(
        "option `{key}` cannot use the generic parameter `{parameter}`, since one pool serves every instance of the function, write a value that does not depend on it"
    )
}

/// An option without `= value`.
pub(crate) fn missing_value(key: &dyn Display) -> String {
    format!("option `{key}` needs a value, as in `{key} = ...`")
}

/// A kind that is neither `thread` nor `process`.
pub(crate) fn unknown_kind(kind: &dyn Display) -> String {
    format!("unknown pool kind `{kind}`, expected `thread` or `process`")
}

/// An option no kind has.
pub(crate) fn unknown_option(key: &dyn Display, kind: &str, valid: &[&str]) -> String {
    let valid: Vec<String> = valid.iter().map(|name| format!("`{name}`")).collect();
    format!(
        "unknown option `{key}` for `#[pool({kind})]`, expected one of {}",
        valid.join(", ")
    )
}

/// An option given a second time.
pub(crate) fn duplicate_option(key: &dyn Display) -> String {
    format!("option `{key}` is given twice, keep only one")
}

/// An option of the other kind.
pub(crate) fn option_of_other_kind(key: &dyn Display, kind: &str, other: &str) -> String {
    format!("option `{key}` does not apply to `#[pool({kind})]`, only to `#[pool({other})]`")
}

/// A literal 0 where at least 1 is needed.
pub(crate) fn zero(key: &dyn Display) -> String {
    format!("`{key} = 0` would make a pool that cannot run any task, use 1 or more")
}

/// A `start` value that names no start method.
pub(crate) fn unknown_start_method(found: &dyn Display) -> String {
    format!("unknown start method `{found}`, expected `forkserver`, `spawn` or `fork`")
}

/// `#[pool]` on something other than a function.
pub(crate) fn not_a_function() -> String {
    "`#[pool]` applies to free functions only, as in `#[pool(thread)] fn task() {}`".to_owned()
}

/// A function qualifier the pool cannot honour; `fix` says what to do instead.
pub(crate) fn qualifier(word: &str, fix: &str) -> String {
    format!("`#[pool]` does not support `{word}` functions, {fix}")
}

/// A method with a `self` receiver.
pub(crate) fn self_receiver() -> String {
    "`#[pool]` does not support methods with a `self` receiver, make it a free function that takes the value as an owned argument".to_owned()
}

/// A lifetime parameter.
pub(crate) fn lifetime_parameter() -> String {
    "`#[pool]` does not support lifetime parameters, the arguments must be owned values".to_owned()
}

/// A borrowed argument; `owned` is what to take instead: a type in backticks, or `value`.
pub(crate) fn borrowed_argument(ty: &dyn Display, owned: &dyn Display) -> String {
    format!(
        "`#[pool]` cannot send the borrowed argument `{ty}` to a worker, take an owned {owned} instead"
    )
}

/// A borrowed return type; `owned` is what to return instead: a type in backticks, or `value`.
pub(crate) fn borrowed_return(ty: &dyn Display, owned: &dyn Display) -> String {
    format!(
        "`#[pool]` cannot send the borrowed result `{ty}` back from a worker, return an owned {owned} instead"
    )
}

/// `impl Trait` in an argument.
pub(crate) fn impl_trait_argument() -> String {
    "`#[pool]` does not support `impl Trait` arguments, use a named type or a generic parameter"
        .to_owned()
}

/// `impl Trait` as the return type.
pub(crate) fn impl_trait_return() -> String {
    "`#[pool]` does not support an `impl Trait` return type, name the concrete type".to_owned()
}

/// A `#[pool(process)]` function with more than `limit` arguments.
pub(crate) fn too_many_process_arguments(limit: usize, count: usize) -> String {
    format!(
        "`#[pool(process)]` functions take at most {limit} arguments and this one takes {count}, group some of them in a struct or a tuple"
    )
}

/// An attribute on an argument.
pub(crate) fn argument_attribute() -> String {
    "`#[pool]` does not support attributes on arguments, put them on the function".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message, with sample inputs.
    fn all() -> Vec<String> {
        vec![
            expected_kind(),
            kind_first(&"workers"),
            kind_with_value(&"thread"),
            second_kind(&"process"),
            quoted_word("thread"),
            extra_comma(),
            expected_item(),
            missing_comma(&"workers"),
            not_an_expression(&"workers"),
            generic_in_option(&"workers", &"N"),
            missing_value(&"workers"),
            unknown_kind(&"threads"),
            unknown_option(&"worker", "thread", &["workers", "name"]),
            duplicate_option(&"workers"),
            option_of_other_kind(&"timeout", "thread", "process"),
            zero(&"workers"),
            unknown_start_method(&"forkk"),
            not_a_function(),
            qualifier("async", "remove `async`"),
            self_receiver(),
            lifetime_parameter(),
            borrowed_argument(&"&str", &"`String`"),
            borrowed_return(&"&str", &"`String`"),
            impl_trait_argument(),
            impl_trait_return(),
            argument_attribute(),
            too_many_process_arguments(16, 17),
        ]
    }

    #[test]
    fn messages_start_lowercase_and_end_without_a_period() {
        for message in all() {
            let first = message.chars().next().unwrap_or(' ');
            assert!(!first.is_uppercase(), "starts with a capital: {message}");
            assert!(!first.is_whitespace(), "starts with a space: {message}");
            assert!(!message.ends_with('.'), "ends with a period: {message}");
            assert!(!message.contains('\n'), "spans lines: {message}");
        }
    }
}
