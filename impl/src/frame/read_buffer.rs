//! The one reused buffer the socket is read into.
//!
//! It starts at [`FIRST_READ`] bytes and grows (fourfold, up to
//! [`READ_BUFFER`]) only when a read fills all its free space, so an idle
//! connection holds a few KiB while a busy one reads 64 KiB at a time. A
//! buffer of `READ_BUFFER` from the start cost an idle connection its
//! 64 KiB as soon as the allocator zeroed it (whether it does depends on
//! where the memory came from: glibc skips the zeroing for fresh pages of a
//! thread's own arena, not for reused ones of the main arena, so idle
//! connections opened from `block_on` measured 67 KiB each against 16 KiB
//! from a runtime's task).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::AsyncRead;

use super::{MAX_HEADER, READ_BUFFER};

/// The buffer's size until a read fills it: the handshake's leftover and an
/// idle connection's occasional frame fit in it.
pub(crate) const FIRST_READ: usize = 4 * 1024;

/// Bytes read and not yet decoded live in `buf[start..end]`. The decoder
/// takes everything but an incomplete frame header (or, when the user's
/// queue is full, what follows the last frame it decoded), so what is kept
/// between reads is small and moving it to the front is cheap.
pub(crate) struct ReadBuffer {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl ReadBuffer {
    /// A buffer holding `initial` (the bytes read past the handshake's head).
    pub(crate) fn new(initial: &[u8]) -> Self {
        let mut buf = vec![0; FIRST_READ.max(initial.len())].into_boxed_slice();
        buf[..initial.len()].copy_from_slice(initial);
        ReadBuffer {
            buf,
            start: 0,
            end: initial.len(),
        }
    }

