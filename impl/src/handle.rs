//! The user's side of a connection: attributes, `send`, `close`, events.

use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use url::Url;
use wsapi_model::{CloseError, Input, PingError, ReadyState, Refusal, SendError};

use crate::driver::drive;
use crate::event::{BinaryType, CloseEvent, Event, FailReason, MessageEvent};
use crate::shared::{after_model_change, Handlers, Pass, Side, Wait};
pub use crate::snapshot::Snapshot;
use crate::Message;

/// A burst's sender writes what is queued itself each time this much more
/// was queued since it last did (see `send()`): large enough that a write
/// costs little per message, small next to the socket's buffer so that
/// the writes keep it fed.
const SENDER_WRITE_BATCH: u64 = 64 * 1024;

/// Why a handler could not be set on a running socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// The socket was built without handlers: it delivers its events as a
    /// stream, and a handler set now could miss the events before it.
    #[error(
        "this socket delivers its events as a stream; give the handlers to the builder \
         (WebSocket::builder(url).on_message(..)) so that none misses an event"
    )]
    StreamMode,
}

pub use crate::shared::WebSocketHandle;

impl WebSocketHandle {
    /// `url`: the URL, normalised (`http:` became `ws:`, `..` resolved).
    pub fn url(&self) -> Url {
        self.shared.lock().model().url().clone()
    }

    /// `readyState`. It changes as events are taken (from the stream or by
    /// the handlers), as in a browser where it changes when the event's task runs.
    pub fn ready_state(&self) -> ReadyState {
        self.shared.lock().model().ready_state()
    }

    /// `bufferedAmount`: bytes accepted by `send` and not yet handed to the
    /// OS as of the last event-loop turn; after the closing handshake
    /// started, sends still add to it.
    ///
    /// As in a browser, it grows at once with `send()` but falls only at a
    /// turn of the user's "event loop": taking (or asking for) an event,
    /// a handler being dispatched, or a [`Self::buffered_at_most`] wait
    /// ending. So a burst of `send()`s and reads in one go never sees it
    /// fall, however fast the background task writes.
    pub fn buffered_amount(&self) -> u64 {
        self.shared.lock().model().buffered_amount()
    }

    /// `protocol`: the subprotocol the server selected ("" until open).
    pub fn protocol(&self) -> String {
        self.shared.lock().model().protocol().to_string()
    }

    /// `extensions`: the extensions the server accepted ("" until open).
    pub fn extensions(&self) -> String {
        self.shared.lock().model().extensions().to_string()
    }

    /// `binaryType`.
    pub fn binary_type(&self) -> BinaryType {
        self.shared.lock().model().binary_type()
    }

    /// Sets `binaryType`; it applies to messages delivered from now on.
    pub fn set_binary_type(&self, binary_type: BinaryType) {
        let _ = self.shared.lock().input(Input::SetBinaryType(binary_type));
    }

    /// The serialised origin of the URL (what `MessageEvent.origin` says).
    pub fn origin(&self) -> String {
        self.shared.lock().model().url().origin().ascii_serialization()
    }

