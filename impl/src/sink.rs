//! A [`futures::Sink`] over `send`, for callers who want backpressure.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Sink;
use wsapi_model::SendError;

use crate::handle::WebSocketHandle;
use crate::shared::Wait;
use crate::Message;

/// Sends messages, waiting while `bufferedAmount` is above the high-water
/// mark. Flushing waits until everything was handed to the OS (or nothing
/// more can be); closing calls `close()` with no code. While it waits, the
/// waiting task writes what the connection holds itself (see the crate
/// docs); a sink that is dropped while waiting hands that on to the
/// connection's task.
pub struct MessageSink {
    handle: WebSocketHandle,
    high_water_mark: u64,
    /// Its waits for `bufferedAmount`, withdrawn when it is dropped.
    wait: Wait,
}

impl std::fmt::Debug for MessageSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageSink")
            .field("handle", &self.handle)
            .field("high_water_mark", &self.high_water_mark)
            .finish()
    }
}

impl Clone for MessageSink {
    fn clone(&self) -> Self {
        MessageSink::new(self.handle.clone(), self.high_water_mark)
    }
}

impl MessageSink {
    pub(crate) fn new(handle: WebSocketHandle, high_water_mark: u64) -> Self {
        let wait = Wait::new(&handle.shared.router);
        MessageSink {
            handle,
            high_water_mark,
            wait,
        }
    }

    fn poll_buffered(&self, cx: &mut Context<'_>, max: u64) -> Poll<()> {
        self.handle.poll_buffered(cx, max, Some(&self.wait))
    }
}

impl Sink<Message> for MessageSink {
    type Error = SendError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        self.poll_buffered(cx, self.high_water_mark).map(Ok)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), SendError> {
        self.handle.send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        self.poll_buffered(cx, 0).map(Ok)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        let flushed = self.poll_buffered(cx, 0);
        if flushed.is_ready() {
            // Arguments are valid by construction: close() cannot throw.
            let _ = self.handle.close(None, None);
        }
        flushed.map(Ok)
    }
}
