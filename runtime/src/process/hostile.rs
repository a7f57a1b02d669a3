//! Hostile input to the frame reader and the codec: random, truncated and oversized frames,
//! and random reply bodies. Nothing may panic, nothing may allocate far beyond what arrived,
//! and each failure must be a clear error.

use std::io::{self, Read};

use proptest::prelude::*;
use serde::de::DeserializeOwned;

use crate::counting_alloc::allocated_by;
use crate::process::frame::{FrameReader, MAX_FRAME, encode};
use crate::process::read_frames as read_all;

/// What a frame reader may allocate beyond four times the bytes it was given (a buffer that
/// doubles as bytes arrive allocates, in all, up to four times what it holds).
const READER_SLACK: usize = 256 * 1024;

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
    #![proptest_config(ProptestConfig::with_cases(256))]

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
        prop_assert!(allocated <= READER_SLACK, "{} bytes", allocated);
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
