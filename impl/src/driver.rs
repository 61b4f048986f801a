//! The background task of one connection: an I/O driver around the model.
//!
//! It carries out the model's transmits (connect, messages, Close frames,
//! closing the transport), feeds back what the network did, fires the
//! model's timers, and dispatches events to handlers when they are set.
//! It decides nothing itself: every rule is in `wsapi-model`.
//!
//! Writes are batched: all queued messages are fed to tungstenite, then
//! flushed once, and `bufferedAmount` drops by their bytes when that flush
//! has handed them to the OS. Reading is the job of a second task
//! ([`crate::reader`]), started when the connection opens and stopped when
//! the driver drops the transport; the driver ends after it.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::CloseFrame as WsCloseFrame;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures::Sink;
use wsapi_model::{CloseFrame, Input, Transmit};

use crate::dispatch::dispatch_to_handlers;
use crate::reader::Reader;
use crate::runtime::{sleep, spawn, BoxFuture};
use crate::shared::{after_model_change, Inner, LiveDriver, Shared};
use crate::transport::{connect, Connected, TransportOptions, WsSender};
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
}

pub(crate) struct Driver {
    shared: Arc<Shared>,
    opts: DriverOptions,
    connecting: Option<BoxFuture<Result<Connected, String>>>,
    /// The sending half of the open connection (the reader has the other).
    tx: Option<WsSender>,
    outgoing: VecDeque<Outgoing>,
    /// Message bytes given to tungstenite and not yet flushed.
    fed_bytes: u64,
    needs_flush: bool,
    /// The model said CloseTransport, or the transport is gone.
    close_transport: bool,
    timer: Option<(Duration, BoxFuture<()>)>,
    /// Counted while the connection's work is not done (released before
    /// `driver_done` is set, so that whoever sees that sees it released).
    live: Option<LiveDriver>,
}

impl Driver {
    pub fn new(shared: Arc<Shared>, opts: DriverOptions) -> Driver {
        Driver {
            shared,
            opts,
            connecting: None,
            tx: None,
            outgoing: VecDeque::new(),
            fed_bytes: 0,
            needs_flush: false,
            close_transport: false,
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
            progress |= dispatch_to_handlers(&self.shared);
            progress |= self.poll_connecting(cx);
            progress |= self.poll_write(cx);
            // Right after the write, before reading can produce new transmits:
            // whatever the model asked to send before closing was tried.
            progress |= self.poll_close_transport();
            progress |= self.poll_timer(cx);
            if self.is_done() {
                self.live = None;
                self.shared.lock().driver_done = true;
                // Handlers set from now on are run by a task of their own.
                dispatch_to_handlers(&self.shared);
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
                Transmit::Connect { url, protocols } => {
                    self.connecting = Some(Box::pin(connect(*url, protocols, self.opts.transport.clone())));
                }
                Transmit::Message(m) => self.outgoing.push_back(Outgoing::Message(m)),
                Transmit::Close(frame) => self.outgoing.push_back(Outgoing::Close(frame)),
                Transmit::CloseTransport => self.close_transport = true,
            }
        }
        // Closed without a CloseTransport (the transport ended under us):
        // seen here, under the same lock as the transmits, so that whatever
        // was queued before is written first even if the reader closes the
        // model concurrently.
        if inner.model().phase() == wsapi_model::Phase::Closed {
            self.close_transport = true;
        }
        after_model_change(&mut inner);
        progress
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
                let r = inner.input(Input::Open {
                    protocol: connected.protocol.clone(),
                    extensions: connected.extensions.clone(),
                });
                let (tx, rx) = connected.ws.split();
                self.tx = Some(tx);
                inner.reader_running = true;
                let reader = Reader::new(self.shared.clone(), rx, connected.wire, self.opts.max_queued_bytes);
                spawn(reader.run());
                r
            }
            Err(why) => inner.input(Input::ConnectFailed(why)),
        };
        debug_assert!(input.is_ok(), "driver fed an impossible input: {input:?}");
        after_model_change(&mut inner);
        true
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(tx) = self.tx.as_mut() else {
            return false;
        };
        let mut progress = false;
        let mut ws = Pin::new(tx);
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

    /// Drops the transport once the model is done with it. `poll_write` ran
    /// just before, so a Close frame queued ahead of `CloseTransport` had its
    /// chance to be written; a peer that does not read cannot hold us.
    fn poll_close_transport(&mut self) -> bool {
        if self.tx.is_none() {
            return false;
        }
        if self.close_transport {
            self.tx = None;
            Self::stop_reader(&mut self.shared.lock());
            return true;
        }
        false
    }

    /// Tells the reader to drop its half of the transport and end.
    fn stop_reader(inner: &mut Inner) {
        inner.reader_stop = true;
        inner.wake_reader();
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
            self.timer = Some((deadline, sleep(deadline.saturating_sub(now))));
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
        self.outgoing.clear();
        self.needs_flush = false;
        self.tx = None;
        let mut inner = self.shared.lock();
        Self::stop_reader(&mut inner);
        let r = inner.input(Input::TransportClosed);
        debug_assert!(r.is_ok(), "{r:?}");
        after_model_change(&mut inner);
    }

    fn is_done(&self) -> bool {
        if self.tx.is_some() || self.connecting.is_some() {
            return false;
        }
        // Events still queued are taken by the stream, or delivered to the
        // handlers by the last dispatch in `poll`. The reader holds half of
        // the transport until it ends.
        let inner = self.shared.lock();
        inner.model().phase() == wsapi_model::Phase::Closed && !inner.reader_running
    }
}
