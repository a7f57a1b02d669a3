//! Hostile input to the frame reader and the codec: random, truncated and oversized frames,
//! random reply bodies, and the two decoders of poolscope's own that sit on top of the
//! frames: the pool's reading of a worker's reply ([`decode_reply`]) and the worker's
//! reading of a task frame ([`next_task`]). Nothing may panic, nothing may allocate far
//! beyond what arrived, and each failure must be a clear error.
//!
//! Each property runs 256 cases, times `POOLSCOPE_SOAK` in a soak run.

use std::io::{self, Read};

use proptest::prelude::*;
use serde::de::DeserializeOwned;

use crate::counting_alloc::allocated_by;
use crate::error::TaskError;
use crate::process::boot::{TASK, next_task, parse_task, read_tasks};
use crate::process::call::{Call, REPLY_CODEC, REPLY_PANICKED, REPLY_VALUE};
use crate::process::decode_reply;
use crate::process::frame::{FrameReader, MAX_FRAME, READ_CHUNK, encode};
use crate::process::read_frames as read_all;

/// What a frame reader may allocate beyond four times the bytes it was given (a buffer that
/// doubles as bytes arrive allocates, in all, up to four times what it holds).
const READER_SLACK: usize = 256 * 1024;

/// What a refused frame may allocate beyond the reader's buffer: the error and its message.
const ERROR_SLACK: usize = 256;

/// How many cases each property runs: 256, times the whole number in `POOLSCOPE_SOAK`.
fn cases() -> u32 {
    let soak = std::env::var("POOLSCOPE_SOAK").ok();
    let soak = soak.and_then(|value| value.parse::<u32>().ok());
    256 * soak.filter(|&factor| factor >= 1).unwrap_or(1)
}

/// A stream that hands out its bytes in the given chunk sizes, as a socket might.
struct Trickle {
    /// The bytes not handed out yet.
    bytes: Vec<u8>,
    /// How many bytes each read hands out at most, cycled.
    chunks: Vec<usize>,
    /// Reads done so far.
    reads: usize,
}

impl Read for Trickle {
    fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
        let chunk = self.chunks[self.reads % self.chunks.len()].max(1);
        self.reads += 1;
        let count = chunk.min(into.len()).min(self.bytes.len());
        into[..count].copy_from_slice(&self.bytes[..count]);
        self.bytes.drain(..count);
        Ok(count)
    }
}

/// Encodes `frames` back to back.
fn encode_all(frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (kind, body) in frames {
        encode(&mut bytes, *kind, |out| out.extend_from_slice(body));
    }
    bytes
}

