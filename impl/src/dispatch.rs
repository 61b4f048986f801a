//! Browser-style dispatch of events to the `on_*` handlers.
//!
//! Why it is built this way:
//!
//! - **Handlers are fixed before the first event** (given to the builder):
//!   a browser sets `onopen`, `onmessage`, ... in the same task as the
//!   constructor, before any event can be dispatched. Handlers set one call
//!   at a time on a running socket raced the connection and lost events, so
//!   the mode (stream or handlers) is chosen at construction, and setters on
//!   a running socket only *replace* handlers, as `ws.onmessage = f` does.
//! - **Handlers run on a thread of their own, not on the connection's
//!   task**: a handler that blocks or is slow delays only the delivery of
//!   the next events of its own socket; pongs, the closing handshake, the
//!   timeouts, reading pause and `bufferedAmount` draining go on in the
//!   driver task. A dispatcher task per connection waits for events and
//!   hands each batch to a handler thread (`handler_threads`: a pool with
//!   no cap, so that sockets whose handlers block cannot starve the
//!   others), which runs the handlers one at a time, in order, until no
//!   event is left.
//! - **A panicking handler is caught and reported** (as a browser reports a
//!   listener's exception on its console) and the socket carries on.
//! - **Handlers are dropped once the close event was delivered** (or the
//!   socket was dropped), so that a handler capturing its own socket's
//!   handle does not keep the connection alive: the cycle
//!   `Shared -> handlers -> handle -> Shared` is broken there. They are
//!   always dropped outside the lock (a handler may own a `WebSocket`, whose
//!   drop takes the lock).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::Poll;

use wsapi_model::Event as ModelEvent;

use crate::panic_message::panic_message;
use crate::shared::{Handlers, LiveDriver, Shared, WebSocketHandle};

/// What a handler's panic is reported with (see
/// [`crate::WebSocketBuilder::on_handler_panic`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerPanic {
    /// The event whose handler panicked: `open`, `message`, `error` or `close`.
    pub event: &'static str,
    /// The panic's message, when it was a string.
    pub message: String,
}

/// A hook told about every handler that panicked.
#[derive(Clone)]
pub(crate) struct PanicHook(pub Arc<dyn Fn(&HandlerPanic) + Send + Sync>);

impl std::fmt::Debug for PanicHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PanicHook")
    }
}

/// The default report: one line on stderr, as a browser's console shows an
/// exception thrown by a listener (after the panic hook's own message).
fn report_on_stderr(p: &HandlerPanic) {
    eprintln!(
        "wsapi: the {} handler panicked ({}); the connection carries on",
        p.event, p.message
    );
}

/// The dispatcher task of a socket in handler mode: waits for events and
/// has them delivered on a handler thread, until the close event was
/// delivered or the socket was dropped.
pub(crate) async fn run_dispatcher(shared: Arc<Shared>, hook: Option<PanicHook>) {
    // Ends the dispatcher however its task ends: here after the close
    // event, or dropped with its runtime (then the events left are never
    // delivered, and whoever waits for them is told so).
    let _end = DispatcherEnd {
        shared: shared.clone(),
        live: Some(LiveDriver::start()),
    };
    let hook = hook.unwrap_or_else(|| PanicHook(Arc::new(report_on_stderr)));
    loop {
        let more = futures::future::poll_fn(|cx| {
            let mut inner = shared.lock();
            if inner.abandoned || inner.handlers_done {
                return Poll::Ready(false);
            }
            if inner.model().has_pending_events() {
                return Poll::Ready(true);
            }
            inner.dispatcher_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        if !more {
            break;
        }
        let (s, h) = (shared.clone(), hook.clone());
        crate::handler_threads::run(move || deliver_pending(&s, &h)).await;
    }
}

/// The end of a dispatcher, on drop.
struct DispatcherEnd {
    shared: Arc<Shared>,
    live: Option<LiveDriver>,
}

impl Drop for DispatcherEnd {
    fn drop(&mut self) {
        // Handlers are mostly gone by now: dropped after the close event
        // (`deliver_pending`) or taken by the socket's drop, and any set
        // once the socket is dropped or done are dropped at once; whatever
        // is left goes here, outside the lock.
        let stray = {
            let mut inner = self.shared.lock();
            inner.handlers_done = true;
            inner.handlers.take()
        };
        drop(stray);
        // Released before `dispatcher_done` is set: whoever sees that sees it released.
        self.live = None;
        let mut inner = self.shared.lock();
        inner.dispatcher_done = true;
        inner.wake_event_readers();
    }
}

/// Delivers every queued event to the handlers, one at a time, running
/// them outside the lock so that they may call `send`/`close`/set handlers.
fn deliver_pending(shared: &Arc<Shared>, hook: &PanicHook) {
    loop {
        let (event, mut handlers) = {
            let mut inner = shared.lock();
            // None once the socket was dropped (its events are discarded)
            // or the close event, always the last, was delivered.
            let Some(event) = inner.take_event() else {
                return;
            };
            inner.dispatching = true;
            (event, inner.handlers.take().unwrap_or_default())
        };
        let name = event_name(&event);
        let is_close = matches!(event, ModelEvent::Close(_));
        let handle = WebSocketHandle::from_shared(shared.clone());
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| call(&mut handlers, &handle, event))) {
            (hook.0)(&HandlerPanic {
                event: name,
                message: panic_message(payload.as_ref()),
            });
        }
        drop(handle);
        let done = {
            let mut inner = shared.lock();
            inner.dispatching = false;
            // Handlers set while this one ran replace the running ones.
            let newer = inner.handlers.take();
            // Also when the dispatcher ended meanwhile (its runtime shut
            // down): nothing would drop handlers put back now.
            if is_close || inner.abandoned || inner.handlers_done {
                inner.handlers_done = true;
                inner.wake_event_readers();
                Some((handlers, newer))
            } else {
                inner.handlers = Some(handlers.merge(newer));
                None
            }
        };
        if let Some(dropped) = done {
            drop(dropped);
            return;
        }
    }
}

fn call(handlers: &mut Handlers, handle: &WebSocketHandle, event: ModelEvent<crate::Message>) {
    match event {
        ModelEvent::Open => {
            if let Some(h) = handlers.open.as_mut() {
                h(handle, ())
            }
        }
        ModelEvent::Message { data, binary_type } => {
            if let Some(h) = handlers.message.as_mut() {
                h(handle, crate::MessageEvent { data, binary_type })
            }
        }
        ModelEvent::Error(reason) => {
            if let Some(h) = handlers.error.as_mut() {
                h(handle, reason)
            }
        }
        ModelEvent::Close(close) => {
            if let Some(h) = handlers.close.as_mut() {
                h(handle, close)
            }
        }
    }
}

fn event_name<M>(event: &ModelEvent<M>) -> &'static str {
    match event {
        ModelEvent::Open => "open",
        ModelEvent::Message { .. } => "message",
        ModelEvent::Error(_) => "error",
        ModelEvent::Close(_) => "close",
    }
}
