//! Every compile error in the reviewed `tests/ui/*.stderr` follows the one style of the
//! project's messages: it starts in lowercase and has no final period.

use std::fs;

/// The message of each `error: ...` or `error[E....]: ...` line of `stderr`.
fn error_messages(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.starts_with("error"))
        .filter_map(|line| line.split_once(": ").map(|(_, message)| message))
        .collect()
}

#[test]
fn every_error_message_is_lowercase_without_a_final_period() {
    let mut checked = 0;
    for entry in fs::read_dir("tests/ui").unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_none_or(|extension| extension != "stderr")
        {
            continue;
        }
        let stderr = fs::read_to_string(&path).unwrap();
        let messages = error_messages(&stderr);
        assert!(!messages.is_empty(), "{} holds no error", path.display());
        for message in messages {
            let first = message.chars().next().unwrap_or(' ');
            assert!(
                !first.is_uppercase(),
                "{}: capitalised: {message}",
                path.display()
            );
            assert!(
                !message.ends_with('.'),
                "{}: final period: {message}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} messages found in tests/ui");
}
