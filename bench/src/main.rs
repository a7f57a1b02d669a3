//! Runs poolscope side by side with its peers and prints a markdown table of the figures.
//!
//! ```text
//! cargo run --release -p poolscope-bench -- [--rounds N] [--quick] [--out PATH] [WORKLOAD...]
//! ```
//!
//! Every round runs each system of each selected workload once, so the systems alternate
//! under the same machine load; the table reports medians over rounds and the ratio
//! poolscope/peer taken within each round. The exit status is 0 only when every run of every
//! system succeeded and the report, if any, was written.
//!
//! A build without optimizations refuses to run unless given `--allow-debug`, and then
//! never writes `bench/RESULTS.md` on its own.
//!
//! Do not rebuild the binary while it runs: process workers and memory probes re-execute
//! it, and a worker refuses to serve a parent whose executable file has changed.

mod cli;
mod harness;
mod machine;
mod memory;
mod probe;
mod processes;
mod procspawn_peers;
mod python;
mod report;
mod startup;
mod stats;
mod threads;
mod work;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{Command, Options, Sizes, USAGE};
use crate::harness::{Measured, Workload};

fn main() -> ExitCode {
    // A process started by procspawn runs its task here and never returns.
    procspawn::init();

    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = probe::serve(&args) {
        return code;
    }
    match cli::parse(args) {
        Ok(Command::Run(options)) => run(&options),
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::List) => {
            for workload in workloads(&Sizes::quick()) {
                println!("{}", workload.name);
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("poolscope-bench: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Whether this binary was built without optimizations: debug assertions come with the
/// `dev` profile, whose code is many times slower than a release build's, and not evenly so
/// across systems, so neither its figures nor its ratios say anything about the pools.
const UNOPTIMIZED: bool = cfg!(debug_assertions);

/// The refusal printed by an unoptimized build.
const UNOPTIMIZED_REFUSAL: &str = "\
this binary was built without optimizations (debug assertions are on), so its figures would say
nothing about the pools; run `cargo run --release -p poolscope-bench`, or pass --allow-debug to
check only that the workloads run";

/// The warning printed before and after an unoptimized run.
const UNOPTIMIZED_WARNING: &str = "\
poolscope-bench: WARNING: UNOPTIMIZED BUILD (debug assertions on); every figure of this run is
meaningless, and the report says so";

/// Every workload, in the order of the table.
fn workloads(sizes: &Sizes) -> Vec<Workload> {
    vec![
        threads::tiny_thread(sizes),
        threads::latency_thread(sizes),
        processes::tiny_process(sizes),
        processes::tiny_process_chunked(sizes),
        processes::payload_process(sizes),
        processes::payload_process_bytes(sizes),
        startup::startup_process(sizes),
        startup::startup_process_cold(sizes),
        processes::cpu_process(sizes),
        processes::latency_process(sizes),
        memory::memory_thread(sizes),
        memory::memory_process(sizes),
    ]
}

/// Runs the selected workloads and reports them.
fn run(options: &Options) -> ExitCode {
    if UNOPTIMIZED && !options.allow_debug {
        eprintln!("poolscope-bench: {UNOPTIMIZED_REFUSAL}");
        return ExitCode::from(2);
    }
    if UNOPTIMIZED {
        eprintln!("{UNOPTIMIZED_WARNING}");
    }
    let all = workloads(&options.sizes);
    let known: Vec<&str> = all.iter().map(|workload| workload.name).collect();
    if let Some(unknown) = options
        .only
        .iter()
        .find(|name| !known.contains(&name.as_str()))
    {
        eprintln!(
            "poolscope-bench: unknown workload `{unknown}`; known: {}",
            known.join(", ")
        );
        return ExitCode::from(2);
    }
    let selected: Vec<Workload> = all
        .into_iter()
        .filter(|workload| {
            options.only.is_empty() || options.only.iter().any(|n| n == workload.name)
        })
        .map(|workload| keep_systems(workload, options.system.as_deref()))
        .collect();

    let source = machine::source_tree();
    let measured = harness::run_rounds(selected, options.rounds);
    let command = command_line();
    let header = report::Header {
        command: &command,
        rounds: options.rounds,
        quick: options.quick,
        source: &source,
    };
    let text = report::markdown(&measured, &header);
    println!("{}", report::table(&measured));
    if UNOPTIMIZED {
        eprintln!("{UNOPTIMIZED_WARNING}");
    }
    let written = write_report(options, &text);
    let failures: Vec<String> = measured.iter().flat_map(Measured::failures).collect();
    if failures.is_empty() {
        return written;
    }
    eprintln!("poolscope-bench: {} run(s) failed:", failures.len());
    for failure in &failures {
        eprintln!("  {failure}");
    }
    ExitCode::FAILURE
}

/// `workload` with only the systems whose name contains `system`, when given.
fn keep_systems(mut workload: Workload, system: Option<&str>) -> Workload {
    if let Some(system) = system {
        workload
            .systems
            .retain(|candidate| candidate.name.contains(system));
    }
    workload
}

/// The command line as a user would retype it.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = if UNOPTIMIZED {
        "cargo run -p poolscope-bench"
    } else {
        "cargo run --release -p poolscope-bench"
    };
    if args.is_empty() {
        command.to_owned()
    } else {
        format!("{command} -- {}", args.join(" "))
    }
}

/// Writes the report where `--out` says, or to `bench/RESULTS.md` after a full run of all.
fn write_report(options: &Options, text: &str) -> ExitCode {
    let full =
        !options.quick && !UNOPTIMIZED && options.only.is_empty() && options.system.is_none();
    let default = full.then(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("RESULTS.md"));
    let Some(path) = options.out.clone().or(default) else {
        return ExitCode::SUCCESS;
    };
    match std::fs::write(&path, text) {
        Ok(()) => {
            eprintln!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("poolscope-bench: cannot write {}: {error}", path.display());
            ExitCode::FAILURE
        }
    }
}
