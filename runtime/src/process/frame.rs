//! Length-prefixed frames on a worker's stream.
//!
//! A frame is an 8-byte little-endian length, then that many bytes: one kind byte and the
//! body. Lengths above [`MAX_FRAME`] are refused before anything is allocated, so a corrupt
//! or hostile prefix costs nothing.

use std::io::{self, IoSlice, Read};
use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, send, sendmsg};

/// The largest frame accepted: 1 GiB, far above any sensible task argument or result.
pub(crate) const MAX_FRAME: u64 = 1 << 30;

/// The bytes before a frame's body: its length.
const PREFIX: usize = 8;

/// The bytes of a task frame after its length prefix and before its argument: the kind
/// byte and the two code offsets of its call.
pub(crate) const TASK_HEAD: usize = 1 + 2 * 8;

/// The most pieces one `sendmsg` takes: Linux's `IOV_MAX`.
const MAX_PIECES: usize = 1024;

/// How many bytes a read asks for at least, so that small frames arrive in batches.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// Appends one frame of `kind` to `out`; `body` writes the body.
pub(crate) fn encode(out: &mut Vec<u8>, kind: u8, body: impl FnOnce(&mut Vec<u8>)) {
    let start = begin(out);
    body(out);
    finish(out, start, kind);
}

/// Starts a frame in `out` whose kind is not known yet; returns where it starts.
pub(crate) fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; PREFIX + 1]);
    start
}

/// Completes the frame begun at `start` with `kind`, its body being the bytes after it.
pub(crate) fn finish(out: &mut [u8], start: usize, kind: u8) {
    let length = (out.len() - start - PREFIX) as u64;
    out[start..start + PREFIX].copy_from_slice(&length.to_le_bytes());
    out[start + PREFIX] = kind;
}

/// Reads frames from a stream through one reusable buffer.
pub(crate) struct FrameReader<R> {
    /// Where the bytes come from.
    source: R,
    /// Bytes read and not yet consumed live in `buffer[start..end]`.
    buffer: Vec<u8>,
    /// The first unconsumed byte.
    start: usize,
    /// One past the last byte read.
    end: usize,
}

impl<R: Read> FrameReader<R> {
    /// A reader with an empty buffer.
    pub(crate) fn new(source: R) -> Self {
        FrameReader {
            source,
            buffer: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
        }
    }

    /// The stream itself, to set timeouts on it.
    pub(crate) fn source(&self) -> &R {
        &self.source
    }

    /// The next frame as `(kind, body)`, reading as needed; `None` at a clean end of stream.
    ///
    /// # Errors
    ///
    /// Read errors (a timeout among them), a stream that ends inside a frame, and a length
    /// prefix that is zero or above [`MAX_FRAME`].
    pub(crate) fn next_frame(&mut self) -> io::Result<Option<(u8, &[u8])>> {
        if !self.fill(PREFIX)? {
            return Ok(None);
        }
        let length = self.peek_length()?;
        if !self.fill(PREFIX + length)? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let frame = self.start + PREFIX;
        self.start = frame + length;
        Ok(Some((
            self.buffer[frame],
            &self.buffer[frame + 1..self.start],
        )))
    }

