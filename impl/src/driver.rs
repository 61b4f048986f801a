//! The connection's I/O around the model, and who drives it when.
//!
//! The [`Driver`] carries out the model's transmits (connect, messages,
//! Close frames, closing the transport), feeds back what the network did,
//! fires the model's timers. It never runs the user's handlers (`dispatch`
//! does, on threads of its own), so a slow handler cannot stall the
//! protocol. It decides nothing itself: every rule is in `wsapi-model`.
//!
//! # Who drives
//!
//! The driver is not owned by a task: it sits in [`Shared::io`], behind a
//! lock, and whoever needs the connection to make progress takes that lock
//! with `try_lock` and runs one pass ([`drive`]):
//!
//! - a user's task waiting on the socket (`next_event()`, `next_events()`,
//!   `buffered_at_most()`, the Sink), when nothing it waits for is ready:
//!   it reads, decodes, feeds the model and takes its event itself, with no
//!   wake-up of another thread;
//! - `send()` and `close()`, after the model took the call: a pass without
//!   reading writes the message through at once;
//! - the connection's own task ([`run`]), woken when the I/O or a timer is
//!   ready and no user's task waits: pongs, the closing handshake, timers
//!   and handler mode's events go on while nobody polls, as the browser
//!   semantics need.
//!
//! Exactly one party drives at any moment: the lock's holder. One that
//! finds the lock taken does not wait; it leaves a request ([`Shared::asked_full`] or
//! [`Shared::asked_write`]), and the holder runs one more pass of that kind
//! before it lets go (it checks the requests after unlocking), so no
//! request is lost and nobody blocks. Every poll of
//! the I/O and every timer registers one waker, the [`Router`](crate::shared::Router): on a
//! wake-up it wakes the user's task registered as waiting, else the
//! connection's task. A wait withdraws itself when it ends or is dropped,
//! and hands a wake-up it was given and did not use to the connection's
//! task (see [`Router`](crate::shared::Router)). So the I/O is driven by the task that waits for
//! it when there is one, and by the connection's task otherwise.
//!
//! Why it is correct: the model is only ever changed under `Inner`'s lock,
//! by one party at a time, in the order the calls happened, exactly as
//! before; the I/O is only touched by the holder of `io`. Moving the work
//! between tasks changes who does it, not what is done or in which order.
//! A wake-up is never lost: it goes to a registered waiter (which polls and
//! drives), or to the connection's task (which drives), and a waiter that
//! stops waiting passes it on.
//!
//! # Batching
//!
//! Bytes are framed by [`crate::frame`] and moved by [`crate::conn`].
//! Writes are batched by size: whatever the model transmitted is queued in
//! the [`Encoder`], which coalesces it into writes of up to 128 KiB, and
//! `bufferedAmount` drops by a message's bytes when a flush has handed its
//! last byte to the OS. Reads are batched too: everything decoded from up
//! to 16 reads is given to the model under one lock. Reads pause while the
//! received events waiting for the user cost more than `max_queued_bytes`
//! (their bytes plus [`QUEUED_EVENT_OVERHEAD`] each), and resume once the
//! user has taken them down to half of it, so a slow reader slows
//! the peer down (TCP flow control) instead of growing memory, whether the
//! peer sends a few large messages or millions of empty ones. They also
//! pause while more than [`MAX_QUEUED_PONG_BYTES`] of pongs wait to be
//! encoded, so a peer that pings and never reads cannot grow them.
//!
//! The model's timers are deadlines on one thread for the whole process
//! ([`crate::deadlines`]), not a runtime timer per connection.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wsapi_model::handshake::{check_response, DeflateParams, Offer};
use wsapi_model::{Input, Phase, Transmit, TransportError, TransportLayer};

use crate::conn::Conn;
use crate::connect_failure::ConnectFailure;
use crate::control::{ControlFrame, ControlObserver};
use crate::deadlines::Deadline;
use crate::frame::compress::Compressor;
use crate::frame::decode::{Decoder, Inbound};
use crate::frame::encode::{Encoder, Outbound};
use crate::frame::Limits;
use crate::host_gate::HostSlot;
use crate::runtime::BoxFuture;
use crate::shared::{after_model_change, Io, LiveDriver, Pass, Shared, QUEUED_EVENT_OVERHEAD};
use crate::transport::{connect, Connected, TransportOptions};

