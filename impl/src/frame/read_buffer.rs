//! The one reused buffer the socket is read into.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::AsyncRead;

use super::{MAX_HEADER, READ_BUFFER};

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
        let mut buf = vec![0; READ_BUFFER.max(initial.len())].into_boxed_slice();
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
    /// header to the front first). `Ready(Ok(0))` is the end of the stream.
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
        let n = std::task::ready!(Pin::new(stream).poll_read(cx, &mut self.buf[self.end..]))?;
        self.end += n;
        Poll::Ready(Ok(n))
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
        // Consumed to the end: the whole buffer is free again.
        let stream: Vec<u8> = (0..READ_BUFFER + 10).map(|i| i as u8).collect();
        let mut source = Cursor::new(stream.clone());
        assert_eq!(fill(&mut buf, &mut source), READ_BUFFER);
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
    fn a_partly_consumed_buffer_with_room_is_appended_to_in_place() {
        let mut buf = ReadBuffer::new(b"0123456789");
        buf.consume(8);
        let mut source = Cursor::new(b"ab".to_vec());
        assert_eq!(fill(&mut buf, &mut source), 2);
        assert_eq!(buf.data(), b"89ab");
    }
}