/// Random frames: a kind and a body of up to 3,000 bytes.
fn frames() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
    prop::collection::vec(
        (any::<u8>(), prop::collection::vec(any::<u8>(), 0..3_000)),
        0..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any bytes at all: frames or an error, never a panic, and little allocation.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4_096)) {
        let (result, allocated) = allocated_by(|| read_all(bytes.as_slice()));
        prop_assert!(allocated <= 4 * bytes.len() + READER_SLACK, "{allocated} bytes");
        if let Err(error) = result {
            prop_assert!(matches!(
                error.kind(),
                io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
            ));
        }
    }

    /// Frames survive any split of the stream into reads.
    #[test]
    fn frames_survive_any_split(
        sent in frames(),
        chunks in prop::collection::vec(1usize..5_000, 1..8),
    ) {
        let stream = Trickle { bytes: encode_all(&sent), chunks, reads: 0 };
        prop_assert_eq!(read_all(stream).unwrap(), sent);
    }

    /// A stream cut anywhere inside a frame is an unexpected end, after the whole frames.
    #[test]
    fn a_cut_frame_is_an_unexpected_end(sent in frames(), cut in any::<prop::sample::Index>()) {
        prop_assume!(!sent.is_empty());
        let bytes = encode_all(&sent);
        let cut = cut.index(bytes.len());
        let whole: Vec<_> = {
            let mut reader = FrameReader::new(&bytes[..cut]);
            let mut whole = Vec::new();
            while let Ok(Some((kind, body))) = reader.next_frame() {
                whole.push((kind, body.to_vec()));
            }
            whole
        };
        prop_assert_eq!(&whole[..], &sent[..whole.len()]);
        let ends_on_a_frame = encode_all(&whole).len() == cut;
        match read_all(&bytes[..cut]) {
            Ok(frames) => prop_assert!(ends_on_a_frame && frames == whole),
            Err(error) => prop_assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof),
        }
    }

    /// Any announced length above the limit, up to 2^64 - 1, is refused before allocating.
    #[test]
    fn oversized_lengths_are_refused(length in (MAX_FRAME + 1)..=u64::MAX, tail in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = length.to_le_bytes().to_vec();
        bytes.extend_from_slice(&tail);
        let (result, allocated) = allocated_by(|| read_all(bytes.as_slice()));
        let error = result.unwrap_err();
        prop_assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        prop_assert!(error.to_string().contains("frame length"), "{}", error);
        prop_assert!(allocated <= READ_CHUNK + ERROR_SLACK, "{} bytes", allocated);
    }

    /// A frame that announces up to the limit but sends little allocates little.
    #[test]
    fn a_large_announced_frame_costs_what_arrives(length in (1u64 << 20)..=MAX_FRAME, sent in 0usize..300_000) {
        let mut bytes = length.to_le_bytes().to_vec();
        bytes.extend(std::iter::repeat_n(7u8, sent));
        let (result, allocated) = allocated_by(|| read_all(bytes.as_slice()));
        prop_assert_eq!(result.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        prop_assert!(allocated <= 4 * sent + READER_SLACK, "{} bytes", allocated);
    }

    /// Random reply bodies decode to a codec error, never a panic, for typical result types.
    #[test]
    fn random_replies_decode_to_errors(body in prop::collection::vec(any::<u8>(), 0..512)) {
        decodes_or_refuses::<Vec<u8>>(&body)?;
        decodes_or_refuses::<String>(&body)?;
        decodes_or_refuses::<(u64, String, Vec<u32>)>(&body)?;
        decodes_or_refuses::<Vec<Result<Vec<u64>, String>>>(&body)?;
    }

    /// A reply of any kind and body settles its task: a value, or the error its kind
    /// stands for, the text of a panic or codec reply kept whatever its bytes.
    #[test]
    fn replies_of_any_kind_settle_clearly(kind in any::<u8>(), body in prop::collection::vec(any::<u8>(), 0..512)) {
        let (outcome, allocated) =
            allocated_by(|| decode_reply::<(u64, String, Vec<u32>)>(kind, &body));
        prop_assert!(allocated <= 64 * body.len() + 4 * 1024 * 1024, "{} bytes", allocated);
        let text = String::from_utf8_lossy(&body).into_owned();
        match (kind, outcome) {
            (REPLY_VALUE, Ok(_)) => {}
            (REPLY_VALUE, Err(TaskError::Codec(message))) => {
                prop_assert!(message.starts_with("could not decode the result: "), "{}", message);
            }
            (REPLY_PANICKED, Err(TaskError::Panicked(message))) => prop_assert_eq!(message, text),
            (REPLY_CODEC, Err(TaskError::Codec(message))) => prop_assert_eq!(message, text),
            (kind, Err(TaskError::Codec(message)))
                if ![REPLY_VALUE, REPLY_PANICKED, REPLY_CODEC].contains(&kind) =>
            {
                prop_assert_eq!(message, format!("the worker sent a reply of unknown kind {kind}"));
            }
            (kind, outcome) => prop_assert!(false, "kind {}: {:?}", kind, outcome),
        }
    }

    /// A panic message cut anywhere, even inside a character, keeps every whole character
    /// that arrived and marks the cut one.
    #[test]
    fn a_cut_panic_message_keeps_what_arrived(text in "\\PC{0,80}", cut in any::<prop::sample::Index>()) {
        let body = &text.as_bytes()[..cut.index(text.len() + 1)];
        let whole = match std::str::from_utf8(body) {
            Ok(whole) => whole.len(),
            Err(error) => error.valid_up_to(),
        };
        let mut expected = text[..whole].to_owned();
        if whole < body.len() {
            expected.push(char::REPLACEMENT_CHARACTER);
        }
        let outcome = decode_reply::<u64>(REPLY_PANICKED, body);
        prop_assert_eq!(outcome, Err(TaskError::Panicked(expected)));
    }

    /// A value reply that announces a huge sequence or string and sends little is a codec
    /// error, and costs at most serde's cautious first reservation (1 MiB).
    #[test]
    fn a_value_announcing_a_huge_length_is_refused(length in (1u64 << 32)..=u64::MAX, tail in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut body = postcard::to_allocvec(&length).unwrap();
        body.extend_from_slice(&tail);
        let (bytes, allocated) = allocated_by(|| decode_reply::<Vec<u8>>(REPLY_VALUE, &body));
        prop_assert!(matches!(bytes, Err(TaskError::Codec(_))), "{:?}", bytes);
        prop_assert!(allocated <= (1 << 20) + 4096, "{} bytes", allocated);
        let (text, allocated) = allocated_by(|| decode_reply::<String>(REPLY_VALUE, &body));
        prop_assert!(matches!(text, Err(TaskError::Codec(_))), "{:?}", text);
        prop_assert!(allocated <= 4096, "{} bytes", allocated);
    }

    /// A worker reads any frame as a task, with its two offsets and its argument, or
    /// refuses it, naming its kind and length.
    #[test]
    fn any_frame_is_a_task_or_a_clear_refusal(kind in prop_oneof![Just(TASK), any::<u8>()], body in prop::collection::vec(any::<u8>(), 0..40)) {
        check_task_frame(kind, &body)?;
    }

    /// A worker's stream of any bytes at all: tasks or an error, never a panic, and little
    /// allocation.
    #[test]
    fn random_task_streams_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4_096)) {
        let (result, allocated) = allocated_by(|| read_tasks(bytes.as_slice()));
        prop_assert!(allocated <= 4 * bytes.len() + READER_SLACK, "{} bytes", allocated);
        if let Err(error) = result {
            prop_assert!(matches!(
                error.kind(),
                io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
            ));
        }
    }

    /// Tasks as the pool writes them reach the worker whole, however the stream is split;
    /// cut anywhere inside a frame, the stream gives the whole tasks before the cut, then
    /// an unexpected end.
    #[test]
    fn task_streams_survive_splits_and_cuts(
        sent in tasks(),
        chunks in prop::collection::vec(1usize..5_000, 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = encode_tasks(&sent);
        let stream = Trickle { bytes: bytes.clone(), chunks, reads: 0 };
        prop_assert_eq!(read_tasks(stream).unwrap(), sent.clone());

        let cut = cut.index(bytes.len() + 1);
        let mut reader = FrameReader::new(&bytes[..cut]);
        let mut whole = Vec::new();
        let end = loop {
            match next_task(&mut reader) {
                Ok(Some((call, argument))) => whole.push((call, argument.to_vec())),
                Ok(None) => break None,
                Err(error) => break Some(error.kind()),
            }
        };
        prop_assert_eq!(&whole[..], &sent[..whole.len()]);
        let on_a_boundary = encode_tasks(&whole).len() == cut;
        prop_assert_eq!(end, (!on_a_boundary).then_some(io::ErrorKind::UnexpectedEof));
    }

    /// A task frame announcing more than the limit is refused before anything is allocated
    /// for it.
    #[test]
    fn an_oversized_task_frame_is_refused(length in (MAX_FRAME + 1)..=u64::MAX, tail in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = length.to_le_bytes().to_vec();
        bytes.push(TASK);
        bytes.extend_from_slice(&tail);
        let (result, allocated) = allocated_by(|| read_tasks(bytes.as_slice()));
        let error = result.unwrap_err();
        prop_assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        prop_assert!(error.to_string().contains("frame length"), "{}", error);
        prop_assert!(allocated <= READ_CHUNK + ERROR_SLACK, "{} bytes", allocated);
    }
}

