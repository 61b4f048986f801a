//! [`WebSocket`], [`WebSocketHandle`], [`WebSocketBuilder`] and
//! [`MessageSink`] over the browser's `WebSocket`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::{Sink, Stream};
use js_sys::{Array, ArrayBuffer, Function, Reflect, Uint8Array};
use url::Url;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wsapi_model::judge::{Observation, ObservedEvent, ObservedMessage, Snapshot as Attributes};
use wsapi_model::{BinaryType, CloseError, ConstructError, ReadyState, SendError};

use super::watcher::{DivergenceHook, Watcher};
use super::Divergence;
use crate::event::{CloseEvent, Event, FailReason, MessageEvent};
use crate::{Message, Snapshot};

/// Why [`WebSocketBuilder::connect`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// What the constructor throws (`SyntaxError`).
    #[error(transparent)]
    Construct(#[from] ConstructError),
    /// An option of the native build that a browser's `WebSocket` cannot
    /// honour: refused rather than silently ignored.
    #[error("{option} is not available in a browser: {why}")]
    Unsupported {
        /// The builder method.
        option: &'static str,
        /// Why, and what to do instead.
        why: &'static str,
    },
}

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

type OpenHandler = Box<dyn FnMut(&WebSocketHandle)>;
type MessageHandler = Box<dyn FnMut(&WebSocketHandle, MessageEvent)>;
type ErrorHandler = Box<dyn FnMut(&WebSocketHandle, FailReason)>;
type CloseHandler = Box<dyn FnMut(&WebSocketHandle, CloseEvent)>;

#[derive(Default)]
struct Handlers {
    open: Option<OpenHandler>,
    message: Option<MessageHandler>,
    error: Option<ErrorHandler>,
    close: Option<CloseHandler>,
}

/// The browser's callbacks, kept alive while the socket is.
struct Callbacks {
    _open: Closure<dyn FnMut(web_sys::Event)>,
    _message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _error: Closure<dyn FnMut(web_sys::Event)>,
    _close: Closure<dyn FnMut(web_sys::CloseEvent)>,
}

struct State {
    events: VecDeque<Event>,
    wakers: Vec<Waker>,
    /// The close event was dispatched by the browser.
    closed: bool,
    binary_type: BinaryType,
    /// `Some` in handler mode.
    handlers: Option<Handlers>,
    watcher: Watcher,
}

struct Inner {
    ws: web_sys::WebSocket,
    url: Url,
    state: RefCell<State>,
    callbacks: RefCell<Option<Callbacks>>,
    hook: Option<DivergenceHook>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The browser must not call a dropped closure.
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onerror(None);
        self.ws.set_onclose(None);
    }
}

/// A handle to a connection: the browser API's attributes and methods.
/// Cloning it is cheap; it does not keep the connection open (the
/// [`WebSocket`] does).
#[derive(Clone)]
pub struct WebSocketHandle {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for WebSocketHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketHandle")
            .field("url", &self.inner.url.as_str())
            .field("ready_state", &self.ready_state())
            .finish()
    }
}

fn ready_state_of(n: u16) -> ReadyState {
    match n {
        0 => ReadyState::Connecting,
        1 => ReadyState::Open,
        2 => ReadyState::Closing,
        _ => ReadyState::Closed,
    }
}