/// Options the driver itself needs.
#[derive(Debug, Clone)]
pub(crate) struct DriverOptions {
    pub transport: TransportOptions,
    /// Stop reading while received events waiting for delivery cost this
    /// much (bytes plus [`QUEUED_EVENT_OVERHEAD`] each).
    pub max_queued_bytes: u64,
    /// Compress messages of at least this many bytes once permessage-deflate
    /// is negotiated (`None`: never).
    pub compress_min_size: Option<usize>,
    /// Shown the pings and pongs (`WebSocketBuilder::on_control_frame`).
    pub control_observer: Option<ControlObserver>,
}

pub(crate) struct Driver {
    opts: DriverOptions,
    /// Our place in the host's queue, from `QueueForHost` to `ReleaseHost`.
    host_slot: Option<HostSlot>,
    /// `handle_host_slot` was reported for `host_slot`.
    host_slot_reported: bool,
    connecting: Option<BoxFuture<Result<Connected, ConnectFailure>>>,
    conn: Option<Conn>,
    /// What the model transmitted, framed as it is written.
    encoder: Encoder,
    /// Items decoded and not yet given to the model (reused buffer).
    inbound: Vec<Inbound>,
    /// Control frames for the observer, handed over once no lock of the
    /// model is held (see `control`); stays empty without an observer.
    control: Vec<ControlFrame>,
    /// The model said CloseTransport, or the transport is gone.
    close_transport: bool,
    /// The read side ended or failed.
    read_done: bool,
    /// Reading is paused because pongs cannot be written (the peer does
    /// not read), as last reported to the model (`Input::ReadStalled`).
    read_stalled: bool,
    /// The model's deadline, registered (by the model's clock, and as the
    /// timer thread's instant).
    timer: Option<(Duration, Deadline)>,
    /// The instant the model's clock counts from.
    epoch: Instant,
    /// What [`Driver::step_model`] saw of the model, for the rest of the
    /// iteration.
    seen: Seen,
}

/// The model's state as the driver's iteration needs it, read under the
/// lock that `step_model` takes anyway: one acquisition of the model's
/// lock where the close check, the read budget and the timer took one each
/// (the lock is shared with `send()` and the readers, so each costs
/// contention on a busy socket). It can only be behind the model within the
/// iteration, and only by the driver's own inputs made after it, each of
/// which counts as progress, so the next iteration reads it afresh before
/// the pass ends; user calls that change the model ask for a pass of their
/// own. A read budget that is behind is smaller than the true one (only the
/// driver adds messages), which is safe.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    /// The model is CLOSED: the transport can go.
    closed: bool,
    /// The model's deadline.
    deadline: Option<Duration>,
    /// What the received events may still cost before reading pauses.
    read_budget: u64,
}

/// Passes over the connection's duties per poll before yielding to the
/// runtime's other tasks.
const MAX_PASSES: usize = 64;

/// The most received events (by cost) given to the model under one lock:
/// bounds the batch buffer, and the time other tasks wait for the lock.
const MAX_BATCH_COST: u64 = 512 * 1024;

/// Reading pauses while the pongs waiting to be encoded cost this much
/// (`Encoder::queued_pong_bytes`: payload, header and queue entry). Large
/// enough for any honest peer (2,000 pings of the largest size are
/// answered while our write side is blocked), small next to the messages a
/// connection buffers anyway.
pub(crate) const MAX_QUEUED_PONG_BYTES: u64 = 256 * 1024;

impl Driver {
    /// A driver for a connection whose model's clock counts from `epoch`.
    pub fn new(opts: DriverOptions, epoch: Instant) -> Driver {
        Driver {
            opts,
            host_slot: None,
            host_slot_reported: false,
            connecting: None,
            conn: None,
            encoder: Encoder::new(),
            inbound: Vec::new(),
            control: Vec::new(),
            close_transport: false,
            read_done: false,
            read_stalled: false,
            timer: None,
            epoch,
            seen: Seen::default(),
        }
    }
}