    /// The body length announced by the buffered prefix, checked against [`MAX_FRAME`].
    fn peek_length(&self) -> io::Result<usize> {
        let mut prefix = [0; PREFIX];
        prefix.copy_from_slice(&self.buffer[self.start..self.start + PREFIX]);
        let length = u64::from_le_bytes(prefix);
        if length == 0 || length > MAX_FRAME {
            let message = format!("frame length {length} is outside 1..={MAX_FRAME}");
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
        Ok(length as usize)
    }

    /// Buffers at least `wanted` unconsumed bytes; `false` on end of stream before any byte.
    ///
    /// The buffer grows with the bytes that arrive, not with the length a prefix announces,
    /// so a peer that announces a large frame and sends little makes it allocate little.
    fn fill(&mut self, wanted: usize) -> io::Result<bool> {
        if self.end - self.start >= wanted {
            return Ok(true);
        }
        self.compact();
        while self.end < wanted {
            if self.end == self.buffer.len() {
                self.grow(wanted);
            }
            let read = self.source.read(&mut self.buffer[self.end..])?;
            if read == 0 {
                return match self.end {
                    0 => Ok(false),
                    _ => Err(io::ErrorKind::UnexpectedEof.into()),
                };
            }
            self.end += read;
        }
        Ok(true)
    }

    /// Moves the unconsumed bytes to the front; gives back a large buffer once it is empty.
    fn compact(&mut self) {
        self.buffer.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == 0 && self.buffer.len() > 4 * READ_CHUNK {
            self.buffer = vec![0; READ_CHUNK];
        }
    }

    /// Doubles the full buffer, up to `wanted` bytes.
    fn grow(&mut self, wanted: usize) {
        let size = wanted.min(self.buffer.len() * 2).max(READ_CHUNK);
        // A fresh zeroed allocation costs nothing per byte, unlike `resize`, which writes
        // every byte (slowly, in unoptimized builds).
        let mut grown = vec![0; size];
        grown[..self.end].copy_from_slice(&self.buffer[..self.end]);
        self.buffer = grown;
    }
}

/// Writes all of `bytes` to a socket, without raising `SIGPIPE` if the peer is gone.
pub(crate) fn send_all(socket: &impl AsFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match send(socket.as_fd().as_raw_fd(), bytes, MsgFlags::MSG_NOSIGNAL) {
            Ok(sent) => bytes = &bytes[sent..],
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(())
}

/// Writes all of `pieces`, in order, to a socket in as few system calls as the socket
/// allows, without copying them together first and without raising `SIGPIPE`.
pub(crate) fn send_all_vectored(
    socket: &impl AsFd,
    mut pieces: &mut [IoSlice<'_>],
) -> io::Result<()> {
    IoSlice::advance_slices(&mut pieces, 0);
    while !pieces.is_empty() {
        let at_once = pieces.len().min(MAX_PIECES);
        match sendmsg::<()>(
            socket.as_fd().as_raw_fd(),
            &pieces[..at_once],
            &[],
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(sent) => IoSlice::advance_slices(&mut pieces, sent),
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(bytes: &[u8]) -> io::Result<Vec<(u8, Vec<u8>)>> {
        let mut reader = FrameReader::new(bytes);
        let mut out = Vec::new();
        while let Some((kind, body)) = reader.next_frame()? {
            out.push((kind, body.to_vec()));
        }
        Ok(out)
    }

    #[test]
    fn frames_round_trip_in_order() {
        let mut bytes = Vec::new();
        encode(&mut bytes, 1, |b| b.extend_from_slice(b"one"));
        encode(&mut bytes, 2, |_| {});
        encode(&mut bytes, 3, |b| b.extend(std::iter::repeat_n(7, 200_000)));
        let read = frames(&bytes).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(read[0], (1, b"one".to_vec()));
        assert_eq!(read[1], (2, Vec::new()));
        assert_eq!(read[2].1.len(), 200_000);
    }

    #[test]
    fn a_length_prefix_of_2_pow_63_allocates_only_the_read_buffer() {
        let mut bytes = (1u64 << 63).to_le_bytes().to_vec();
        bytes.push(4);
        let (result, allocated) = crate::counting_alloc::allocated_by(|| frames(&bytes));
        let error = result.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        let expected = format!("frame length {} is outside 1..={MAX_FRAME}", 1u64 << 63);
        assert_eq!(error.to_string(), expected);
        // The buffer the reader makes before reading a byte, and the error with its message.
        assert!(allocated <= READ_CHUNK + 256, "{allocated} bytes allocated");
        eprintln!("a length prefix of 2^63: {allocated} bytes allocated");
    }

    #[test]
    fn truncated_frame_is_an_error() {
        let mut bytes = Vec::new();
        encode(&mut bytes, 1, |b| b.extend_from_slice(b"complete"));
        bytes.truncate(bytes.len() - 2);
        assert_eq!(
            frames(&bytes).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn vectored_send_writes_every_piece_in_order() {
        // More pieces than one call takes, of mixed sizes, through a small socket buffer,
        // so that writes end part-way through a piece and across the call's piece limit.
        let chunks: Vec<Vec<u8>> = (0..3 * MAX_PIECES)
            .map(|i| vec![(i % 251) as u8; if i % 7 == 0 { 70_000 } else { i % 13 }])
            .collect();
        let expected = chunks.concat();
        let (sender, mut receiver) = std::os::unix::net::UnixStream::pair().unwrap();
        nix::sys::socket::setsockopt(&sender, nix::sys::socket::sockopt::SndBuf, &4096).unwrap();

        let reading = std::thread::spawn(move || {
            let mut received = Vec::new();
            receiver.read_to_end(&mut received).unwrap();
            received
        });
        let mut pieces: Vec<IoSlice<'_>> = chunks.iter().map(|c| IoSlice::new(c)).collect();
        send_all_vectored(&sender, &mut pieces).unwrap();
        drop(sender);

        let received = reading.join().unwrap();
        assert_eq!(received.len(), expected.len());
        assert!(received == expected, "the bytes arrived out of order");
    }
}