    /// The bytes not decoded yet.
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` bytes as decoded.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Drops everything not decoded (after a Close frame or a failure).
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Reads once from `stream` into the free space (moving a leftover
    /// header to the front first), and grows the buffer for the next read
    /// when this one filled it. `Ready(Ok(0))` is the end of the stream.
    pub(crate) fn poll_fill<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        // The decoder left at most an incomplete header behind.
        debug_assert!(self.end - self.start < MAX_HEADER, "only a partial header is kept");
        let free = self.buf.len() - self.end;
        let n = std::task::ready!(Pin::new(stream).poll_read(cx, &mut self.buf[self.end..]))?;
        self.end += n;
        if n == free && self.buf.len() < READ_BUFFER {
            self.grow();
        }
        Poll::Ready(Ok(n))
    }

    /// Replaces the buffer with one four times as large (at most
    /// `READ_BUFFER`), keeping the bytes not decoded yet at its front.
    fn grow(&mut self) {
        let len = (self.buf.len() * 4).min(READ_BUFFER);
        let mut buf = vec![0; len].into_boxed_slice();
        let kept = self.end - self.start;
        buf[..kept].copy_from_slice(&self.buf[self.start..self.end]);
        (self.buf, self.start, self.end) = (buf, 0, kept);
    }

    /// The buffer's size (tests).
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;
    use futures::task::noop_waker;

    /// One `poll_fill` from `source` (a cursor is always ready).
    fn fill(buf: &mut ReadBuffer, source: &mut Cursor<Vec<u8>>) -> usize {
        let waker = noop_waker();
        match buf.poll_fill(source, &mut Context::from_waker(&waker)) {
            Poll::Ready(Ok(n)) => n,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bytes_are_kept_until_consumed_and_a_leftover_header_moves_to_the_front() {
        let mut buf = ReadBuffer::new(b"head");
        assert_eq!(buf.data(), b"head");
        buf.consume(1);
        assert_eq!(buf.data(), b"ead");
        buf.consume(3);
        assert_eq!(buf.data(), b"");
        // Consumed to the end: the whole buffer is free again. Reads that
        // fill it grow it fourfold, up to READ_BUFFER.
        let growth: Vec<u8> = (0..FIRST_READ + 4 * FIRST_READ + 16 * FIRST_READ)
            .map(|i| i as u8)
            .collect();
        let mut source = Cursor::new(growth.clone());
        assert_eq!(buf.capacity(), FIRST_READ);
        assert_eq!(fill(&mut buf, &mut source), FIRST_READ);
        assert_eq!(buf.capacity(), 4 * FIRST_READ, "a full read grows it");
        assert_eq!(buf.data(), &growth[..FIRST_READ], "what was read is kept");
        buf.consume(FIRST_READ);
        assert_eq!(fill(&mut buf, &mut source), 4 * FIRST_READ);
        assert_eq!(buf.capacity(), READ_BUFFER.min(16 * FIRST_READ));
        buf.consume(4 * FIRST_READ);
        assert_eq!(fill(&mut buf, &mut source), 16 * FIRST_READ);
        assert_eq!(buf.capacity(), READ_BUFFER, "never beyond READ_BUFFER");
        buf.consume(16 * FIRST_READ);
        let stream: Vec<u8> = (0..READ_BUFFER + 10).map(|i| (i * 7) as u8).collect();
        let mut source = Cursor::new(stream.clone());
        let at_full_size = buf.buf.as_ptr();
        assert_eq!(fill(&mut buf, &mut source), READ_BUFFER);
        assert_eq!(buf.capacity(), READ_BUFFER);
        assert_eq!(
            buf.buf.as_ptr(),
            at_full_size,
            "a full read at full size reallocates nothing"
        );
        assert_eq!(buf.data(), &stream[..READ_BUFFER]);
        // The decoder leaves an incomplete header at the very end; the next
        // read moves it to the front and appends after it.
        buf.consume(READ_BUFFER - 3);
        assert_eq!(fill(&mut buf, &mut source), 10);
        assert_eq!(buf.data(), &stream[READ_BUFFER - 3..]);
        // The end of the stream reads 0 and keeps what was there.
        assert_eq!(fill(&mut buf, &mut source), 0);
        assert_eq!(buf.data(), &stream[READ_BUFFER - 3..]);
        buf.clear();
        assert_eq!(buf.data(), b"");
    }

    #[test]
    fn a_read_that_does_not_fill_the_buffer_leaves_it_small() {
        let mut buf = ReadBuffer::new(b"");
        let mut source = Cursor::new(vec![1; FIRST_READ - 1]);
        assert_eq!(fill(&mut buf, &mut source), FIRST_READ - 1);
        assert_eq!(buf.capacity(), FIRST_READ);
    }

    #[test]
    fn growing_keeps_what_was_not_decoded_at_the_front() {
        let half = FIRST_READ / 2;
        let stream: Vec<u8> = (0..2 * half).map(|i| i as u8).collect();
        let mut source = Cursor::new(stream.clone());
        let mut buf = ReadBuffer::new(b"");
        // Half full, not grown; the decoder leaves a 3-byte partial header.
        let mut limited = Cursor::new(stream[..half].to_vec());
        assert_eq!(fill(&mut buf, &mut limited), half);
        assert_eq!(buf.capacity(), FIRST_READ);
        buf.consume(half - 3);
        // The next read fills the free space: the buffer grows, and the
        // partial header and the new bytes move to its front, in order.
        source.set_position(half as u64);
        assert_eq!(fill(&mut buf, &mut source), half);
        assert_eq!(buf.capacity(), 4 * FIRST_READ);
        assert_eq!(buf.data(), &stream[half - 3..]);
    }

    #[test]
    fn a_partly_consumed_buffer_with_room_is_appended_to_in_place() {
        let mut buf = ReadBuffer::new(b"0123456789");
        buf.consume(8);
        let mut source = Cursor::new(b"ab".to_vec());
        assert_eq!(fill(&mut buf, &mut source), 2);
        assert_eq!(buf.data(), b"89ab");
    }
}