impl Io for Driver {
    fn poll(&mut self, shared: &Shared, pass: Pass) -> Poll<()> {
        let cx = &mut Context::from_waker(&shared.read_waker);
        let write_cx = &mut Context::from_waker(&shared.write_waker);
        for _ in 0..MAX_PASSES {
            let mut progress = self.step_model(shared);
            progress |= self.poll_host_slot(shared, cx);
            progress |= self.poll_connecting(shared, cx);
            progress |= self.poll_write(shared, write_cx);
            // Right after the write, before reading can produce new transmits:
            // whatever the model asked to send before closing was tried.
            progress |= self.poll_close_transport();
            if pass == Pass::Full {
                progress |= self.poll_read(shared, cx);
            }
            progress |= self.poll_timer(cx);
            self.deliver_control();
            if self.is_done(shared) {
                return Poll::Ready(());
            }
            if !progress {
                return Poll::Pending;
            }
        }
        // Still busy (a peer that never stops sending): let the runtime's
        // other tasks run, and come back at once.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Runs one pass over the connection's I/O if no other party is driving it,
/// and asks that party for one more otherwise (see the module docs). Never
/// blocks.
pub(crate) fn drive(shared: &Shared, pass: Pass) {
    let (full, write) = (&shared.asked_full, &shared.asked_write);
    match pass {
        Pass::Full => full.store(true, Ordering::SeqCst),
        Pass::Write => write.store(true, Ordering::SeqCst),
    }
    while full.load(Ordering::SeqCst) || write.load(Ordering::SeqCst) {
        // Taken: the holder looks at the requests once it has let go.
        let Some(mut io) = shared.try_io() else { return };
        // A request is served by a pass that starts after it, of its kind
        // or fuller: a write-only pass leaves a full request standing (a
        // reader's, whose wake-up for reading would otherwise be used up
        // with nothing read, and it would wait for ever).
        let pass = if full.swap(false, Ordering::SeqCst) {
            write.store(false, Ordering::SeqCst);
            Pass::Full
        } else if write.swap(false, Ordering::SeqCst) {
            Pass::Write
        } else {
            continue;
        };
        let Some(driver) = io.as_mut() else { return };
        if driver.poll(shared, pass).is_ready() {
            // The driver (its live count) goes before `driver_done` is set.
            *io = None;
            drop(io);
            shared.lock().driver_ended();
            // Whoever finished it, the connection's task ends too.
            shared.router.wake_task();
            return;
        }
    }
}

/// The connection's own task: drives the connection whenever a wake-up
/// finds no user's task waiting, until its work is done.
pub(crate) fn run(shared: Arc<Shared>) -> impl std::future::Future<Output = ()> + Send {
    // Made before the future, so that it ends the connection even if the
    // task is dropped before its first poll (its runtime shut down at once).
    let mut end = TaskEnd {
        shared,
        done: false,
        live: Some(LiveDriver::start()),
    };
    async move {
        futures::future::poll_fn(|cx| {
            end.shared.router.set_task(cx.waker());
            drive(&end.shared, Pass::Full);
            if end.shared.lock().driver_done {
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
        end.finished();
    }
}

/// Whatever ends the connection's task, the model sees the transport go:
/// the task dropped before its connection closed (its runtime shut down,
/// or a bug of ours panicked through a pass) stops the driver and fails
/// the connection (the model's `DriverStopped`: error, close 1006), so
/// that no socket is left CLOSING for ever with its waiters asleep.
///
/// It also counts the task as live ([`crate::live_connections`]) and says
/// when it has ended (`task_done`, part of `driver_finished()`): a task
/// left parked after another party finished the driver would keep its
/// connection's memory for ever (the task holds the state, whose router
/// holds the task's waker), and the leak checks must see that.
struct TaskEnd {
    shared: Arc<Shared>,
    done: bool,
    live: Option<LiveDriver>,
}

impl TaskEnd {
    /// The task's work is done: its drop only counts it ended.
    fn finished(&mut self) {
        self.done = true;
    }
}

impl Drop for TaskEnd {
    fn drop(&mut self) {
        if !self.done {
            // Blocking here is fine: a holder's pass is short and never waits.
            let driver = self.shared.io.lock().unwrap_or_else(|p| p.into_inner()).take();
            if driver.is_some() {
                drop(driver);
                let mut inner = self.shared.lock();
                inner.input_driver_stopped(
                    "its task was dropped before the connection closed: the runtime shut down, or the driver panicked",
                );
                inner.driver_ended();
            }
        }
        // Released before `task_done` is set: whoever sees that sees it released.
        self.live = None;
        let mut inner = self.shared.lock();
        inner.task_done = true;
        inner.wake_event_readers();
    }
}

impl Driver {
    /// Fires due timers and takes the model's transmits.
    fn step_model(&mut self, shared: &Shared) -> bool {
        let mut inner = shared.lock();
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
                Transmit::Message(m) => self.encoder.push(Outbound::Message(m)),
                Transmit::Close(frame) => self.encoder.push(Outbound::Close(frame)),
                Transmit::CloseTransport => self.close_transport = true,
                Transmit::Ping(payload) => {
                    let payload = tungstenite::Bytes::from(payload);
                    if self.opts.control_observer.is_some() {
                        self.control.push(ControlFrame::PingSent(payload.clone()));
                    }
                    self.encoder.push(Outbound::Ping(payload));
                }
            }
        }
        let max = self.opts.max_queued_bytes;
        let queued = inner.queued_cost();
        // Once paused, reading stays paused until the user has taken the
        // queue down to half the bound (`Inner::take_event` then clears the
        // flag and wakes this task), whatever pass runs meanwhile: a reader
        // behind a fast server then gets reads of many messages, not one
        // message per event it takes (each a wake-up of the connection's
        // task, which cost 16-byte messages 10 % of their rate with a 1 MiB
        // bound).
        let paused = inner.read_paused || queued >= max;
        let model = inner.model();
        self.seen = Seen {
            closed: model.phase() == Phase::Closed,
            deadline: model.poll_timeout(),
            read_budget: if paused { 0 } else { max.saturating_sub(queued) },
        };
        // Set here, under this lock, so that a reader taking an event
        // afterwards sees it and wakes the connection (`Inner::take_event`).
        inner.read_paused = paused;
        inner.read_resume_at = max / 2;
        after_model_change(&mut inner);
        progress
    }

    /// Reports the host's slot to the model once the gate admits us.
    fn poll_host_slot(&mut self, shared: &Shared, cx: &mut Context<'_>) -> bool {
        let Some(slot) = self.host_slot.as_ref() else {
            return false;
        };
        if self.host_slot_reported || slot.poll_held(cx).is_pending() {
            return false;
        }
        self.host_slot_reported = true;
        let mut inner = shared.lock();
        let r = inner.input(Input::HostSlot);
        debug_assert!(r.is_ok(), "{r:?}");
        after_model_change(&mut inner);
        true
    }

    fn poll_connecting(&mut self, shared: &Shared, cx: &mut Context<'_>) -> bool {
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
        let mut inner = shared.lock();
        let mut established = None;
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
                    established = Some((connected, deflate));
                }
                r
            }
            Err(ConnectFailure::Handshake(why)) => inner.input(Input::ConnectFailed(why)),
            Err(ConnectFailure::Transport(e)) => inner.input(Input::TransportFailed(e)),
        };
        debug_assert!(input.is_ok(), "driver fed an impossible input: {input:?}");
        after_model_change(&mut inner);
        drop(inner);
        if let Some((connected, deflate)) = established {
            self.establish(connected, deflate);
        }
        true
    }

