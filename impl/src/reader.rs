//! The read side of an open connection, as a task of its own.
//!
//! Why a second task: the connection's driver writes (feeds frames, flushes,
//! counts `bufferedAmount` down) and this task reads (parses frames, feeds
//! messages to the model), so that a connection that sends and receives at
//! once uses two cores, as a hand-written async-tungstenite client does with
//! `split()`. Both only ever change state through the model, under the same
//! lock; neither decides anything.
//!
//! Messages are read in batches without the lock and given to the model
//! under one lock. Reading pauses while `max_queued_bytes` of received
//! messages wait for the user (TCP flow control then slows the peer down),
//! and resumes when the user takes events. The task ends when the stream
//! ends, or when the driver drops the transport.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use futures::Stream;
use wsapi_model::{FailReason, Input};

use crate::shared::{after_model_change, LiveDriver, Shared};
use crate::transport::WsReceiver;
use crate::wire::{WireEvent, WireHandle};
use crate::Message;

/// Most messages read in one go before the lock is taken.
const READ_BATCH: usize = 256;

pub(crate) struct Reader {
    shared: Arc<Shared>,
    rx: WsReceiver,
    wire: WireHandle,
    max_queued_bytes: u64,
    /// Messages read and not yet given to the model (reused buffer).
    batch: Vec<Message>,
    /// tungstenite's stream ended or failed: nothing more will be read.
    read_done: bool,
    _live: LiveDriver,
}

impl Reader {
    pub fn new(shared: Arc<Shared>, rx: WsReceiver, wire: WireHandle, max_queued_bytes: u64) -> Reader {
        Reader {
            shared,
            rx,
            wire,
            max_queued_bytes,
            batch: Vec::new(),
            read_done: false,
            _live: LiveDriver::start(),
        }
    }

    /// Reads until the stream ends or the driver says stop; then tells the
    /// driver (which waits for this before it reports the transport closed).
    pub async fn run(mut self) {
        futures::future::poll_fn(|cx| self.poll(cx)).await;
        // Drops the receiving half: with the driver's half gone, TCP closes.
        let shared = self.shared.clone();
        drop(self);
        let mut inner = shared.lock();
        inner.reader_running = false;
        inner.wake_driver();
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            {
                let mut inner = self.shared.lock();
                if inner.reader_stop {
                    return Poll::Ready(());
                }
                if !inner.reader_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    inner.reader_waker = Some(cx.waker().clone());
                }
            }
            let mut progress = self.poll_read(cx);
            progress |= self.poll_wire_events();
            if self.read_done {
                // No more reads, so the filter cannot queue anything more.
                return Poll::Ready(());
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Reads a batch of messages without the lock, then feeds them to the
    /// model under one lock (a lock per message costs more than the parse).
    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        let max = self.max_queued_bytes;
        let budget = {
            let mut inner = self.shared.lock();
            let queued = inner.model().queued_message_bytes();
            inner.read_paused = queued >= max;
            max.saturating_sub(queued)
        };
        let mut progress = false;
        let mut batch_bytes = 0u64;
        let mut end = None;
        for _ in 0..READ_BATCH {
            if batch_bytes >= budget {
                break;
            }
            let item = match Pin::new(&mut self.rx).poll_next(cx) {
                Poll::Pending => break,
                Poll::Ready(item) => item,
            };
            progress = true;
            let message = match item {
                Some(Ok(WsMessage::Text(t))) => Message::Text(t),
                Some(Ok(WsMessage::Binary(b))) => Message::Binary(b),
                // Pings are answered by tungstenite; Close frames never reach
                // it (the Wire filter takes them).
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    end = Some(match read_error_reason(&e) {
                        Some(reason) => Input::ProtocolError(reason),
                        None => Input::TransportClosed,
                    });
                    break;
                }
                None => {
                    end = Some(Input::TransportClosed);
                    break;
                }
            };
            batch_bytes += message.len() as u64;
            self.batch.push(message);
        }
        if !progress {
            return false;
        }
        self.read_done = end.is_some();
        let mut inner = self.shared.lock();
        for message in self.batch.drain(..) {
            let r = inner.input(Input::Message(message));
            debug_assert!(r.is_ok(), "{r:?}");
        }
        let ended = end.is_some();
        if let Some(input) = end {
            let r = inner.input(input);
            debug_assert!(r.is_ok(), "{r:?}");
        }
        inner.read_paused = inner.model().queued_message_bytes() >= max;
        after_model_change(&mut inner);
        // The driver sends what the model now wants sent, and runs handlers.
        if ended || inner.handlers.is_some() {
            inner.wake_driver();
        }
        true
    }

    /// What the Wire filter saw that tungstenite does not report.
    fn poll_wire_events(&mut self) -> bool {
        let mut progress = false;
        while let Some(event) = self.wire.poll_event() {
            progress = true;
            let mut inner = self.shared.lock();
            let input = match event {
                WireEvent::Close(payload) => inner.input(Input::CloseFrame(payload)),
                WireEvent::ProtocolError(why) => inner.input(Input::ProtocolError(FailReason::Protocol(why))),
                WireEvent::MessageTooBig => inner.input(Input::ProtocolError(FailReason::MessageTooBig)),
                WireEvent::Eof => inner.input(Input::TransportClosed),
            };
            debug_assert!(input.is_ok(), "{input:?}");
            after_model_change(&mut inner);
            // A Close to answer, a timer to arm, or the transport to close.
            inner.wake_driver();
        }
        progress
    }
}

/// Maps a tungstenite read error to the failure it is (`None`: the
/// transport just ended).
fn read_error_reason(e: &WsError) -> Option<FailReason> {
    use async_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
    match e {
        WsError::Utf8(_) => Some(FailReason::InvalidUtf8),
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => Some(FailReason::MessageTooBig),
        WsError::Capacity(other) => Some(FailReason::Protocol(other.to_string())),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Protocol(p) => Some(FailReason::Protocol(p.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_tungstenite::tungstenite::error::{CapacityError, ProtocolError};

    #[test]
    fn read_errors_map_to_the_failure_they_are() {
        assert_eq!(
            read_error_reason(&WsError::Utf8("bad".into())),
            Some(FailReason::InvalidUtf8)
        );
        let too_long = CapacityError::MessageTooLong { size: 2, max_size: 1 };
        assert_eq!(
            read_error_reason(&WsError::Capacity(too_long)),
            Some(FailReason::MessageTooBig)
        );
        assert_eq!(
            read_error_reason(&WsError::Capacity(CapacityError::TooManyHeaders)),
            Some(FailReason::Protocol("Too many headers".into()))
        );
        assert_eq!(
            read_error_reason(&WsError::Protocol(ProtocolError::UnmaskedFrameFromClient)),
            Some(FailReason::Protocol(ProtocolError::UnmaskedFrameFromClient.to_string()))
        );
        // The transport just ended: not a protocol error.
        assert_eq!(
            read_error_reason(&WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)),
            None
        );
        assert_eq!(read_error_reason(&WsError::ConnectionClosed), None);
    }
}
