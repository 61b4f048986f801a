//! A [`futures::Sink`] over `send`, for callers who want backpressure.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Sink;
use wsapi_model::SendError;

use crate::handle::WebSocketHandle;
use crate::Message;

/// Sends messages, waiting while `bufferedAmount` is above the high-water
/// mark. Flushing waits until everything was handed to the OS (or nothing
/// more can be); closing calls `close()` with no code.
#[derive(Debug, Clone)]
pub struct MessageSink {
    handle: WebSocketHandle,
    high_water_mark: u64,
}

impl MessageSink {
    pub(crate) fn new(handle: WebSocketHandle, high_water_mark: u64) -> Self {
        MessageSink {
            handle,
            high_water_mark,
        }
    }
}

impl Sink<Message> for MessageSink {
    type Error = SendError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        let this = self.get_mut();
        this.handle.poll_buffered_at_most(cx, this.high_water_mark).map(Ok)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), SendError> {
        self.handle.send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        self.handle.poll_buffered_at_most(cx, 0).map(Ok)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        let flushed = self.handle.poll_buffered_at_most(cx, 0);
        if flushed.is_ready() {
            // Arguments are valid by construction: close() cannot throw.
            let _ = self.handle.close(None, None);
        }
        flushed.map(Ok)
    }
}