    /// Sets up the frame layer for the connection the model established.
    fn establish(&mut self, connected: Connected, deflate: Option<DeflateParams>) {
        let limits = Limits {
            max_message_size: self.opts.transport.max_message_size,
            max_frame_size: self.opts.transport.max_frame_size,
        };
        if let (Some(params), Some(min)) = (deflate, self.opts.compress_min_size) {
            if let Some(compressor) = Compressor::new(&params) {
                self.encoder.compress(compressor, min);
            }
        }
        let decoder = Decoder::new(limits, deflate);
        self.conn = Some(Conn::new(connected.stream, &connected.leftover, decoder));
    }

    /// Writes what the encoder holds; reports the messages a completed
    /// flush handed to the OS.
    fn poll_write(&mut self, shared: &Shared, cx: &mut Context<'_>) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        match conn.poll_write(cx, &mut self.encoder) {
            Ok(outcome) => {
                // While reading is stalled, a write that progresses is the
                // keep-alive's sign of life: the peer reads (see
                // spec-notes/keep-alive.md).
                let alive = outcome.progress && self.read_stalled;
                if outcome.written > 0 || alive {
                    let mut inner = shared.lock();
                    // Dropped here, after the lock, if the sender holds enough.
                    let mut spent = Vec::new();
                    if outcome.written > 0 {
                        let r = inner.input(Input::Written(outcome.written));
                        debug_assert!(r.is_ok(), "{r:?}");
                        inner.wake_drain();
                        spent = inner.keep_spent(self.encoder.take_spent());
                    }
                    if alive && inner.model().config().keep_alive.is_some() {
                        let r = inner.input(Input::Received);
                        debug_assert!(r.is_ok(), "{r:?}");
                    }
                    drop(inner);
                    drop(spent);
                }
                outcome.progress
            }
            Err(e) => {
                self.transport_failed(shared, Some(e));
                true
            }
        }
    }

    /// Decodes what arrived without the lock, then feeds it to the model
    /// under one lock (a lock per message costs more than the parse).
    /// Reading stops while the queued events cost `max_queued_bytes`, and
    /// while [`MAX_QUEUED_PONG_BYTES`] of pongs wait to be encoded (writing
    /// them is progress, after which this runs again).
    fn poll_read(&mut self, shared: &Shared, cx: &mut Context<'_>) -> bool {
        let stalled = self.encoder.queued_pong_bytes() >= MAX_QUEUED_PONG_BYTES;
        let mut reported = false;
        if stalled != self.read_stalled && self.conn.is_some() && !self.read_done {
            // Only keep-alive reads it: it names its failure after it.
            self.read_stalled = stalled;
            let mut inner = shared.lock();
            if inner.model().config().keep_alive.is_some() {
                let r = inner.input(Input::ReadStalled(stalled));
                debug_assert!(r.is_ok(), "{r:?}");
                // A model input: progress, so that the next iteration
                // reads the model (its deadline) afresh (see `Seen`).
                reported = true;
            }
        }
        if self.read_done || stalled {
            return reported;
        }
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let budget = self.seen.read_budget;
        // Once decoding stopped (a Close frame or a failure), reading only
        // looks for the end of the stream and queues nothing.
        if budget == 0 && !conn.decoding_stopped() {
            return false;
        }
        let outcome = conn.poll_read(cx, budget.min(MAX_BATCH_COST), QUEUED_EVENT_OVERHEAD, &mut self.inbound);
        if !outcome.progress {
            return reported;
        }
        self.read_done = outcome.ended;
        let mut inner = shared.lock();
        if outcome.heard && inner.model().config().keep_alive.is_some() {
            // Once per batch: this input reads the clock.
            let r = inner.input(Input::Received);
            debug_assert!(r.is_ok(), "{r:?}");
        }
        for item in self.inbound.drain(..) {
            let r = match item {
                Inbound::Message(message) => inner.input(Input::Message(message)),
                Inbound::Ping(payload) => {
                    if self.opts.control_observer.is_some() {
                        self.control.push(ControlFrame::PingReceived(payload.clone()));
                    }
                    self.encoder.push(Outbound::Pong(payload));
                    continue;
                }
                Inbound::Pong(payload) => {
                    if self.opts.control_observer.is_some() {
                        self.control.push(ControlFrame::PongReceived(payload));
                    }
                    continue;
                }
                Inbound::Close(payload) => inner.input(Input::CloseFrame(payload)),
                Inbound::Fail(why) => inner.input(Input::ProtocolError(why)),
            };
            debug_assert!(r.is_ok(), "{r:?}");
        }
        if outcome.ended {
            let input = match conn.take_read_error() {
                Some(e) => Input::TransportError(transport_error(inner.model().url(), conn.is_tls(), e)),
                None => Input::TransportClosed,
            };
            let r = inner.input(input);
            debug_assert!(r.is_ok(), "{r:?}");
        }
        // `read_paused` is brought up to date by the next call, which comes
        // right away since this one made progress.
        after_model_change(&mut inner);
        true
    }

    /// Drops the transport once the model is done with it. `poll_write` ran
    /// just before, so a Close frame queued ahead of `CloseTransport` had its
    /// chance to be written; a peer that does not read cannot hold us.
    fn poll_close_transport(&mut self) -> bool {
        if self.conn.is_none() {
            return false;
        }
        if self.close_transport || self.seen.closed {
            self.conn = None;
            self.encoder.clear();
            return true;
        }
        false
    }

    /// Registers the model's deadline with the timer thread (only when it
    /// changed: no reactor timer per connection, see [`crate::deadlines`]);
    /// progress once it has passed.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.seen.deadline else {
            self.timer = None;
            return false;
        };
        match &self.timer {
            Some((d, _)) if *d == deadline => {}
            _ => self.timer = Some((deadline, Deadline::new(self.epoch + deadline, cx.waker()))),
        }
        let (_, registered) = self.timer.as_ref().expect("just set");
        if Instant::now() >= registered.at() {
            self.timer = None;
            return true;
        }
        false
    }

    /// Hands the kept control frames to the observer. Called between the
    /// pass's steps, which hold no lock of the model once they return: the
    /// observer may call the socket (see `control`).
    fn deliver_control(&mut self) {
        if let Some(observer) = &self.opts.control_observer {
            observer.deliver(&mut self.control);
        }
    }

    /// The write side failed with `error`: the transport is gone.
    fn transport_failed(&mut self, shared: &Shared, error: Option<std::io::Error>) {
        self.read_done = true;
        self.encoder.clear();
        let tls = self.conn.take().is_some_and(|c| c.is_tls());
        let mut inner = shared.lock();
        let input = match error {
            Some(e) => Input::TransportError(transport_error(inner.model().url(), tls, e)),
            None => Input::TransportClosed,
        };
        let r = inner.input(input);
        debug_assert!(r.is_ok(), "{r:?}");
        after_model_change(&mut inner);
    }

    fn is_done(&self, shared: &Shared) -> bool {
        if self.conn.is_some() || self.connecting.is_some() {
            return false;
        }
        // Events still queued are taken by the stream, or delivered to the
        // handlers by the dispatcher task, which outlives this one.
        shared.lock().model().phase() == Phase::Closed
    }
}