    /// `send(data)`: queues a text or binary message.
    ///
    /// Fails with `InvalidStateError` while CONNECTING. After the closing
    /// handshake started the data is counted in `bufferedAmount` and dropped,
    /// as the spec says. Never blocks; see [`crate::WebSocket::sink`] for
    /// backpressure.
    pub fn send(&self, data: impl Into<Message>) -> Result<(), SendError> {
        let mut inner = self.shared.lock();
        let result = inner.input(Input::Send(data.into()));
        // Payloads already written, dropped on this thread after the lock.
        let spent = inner.take_spent();
        // A send can fail the connection (`max_buffered_amount`): its
        // events must reach their taker even if the driver has ended.
        after_model_change(&mut inner);
        // Another SENDER_WRITE_BATCH of a burst queued since the sender
        // last wrote: the sender writes it itself, in one system call, while
        // its bytes are in its cache, rather than leave every byte of a
        // long burst to the connection's task on another core.
        let unsent = inner.model().unsent_amount();
        let floor = inner.unsent_at_sender_write.min(unsent);
        let write_batch = unsent >= floor.saturating_add(SENDER_WRITE_BATCH);
        inner.unsent_at_sender_write = if write_batch { unsent } else { floor };
        drop(inner);
        drop(spent);
        // A load first: while a burst goes on, the flag's cache line stays
        // shared instead of bouncing between the sender's and a waiter's cores.
        let burst = self.shared.sent_since_wait.load(Ordering::Relaxed)
            || self.shared.sent_since_wait.swap(true, Ordering::Relaxed);
        if burst {
            // The second send since the last wait: a burst, whose messages
            // are better written together than with a system call each.
            // The connection's task (or whoever drives now) writes them,
            // coalesced, in its next pass. A write request already standing
            // will be served (whoever set it woke the task, or is driving
            // and looks at the requests before it lets go), so only the
            // send that raises it wakes the task.
            let standing =
                self.shared.asked_write.load(Ordering::SeqCst) || self.shared.asked_write.swap(true, Ordering::SeqCst);
            if !standing {
                self.shared.router.wake_task();
            }
            if write_batch {
                drive(&self.shared, Pass::Write);
            }
        } else {
            // Written through now unless another party is driving (it then
            // writes it in its next pass): no hand-off to another task.
            drive(&self.shared, Pass::Write);
        }
        match result {
            Ok(()) => Ok(()),
            Err(Refusal::Send(e)) => Err(e),
            Err(other) => unreachable!("send() can only throw a SendError, got {other:?}"),
        }
    }

    /// `close(code, reason)`: `code` must be 1000 or 3000..=4999
    /// (`InvalidAccessError`), `reason` at most 123 UTF-8 bytes
    /// (`SyntaxError`); both are checked in every state.
    pub fn close(&self, code: Option<u16>, reason: Option<&str>) -> Result<(), CloseError> {
        let mut inner = self.shared.lock();
        let result = inner.input(Input::Close {
            code,
            reason: reason.map(str::to_string),
        });
        // close() during CONNECTING fails the connection at once: its
        // events are queued now, and the driver may already have ended.
        after_model_change(&mut inner);
        drop(inner);
        drive(&self.shared, Pass::Write);
        match result {
            Ok(()) => Ok(()),
            Err(Refusal::Close(e)) => Err(e),
            Err(other) => unreachable!("close() can only throw a CloseError, got {other:?}"),
        }
    }

    /// Sends a Ping frame with `payload` (text or bytes, at most
    /// [`crate::control::MAX_PING_PAYLOAD`] = 125 bytes, RFC 6455 §5.5).
    /// **Ours, not the browser's API**, which has no ping: for diagnostics
    /// and round-trip measurements; see [`crate::control`].
    ///
    /// Refused with [`PingError::PayloadTooLong`] (in every state) or, while
    /// `readyState` is not OPEN, [`PingError::InvalidState`]; nothing is
    /// sent then. While OPEN the Ping goes out after everything sent
    /// before it (unless the connection is already ending: then it is
    /// dropped, as `send()`'s data is). The server's Pong is not an event:
    /// watch it with [`crate::WebSocketBuilder::on_control_frame`].
    ///
    /// ```no_run
    /// # async fn f(ws: wsapi::WebSocket) -> Result<(), wsapi::PingError> {
    /// ws.ping("are you there?")?;
    /// ws.ping(vec![1, 2, 3])?;
    /// # Ok(()) }
    /// ```
    pub fn ping(&self, payload: impl Into<Vec<u8>>) -> Result<(), PingError> {
        let result = self.shared.lock().input(Input::Ping(payload.into()));
        match result {
            Ok(()) => {
                // Written through now, as close() does (a ping is rare).
                drive(&self.shared, Pass::Write);
                Ok(())
            }
            Err(Refusal::Ping(e)) => Err(e),
            Err(other) => unreachable!("ping() can only be refused with a PingError, got {other:?}"),
        }
    }

