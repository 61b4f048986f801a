//! The user's stream and connector, with their panics turned into I/O
//! errors.
//!
//! A stream given to [`crate::WebSocketBuilder::stream`] or opened by a
//! [`crate::WebSocketBuilder::connector`] is the user's code running inside
//! the connection's task. A panic there used to unwind through the driver
//! and end its task with nothing told to the model: the socket stayed
//! CLOSING for ever, `next_event()` never resolved. Here a panic becomes
//! what it means for the connection, a failed transport: an `io::Error`
//! (kind `Other`, with the panic's message), after which the stream is
//! never polled again. The driver then fails the connection as it does for
//! any I/O error (error event, close 1006), and every rule stays the model's.
//!
//! The runtime's own TCP streams are not wrapped: they do not panic, and
//! the hot path keeps one indirection less.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};

use crate::panic_message::panic_message;
use crate::runtime::{BoxFuture, BoxedStream};

/// A stream whose panics are I/O errors; after one, every call fails.
pub(crate) struct Guarded {
    stream: BoxedStream,
    /// What the stream panicked with, once it did.
    panicked: Option<String>,
}

impl Guarded {
    pub(crate) fn new(stream: BoxedStream) -> Guarded {
        Guarded { stream, panicked: None }
    }

    /// Runs one poll of the stream, catching its panic.
    fn guard<T>(
        &mut self,
        what: &'static str,
        poll: impl FnOnce(Pin<&mut BoxedStream>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if let Some(why) = &self.panicked {
            return Poll::Ready(Err(panicked(why)));
        }
        match catch_unwind(AssertUnwindSafe(|| poll(Pin::new(&mut self.stream)))) {
            Ok(result) => result,
            Err(payload) => {
                let why = format!("the stream panicked in {what}: {}", panic_message(payload.as_ref()));
                let e = panicked(&why);
                self.panicked = Some(why);
                Poll::Ready(Err(e))
            }
        }
    }
}

fn panicked(why: &str) -> io::Error {
    io::Error::other(why.to_string())
}

impl AsyncRead for Guarded {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.get_mut().guard("poll_read", |s| s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().guard("poll_write", |s| s.poll_write(cx, buf))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().guard("poll_write", |s| s.poll_write_vectored(cx, bufs))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().guard("poll_flush", |s| s.poll_flush(cx))
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().guard("poll_close", |s| s.poll_close(cx))
    }
}

/// Runs the user's connect future with its panic turned into an I/O error,
/// and guards the stream it opens.
pub(crate) async fn connect(mut fut: BoxFuture<io::Result<BoxedStream>>) -> io::Result<BoxedStream> {
    let stream = futures::future::poll_fn(|cx| {
        catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))).unwrap_or_else(|payload| {
            Poll::Ready(Err(panicked(&format!(
                "the connector panicked: {}",
                panic_message(payload.as_ref())
            ))))
        })
    })
    .await?;
    Ok(Box::new(Guarded::new(stream)))
}
