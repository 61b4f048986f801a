//! The background task of one connection: an I/O driver around the model.
//!
//! It carries out the model's transmits (connect, messages, Close frames,
//! closing the transport), feeds back what the network did, fires the
//! model's timers. It never runs the user's handlers (`dispatch` does, off
//! this task), so a slow handler cannot stall the protocol.
//! It decides nothing itself: every rule is in `wsapi-model`.
//!
//! Writes are batched: all queued messages are fed to tungstenite, then
//! flushed once, and `bufferedAmount` drops by their bytes when that flush
//! has handed them to the OS. Reads are batched too: up to [`READ_BATCH`]
//! messages are parsed without the lock and given to the model under one.
//! Reads pause while too many received bytes wait for the user, so a slow
//! reader slows the peer down (TCP flow control) instead of growing memory.
//! They also pause while more than [`MAX_UNFLUSHED_PONG_BYTES`] of pongs
//! wait to be written: tungstenite answers each ping by appending a pong to
//! its write buffer, so a peer that pings and never reads would otherwise
//! grow that buffer without bound (issue 12).
//!
//! Why one task does both: a second task reading (the stream split in two
//! halves) and framing in `send()` on the caller's thread were both
//! measured, and both cost more in cross-thread wake-ups and lock
//! contention than they gained (`impl/BENCHMARKS.md`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::CloseFrame as WsCloseFrame;
use async_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use futures::{Sink, Stream};
use wsapi_model::handshake::{check_response, Offer};
use wsapi_model::{CloseFrame, FailReason, Input, Phase, Transmit};

use crate::host_gate::HostSlot;
use crate::runtime::BoxFuture;
use crate::shared::{after_model_change, LiveDriver, Shared};
use crate::transport::{connect, ConnectFailure, Connected, TransportOptions};
use crate::wire::WireEvent;
use crate::Message;

/// Options the driver itself needs.
#[derive(Debug, Clone)]
pub(crate) struct DriverOptions {
    pub transport: TransportOptions,
    /// Stop reading while this many received bytes wait for delivery.
    pub max_queued_bytes: u64,
}

enum Outgoing {
    Message(Message),
    Close(Option<CloseFrame>),
    /// Keep-alive's ping.
    Ping,
}

pub(crate) struct Driver {
    shared: Arc<Shared>,
    opts: DriverOptions,
    /// Our place in the host's queue, from `QueueForHost` to `ReleaseHost`.
    host_slot: Option<HostSlot>,
    /// `handle_host_slot` was reported for `host_slot`.
    host_slot_reported: bool,
    connecting: Option<BoxFuture<Result<Connected, ConnectFailure>>>,
    conn: Option<Connected>,
    outgoing: VecDeque<Outgoing>,
    /// Messages read and not yet given to the model (reused buffer).
    read_batch: Vec<Message>,
    /// Message bytes given to tungstenite and not yet flushed.
    fed_bytes: u64,
    /// Pong bytes tungstenite queued (one per ping read) since the last
    /// completed flush: an upper bound on what pongs hold in its buffer.
    unflushed_pong_bytes: u64,
    needs_flush: bool,
    /// The model said CloseTransport, or the transport is gone.
    close_transport: bool,
    /// Stop polling tungstenite's read side (it failed or ended).
    read_done: bool,
    timer: Option<(Duration, BoxFuture<()>)>,
    /// Counted while the connection's work is not done (released before
    /// `driver_done` is set, so that whoever sees that sees it released).
    live: Option<LiveDriver>,
}

/// Most messages read in one go before the other duties get a turn.
const READ_BATCH: usize = 256;

/// Reading pauses while this many pong bytes wait to be written. Large
/// enough for any honest peer (2,000 pings of the largest size are answered
/// while our write side is blocked), small next to the messages a
/// connection buffers anyway.
pub(crate) const MAX_UNFLUSHED_PONG_BYTES: u64 = 256 * 1024;

/// What a pong of `payload` bytes costs in tungstenite's write buffer:
/// the payload, a 2-byte header and the 4-byte mask.
fn pong_cost(payload: usize) -> u64 {
    payload as u64 + 6
}

impl Driver {
    pub fn new(shared: Arc<Shared>, opts: DriverOptions) -> Driver {
        Driver {
            shared,
            opts,
            host_slot: None,
            host_slot_reported: false,
            connecting: None,
            conn: None,
            outgoing: VecDeque::new(),
            read_batch: Vec::new(),
            fed_bytes: 0,
            unflushed_pong_bytes: 0,
            needs_flush: false,
            close_transport: false,
            read_done: false,
            timer: None,
            live: Some(LiveDriver::start()),
        }
    }