    /// Takes the next event, if one is ready: `Ready(None)` once the close
    /// event was taken.
    ///
    /// Any number of tasks may poll one socket: each event goes to exactly
    /// one of them, and all are woken when an event or the end is there.
    ///
    /// In handler mode (a socket built with `on_*` handlers) events go to
    /// the handlers only: this never yields an event, and is `Ready(None)`
    /// once the close event was delivered to them (a way to wait for the end).
    ///
    /// When no event is ready, it runs the connection's I/O itself if no
    /// one else is (see the crate docs, "Who drives the connection"), but
    /// leaves the I/O's next wake-up to the connection's task: a poll
    /// cannot tell whether it will be polled again. [`Self::next_event`]
    /// can, and takes those wake-ups too.
    pub fn poll_next_event(&self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut taken = None;
        self.poll_take_events(cx, 1, None, |event| taken = Some(event))
            .map(|_| taken)
    }

    /// Takes up to `max` (at least 1) ready events at once, appending them to `out`, under
    /// one lock: for throughput, where a lock and a wake-up per event cost
    /// more than the event. `Ready(0)` once the close event was taken (and
    /// in handler mode once it was delivered to the handlers); otherwise
    /// `Ready(n)` with `n >= 1`, or `Pending` while no event is ready. The
    /// events and their order are exactly those [`Self::poll_next_event`]
    /// would give one by one.
    pub fn poll_next_events(&self, cx: &mut Context<'_>, out: &mut Vec<Event>, max: usize) -> Poll<usize> {
        self.poll_take_events(cx, max.max(1), None, |event| out.push(event))
    }

    /// Hands up to `max` ready events to `take`; if none is ready, drives
    /// the connection and looks again. `Ready(n)` with `n >= 1`, `Ready(0)`
    /// at the end (the close event taken, or in handler mode delivered),
    /// else `Pending` with the waker registered for the events, and for
    /// the I/O's wake-ups too when `wait` names a wait that withdraws
    /// itself when dropped.
    pub(crate) fn poll_take_events(
        &self,
        cx: &mut Context<'_>,
        max: usize,
        wait: Option<&Wait>,
        mut take: impl FnMut(Event),
    ) -> Poll<usize> {
        if let Poll::Ready(n) = self.take_ready_events(cx, max, &mut take) {
            return Poll::Ready(n);
        }
        if let Some(wait) = wait {
            wait.enter(Side::Read, cx.waker());
        }
        self.shared.sent_since_wait.store(false, Ordering::Relaxed);
        drive(&self.shared, Pass::Full);
        let taken = self.take_ready_events(cx, max, &mut take);
        if let (Poll::Ready(_), Some(wait)) = (&taken, wait) {
            wait.leave();
        }
        taken
    }

    /// Hands up to `max` ready events to `take` under one lock; `Pending`
    /// (with `cx` registered for the next event or the end) if none is.
    fn take_ready_events(&self, cx: &mut Context<'_>, max: usize, take: &mut impl FnMut(Event)) -> Poll<usize> {
        let mut inner = self.shared.lock();
        if inner.handler_mode {
            if inner.handlers_done {
                return Poll::Ready(0);
            }
            inner.wait_for_event(cx.waker());
            return Poll::Pending;
        }
        let mut taken = 0;
        while taken < max {
            let Some(event) = inner.take_event(&self.shared.router) else {
                break;
            };
            take(Event::from_model(event));
            taken += 1;
        }
        // No other waiter needs waking when events were taken: every one
        // was woken when they (or the end) arrived, and polls again.
        if taken > 0 {
            return Poll::Ready(taken);
        }
        if inner.model().ready_state() == ReadyState::Closed {
            return Poll::Ready(0);
        }
        inner.wait_for_event(cx.waker());
        Poll::Pending
    }

    /// Waits for events and takes up to `max` of them at once (see
    /// [`Self::poll_next_events`]); 0 after the close event. While it
    /// waits, the calling task drives the connection (see the crate docs).
    ///
    /// ```no_run
    /// # async fn run(ws: wsapi::WebSocket) {
    /// let mut events = Vec::with_capacity(256);
    /// while ws.next_events(&mut events, 256).await > 0 {
    ///     for event in events.drain(..) {
    ///         println!("{event:?}");
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn next_events(&self, out: &mut Vec<Event>, max: usize) -> usize {
        let wait = Wait::new(&self.shared.router);
        futures::future::poll_fn(|cx| self.poll_take_events(cx, max.max(1), Some(&wait), |e| out.push(e))).await
    }