/// The name of a thrown `DOMException` (or `Error`).
fn exception_name(e: &JsValue) -> String {
    Reflect::get(e, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_else(|| String::from("Error"))
}

fn exception_text(e: &JsValue) -> String {
    let message = Reflect::get(e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_default();
    format!("{}: {message}", exception_name(e))
}

/// The class of an event object (`Event`, `MessageEvent`, `CloseEvent`...).
fn class_of(ev: &JsValue) -> Option<String> {
    ev.dyn_ref::<js_sys::Object>()
        .and_then(|o| o.constructor().name().as_string())
}

impl WebSocketHandle {
    fn with_watcher<R>(&self, f: impl FnOnce(&mut Watcher) -> R) -> R {
        let mut state = self.inner.state.borrow_mut();
        let r = f(&mut state.watcher);
        let fresh = state.watcher.take_fresh();
        drop(state);
        self.report(fresh);
        r
    }

    fn report(&self, fresh: Option<Divergence>) {
        if let (Some(d), Some(hook)) = (fresh, self.inner.hook.as_ref()) {
            hook(&d);
        }
    }

    fn attributes(&self) -> Attributes {
        let ws = &self.inner.ws;
        Attributes {
            ready_state: Some(ws.ready_state()),
            buffered_amount: Some(u64::from(ws.buffered_amount())),
            protocol: Some(ws.protocol()),
            extensions: Some(ws.extensions()),
            binary_type: None,
            url: None,
        }
    }

    fn read(&self, attrs: Attributes) {
        self.with_watcher(|w| w.call(Observation::Snapshot(attrs)));
    }

    /// `url`: the URL, as the browser serialised it.
    pub fn url(&self) -> Url {
        Url::parse(&self.inner.ws.url()).unwrap_or_else(|_| self.inner.url.clone())
    }

    /// `readyState`, the browser's.
    pub fn ready_state(&self) -> ReadyState {
        let n = self.inner.ws.ready_state();
        self.read(Attributes {
            ready_state: Some(n),
            ..Attributes::default()
        });
        ready_state_of(n)
    }

    /// `bufferedAmount`, the browser's.
    pub fn buffered_amount(&self) -> u64 {
        let n = u64::from(self.inner.ws.buffered_amount());
        self.read(Attributes {
            buffered_amount: Some(n),
            ..Attributes::default()
        });
        n
    }

    /// `protocol`: the subprotocol the server selected ("" until open).
    pub fn protocol(&self) -> String {
        let p = self.inner.ws.protocol();
        self.read(Attributes {
            protocol: Some(p.clone()),
            ..Attributes::default()
        });
        p
    }

    /// `extensions`: the extensions the server accepted ("" until open).
    pub fn extensions(&self) -> String {
        let x = self.inner.ws.extensions();
        self.read(Attributes {
            extensions: Some(x.clone()),
            ..Attributes::default()
        });
        x
    }

    /// `binaryType` (ours: the browser's stays `"arraybuffer"`, see the module docs).
    pub fn binary_type(&self) -> BinaryType {
        self.inner.state.borrow().binary_type
    }

    /// Sets `binaryType`; it applies to messages delivered from now on.
    pub fn set_binary_type(&self, binary_type: BinaryType) {
        self.inner.state.borrow_mut().binary_type = binary_type;
        self.with_watcher(|w| {
            w.call(Observation::SetBinaryType {
                value: binary_type.as_str().to_string(),
                now: Some(binary_type.as_str().to_string()),
            })
        });
    }

    /// The serialised origin of the URL (what `MessageEvent.origin` says).
    pub fn origin(&self) -> String {
        self.url().origin().ascii_serialization()
    }

    /// `send(data)`: the browser's. `InvalidStateError` while CONNECTING.
    pub fn send(&self, data: impl Into<Message>) -> Result<(), SendError> {
        let data = data.into();
        let result = match &data {
            Message::Text(t) => self.inner.ws.send_with_str(t.as_str()),
            Message::Binary(b) => self.inner.ws.send_with_u8_array(b),
        };
        let threw = result.as_ref().err().map(exception_name);
        self.with_watcher(|w| {
            w.call(Observation::Send {
                text: data.is_text(),
                len: data.len() as u64,
                threw: threw.clone(),
            })
        });
        // The only exception the standard allows; any other is a
        // divergence the watcher reported, and still a refusal.
        result.map_err(|_| SendError::InvalidState)
    }

    /// `close(code, reason)`: the browser's. `code` must be 1000 or
    /// 3000..=4999 (`InvalidAccessError`), `reason` at most 123 UTF-8
    /// bytes (`SyntaxError`).
    pub fn close(&self, code: Option<u16>, reason: Option<&str>) -> Result<(), CloseError> {
        let ws = &self.inner.ws;
        let result = match (code, reason) {
            (None, None) => ws.close(),
            (Some(c), None) => ws.close_with_code(c),
            (Some(c), Some(r)) => ws.close_with_code_and_reason(c, r),
            // close(undefined, reason): WebIDL's missing optional argument.
            (None, Some(r)) => Reflect::get(ws, &JsValue::from_str("close"))
                .and_then(|f| f.dyn_into::<Function>())
                .and_then(|f| f.call2(ws, &JsValue::UNDEFINED, &JsValue::from_str(r)))
                .map(|_| ()),
        };
        let threw = result.as_ref().err().map(exception_name);
        self.with_watcher(|w| {
            w.call(Observation::Close {
                code,
                reason: reason.map(str::to_string),
                threw: threw.clone(),
            })
        });
        match threw.as_deref() {
            None => Ok(()),
            Some("SyntaxError") => Err(CloseError::Syntax(reason.map_or(0, str::len))),
            Some(_) => Err(CloseError::InvalidAccess(code.unwrap_or(0))),
        }
    }

    /// Takes the next event, if one is ready: `Ready(None)` once the close
    /// event was taken (in handler mode: once it was delivered).
    pub fn poll_next_event(&self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut state = self.inner.state.borrow_mut();
        if state.handlers.is_none() {
            if let Some(e) = state.events.pop_front() {
                return Poll::Ready(Some(e));
            }
        }
        if state.closed {
            return Poll::Ready(None);
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Takes up to `max` (at least 1) ready events at once, appending them
    /// to `out`: `Ready(0)` at the end, `Pending` while none is ready.
    pub fn poll_next_events(&self, cx: &mut Context<'_>, out: &mut Vec<Event>, max: usize) -> Poll<usize> {
        let mut n = 0;
        while n < max.max(1) {
            match self.poll_next_event(cx) {
                Poll::Ready(Some(e)) => {
                    out.push(e);
                    n += 1;
                }
                Poll::Ready(None) => break,
                Poll::Pending if n == 0 => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        Poll::Ready(n)
    }

    /// Waits for events and takes up to `max` of them; 0 after the close event.
    pub async fn next_events(&self, out: &mut Vec<Event>, max: usize) -> usize {
        futures::future::poll_fn(|cx| self.poll_next_events(cx, out, max)).await
    }

    /// Waits for the next event; `None` after the close event. In handler
    /// mode it waits for the close event to be delivered, then gives `None`.
    pub async fn next_event(&self) -> Option<Event> {
        futures::future::poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// Takes an event if one is ready now (always `None` in handler mode).
    pub fn try_next_event(&self) -> Option<Event> {
        let mut state = self.inner.state.borrow_mut();
        if state.handlers.is_some() {
            return None;
        }
        state.events.pop_front()
    }

    fn set_handler(&self, f: impl FnOnce(&mut Handlers)) -> Result<(), HandlerError> {
        let mut state = self.inner.state.borrow_mut();
        match state.handlers.as_mut() {
            Some(h) => {
                f(h);
                Ok(())
            }
            None => Err(HandlerError::StreamMode),
        }
    }

    /// `onopen = f` on a socket built with handlers.
    pub fn on_open(&self, mut f: impl FnMut(&WebSocketHandle) + 'static) -> Result<(), HandlerError> {
        self.set_handler(|h| h.open = Some(Box::new(move |ws| f(ws))))
    }

    /// `onmessage = f` on a socket built with handlers.
    pub fn on_message(&self, f: impl FnMut(&WebSocketHandle, MessageEvent) + 'static) -> Result<(), HandlerError> {
        self.set_handler(|h| h.message = Some(Box::new(f)))
    }

    /// `onerror = f` on a socket built with handlers.
    pub fn on_error(&self, f: impl FnMut(&WebSocketHandle, FailReason) + 'static) -> Result<(), HandlerError> {
        self.set_handler(|h| h.error = Some(Box::new(f)))
    }

    /// `onclose = f` on a socket built with handlers.
    pub fn on_close(&self, f: impl FnMut(&WebSocketHandle, CloseEvent) + 'static) -> Result<(), HandlerError> {
        self.set_handler(|h| h.close = Some(Box::new(f)))
    }

    /// Waits until `bufferedAmount` is at most `max`, or nothing more can
    /// be sent (the closing handshake started or the connection closed).
    /// A browser fires no event when `bufferedAmount` falls, so this looks
    /// every few milliseconds (and at once).
    pub async fn buffered_at_most(&self, max: u64) {
        let mut wait = BufferedWait::new(self.clone(), max);
        futures::future::poll_fn(|cx| wait.poll(cx)).await
    }

    /// [`Self::buffered_at_most`] as a poll (its timer lives in `self`'s
    /// socket until the next poll).
    pub fn poll_buffered_at_most(&self, cx: &mut Context<'_>, max: u64) -> Poll<()> {
        BufferedWait::new(self.clone(), max).poll(cx)
    }

    /// Every attribute at one instant.
    pub fn snapshot(&self) -> Snapshot {
        let a = self.attributes();
        self.read(a.clone());
        Snapshot {
            ready_state: ready_state_of(a.ready_state.unwrap_or(3)),
            buffered_amount: a.buffered_amount.unwrap_or(0),
            protocol: a.protocol.unwrap_or_default(),
            extensions: a.extensions.unwrap_or_default(),
            binary_type: self.binary_type(),
            journal_len: 0,
        }
    }

    /// The divergence from the standard this socket's browser showed, if
    /// any (see the module docs).
    pub fn divergence(&self) -> Option<Divergence> {
        self.inner.state.borrow().watcher.divergence().cloned()
    }

    /// For this crate's browser tests: feeds the watching model a
    /// `readyState` of CONNECTING, which the standard never allows after
    /// the open event, so that the reporting of divergences is tested.
    #[cfg(feature = "test-fake-divergence")]
    #[doc(hidden)]
    pub fn inject_fake_divergence(&self) {
        self.read(Attributes {
            ready_state: Some(0),
            ..Attributes::default()
        });
    }

    /// The underlying browser `WebSocket` (wasm32 only).
    pub fn as_web_sys(&self) -> &web_sys::WebSocket {
        &self.inner.ws
    }

    // ----- the browser's events -----

    fn dispatch(&self, event: Event, obs: ObservedEvent, raw: &JsValue) {
        let attrs = self.attributes();
        let ready_state = attrs.ready_state;
        let is_close = matches!(event, Event::Close(_));
        self.with_watcher(|w| {
            w.event(
                Observation::Event {
                    event: obs,
                    ready_state,
                    class: class_of(raw),
                },
                Observation::Snapshot(attrs),
            );
            if is_close {
                w.finish();
            }
        });
        let mut state = self.inner.state.borrow_mut();
        if is_close {
            state.closed = true;
        }
        if state.handlers.is_none() {
            state.events.push_back(event);
            let wakers = std::mem::take(&mut state.wakers);
            drop(state);
            wakers.into_iter().for_each(Waker::wake);
            return;
        }
        // Handler mode: the handler runs now, inside the browser's task, as
        // a listener would; taken out while it runs so it may use the socket.
        let mut handlers = state.handlers.take().unwrap_or_default();
        drop(state);
        match event {
            Event::Open => {
                if let Some(f) = handlers.open.as_mut() {
                    f(self)
                }
            }
            Event::Message(m) => {
                if let Some(f) = handlers.message.as_mut() {
                    f(self, m)
                }
            }
            Event::Error(e) => {
                if let Some(f) = handlers.error.as_mut() {
                    f(self, e)
                }
            }
            Event::Close(c) => {
                if let Some(f) = handlers.close.as_mut() {
                    f(self, c)
                }
            }
        }
        let mut state = self.inner.state.borrow_mut();
        // Handlers set while it ran replace the running ones.
        let set_meanwhile = state.handlers.take().unwrap_or_default();
        state.handlers = Some(Handlers {
            open: set_meanwhile.open.or(handlers.open),
            message: set_meanwhile.message.or(handlers.message),
            error: set_meanwhile.error.or(handlers.error),
            close: set_meanwhile.close.or(handlers.close),
        });
        let wakers = std::mem::take(&mut state.wakers);
        drop(state);
        wakers.into_iter().for_each(Waker::wake);
    }

    fn on_browser_message(&self, ev: web_sys::MessageEvent) {
        let data = ev.data();
        let binary_type = self.binary_type();
        let (message, observed) = if let Some(s) = data.as_string() {
            (
                Message::from(s),
                ObservedMessage {
                    text: true,
                    binary_type: None,
                },
            )
        } else if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
            let bytes = Uint8Array::new(buf).to_vec();
            let observed = ObservedMessage {
                text: false,
                binary_type: Some(binary_type),
            };
            (Message::from(bytes), observed)
        } else {
            // binaryType is kept at "arraybuffer": nothing else can come.
            return;
        };
        let event = Event::Message(MessageEvent {
            binary_type: (!message.is_text()).then_some(binary_type),
            data: message,
        });
        self.dispatch(event, ObservedEvent::Message(observed), &ev);
    }
}

/// A wait for `bufferedAmount <= max`, on a timer.
struct BufferedWait {
    handle: WebSocketHandle,
    max: u64,
    timer: Option<wasm_bindgen_futures::JsFuture>,
    waited: bool,
}

/// How often a wait for `bufferedAmount` looks at it.
const BUFFERED_POLL: Duration = Duration::from_millis(5);

impl BufferedWait {
    fn new(handle: WebSocketHandle, max: u64) -> Self {
        BufferedWait {
            handle,
            max,
            timer: None,
            waited: false,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some(t) = self.timer.as_mut() {
                if Pin::new(t).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.timer = None;
            }
            let ws = &self.handle.inner.ws;
            let buffered = u64::from(ws.buffered_amount());
            let sending = ws.ready_state() <= 1;
            if buffered <= self.max || !sending {
                if self.waited {
                    if buffered <= self.max {
                        let max = self.max;
                        self.handle.with_watcher(|w| w.buffered_wait_done(max));
                    }
                } else {
                    self.handle.read(Attributes {
                        buffered_amount: Some(buffered),
                        ..Attributes::default()
                    });
                }
                return Poll::Ready(());
            }
            self.waited = true;
            self.timer = Some(sleep(BUFFERED_POLL));
        }
    }
}

/// A promise resolved by `setTimeout` (on a page or in a worker).
fn sleep(d: Duration) -> wasm_bindgen_futures::JsFuture {
    let ms = i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let global = js_sys::global();
        if let Ok(set_timeout) =
            Reflect::get(&global, &JsValue::from_str("setTimeout")).and_then(|f| f.dyn_into::<Function>())
        {
            let _ = set_timeout.call2(&global, &resolve, &JsValue::from(ms));
        }
    });
    wasm_bindgen_futures::JsFuture::from(promise)
}

/// A WebSocket connection over the browser's own `WebSocket`, with the
/// browser API's semantics (the browser's, watched by the model).
///
/// Dropping it closes the connection (`close()` with no code), as natively.
pub struct WebSocket {
    handle: WebSocketHandle,
}

impl WebSocket {
    /// `new WebSocket(url, protocols)`.
    pub fn new(url: &str, protocols: &[&str]) -> Result<WebSocket, ConstructError> {
        WebSocketBuilder::new(url)
            .protocols(protocols)
            .connect()
            .map_err(|e| match e {
                BuildError::Construct(c) => c,
                BuildError::Unsupported { .. } => unreachable!("no option was given"),
            })
    }

    /// A builder for the options a browser has (protocols, handlers, the
    /// divergence hook).
    pub fn builder(url: &str) -> WebSocketBuilder {
        WebSocketBuilder::new(url)
    }

    /// A non-owning handle.
    pub fn handle(&self) -> WebSocketHandle {
        self.handle.clone()
    }

    /// A [`futures::Sink`] of messages with backpressure: it waits while
    /// `bufferedAmount` is over `high_water_mark` bytes.
    pub fn sink(&self, high_water_mark: u64) -> MessageSink {
        MessageSink {
            handle: self.handle.clone(),
            high_water_mark,
            wait: None,
        }
    }
}

impl Deref for WebSocket {
    type Target = WebSocketHandle;
    fn deref(&self) -> &WebSocketHandle {
        &self.handle
    }
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.handle.fmt(f)
    }
}

impl Stream for WebSocket {
    type Item = Event;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.handle.poll_next_event(cx)
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        // As natively: close with no status; its events are no longer
        // delivered (nor watched).
        self.handle.inner.state.borrow_mut().watcher.stop();
        self.handle.inner.callbacks.borrow_mut().take();
        let ws = &self.handle.inner.ws;
        ws.set_onopen(None);
        ws.set_onmessage(None);
        ws.set_onerror(None);
        ws.set_onclose(None);
        let _ = ws.close();
    }
}

/// Sends messages, waiting while `bufferedAmount` is above the high-water
/// mark (looked at on a timer: a browser fires no event when it falls).
pub struct MessageSink {
    handle: WebSocketHandle,
    high_water_mark: u64,
    wait: Option<BufferedWait>,
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
        MessageSink {
            handle: self.handle.clone(),
            high_water_mark: self.high_water_mark,
            wait: None,
        }
    }
}

impl MessageSink {
    fn poll_buffered(&mut self, cx: &mut Context<'_>, max: u64) -> Poll<()> {
        let handle = self.handle.clone();
        let wait = self.wait.get_or_insert_with(|| BufferedWait::new(handle, max));
        wait.max = max;
        let r = wait.poll(cx);
        if r.is_ready() {
            self.wait = None;
        }
        r
    }
}

impl Sink<Message> for MessageSink {
    type Error = SendError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        let hwm = self.high_water_mark;
        self.poll_buffered(cx, hwm).map(Ok)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), SendError> {
        self.handle.send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        self.poll_buffered(cx, 0).map(Ok)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        let flushed = self.poll_buffered(cx, 0);
        if flushed.is_ready() {
            let _ = self.handle.close(None, None);
        }
        flushed.map(Ok)
    }
}

