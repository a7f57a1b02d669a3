//! A process pool under volume: a 64 MiB argument and result cross whole, many arguments of
//! every size cross in pipelined batches, also when a worker dies among them, and 100,000
//! queued tasks cost no descriptors.
//!
//! The tests count this process's descriptors, so they run one at a time.

mod support;

use std::time::{Duration, Instant};

use poolscope::{Bytes, Handle, ProcessPool, TaskError};
use serde::de::Visitor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use support::{FileGate, double, open_descriptors, serial, wait_for_file, wait_until, worker_pid};

/// 64 MiB.
const LARGE: usize = 64 << 20;

/// Bytes that cross as one block: serde's default for a `Vec<u8>` is a sequence of single
/// bytes, whose element-by-element coding is slow in unoptimized test builds.
#[derive(Debug, PartialEq, Eq)]
struct Blob(Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(BlobVisitor)
    }
}

/// Builds a [`Blob`] from bytes.
struct BlobVisitor;

impl Visitor<'_> for BlobVisitor {
    type Value = Blob;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a byte string")
    }

    fn visit_bytes<E>(self, bytes: &[u8]) -> Result<Blob, E> {
        Ok(Blob(bytes.to_vec()))
    }

    fn visit_byte_buf<E>(self, bytes: Vec<u8>) -> Result<Blob, E> {
        Ok(Blob(bytes))
    }
}

/// A task: moves the first byte to the end, so the result differs from the argument.
fn rotate(Blob(mut bytes): Blob) -> Blob {
    bytes.rotate_left(1);
    Blob(bytes)
}

/// Bytes repeating with a prime period, so a misplaced block shows.
fn pattern(length: usize) -> Blob {
    let period: Vec<u8> = (0..=250).collect();
    let mut bytes = period.repeat(length / period.len() + 1);
    bytes.truncate(length);
    Blob(bytes)
}

#[test]
fn large_argument_and_result_round_trip() {
    let _serial = serial();
    let pool = ProcessPool::new(1);
    let argument = pattern(LARGE);
    let mut expected = argument.0.clone();
    expected.rotate_left(1);

    let started = Instant::now();
    let result = pool
        .submit(rotate, argument)
        .result()
        .expect("the task runs");
    eprintln!("a {LARGE}-byte round trip took {:?}", started.elapsed());
    assert_eq!(result.0.len(), LARGE);
    assert!(
        result.0 == expected,
        "the 64 MiB result differs from what was expected"
    );
}

/// A task: the length of its bytes and their FNV-1a hash, so a byte out of place shows.
fn fingerprint(bytes: Bytes) -> (usize, u64) {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (bytes.len(), hash)
}

/// A task that aborts its worker when `abort` is set, and fingerprints its bytes otherwise.
fn fingerprint_or_abort((abort, bytes): (bool, Bytes)) -> (usize, u64) {
    if abort {
        std::process::abort();
    }
    fingerprint(bytes)
}

/// Arguments of sizes from empty to 100 KiB, around 16 KiB in particular, each of its own
/// content.
fn assorted_arguments() -> Vec<Bytes> {
    let sizes = (0..240).map(|i| match i % 6 {
        0 => i,
        1 => 16 * 1024 - 1 + i % 3,
        2 => 100 * 1024 - i,
        _ => i * 397 % (90 * 1024),
    });
    let arguments = sizes.enumerate().map(|(i, size)| {
        let bytes: Vec<u8> = (0..size).map(|at| (at * 31 + i * 7) as u8).collect();
        Bytes::from(bytes)
    });
    arguments.collect()
}

#[test]
fn arguments_of_every_size_cross_in_batches() {
    let _serial = serial();
    let pool = ProcessPool::new(2);
    let arguments = assorted_arguments();
    let expected: Vec<_> = arguments.iter().cloned().map(fingerprint).collect();

    let handles: Vec<_> = arguments
        .into_iter()
        .map(|bytes| pool.submit(fingerprint, bytes))
        .collect();
    for (handle, expected) in handles.into_iter().zip(expected) {
        assert_eq!(handle.result(), Ok(expected));
    }
}

#[test]
fn large_arguments_behind_a_dying_task_reach_the_next_worker() {
    let _serial = serial();
    let pool = ProcessPool::new(1);
    let arguments = assorted_arguments();
    let expected: Vec<_> = arguments.iter().cloned().map(fingerprint).collect();

    // Queue everything behind a blocker first, so the worker gets its tasks in batches: by
    // the 40th its window has grown past one (a few tasks were in flight behind the aborting
    // one when this was written), and those must be resent whole to the next worker.
    let gate = FileGate::new();
    let blocker = pool.submit(wait_for_file, gate.path());
    assert!(wait_until(Duration::from_secs(10), || blocker.running()));
    let handles: Vec<_> = (0..)
        .zip(arguments)
        .map(|(i, bytes)| pool.submit(fingerprint_or_abort, (i == 40, bytes)))
        .collect();
    gate.open();

    for (i, (handle, expected)) in handles.into_iter().zip(expected).enumerate() {
        match handle.result() {
            Err(TaskError::WorkerDied { .. }) if i == 40 => {}
            outcome => assert_eq!(outcome, Ok(expected), "task {i}"),
        }
    }
    assert!(blocker.result().is_ok(), "the blocking task ends");
}

#[test]
fn hundred_thousand_queued_tasks_hold_no_descriptors() {
    let _serial = serial();
    let pool = ProcessPool::new(1);
    let gate = FileGate::new();

    // Hold the one worker busy, so the tasks submitted next all stay unfinished.
    let blocker = pool.submit(wait_for_file, gate.path());
    assert!(wait_until(Duration::from_secs(10), || blocker.running()));
    let descriptors = open_descriptors();

    let started = Instant::now();
    let handles: Vec<Handle<u64>> = (0..100_000).map(|x| pool.submit(double, x)).collect();
    let queued = open_descriptors();
    assert!(
        handles.iter().all(|h| !h.done()),
        "no task could finish yet"
    );
    assert!(
        queued <= descriptors + 4,
        "{descriptors} descriptors before, {queued} after"
    );

    gate.open();
    for (x, handle) in (0..).zip(handles) {
        assert_eq!(handle.result(), Ok(x * 2));
    }
    eprintln!("100000 queued tasks took {:?}", started.elapsed());
    assert!(blocker.result().is_ok(), "the blocking task ends");
    assert!(pool.submit(worker_pid, ()).result().is_ok());
    assert!(open_descriptors() <= descriptors + 4);
}