/// Checks what a worker makes of one frame: a task whose offsets and argument are the
/// body's, if it is one; otherwise a refusal that names the frame's kind and length.
fn check_task_frame(kind: u8, body: &[u8]) -> Result<(), TestCaseError> {
    match parse_task(kind, body) {
        Ok((call, argument)) => {
            prop_assert!(kind == TASK && body.len() >= 16);
            prop_assert_eq!(&call.trampoline.to_le_bytes()[..], &body[0..8]);
            prop_assert_eq!(&call.function.to_le_bytes()[..], &body[8..16]);
            prop_assert_eq!(argument, &body[16..]);
        }
        Err(error) => {
            prop_assert!(kind != TASK || body.len() < 16);
            prop_assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            let message = error.to_string();
            prop_assert!(message.starts_with("bad task frame: "), "{}", message);
            let named = format!("kind {kind} with {} bytes", body.len());
            prop_assert!(message.contains(&named), "{}", message);
        }
    }
    Ok(())
}

/// Every kind of frame with every body length around a task's head: the boundaries, all
/// of them, rather than the few a random draw would hit.
#[test]
fn frames_around_a_task_head_are_tasks_or_refusals() {
    let body: Vec<u8> = (0..=40).collect();
    for kind in 0..=u8::MAX {
        for length in 0..body.len() {
            check_task_frame(kind, &body[..length]).unwrap();
        }
    }
}

/// Random tasks: two offsets and an argument of up to 3,000 bytes.
fn tasks() -> impl Strategy<Value = Vec<(Call, Vec<u8>)>> {
    let task = (
        any::<u64>(),
        any::<u64>(),
        prop::collection::vec(any::<u8>(), 0..3_000),
    );
    let task = task.prop_map(|(trampoline, function, argument)| {
        let call = Call {
            trampoline,
            function,
        };
        (call, argument)
    });
    prop::collection::vec(task, 0..8)
}

/// Encodes `tasks` back to back as task frames, the way the pool's writer lays them out.
fn encode_tasks(tasks: &[(Call, Vec<u8>)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (call, argument) in tasks {
        encode(&mut bytes, TASK, |out| {
            out.extend_from_slice(&call.trampoline.to_le_bytes());
            out.extend_from_slice(&call.function.to_le_bytes());
            out.extend_from_slice(argument);
        });
    }
    bytes
}

/// Decodes `body` as a `T`: a value or an error, and never a large allocation, whatever
/// lengths the body announces.
fn decodes_or_refuses<T: DeserializeOwned>(body: &[u8]) -> Result<(), TestCaseError> {
    let (_, allocated) = allocated_by(|| postcard::from_bytes::<T>(body).is_ok());
    prop_assert!(
        allocated <= 64 * body.len() + 4 * 1024 * 1024,
        "{} bytes",
        allocated
    );
    Ok(())
}
