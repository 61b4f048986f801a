//! An open connection's byte stream, read into the frame decoder and
//! written from the frame encoder ([`crate::frame`]). The driver decides
//! when; this module only moves bytes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::AsyncWrite;

use crate::frame::decode::{Decoder, Inbound, Pause};
use crate::frame::encode::Encoder;
use crate::frame::read_buffer::ReadBuffer;
use crate::transport::MaybeTls;

/// Reads per call of [`Conn::poll_read`] before the driver's other duties
/// get a turn.
const MAX_READS: usize = 16;

/// What one [`Conn::poll_read`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadOutcome {
    /// Bytes arrived or items were decoded.
    pub progress: bool,
    /// Bytes arrived (a sign of life for keep-alive).
    pub heard: bool,
    /// The stream ended or failed.
    pub ended: bool,
}

/// What one [`Conn::poll_write`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteOutcome {
    /// Bytes were written or a flush completed.
    pub progress: bool,
    /// Bytes of whole messages now handed to the OS (for `bufferedAmount`).
    pub written: u64,
}

/// The stream of an open connection, with its read buffer and decoder.
pub(crate) struct Conn {
    stream: MaybeTls,
    input: ReadBuffer,
    decoder: Decoder,
    /// Written since the last completed flush.
    needs_flush: bool,
    /// Message bytes written since the last completed flush.
    unflushed: u64,
    /// The error that ended reading, if it was one (not the end of the
    /// stream): the failure keeps it ([`Conn::take_read_error`]).
    read_error: Option<io::Error>,
}

impl Conn {
    /// A connection whose first `leftover` bytes were read with the
    /// handshake's response.
    pub(crate) fn new(stream: MaybeTls, leftover: &[u8], decoder: Decoder) -> Self {
        Conn {
            stream,
            input: ReadBuffer::new(leftover),
            decoder,
            needs_flush: false,
            unflushed: 0,
            read_error: None,
        }
    }

    /// The I/O error that ended reading (`None`: the stream ended, or no
    /// error yet).
    pub(crate) fn take_read_error(&mut self) -> Option<io::Error> {
        self.read_error.take()
    }

    /// Whether the stream is TLS over the transport.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.stream, MaybeTls::Tls(_))
    }

    /// Whether a Close frame or a failure ended decoding (what follows is
    /// read and dropped until the end of the stream).
    pub(crate) fn decoding_stopped(&self) -> bool {
        self.decoder.is_stopped()
    }

    /// Decodes what was read and reads more, pushing to `out` items that
    /// cost at most about `budget` (each `overhead` plus its bytes). After
    /// a Close frame or a failure it reads and drops bytes until the end.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        budget: u64,
        overhead: u64,
        out: &mut Vec<Inbound>,
    ) -> ReadOutcome {
        let mut outcome = ReadOutcome::default();
        let mut budget = budget;
        let mut reads = 0;
        loop {
            if self.decoder.is_stopped() {
                self.input.clear();
            } else {
                let first = out.len();
                let (used, pause) = self.decoder.decode(self.input.data(), &mut budget, overhead, out);
                self.input.consume(used);
                outcome.progress |= out.len() > first;
                match pause {
                    Pause::Budget => return outcome,
                    Pause::Stopped => self.input.clear(),
                    Pause::NeedInput => {}
                }
            }
            if reads == MAX_READS {
                return outcome;
            }
            match self.input.poll_fill(&mut self.stream, cx) {
                Poll::Pending => return outcome,
                Poll::Ready(Ok(1..)) => {
                    reads += 1;
                    outcome.progress = true;
                    outcome.heard = true;
                }
                // After a Close frame an error means the end as well.
                Poll::Ready(Ok(0)) => {
                    outcome.progress = true;
                    outcome.ended = true;
                    return outcome;
                }
                Poll::Ready(Err(e)) => {
                    self.read_error = Some(e);
                    outcome.progress = true;
                    outcome.ended = true;
                    return outcome;
                }
            }
        }
    }

    /// Writes what `encoder` holds until it is empty or the stream blocks,
    /// then flushes. `Err`: the stream failed.
    pub(crate) fn poll_write(&mut self, cx: &mut Context<'_>, encoder: &mut Encoder) -> io::Result<WriteOutcome> {
        let mut outcome = WriteOutcome::default();
        loop {
            let bytes = encoder.unwritten();
            if bytes.is_empty() {
                break;
            }
            match Pin::new(&mut self.stream).poll_write(cx, bytes) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => {
                    self.unflushed += encoder.advance(n);
                    self.needs_flush = true;
                    outcome.progress = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        // Also when the write blocked: for TLS, what was written may sit in
        // the session until flushed; for TCP a flush costs nothing.
        if self.needs_flush {
            if let Poll::Ready(r) = Pin::new(&mut self.stream).poll_flush(cx) {
                r?;
                self.needs_flush = false;
                outcome.progress = true;
                outcome.written = std::mem::take(&mut self.unflushed);
            }
        }
        Ok(outcome)
    }
}
