//! Checks a folder of inputs against a parser that may crash or hang on some of them, the
//! way one runs a fuzzer's corpus or a batch of user uploads through a fragile parser.
//!
//! Each file is parsed in a worker process with a time limit, so a crash or a hang costs
//! one input, not the run. A progress bar on stderr follows the work; the summary says
//! which inputs passed, were rejected, crashed or hung.
//!
//! The example writes its own inputs to a temporary folder first.
//!
//! ```text
//! cargo run --example check_inputs
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use poolscope::{Outcome, TaskError, pool, pool_scope};

/// The longest one parse may take before its worker is killed.
const TIME_LIMIT: Duration = Duration::from_secs(2);

/// Parses the file at `path` in a worker process: `Ok` with the number of values read,
/// or `Err` with why the parser rejected it.
#[pool(process, workers = 4, timeout = TIME_LIMIT)]
fn check(path: PathBuf) -> Result<usize, String> {
    let text = fs::read_to_string(&path).map_err(|error| error.to_string())?;
    parser::parse(&text)
}

/// What became of one input.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    /// The parser read it.
    Passed,
    /// The parser refused it with an error: correct behaviour for bad input.
    Rejected(String),
    /// The worker process died while parsing it.
    Crashed(String),
    /// The parse ran past the time limit.
    Hung,
}

impl Verdict {
    /// The verdict on a task's outcome.
    fn of(outcome: &Outcome<Result<usize, String>>) -> Verdict {
        match outcome {
            Ok(Ok(_)) => Verdict::Passed,
            Ok(Err(reason)) => Verdict::Rejected(reason.clone()),
            Err(TaskError::TimedOut(_)) => Verdict::Hung,
            Err(error) => Verdict::Crashed(error.to_string()),
        }
    }

    /// The group the summary lists it under.
    fn group(&self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Rejected(_) => "rejected",
            Verdict::Crashed(_) => "crashed",
            Verdict::Hung => "hung",
        }
    }
}

fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir().join(format!("poolscope-inputs-{}", std::process::id()));
    let inputs = corpus::write(&folder)?;

    // Submit every input; each handle reports its verdict, with its input's index, when done.
    let (sender, receiver) = mpsc::channel();
    let verdicts = pool_scope! {
        for (index, input) in inputs.iter().enumerate() {
            let sender = sender.clone();
            check(input.clone()).add_done_callback(move |outcome| {
                let _ = sender.send((index, Verdict::of(outcome)));
            });
        }
        drop(sender);
        collect_with_progress(&receiver, inputs.len())
    };

    fs::remove_dir_all(&folder)?;
    summarize(&inputs, &verdicts);
    Ok(())
}

/// Takes the verdicts as they arrive, redrawing a progress bar on stderr after each.
fn collect_with_progress(
    verdicts: &mpsc::Receiver<(usize, Verdict)>,
    total: usize,
) -> BTreeMap<usize, Verdict> {
    let mut done = BTreeMap::new();
    draw_bar(0, total);
    for (index, verdict) in verdicts.iter() {
        done.insert(index, verdict);
        draw_bar(done.len(), total);
    }
    eprintln!();
    done
}

/// Draws `[#####.....] done/total` over the previous bar.
fn draw_bar(done: usize, total: usize) {
    const WIDTH: usize = 40;
    let filled = WIDTH * done / total.max(1);
    let bar = format!("{}{}", "#".repeat(filled), ".".repeat(WIDTH - filled));
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "\r[{bar}] {done}/{total}");
    let _ = stderr.flush();
}

/// Prints how many inputs each group holds, and which inputs failed and why.
fn summarize(inputs: &[PathBuf], verdicts: &BTreeMap<usize, Verdict>) {
    for group in ["passed", "rejected", "crashed", "hung"] {
        let members: Vec<_> = verdicts
            .iter()
            .filter(|(_, verdict)| verdict.group() == group)
            .collect();
        println!("{group}: {}", members.len());
        for (index, verdict) in members {
            let name = inputs[*index]
                .file_name()
                .unwrap_or_default()
                .to_string_lossy();
            match verdict {
                Verdict::Passed => {}
                Verdict::Rejected(reason) | Verdict::Crashed(reason) => {
                    println!("  {name}: {reason}")
                }
                Verdict::Hung => println!("  {name}: still running after {TIME_LIMIT:?}"),
            }
        }
    }
}

