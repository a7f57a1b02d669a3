//! [`Bytes`]: a byte buffer that crosses to a worker process in one copy.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

/// A byte buffer for process-task arguments and results: a `Vec<u8>` that serializes as
/// one block of bytes.
///
/// serde moves a plain `Vec<u8>` one element at a time, about a nanosecond per byte each way;
/// for large binary data that dominates a task's cost. `Bytes` is written and read with one
/// copy. It dereferences to the `Vec<u8>` it wraps and converts to and from one.
///
/// # Examples
///
/// ```
/// use poolscope_runtime::{Bytes, ProcessPool};
///
/// fn checksum(data: Bytes) -> u64 {
///     data.iter().map(|&byte| u64::from(byte)).sum()
/// }
///
/// let pool = ProcessPool::new(1);
/// let data = Bytes::from(vec![1u8; 1 << 16]);
/// assert_eq!(pool.submit(checksum, data).result(), Ok(1 << 16));
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(Vec<u8>);

impl Bytes {
    /// An empty buffer.
    pub fn new() -> Bytes {
        Bytes(Vec::new())
    }

    /// The bytes, as the vector that holds them.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Bytes {
        Bytes(bytes)
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Bytes {
        Bytes(bytes.to_vec())
    }
}

impl From<Bytes> for Vec<u8> {
    fn from(bytes: Bytes) -> Vec<u8> {
        bytes.0
    }
}

impl Deref for Bytes {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for Bytes {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

/// Reads [`Bytes`] from a block of bytes, or from a sequence for formats without blocks.
struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a block of bytes")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Bytes, E> {
        Ok(Bytes(bytes.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Bytes, E> {
        Ok(Bytes(bytes))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Bytes, A::Error> {
        // Trust the announced length only so far: a hostile one must not allocate much.
        let hint = sequence.size_hint().unwrap_or(0).min(64 * 1024);
        let mut bytes = Vec::with_capacity(hint);
        while let Some(byte) = sequence.next_element()? {
            bytes.push(byte);
        }
        Ok(Bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_as_one_block() {
        let data = Bytes::from((0..=255u8).collect::<Vec<_>>());
        let encoded = postcard::to_allocvec(&data).unwrap();
        // A varint length (2 bytes for 256) and the bytes themselves, nothing per element.
        assert_eq!(encoded.len(), 2 + 256);
        assert_eq!(postcard::from_bytes::<Bytes>(&encoded).unwrap(), data);
    }

    #[test]
    fn bytes_read_what_a_vec_of_bytes_wrote() {
        let written = postcard::to_allocvec(&vec![1u8, 2, 200]).unwrap();
        let read: Bytes = postcard::from_bytes(&written).unwrap();
        assert_eq!(read.into_vec(), [1, 2, 200]);
    }
}
