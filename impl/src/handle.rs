//! The user's side of a connection: attributes, `send`, `close`, events.

use std::sync::Arc;
use std::task::{Context, Poll};

use url::Url;
use wsapi_model::{CloseError, Input, ReadyState, Refusal, SendError};

use crate::event::{BinaryType, CloseEvent, Event, FailReason, MessageEvent};
use crate::shared::{Handlers, Shared};
use crate::Message;

/// A reference to a connection with every method of the API. It does not
/// own the connection: dropping it does nothing. [`crate::WebSocket`] owns
/// one (and dereferences to it); handlers receive one.
#[derive(Clone)]
pub struct WebSocketHandle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for WebSocketHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.shared.lock();
        f.debug_struct("WebSocket")
            .field("url", &inner.model().url().as_str())
            .field("ready_state", &inner.model().ready_state())
            .field("buffered_amount", &inner.model().buffered_amount())
            .finish()
    }
}

impl WebSocketHandle {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        WebSocketHandle { shared }
    }

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
    /// OS; after the closing handshake started, sends still add to it.
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
        inner.wake_driver();
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
        inner.wake_driver();
        match result {
            Ok(()) => Ok(()),
            Err(Refusal::Close(e)) => Err(e),
            Err(other) => unreachable!("close() can only throw a CloseError, got {other:?}"),
        }
    }

    /// Takes the next event, if one is ready: `Ready(None)` once the close
    /// event was taken. Not for use together with handlers.
    pub fn poll_next_event(&self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut inner = self.shared.lock();
        if let Some(event) = inner.poll_event() {
            if inner.read_paused {
                inner.wake_driver();
            }
            return Poll::Ready(Some(Event::from_model(event)));
        }
        if inner.model().ready_state() == ReadyState::Closed {
            return Poll::Ready(None);
        }
        inner.event_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Waits for the next event; `None` after the close event.
    pub async fn next_event(&self) -> Option<Event> {
        futures::future::poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// Takes an event if one is ready now, without waiting.
    pub fn try_next_event(&self) -> Option<Event> {
        let waker = futures::task::noop_waker();
        match self.poll_next_event(&mut Context::from_waker(&waker)) {
            Poll::Ready(e) => e,
            Poll::Pending => None,
        }
    }

    fn set_handler(&self, f: impl FnOnce(&mut Handlers)) {
        let mut inner = self.shared.lock();
        let mut handlers = inner.handlers.take().unwrap_or_default();
        f(&mut handlers);
        inner.handlers = Some(handlers);
        inner.wake_driver();
        if inner.driver_done && inner.model().has_pending_events() {
            // Events queued before the handler was set are still delivered,
            // later (never inside this call), as in a browser.
            let shared = self.shared.clone();
            drop(inner);
            let runtime = shared.runtime.clone();
            runtime.spawn(Box::pin(async move {
                crate::dispatch::dispatch_to_handlers(&shared);
            }));
        }
    }

    /// `onopen`. Setting any handler makes the background task deliver
    /// every event to the handlers (those with no handler are dropped, as
    /// in a browser with no listener) instead of to the event stream.
    pub fn on_open(&self, mut f: impl FnMut(&WebSocketHandle) + Send + 'static) {
        self.set_handler(|h| h.open = Some(Box::new(move |ws, ()| f(ws))));
    }

    /// `onmessage`.
    pub fn on_message(&self, f: impl FnMut(&WebSocketHandle, MessageEvent) + Send + 'static) {
        self.set_handler(|h| h.message = Some(Box::new(f)));
    }

    /// `onerror`.
    pub fn on_error(&self, f: impl FnMut(&WebSocketHandle, FailReason) + Send + 'static) {
        self.set_handler(|h| h.error = Some(Box::new(f)));
    }

    /// `onclose`.
    pub fn on_close(&self, f: impl FnMut(&WebSocketHandle, CloseEvent) + Send + 'static) {
        self.set_handler(|h| h.close = Some(Box::new(f)));
    }

    /// Polls until `bufferedAmount` is at most `max`, or nothing more can be
    /// written (the closing handshake started or the connection closed).
    pub fn poll_buffered_at_most(&self, cx: &mut Context<'_>, max: u64) -> Poll<()> {
        let mut inner = self.shared.lock();
        let sending = matches!(inner.model().ready_state(), ReadyState::Open | ReadyState::Connecting)
            && inner.model().phase() != wsapi_model::Phase::Closed;
        if inner.model().buffered_amount() <= max || !sending {
            return Poll::Ready(());
        }
        inner.drain_wakers.push(cx.waker().clone());
        Poll::Pending
    }

    /// Waits until `bufferedAmount` is at most `max` (see [`Self::poll_buffered_at_most`]).
    pub async fn buffered_at_most(&self, max: u64) {
        futures::future::poll_fn(|cx| self.poll_buffered_at_most(cx, max)).await
    }
}

/// All attributes, read at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `readyState`.
    pub ready_state: ReadyState,
    /// `bufferedAmount`.
    pub buffered_amount: u64,
    /// `protocol`.
    pub protocol: String,
    /// `extensions`.
    pub extensions: String,
    /// `binaryType`.
    pub binary_type: BinaryType,
    /// How many steps the journal had then (0 when not recording).
    pub journal_len: usize,
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

    /// Whether the connection's background task has ended (the transport is
    /// closed; queued events may still wait to be taken).
    pub fn driver_finished(&self) -> bool {
        self.shared.lock().driver_done
    }

    /// Everything the model was told and gave out, in order, if the socket
    /// was built with [`crate::WebSocketBuilder::record_journal`]; replay it
    /// with [`wsapi_model::replay`] to check a session against the model.
    pub fn journal(&self) -> Vec<wsapi_model::Step<Message>> {
        self.shared.lock().journal()
    }
}