/// A small parser for nested lists of numbers and strings, such as `[1, "a", [2, 3]]`,
/// with two bugs real parsers have had: no limit on nesting, so deep input overflows the
/// stack, and an escape it does not know that stops it from moving on.
mod parser {
    /// Parses `text` as one value; the number of numbers and strings in it.
    pub fn parse(text: &str) -> Result<usize, String> {
        let mut reader = Reader {
            bytes: text.trim().as_bytes(),
            at: 0,
        };
        let values = reader.value()?;
        if reader.at != reader.bytes.len() {
            return Err(format!("unexpected text at byte {}", reader.at));
        }
        Ok(values)
    }

    /// A position in the input.
    struct Reader<'a> {
        /// The whole input.
        bytes: &'a [u8],
        /// The next byte to read.
        at: usize,
    }

    impl Reader<'_> {
        /// One value: a list, a string or a number.
        fn value(&mut self) -> Result<usize, String> {
            self.skip_spaces();
            match self.bytes.get(self.at) {
                Some(b'[') => self.list(),
                Some(b'"') => self.string(),
                Some(byte) if byte.is_ascii_digit() => self.number(),
                Some(byte) => Err(format!(
                    "unexpected `{}` at byte {}",
                    *byte as char, self.at
                )),
                None => Err("unexpected end of input".to_owned()),
            }
        }

        /// `[value, value, ...]`, recursing into each value without any depth limit.
        fn list(&mut self) -> Result<usize, String> {
            self.at += 1;
            let mut values = 0;
            loop {
                self.skip_spaces();
                if self.bytes.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(values);
                }
                values += self.value()?;
                self.skip_spaces();
                match self.bytes.get(self.at) {
                    Some(b',') => self.at += 1,
                    Some(b']') => {}
                    _ => return Err(format!("expected `,` or `]` at byte {}", self.at)),
                }
            }
        }

        /// `"text"` with `\n`, `\t`, `\"` and `\\` escapes.
        fn string(&mut self) -> Result<usize, String> {
            self.at += 1;
            while let Some(&byte) = self.bytes.get(self.at) {
                match byte {
                    b'"' => {
                        self.at += 1;
                        return Ok(1);
                    }
                    b'\\' => match self.bytes.get(self.at + 1) {
                        Some(b'n' | b't' | b'"' | b'\\') => self.at += 2,
                        // The bug: an unknown escape is "skipped" without moving on.
                        _ => continue,
                    },
                    _ => self.at += 1,
                }
            }
            Err("unterminated string".to_owned())
        }

        /// A run of digits.
        fn number(&mut self) -> Result<usize, String> {
            while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
                self.at += 1;
            }
            Ok(1)
        }

        /// Moves past spaces and newlines.
        fn skip_spaces(&mut self) {
            while self.bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
                self.at += 1;
            }
        }
    }
}

/// The inputs the example checks: mostly well-formed, some malformed, a few that crash
/// or hang the parser.
mod corpus {
    use std::fs;
    use std::path::{Path, PathBuf};

    /// Writes the inputs into a new `folder`; their paths, in order.
    pub fn write(folder: &Path) -> std::io::Result<Vec<PathBuf>> {
        fs::create_dir_all(folder)?;
        let mut paths = Vec::new();
        for (index, content) in contents().into_iter().enumerate() {
            let path = folder.join(format!("input-{index:02}.txt"));
            fs::write(&path, content)?;
            paths.push(path);
        }
        Ok(paths)
    }

    /// The text of every input.
    fn contents() -> Vec<String> {
        let mut contents = Vec::new();
        for index in 0..24 {
            contents.push(format!(
                "[{index}, \"item {index}\", [{}, {}], \"tab\\tok\"]",
                index * 2,
                index * 3
            ));
        }
        for broken in ["[1, 2", "[1 2]", "[\"open]", "{}", "[1,, 2]"] {
            contents.push(broken.to_owned());
        }
        for depth in [200_000, 400_000] {
            contents.push(format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
        }
        for escape in ["\\u0041", "\\x41", "\\q"] {
            contents.push(format!("[1, \"bad {escape} escape\"]"));
        }
        contents
    }
}