/// Options for a [`WebSocket`] on wasm32: those a browser has. The native
/// build's other options are here too where their types exist, and make
/// [`WebSocketBuilder::connect`] fail with [`BuildError::Unsupported`].
pub struct WebSocketBuilder {
    url: String,
    protocols: Vec<String>,
    handlers: Option<Handlers>,
    hook: Option<DivergenceHook>,
    unsupported: Option<(&'static str, &'static str)>,
}

impl std::fmt::Debug for WebSocketBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketBuilder")
            .field("url", &self.url)
            .field("protocols", &self.protocols)
            .field("handlers", &self.handlers.is_some())
            .field("on_divergence", &self.hook.is_some())
            .field("unsupported", &self.unsupported)
            .finish()
    }
}

macro_rules! unsupported {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) => $why:expr) => {
        $(#[$doc])*
        ///
        /// **Not available in a browser**: [`WebSocketBuilder::connect`]
        /// fails with [`BuildError::Unsupported`] saying why.
        pub fn $name(mut self, $($arg: $ty),*) -> Self {
            $(let _ = $arg;)*
            self.refuse(stringify!($name), $why);
            self
        }
    };
}

impl WebSocketBuilder {
    /// Starts a builder for `url`.
    pub fn new(url: &str) -> Self {
        WebSocketBuilder {
            url: url.to_string(),
            protocols: Vec::new(),
            handlers: None,
            hook: None,
            unsupported: None,
        }
    }