    /// Waits for the next event; `None` after the close event. In handler
    /// mode it only waits for the close event to be delivered to the
    /// handlers, then gives `None`. While it waits, the calling task drives
    /// the connection (see the crate docs).
    pub async fn next_event(&self) -> Option<Event> {
        let wait = Wait::new(&self.shared.router);
        let mut taken = None;
        futures::future::poll_fn(|cx| self.poll_take_events(cx, 1, Some(&wait), |e| taken = Some(e))).await;
        taken
    }

    /// Takes an event if one is ready now, without waiting. In handler mode
    /// it is always `None`: events belong to the handlers, and one taken
    /// here (from inside a handler, say) would be lost to them.
    pub fn try_next_event(&self) -> Option<Event> {
        let waker = futures::task::noop_waker();
        match self.poll_next_event(&mut Context::from_waker(&waker)) {
            Poll::Ready(e) => e,
            Poll::Pending => None,
        }
    }

    fn set_handler(&self, f: impl FnOnce(&mut Handlers)) -> Result<(), HandlerError> {
        let mut handlers = Handlers::default();
        f(&mut handlers);
        let mut inner = self.shared.lock();
        if !inner.handler_mode {
            return Err(HandlerError::StreamMode);
        }
        if inner.handlers_done || inner.abandoned {
            // The close event was delivered, or the socket dropped: nothing
            // would ever call it.
            drop(inner);
            drop(handlers);
            return Ok(());
        }
        // While a handler runs, `handlers` holds only those set meanwhile:
        // they override the running ones when it returns.
        let current = inner.handlers.take().unwrap_or_default();
        inner.handlers = Some(current.merge(Some(handlers)));
        Ok(())
    }

    /// `onopen = f`: replaces the open handler of a socket built with
    /// handlers ([`crate::WebSocketBuilder::on_open`]). Events dispatched
    /// from now on go to `f`; as in a browser, the one being dispatched
    /// right now (if any) does not. A socket built without handlers
    /// delivers its events as a stream, and this fails with
    /// [`HandlerError::StreamMode`]: a handler set on a running socket would
    /// race the events it is meant to see.
    pub fn on_open(&self, mut f: impl FnMut(&WebSocketHandle) + Send + 'static) -> Result<(), HandlerError> {
        self.set_handler(|h| h.open = Some(Box::new(move |ws, ()| f(ws))))
    }

    /// `onmessage = f` (see [`Self::on_open`] for when it applies).
    pub fn on_message(
        &self,
        f: impl FnMut(&WebSocketHandle, MessageEvent) + Send + 'static,
    ) -> Result<(), HandlerError> {
        self.set_handler(|h| h.message = Some(Box::new(f)))
    }

    /// `onerror = f` (see [`Self::on_open`] for when it applies).
    pub fn on_error(&self, f: impl FnMut(&WebSocketHandle, FailReason) + Send + 'static) -> Result<(), HandlerError> {
        self.set_handler(|h| h.error = Some(Box::new(f)))
    }

    /// `onclose = f` (see [`Self::on_open`] for when it applies).
    pub fn on_close(&self, f: impl FnMut(&WebSocketHandle, CloseEvent) + Send + 'static) -> Result<(), HandlerError> {
        self.set_handler(|h| h.close = Some(Box::new(f)))
    }

    /// Polls until `bufferedAmount` is at most `max`, or nothing more can be
    /// written (the closing handshake started or the connection closed).
    ///
    /// It waits on the bytes not written *now*, and its end is an
    /// event-loop turn: once it is ready, [`Self::buffered_amount`] says
    /// what was written meanwhile (between turns it never falls; see there).
    ///
    /// While `bufferedAmount` is over `max`, it writes what it can itself
    /// if no one else is driving the connection.
    pub fn poll_buffered_at_most(&self, cx: &mut Context<'_>, max: u64) -> Poll<()> {
        self.poll_buffered(cx, max, None)
    }