    /// Runs the connection to its end.
    pub async fn run(mut self) {
        futures::future::poll_fn(|cx| self.poll(cx)).await
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let mut progress = self.step_model(cx);
            progress |= self.poll_host_slot(cx);
            progress |= self.poll_connecting(cx);
            progress |= self.poll_write(cx);
            // Right after the write, before reading can produce new transmits:
            // whatever the model asked to send before closing was tried.
            progress |= self.poll_close_transport();
            progress |= self.poll_read(cx);
            progress |= self.poll_wire_events();
            progress |= self.poll_timer(cx);
            if self.is_done() {
                self.live = None;
                let mut inner = self.shared.lock();
                inner.driver_done = true;
                inner.wake_event_readers();
                return Poll::Ready(());
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Fires due timers and takes the model's transmits.
    fn step_model(&mut self, cx: &mut Context<'_>) -> bool {
        let mut inner = self.shared.lock();
        if !inner.driver_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            inner.driver_waker = Some(cx.waker().clone());
        }
        let now = inner.now();
        if inner.model().poll_timeout().is_some_and(|deadline| now >= deadline) {
            let _ = inner.input(Input::Timeout);
        }
        let mut progress = false;
        while let Some(t) = inner.poll_transmit() {
            progress = true;
            match t {
                Transmit::QueueForHost(key) => {
                    self.host_slot = Some(HostSlot::queue(key));
                    self.host_slot_reported = false;
                }
                // Dropping the slot frees the host (or leaves its queue).
                Transmit::ReleaseHost => self.host_slot = None,
                Transmit::Connect { url, protocols } => {
                    self.connecting = Some(Box::pin(connect(*url, protocols, self.opts.transport.clone())));
                }
                Transmit::Message(m) => self.outgoing.push_back(Outgoing::Message(m)),
                Transmit::Close(frame) => self.outgoing.push_back(Outgoing::Close(frame)),
                Transmit::CloseTransport => self.close_transport = true,
                Transmit::Ping => self.outgoing.push_back(Outgoing::Ping),
            }
        }
        after_model_change(&mut inner);
        progress
    }

    /// Reports the host's slot to the model once the gate admits us.
    fn poll_host_slot(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(slot) = self.host_slot.as_ref() else {
            return false;
        };
        if self.host_slot_reported || slot.poll_held(cx).is_pending() {
            return false;
        }
        self.host_slot_reported = true;
        let mut inner = self.shared.lock();
        let r = inner.input(Input::HostSlot);
        debug_assert!(r.is_ok(), "{r:?}");
        after_model_change(&mut inner);
        true
    }

    fn poll_connecting(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(fut) = self.connecting.as_mut() else {
            return false;
        };
        if self.close_transport {
            // close() during CONNECTING, or the connect timeout: abort.
            self.connecting = None;
            return true;
        }
        let Poll::Ready(result) = fut.as_mut().poll(cx) else {
            return false;
        };
        self.connecting = None;
        let mut inner = self.shared.lock();
        let input = match result {
            Ok(connected) => {
                let model = inner.model();
                let offer = Offer {
                    key: &connected.key,
                    protocols: model.requested_protocols(),
                    extensions: &model.config().offered_extensions,
                };
                // The same pure check the model runs on this input; only its
                // negotiated parameters are used, and only if the model opened.
                let deflate = check_response(&connected.response, &offer).ok().and_then(|a| a.deflate);
                let r = inner.input(Input::Response {
                    key: connected.key.clone(),
                    response: Box::new(connected.response.clone()),
                });
                if inner.model().phase() == Phase::Established {
                    connected.wire.set_deflate(deflate);
                    self.conn = Some(connected);
                }
                r
            }
            Err(ConnectFailure::Handshake(why)) => inner.input(Input::ConnectFailed(why)),
            Err(ConnectFailure::Transport(e)) => inner.input(Input::TransportFailed(e)),
        };
        debug_assert!(input.is_ok(), "driver fed an impossible input: {input:?}");
        after_model_change(&mut inner);
        true
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let mut progress = false;
        let mut ws = Pin::new(&mut conn.ws);
        while !self.outgoing.is_empty() {
            match ws.as_mut().poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => {
                    self.transport_failed();
                    return true;
                }
                Poll::Pending => break,
            }
            let msg = match self.outgoing.pop_front() {
                Some(Outgoing::Message(m)) => {
                    self.fed_bytes += m.len() as u64;
                    m.into_tungstenite()
                }
                Some(Outgoing::Close(frame)) => WsMessage::Close(frame.map(|f| WsCloseFrame {
                    code: CloseCode::from(f.code),
                    reason: f.reason.into(),
                })),
                Some(Outgoing::Ping) => WsMessage::Ping(Default::default()),
                None => break,
            };
            progress = true;
            self.needs_flush = true;
            if ws.as_mut().start_send(msg).is_err() {
                self.transport_failed();
                return true;
            }
        }
        if self.needs_flush {
            match ws.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.needs_flush = false;
                    self.unflushed_pong_bytes = 0;
                    progress = true;
                    let written = std::mem::take(&mut self.fed_bytes);
                    let mut inner = self.shared.lock();
                    if written > 0 {
                        let r = inner.input(Input::Written(written));
                        debug_assert!(r.is_ok(), "{r:?}");
                        inner.wake_drain();
                    }
                }
                Poll::Ready(Err(_)) => {
                    self.transport_failed();
                    return true;
                }
                Poll::Pending => {}
            }
        }
        progress
    }

    /// Reads a batch of messages without the lock, then feeds them to the
    /// model under one lock (a lock per message costs more than the parse).
    /// Reading stops while `max_queued_bytes` of messages wait for the user,
    /// and while [`MAX_UNFLUSHED_PONG_BYTES`] of pongs wait to be written
    /// (the flush that ends that pause wakes this task).
    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        if self.read_done || self.unflushed_pong_bytes >= MAX_UNFLUSHED_PONG_BYTES {
            return false;
        }
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let max = self.opts.max_queued_bytes;
        let budget = {
            let mut inner = self.shared.lock();
            let queued = inner.model().queued_message_bytes();
            inner.read_paused = queued >= max;
            max.saturating_sub(queued)
        };
        let mut progress = false;
        let mut batch_bytes = 0u64;
        let mut heard = false;
        let mut end = None;
        for _ in 0..READ_BATCH {
            if batch_bytes >= budget || self.unflushed_pong_bytes >= MAX_UNFLUSHED_PONG_BYTES {
                break;
            }
            let item = match Pin::new(&mut conn.ws).poll_next(cx) {
                Poll::Pending => break,
                Poll::Ready(item) => item,
            };
            progress = true;
            // Any frame is a sign of life for keep-alive (pongs included).
            heard |= matches!(item, Some(Ok(_)));
            let message = match item {
                Some(Ok(WsMessage::Text(t))) => Message::Text(t),
                Some(Ok(WsMessage::Binary(b))) => Message::Binary(b),
                // Pings are answered by tungstenite, which queued the pong;
                // a flush must follow, and its completion is what tells us
                // the pong left. Pongs only count as heard. Close frames
                // never reach tungstenite (the Wire filter takes them).
                Some(Ok(WsMessage::Ping(payload))) => {
                    self.unflushed_pong_bytes += pong_cost(payload.len());
                    self.needs_flush = true;
                    continue;
                }
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
            self.read_batch.push(message);
        }
        if !progress {
            return false;
        }
        self.read_done = end.is_some();
        let mut inner = self.shared.lock();
        if heard && inner.model().config().keep_alive.is_some() {
            // Once per batch: this input reads the clock.
            let r = inner.input(Input::Received);
            debug_assert!(r.is_ok(), "{r:?}");
        }
        for message in self.read_batch.drain(..) {
            let r = inner.input(Input::Message(message));
            debug_assert!(r.is_ok(), "{r:?}");
        }
        if let Some(input) = end {
            let r = inner.input(input);
            debug_assert!(r.is_ok(), "{r:?}");
        }
        // `read_paused` is brought up to date by the next call, which comes
        // right away since this one made progress.
        after_model_change(&mut inner);
        true
    }

    /// What the Wire filter saw that tungstenite does not report.
    fn poll_wire_events(&mut self) -> bool {
        let Some(conn) = self.conn.as_ref() else {
            return false;
        };
        let mut progress = false;
        while let Some(event) = conn.wire.poll_event() {
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
        }
        progress
    }

    /// Drops the transport once the model is done with it. `poll_write` ran
    /// just before, so a Close frame queued ahead of `CloseTransport` had its
    /// chance to be written; a peer that does not read cannot hold us.
    fn poll_close_transport(&mut self) -> bool {
        if self.conn.is_none() {
            return false;
        }
        let model_closed = self.shared.lock().model().phase() == Phase::Closed;
        if self.close_transport || model_closed {
            self.conn = None;
            return true;
        }
        false
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let (deadline, now) = {
            let mut inner = self.shared.lock();
            (inner.model().poll_timeout(), inner.now())
        };
        let Some(deadline) = deadline else {
            self.timer = None;
            return false;
        };
        if self.timer.as_ref().is_none_or(|(d, _)| *d != deadline) {
            self.timer = Some((deadline, self.shared.runtime.sleep(deadline.saturating_sub(now))));
        }
        let (_, fut) = self.timer.as_mut().expect("just set");
        if fut.as_mut().poll(cx).is_ready() {
            self.timer = None;
            return true;
        }
        false
    }

    /// The write side failed: the transport is gone.
    fn transport_failed(&mut self) {
        self.read_done = true;
        self.outgoing.clear();
        self.needs_flush = false;
        self.conn = None;
        let mut inner = self.shared.lock();
        let r = inner.input(Input::TransportClosed);
        debug_assert!(r.is_ok(), "{r:?}");
        after_model_change(&mut inner);
    }

    fn is_done(&self) -> bool {
        if self.conn.is_some() || self.connecting.is_some() {
            return false;
        }
        // Events still queued are taken by the stream, or delivered to the
        // handlers by the dispatcher task, which outlives this one.
        self.shared.lock().model().phase() == Phase::Closed
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
