//! A process pool under volume: a 64 MiB argument and result cross whole, and 100,000
//! queued tasks cost no descriptors.
//!
//! The tests count this process's descriptors, so they run one at a time.

mod support;

use std::time::{Duration, Instant};

use poolscope::{Handle, ProcessPool};
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