    fn refuse(&mut self, option: &'static str, why: &'static str) {
        self.unsupported.get_or_insert((option, why));
    }

    /// Subprotocols to offer.
    pub fn protocols<S: AsRef<str>>(mut self, protocols: &[S]) -> Self {
        self.protocols = protocols.iter().map(|p| p.as_ref().to_string()).collect();
        self
    }

    fn handlers(&mut self) -> &mut Handlers {
        self.handlers.get_or_insert_with(Handlers::default)
    }

    /// Handler mode: `onopen`. Handlers run inside the browser's event
    /// task, as listeners do; they need not be `Send` on wasm32.
    pub fn on_open(mut self, mut f: impl FnMut(&WebSocketHandle) + 'static) -> Self {
        self.handlers().open = Some(Box::new(move |ws| f(ws)));
        self
    }

    /// Handler mode: `onmessage`.
    pub fn on_message(mut self, f: impl FnMut(&WebSocketHandle, MessageEvent) + 'static) -> Self {
        self.handlers().message = Some(Box::new(f));
        self
    }

    /// Handler mode: `onerror`.
    pub fn on_error(mut self, f: impl FnMut(&WebSocketHandle, FailReason) + 'static) -> Self {
        self.handlers().error = Some(Box::new(f));
        self
    }

