//! The state shared by a [`crate::WebSocket`] (the user's side) and its
//! driver task (the network side): the model, and who to wake.
//!
//! Every state change of the connection is a call on the model under this
//! lock; the two sides only ever tell each other "look again" (wakers).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use wsapi_model::{Connection, Event as ModelEvent, Input, Refusal, Step, Transmit};

use crate::event::{CloseEvent, FailReason, MessageEvent};
use crate::runtime::Runtime;
use crate::Message;

/// How many driver tasks are running in this process (for leak checks).
pub(crate) static LIVE_DRIVERS: AtomicUsize = AtomicUsize::new(0);

/// Browser-style event handlers (`onopen`, ...). A socket built with any of
/// them delivers every event to them (an event whose handler is unset is
/// dropped, as in a browser with no listener) instead of to the stream.
#[derive(Default)]
pub(crate) struct Handlers {
    pub open: Option<Handler<()>>,
    pub message: Option<Handler<MessageEvent>>,
    pub error: Option<Handler<FailReason>>,
    pub close: Option<Handler<CloseEvent>>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers")
            .field("open", &self.open.is_some())
            .field("message", &self.message.is_some())
            .field("error", &self.error.is_some())
            .field("close", &self.close.is_some())
            .finish()
    }
}

impl Handlers {
    /// Keeps the running handlers, except those replaced meanwhile (also how a
    /// setter lays new handlers over the installed ones).
    pub(crate) fn merge(self, newer: Option<Handlers>) -> Handlers {
        let Some(newer) = newer else {
            return self;
        };
        Handlers {
            open: newer.open.or(self.open),
            message: newer.message.or(self.message),
            error: newer.error.or(self.error),
            close: newer.close.or(self.close),
        }
    }
}

/// One event handler: it gets the socket and the event's data.
pub(crate) type Handler<T> = Box<dyn FnMut(&WebSocketHandle, T) + Send>;

pub(crate) struct Inner {
    /// Private: every change goes through [`Inner::input`] and the polls,
    /// so that the journal (when on) records all of them.
    model: Connection<Message>,
    journal: Option<Vec<Step<Message>>>,
    epoch: Instant,
    /// The last time read from the clock (given to inputs that ignore it).
    last_now: Duration,
    /// The driver task, to be woken after any user call.
    pub driver_waker: Option<Waker>,
    /// Tasks waiting in `next_event` (any number of them: each event goes
    /// to one, and all are woken when an event or the end arrives).
    pub event_wakers: Vec<Waker>,
    /// The handler dispatcher task, waiting for events.
    pub dispatcher_waker: Option<Waker>,
    /// Tasks waiting for `bufferedAmount` to drop (the Sink).
    pub drain_wakers: Vec<Waker>,
    /// Events go to handlers (fixed when the socket is built, so that no
    /// event can slip past a handler that is about to be set).
    pub handler_mode: bool,
    /// The handlers; taken out while one runs (`dispatching`), when those
    /// set meanwhile are kept here and override the running ones after.
    pub handlers: Option<Handlers>,
    /// A handler is running (on a handler thread).
    pub dispatching: bool,
    /// Handler mode: the close event was delivered (or the socket dropped)
    /// and the handlers were dropped; none will run again.
    pub handlers_done: bool,
    /// The owning `WebSocket` was dropped: nobody will take events.
    pub abandoned: bool,
    /// The driver task has ended.
    pub driver_done: bool,
    /// The handler dispatcher has ended (always true in stream mode).
    pub dispatcher_done: bool,
    /// The driver stopped reading because too many messages wait for delivery.
    pub read_paused: bool,
}

impl Inner {
    /// The model's clock: time since this connection was created.
    pub fn now(&mut self) -> Duration {
        self.last_now = self.epoch.elapsed().max(self.last_now);
        self.last_now
    }

    /// The last time read from the clock.
    pub fn last_now(&self) -> Duration {
        self.last_now
    }

    /// The model, for reading attributes.
    pub fn model(&self) -> &Connection<Message> {
        &self.model
    }

    /// Feeds one input to the model at the current time.
    ///
    /// The clock is read only for inputs that use it: a clock read per
    /// message is a measurable share of the small-message cost.
    pub fn input(&mut self, input: Input<Message>) -> Result<(), Refusal> {
        let now = if input.reads_clock() { self.now() } else { self.last_now };
        match self.journal.as_mut() {
            None => self.model.handle_input(now, input),
            Some(journal) => {
                let result = self.model.handle_input(now, input.clone());
                journal.push(Step::Input {
                    now,
                    input,
                    result: result.clone(),
                });
                result
            }
        }
    }

    /// Takes the next event (readyState changes here).
    pub fn poll_event(&mut self) -> Option<ModelEvent<Message>> {
        let event = self.model.poll_event();
        if let Some(journal) = self.journal.as_mut() {
            journal.push(Step::Event(event.clone()));
        }
        event
    }

