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
