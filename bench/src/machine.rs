//! What a run ran on: the source tree it was built from, and the machine.

use std::path::Path;
use std::process::Command;

use crate::python;

/// The report's own file, which every full run rewrites: a change to it says nothing about
/// the code measured.
const RESULTS: &str = "bench/RESULTS.md";

/// The commit checked out, and whether the tree differs from it, for example
/// `1a2b3c4, with uncommitted changes to 2 files: README.md, bench/src/cli.rs`.
///
/// Read when the run starts, since the binary was built from the tree as it was then.
pub fn source_tree() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| {
        let mut command = Command::new("git");
        command.arg("-C").arg(crate_dir).args(args);
        run(command)
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    let exclude = format!(":(top,exclude){RESULTS}");
    let status = git(&["status", "--porcelain=v1", "--", ":(top)", &exclude]);
    describe_source(commit.as_deref(), status.as_deref())
}

/// The source line from the output of `git rev-parse --short HEAD` and of
/// `git status --porcelain`, either of which may be missing.
fn describe_source(commit: Option<&str>, status: Option<&str>) -> String {
    let Some(commit) = commit.map(str::trim).filter(|commit| !commit.is_empty()) else {
        return "unknown (not a git checkout, or git is missing)".to_owned();
    };
    let Some(status) = status else {
        return format!("commit {commit}, state of the tree unknown");
    };
    let changed: Vec<&str> = status
        .lines()
        .filter_map(|line| line.get(3..))
        .filter(|path| !path.is_empty())
        .collect();
    match changed.len() {
        0 => format!("commit {commit}, no uncommitted changes"),
        count => {
            let shown = changed
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            let more = if count > 5 { ", ..." } else { "" };
            format!("commit {commit}, with uncommitted changes to {count} file(s): {shown}{more}")
        }
    }
}

/// The date and the machine: cores, CPU, kernel, compilers, load, as markdown list items.
pub fn describe() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| cpu_model(&info))
        .unwrap_or_else(|| "unknown".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(
        |_| "unknown".to_owned(),
        |release| release.trim().to_owned(),
    );
    format!(
        "- date: {}\n- machine: {cores} cores (nproc), {cpu}\n- kernel: Linux {kernel}\n\
         - rustc: {}\n- python: {}\n- load average (1, 5, 15 min) when the report was written: {}\n",
        command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        command_output("rustc", &["--version"]),
        command_output(&python::interpreter(), &["--version"]),
        load_average(),
    )
}

/// The first three fields of `/proc/loadavg`: other work on the machine skews every figure.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    if fields.is_empty() {
        "unknown".to_owned()
    } else {
        fields.join(" ")
    }
}

/// The first `model name` of `/proc/cpuinfo`.
fn cpu_model(info: &str) -> Option<String> {
    let line = info.lines().find(|line| line.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_owned())
}

/// The trimmed standard output of a command, or `unknown`.
fn command_output(program: &str, args: &[&str]) -> String {
    let mut command = Command::new(program);
    command.args(args);
    run(command).map_or_else(|| "unknown".to_owned(), |output| output.trim().to_owned())
}

/// The standard output of `command` when it succeeds.
fn run(mut command: Command) -> Option<String> {
    let output = command
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_a_clean_tree() {
        let line = describe_source(Some("1a2b3c4\n"), Some(""));
        assert_eq!(line, "commit 1a2b3c4, no uncommitted changes");
    }

    #[test]
    fn names_the_changed_files() {
        let status = " M bench/src/cli.rs\n?? bench/src/new.rs\nR  a.rs -> b.rs\n";
        let line = describe_source(Some("1a2b3c4"), Some(status));
        assert_eq!(
            line,
            "commit 1a2b3c4, with uncommitted changes to 3 file(s): bench/src/cli.rs, \
             bench/src/new.rs, a.rs -> b.rs"
        );
        let many: String = (0..7).map(|index| format!(" M f{index}\n")).collect();
        let line = describe_source(Some("1a2b3c4"), Some(&many));
        assert!(
            line.ends_with("7 file(s): f0, f1, f2, f3, f4, ..."),
            "{line}"
        );
    }

    #[test]
    fn says_when_it_cannot_tell() {
        assert!(describe_source(None, Some("")).starts_with("unknown"));
        let line = describe_source(Some("1a2b3c4"), None);
        assert_eq!(line, "commit 1a2b3c4, state of the tree unknown");
    }

    #[test]
    fn finds_the_cpu_model() {
        let info = "processor : 0\nmodel name\t: AMD EPYC\nflags : x\n";
        assert_eq!(cpu_model(info), Some("AMD EPYC".to_owned()));
        assert_eq!(cpu_model("processor : 0\n"), None);
    }
}