    /// Takes the next event for the user (the stream or a handler): the
    /// driver is woken if it stopped reading because too many waited.
    pub fn take_event(&mut self) -> Option<ModelEvent<Message>> {
        let event = self.poll_event();
        if event.is_some() && self.read_paused {
            self.wake_driver();
        }
        event
    }

    /// Takes the next transmit.
    pub fn poll_transmit(&mut self) -> Option<Transmit<Message>> {
        let transmit = self.model.poll_transmit();
        if let Some(journal) = self.journal.as_mut() {
            journal.push(Step::Transmit(transmit.clone()));
        }
        transmit
    }

    /// The journal's length (0 unless recording).
    pub fn journal_len(&self) -> usize {
        self.journal.as_ref().map_or(0, Vec::len)
    }

    /// The journal so far (empty unless recording was asked for).
    pub fn journal(&self) -> Vec<Step<Message>> {
        self.journal.clone().unwrap_or_default()
    }

    pub fn wake_driver(&mut self) {
        if let Some(w) = self.driver_waker.take() {
            w.wake();
        }
    }

    /// Wakes every task waiting for an event (or for the end).
    pub fn wake_event_readers(&mut self) {
        for w in self.event_wakers.drain(..) {
            w.wake();
        }
    }

    /// Registers a task waiting for an event, once per task.
    pub fn wait_for_event(&mut self, waker: &Waker) {
        if !self.event_wakers.iter().any(|w| w.will_wake(waker)) {
            self.event_wakers.push(waker.clone());
        }
    }

    /// Whether every background task of the connection has ended.
    pub fn finished(&self) -> bool {
        self.driver_done && self.dispatcher_done
    }

    /// The driver stopped for good before the model closed (see the
    /// driver's `Drop`).
    pub fn input_driver_stopped(&mut self, why: &str) {
        let r = self.input(Input::DriverStopped(why.to_string()));
        debug_assert!(r.is_ok(), "{r:?}");
    }

    /// The driver has ended: whoever waits is told (events a user call
    /// queued meanwhile included), so that nobody waits for a driver that
    /// is gone.
    pub fn driver_ended(&mut self) {
        self.driver_done = true;
        after_model_change(self);
        self.wake_event_readers();
        self.wake_drain();
        if let Some(w) = self.dispatcher_waker.take() {
            w.wake();
        }
    }

    pub fn wake_drain(&mut self) {
        for w in self.drain_wakers.drain(..) {
            w.wake();
        }
    }
}

/// A reference to a connection with every method of the API. It does not
/// own the connection: dropping it does nothing. [`crate::WebSocket`] owns
/// one (and dereferences to it); handlers receive one.
///
/// (Defined beside the state it refers to, so that the handlers stored in
/// that state can name it without this module importing the API's; its
/// methods are in [`crate::handle`].)
#[derive(Clone)]
pub struct WebSocketHandle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for WebSocketHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.shared.lock();
        f.debug_struct("WebSocket")
            .field("url", &crate::redact::url(inner.model().url()))
            .field("ready_state", &inner.model().ready_state())
            .field("buffered_amount", &inner.model().buffered_amount())
            .finish()
    }
}

impl WebSocketHandle {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        WebSocketHandle { shared }
    }
}

/// After the model changed: lets whoever takes events know there are some
/// (or drops them if nobody will), and releases drain waiters once closed.
pub(crate) fn after_model_change(inner: &mut Inner) {
    if inner.model().phase() == wsapi_model::Phase::Closed {
        inner.wake_drain();
    }
    if inner.abandoned {
        while inner.poll_event().is_some() {}
    } else if inner.model().has_pending_events() {
        if inner.handler_mode {
            if let Some(w) = inner.dispatcher_waker.take() {
                w.wake();
            }
        } else {
            inner.wake_event_readers();
        }
    }
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// The runtime the connection's tasks run on.
    pub runtime: Arc<dyn Runtime>,
}

impl Shared {
    pub fn new(
        model: Connection<Message>,
        journal: bool,
        handlers: Option<Handlers>,
        runtime: Arc<dyn Runtime>,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                model,
                journal: journal.then(Vec::new),
                epoch: Instant::now(),
                last_now: Duration::ZERO,
                driver_waker: None,
                event_wakers: Vec::new(),
                dispatcher_waker: None,
                drain_wakers: Vec::new(),
                handler_mode: handlers.is_some(),
                dispatcher_done: handlers.is_none(),
                handlers,
                dispatching: false,
                handlers_done: false,
                abandoned: false,
                driver_done: false,
                read_paused: false,
            }),
            runtime,
        })
    }

    /// Locks the state. A handler that panicked must not wedge the socket,
    /// so a poisoned lock is taken over (the model itself never panics).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Counts a running driver for as long as it lives.
pub(crate) struct LiveDriver;

impl LiveDriver {
    pub fn start() -> LiveDriver {
        LIVE_DRIVERS.fetch_add(1, Ordering::SeqCst);
        LiveDriver
    }
}

impl Drop for LiveDriver {
    fn drop(&mut self) {
        LIVE_DRIVERS.fetch_sub(1, Ordering::SeqCst);
    }
}