    /// [`Self::poll_buffered_at_most`], taking the write side's wake-ups
    /// while pending when `wait` names a wait that withdraws itself when
    /// dropped (see [`crate::shared::Router`]).
    pub(crate) fn poll_buffered(&self, cx: &mut Context<'_>, max: u64, wait: Option<&Wait>) -> Poll<()> {
        if self.buffered_ready(cx, max).is_ready() {
            return Poll::Ready(());
        }
        if let Some(wait) = wait {
            wait.enter(Side::Write, cx.waker());
        }
        self.shared.sent_since_wait.store(false, Ordering::Relaxed);
        drive(&self.shared, Pass::Write);
        let ready = self.buffered_ready(cx, max);
        if let (Poll::Ready(()), Some(wait)) = (ready, wait) {
            wait.leave();
        }
        ready
    }

    fn buffered_ready(&self, cx: &mut Context<'_>, max: u64) -> Poll<()> {
        let mut inner = self.shared.lock();
        let sending = matches!(inner.model().ready_state(), ReadyState::Open | ReadyState::Connecting)
            && inner.model().phase() != wsapi_model::Phase::Closed;
        if inner.model().unsent_amount() <= max || !sending {
            if inner.model().buffered_amount() != inner.model().unsent_amount() {
                let _ = inner.input(Input::Turn);
            }
            return Poll::Ready(());
        }
        if !inner.drain_wakers.iter().any(|w| w.will_wake(cx.waker())) {
            inner.drain_wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Waits until `bufferedAmount` is at most `max` (see
    /// [`Self::poll_buffered_at_most`]); meanwhile the calling task writes
    /// what the connection holds itself (see the crate docs).
    pub async fn buffered_at_most(&self, max: u64) {
        let wait = Wait::new(&self.shared.router);
        futures::future::poll_fn(|cx| self.poll_buffered(cx, max, Some(&wait))).await
    }
}

impl WebSocketHandle {
    /// Every attribute at one instant (separate getters may straddle a
    /// change made by the background task in between).
    pub fn snapshot(&self) -> Snapshot {
        let inner = self.shared.lock();
        let m = inner.model();
        Snapshot {
            ready_state: m.ready_state(),
            buffered_amount: m.buffered_amount(),
            protocol: m.protocol().to_string(),
            extensions: m.extensions().to_string(),
            binary_type: m.binary_type(),
            journal_len: inner.journal_len(),
        }
    }

    /// Whether the connection's background tasks have ended: the transport
    /// is closed and, in handler mode, the close event was delivered (in
    /// stream mode queued events may still wait to be taken).
    pub fn driver_finished(&self) -> bool {
        self.shared.lock().finished()
    }

    /// A one-line account of the connection's internal state (the model's
    /// phase, what waits, which background tasks are running and who is
    /// registered to be woken), for diagnosing a test that waited too long.
    #[doc(hidden)]
    pub fn debug_state(&self) -> String {
        let inner = self.shared.lock();
        let m = inner.model();
        format!(
            "phase={:?} ready_state={:?} pending_events={} unsent={} timeout={:?} now={:?} \
             driver_done={} dispatcher_done={} handler_mode={} handlers_done={} dispatching={} \
             task_done={} abandoned={} read_paused={} dispatcher_waker={} event_wakers={} journal_len={}",
            m.phase(),
            m.ready_state(),
            m.has_pending_events(),
            m.unsent_amount(),
            m.poll_timeout(),
            inner.last_now(),
            inner.driver_done,
            inner.dispatcher_done,
            inner.handler_mode,
            inner.handlers_done,
            inner.dispatching,
            inner.task_done,
            inner.abandoned,
            inner.read_paused,
            inner.dispatcher_waker.is_some(),
            inner.event_wakers.len(),
            inner.journal_len(),
        )
    }

    /// Everything the model was told and gave out, in order, if the socket
    /// was built with [`crate::WebSocketBuilder::record_journal`]; replay it
    /// with [`wsapi_model::replay`] to check a session against the model.
    pub fn journal(&self) -> Vec<wsapi_model::Step<Message>> {
        self.shared.lock().journal()
    }
}