/// The error that broke an established connection to `url`, typed as a
/// connect failure is (layer, `host:port`, the `io::Error` itself), so that
/// its kind and text reach the error event.
fn transport_error(url: &wsapi_model::Url, tls: bool, error: std::io::Error) -> TransportError {
    let host = url.host_str().unwrap_or("");
    let target = format!("{host}:{}", url.port_or_known_default().unwrap_or(0));
    let layer = if tls { TransportLayer::Tls } else { TransportLayer::Tcp };
    TransportError::new(layer, target, error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use wsapi_model::{Config, Connection};

    /// An I/O that records the passes it was given; in its first pass it
    /// can ask for another one, as a party arriving meanwhile would.
    struct Passes {
        seen: Arc<Mutex<Vec<Pass>>>,
        ask_during_first: Option<Pass>,
    }

    impl Io for Passes {
        fn poll(&mut self, shared: &Shared, pass: Pass) -> Poll<()> {
            self.seen.lock().unwrap().push(pass);
            if let Some(asked) = self.ask_during_first.take() {
                // The lock is held (by us): this only leaves a request.
                drive(shared, asked);
            }
            Poll::Pending
        }
    }

    fn shared_with(io: Passes) -> Arc<Shared> {
        let model = Connection::new("ws://127.0.0.1:1/", &[] as &[&str], Config::default(), Duration::ZERO).unwrap();
        let shared = Shared::new(model, false, None);
        *shared.io.lock().unwrap() = Some(Box::new(io));
        shared
    }

    #[test]
    fn a_full_request_left_while_the_io_was_held_is_served_by_a_full_pass() {
        let seen = Arc::default();
        let shared = shared_with(Passes {
            seen: Arc::clone(&seen),
            ask_during_first: None,
        });
        let held = shared.io.lock().unwrap();
        // A reader finds the I/O taken: it leaves its request and returns.
        drive(&shared, Pass::Full);
        drop(held);
        assert!(seen.lock().unwrap().is_empty());
        // A sender's write-only pass must not use that request up: the
        // reader's wake-up for reading was spent on it.
        drive(&shared, Pass::Write);
        assert_eq!(*seen.lock().unwrap(), [Pass::Full]);
    }

    #[test]
    fn a_request_left_during_a_pass_gets_a_pass_after_it() {
        for (first, asked) in [
            (Pass::Write, Pass::Full),
            (Pass::Full, Pass::Write),
            (Pass::Write, Pass::Write),
        ] {
            let seen = Arc::default();
            let shared = shared_with(Passes {
                seen: Arc::clone(&seen),
                ask_during_first: Some(asked),
            });
            drive(&shared, first);
            assert_eq!(*seen.lock().unwrap(), [first, asked]);
        }
    }
}
