//! A task's encoded argument, kept inline when it is short and shared when it is long.

use std::sync::Arc;

use serde::Serialize;

/// The longest argument kept inline: the most that keeps a [`Payload`] the size of a `Vec`
/// (the compiler stores the variant in a niche of the `Vec`, which must not overlap it).
const INLINE: usize = 14;

/// The shortest argument kept [`Payload::Shared`]: long enough that one more small
/// allocation is nothing beside it, and that copying it costs more than a system call.
pub(crate) const SHARED: usize = 16 * 1024;

/// A task's encoded argument, from submit until its worker answers.
///
/// Most tiny tasks take a number or two, a few bytes once encoded; keeping those inline
/// spares a queued task an allocation of its own.
pub(crate) enum Payload {
    /// Up to [`INLINE`] bytes: the first `length` of `bytes`.
    Inline {
        /// How many bytes are used.
        length: u8,
        /// The bytes.
        bytes: [u8; INLINE],
    },
    /// A longer argument.
    Heap(Vec<u8>),
    /// An argument of at least [`SHARED`] bytes, which the writer sends from where it lies
    /// rather than copying it into its buffer: it holds a reference while it writes.
    Shared(Arc<Vec<u8>>),
}

impl Payload {
    /// Encodes `value` with postcard, inline if it fits.
    pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Payload, postcard::Error> {
        let mut bytes = [0; INLINE];
        match postcard::to_slice(value, &mut bytes) {
            Ok(used) => {
                let length = used.len() as u8;
                Ok(Payload::Inline { length, bytes })
            }
            Err(postcard::Error::SerializeBufferFull) => {
                let bytes = postcard::to_allocvec(value)?;
                Ok(if bytes.len() >= SHARED {
                    Payload::Shared(Arc::new(bytes))
                } else {
                    Payload::Heap(bytes)
                })
            }
            Err(error) => Err(error),
        }
    }

    /// The encoded bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Inline { length, bytes } => &bytes[..usize::from(*length)],
            Payload::Heap(bytes) => bytes,
            Payload::Shared(bytes) => bytes,
        }
    }

    /// A reference to a [`Payload::Shared`] argument's bytes.
    pub(crate) fn shared(&self) -> Option<Arc<Vec<u8>>> {
        match self {
            Payload::Shared(bytes) => Some(Arc::clone(bytes)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_stay_inline_and_long_ones_do_not() {
        let short = Payload::encode(&(7u64, 300u32)).unwrap();
        assert!(matches!(short, Payload::Inline { .. }));
        assert_eq!(
            short.as_slice(),
            postcard::to_allocvec(&(7u64, 300u32)).unwrap()
        );

        let long = Payload::encode(&"x".repeat(100)).unwrap();
        assert!(matches!(long, Payload::Heap(_)));
        assert!(long.shared().is_none());
        assert_eq!(
            long.as_slice(),
            postcard::to_allocvec(&"x".repeat(100)).unwrap()
        );

        let huge = Payload::encode(&"y".repeat(SHARED)).unwrap();
        assert!(matches!(huge, Payload::Shared(_)));
        assert_eq!(huge.shared().unwrap().as_slice(), huge.as_slice());
        assert_eq!(
            huge.as_slice(),
            postcard::to_allocvec(&"y".repeat(SHARED)).unwrap()
        );
        assert_eq!(
            std::mem::size_of::<Payload>(),
            std::mem::size_of::<Vec<u8>>()
        );
    }
}