    /// Handler mode: `onclose`.
    pub fn on_close(mut self, f: impl FnMut(&WebSocketHandle, CloseEvent) + 'static) -> Self {
        self.handlers().close = Some(Box::new(f));
        self
    }

    /// Called once for each divergence of the browser from the standard
    /// (wasm32 only; see [`Divergence`]). It runs where the divergence was
    /// found (inside an event's task or a call) and may use the socket.
    pub fn on_divergence(mut self, hook: impl Fn(&Divergence) + 'static) -> Self {
        self.hook = Some(Rc::new(hook));
        self
    }

    unsupported!(
        /// An extra request header.
        header(name: &str, value: &str) => "a browser's WebSocket sends no headers of the page's choosing (cookies of the URL's site are sent by the browser); pass a token in the URL or a subprotocol, or authenticate with the first message"
    );
    unsupported!(
        /// The connect timeout.
        connect_timeout(timeout: Option<Duration>) => "the browser has its own; to give up earlier, call close() from a timer"
    );
    unsupported!(
        /// The closing handshake's timeout.
        closing_timeout(timeout: Option<Duration>) => "the browser has its own"
    );
    unsupported!(
        /// The largest message accepted.
        max_message_size(max: Option<usize>) => "the browser's limits apply"
    );
    unsupported!(
        /// The largest frame accepted.
        max_frame_size(max: Option<usize>) => "the browser's limits apply"
    );
    unsupported!(
        /// A limit on `bufferedAmount`.
        max_buffered_amount(max: Option<u64>) => "the browser buffers what send() is given; use sink() or buffered_at_most() for backpressure"
    );
    unsupported!(
        /// Keep-alive pings.
        keep_alive(interval: Duration, timeout: Duration) => "a page cannot send pings (the browser answers the server's); send application-level heartbeats"
    );
    unsupported!(
        /// The limit of queued bytes.
        max_queued_bytes(max: u64) => "the browser's limits apply"
    );
    unsupported!(
        /// The compression threshold.
        compress_outgoing(min_size: Option<usize>) => "the browser decides what it compresses"
    );
    unsupported!(
        /// An HTTP proxy.
        proxy(url: &str) => "the browser uses its own proxy settings"
    );

    /// permessage-deflate: on (the default) is what browsers offer;
    /// `false` is not available in a browser.
    pub fn deflate(mut self, on: bool) -> Self {
        if !on {
            self.refuse(
                "deflate",
                "the browser offers permessage-deflate itself and a page cannot turn it off",
            );
        }
        self
    }

    /// Proxies from the environment: `false` only (the browser's settings apply).
    pub fn proxy_from_env(mut self, on: bool) -> Self {
        if on {
            self.refuse("proxy_from_env", "the browser uses its own proxy settings");
        }
        self
    }

    /// Whether the given stream is already secure: `false` only (a browser
    /// opens its own streams).
    pub fn already_secure(mut self, secure: bool) -> Self {
        if secure {
            self.refuse(
                "already_secure",
                "a browser opens its own connections; there is no stream to give",
            );
        }
        self
    }

    /// The model's journal: `false` only (the browser, not the model, runs
    /// the connection; the model watches it instead, see [`Divergence`]).
    pub fn record_journal(mut self, on: bool) -> Self {
        if on {
            self.refuse(
                "record_journal",
                "the browser, not the model, runs the connection; divergences from the standard are reported instead (on_divergence)",
            );
        }
        self
    }

    /// Creates the socket: the browser's `new WebSocket(url, protocols)`.
    pub fn connect(self) -> Result<WebSocket, BuildError> {
        if let Some((option, why)) = self.unsupported {
            return Err(BuildError::Unsupported { option, why });
        }
        // The standard's answer, to compare with the browser's.
        let standard =
            wsapi_model::parse_url(&self.url).and_then(|u| wsapi_model::validate_protocols(&self.protocols).map(|_| u));
        let protocols: Array = self.protocols.iter().map(|p| JsValue::from_str(p)).collect();
        let made = if self.protocols.is_empty() {
            web_sys::WebSocket::new(&self.url)
        } else {
            web_sys::WebSocket::new_with_str_sequence(&self.url, &protocols)
        };
        let ws = match (made, standard) {
            (Ok(ws), _) => ws,
            // Both refused: the standard's typed error (the browser's
            // exception is a SyntaxError too, or the watcher below would
            // have nothing to add: no socket to watch).
            (Err(_), Err(e)) => return Err(BuildError::Construct(e)),
            (Err(thrown), Ok(_)) => {
                let mut watcher = Watcher::new(&self.url, &self.protocols);
                watcher.constructor_threw(&exception_name(&thrown));
                if let (Some(d), Some(hook)) = (watcher.take_fresh(), self.hook.as_ref()) {
                    hook(&d);
                }
                return Err(BuildError::Construct(ConstructError::UserAgent(exception_text(
                    &thrown,
                ))));
            }
        };
        ws.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let url = Url::parse(&ws.url())
            .or_else(|_| wsapi_model::parse_url(&self.url))
            .map_err(|_| ConstructError::UserAgent(String::from("the browser's url attribute is not a URL")))?;
        // Watches what the browser accepted, as the standard parses it
        // (the standard refusing it is reported at once).
        let watcher = Watcher::new(&self.url, &self.protocols);
        let inner = Rc::new(Inner {
            ws,
            url,
            state: RefCell::new(State {
                events: VecDeque::new(),
                wakers: Vec::new(),
                closed: false,
                binary_type: BinaryType::default(),
                handlers: self.handlers,
                watcher,
            }),
            callbacks: RefCell::new(None),
            hook: self.hook,
        });
        let handle = WebSocketHandle { inner };
        let fresh = handle.inner.state.borrow_mut().watcher.take_fresh();
        handle.report(fresh);
        attach(&handle);
        Ok(WebSocket { handle })
    }
}

/// Sets the browser's `on*` callbacks; they hold the socket weakly (the
/// owning [`WebSocket`] keeps it).
fn attach(handle: &WebSocketHandle) {
    let weak: Weak<Inner> = Rc::downgrade(&handle.inner);
    let upgrade = move |w: &Weak<Inner>| w.upgrade().map(|inner| WebSocketHandle { inner });
    let w = weak.clone();
    let open = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
        if let Some(h) = upgrade(&w) {
            h.dispatch(Event::Open, ObservedEvent::Open, &ev);
        }
    });
    let w = weak.clone();
    let message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
        if let Some(h) = upgrade(&w) {
            h.on_browser_message(ev);
        }
    });
    let w = weak.clone();
    let error = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
        if let Some(h) = upgrade(&w) {
            h.dispatch(Event::Error(FailReason::UserAgent), ObservedEvent::Error, &ev);
        }
    });
    let w = weak;
    let close = Closure::<dyn FnMut(web_sys::CloseEvent)>::new(move |ev: web_sys::CloseEvent| {
        if let Some(h) = upgrade(&w) {
            let c = CloseEvent {
                code: ev.code(),
                reason: ev.reason(),
                was_clean: ev.was_clean(),
            };
            h.dispatch(Event::Close(c.clone()), ObservedEvent::Close(c), &ev);
        }
    });
    let ws = &handle.inner.ws;
    ws.set_onopen(Some(open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
    ws.set_onerror(Some(error.as_ref().unchecked_ref()));
    ws.set_onclose(Some(close.as_ref().unchecked_ref()));
    *handle.inner.callbacks.borrow_mut() = Some(Callbacks {
        _open: open,
        _message: message,
        _error: error,
        _close: close,
    });
}
