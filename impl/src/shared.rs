//! The state shared by a [`crate::WebSocket`] (the user's side) and the
//! connection's I/O (the network side): the model and who to wake
//! ([`Inner`], under one lock), the I/O itself ([`Shared::io`], under a
//! second lock whoever drives takes: see `driver`), and the [`Router`] that
//! turns the I/O's readiness into a wake-up of whoever should drive next.
//!
//! Every state change of the connection is a call on the model under the
//! first lock. Locks are taken in one order: `io`, then `inner`, then the
//! router's; no lock is held while another party's code (a waker, a
//! handler) runs.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wsapi_model::{Connection, Event as ModelEvent, Input, Refusal, Step, Transmit};

use crate::event::{CloseEvent, FailReason, MessageEvent};
use crate::Message;

/// What a queued event costs besides its bytes, for the reading pause: the
/// event, its buffer's allocation and the queue's slot, rounded up.
pub(crate) const QUEUED_EVENT_OVERHEAD: u64 = 64;

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
    /// The driver has ended (its work is done, whoever drove it).
    pub driver_done: bool,
    /// The connection's task has ended.
    pub task_done: bool,
    /// The handler dispatcher has ended (always true in stream mode).
    pub dispatcher_done: bool,
    /// The driver stopped reading because too many messages wait for delivery.
    pub read_paused: bool,
    /// The [`Inner::queued_cost`] at or below which a paused reading
    /// resumes (half of `max_queued_bytes`; set by the driver).
    pub read_resume_at: u64,
    /// `unsent_amount()` when a burst's sender last wrote the burst itself
    /// (see `send()`), brought down as writes drain it.
    pub unsent_at_sender_write: u64,
    /// Written small messages' payloads, for the next `send()` to drop on
    /// the sender's thread (`Encoder::take_spent` says why), and what they
    /// cost ([`SPENT_ENTRY`] each plus their bytes; at most [`SPENT_HELD`]).
    spent: Vec<Bytes>,
    spent_cost: usize,
}

/// What [`Inner`] holds of written payloads for the sender to drop, at
/// most: beyond it they are dropped where they were written, so a sender
/// that stopped sending keeps at most this alive until the connection ends.
const SPENT_HELD: usize = 256 * 1024;

/// What a held payload costs against [`SPENT_HELD`] besides its bytes.
const SPENT_ENTRY: usize = 32;

impl Inner {
    /// The model's clock: time since this connection was created.
    pub fn now(&mut self) -> Duration {
        self.last_now = self.epoch.elapsed().max(self.last_now);
        self.last_now
    }

    /// The instant the model's clock counts from.
    pub fn epoch(&self) -> Instant {
        self.epoch
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

    /// Keeps written payloads for the sender to drop (see
    /// [`Inner::take_spent`]); returns those it cannot keep, for the caller
    /// to drop after the lock.
    pub fn keep_spent(&mut self, mut payloads: Vec<Bytes>) -> Vec<Bytes> {
        let cost: usize = payloads.iter().map(|p| p.len() + SPENT_ENTRY).sum();
        if payloads.is_empty() || self.spent_cost + cost > SPENT_HELD {
            return payloads;
        }
        self.spent_cost += cost;
        if self.spent.is_empty() {
            std::mem::swap(&mut self.spent, &mut payloads);
        } else {
            self.spent.append(&mut payloads);
        }
        payloads
    }

    /// The written payloads kept for the sender, to be dropped after the lock.
    pub fn take_spent(&mut self) -> Vec<Bytes> {
        self.spent_cost = 0;
        std::mem::take(&mut self.spent)
    }

    /// What the received messages waiting for the user cost against
    /// `max_queued_bytes`: their bytes plus [`QUEUED_EVENT_OVERHEAD`] each.
    pub fn queued_cost(&self) -> u64 {
        self.model.queued_message_bytes() + self.model.queued_message_count() * QUEUED_EVENT_OVERHEAD
    }

    /// Takes the next event for the user (the stream or a handler): the
    /// connection's task is woken when reading paused because too many
    /// waited and the queue has now fallen to `read_resume_at`.
    pub fn take_event(&mut self, router: &Router) -> Option<ModelEvent<Message>> {
        let event = self.poll_event();
        if event.is_some() && self.read_paused && self.queued_cost() <= self.read_resume_at {
            self.read_paused = false;
            router.wake_task();
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
        self.driver_done && self.dispatcher_done && self.task_done
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
    /// The connection's I/O: whoever holds this lock drives it (the
    /// connection's task, or a user's task that waits; see `driver`).
    /// `None` once it has ended.
    pub io: Mutex<Option<Box<dyn Io>>>,
    /// A full pass over the I/O was asked for (see `driver::drive`): the
    /// holder of `io` runs one more before it lets go.
    pub asked_full: AtomicBool,
    /// A write-only pass was asked for.
    pub asked_write: AtomicBool,
    /// `send()` was called since a user's task last waited on the socket:
    /// the first send is written through, the next ones (a burst) are left
    /// to the connection's next pass, which writes them together. Outside
    /// `Inner`, so that a wait does not take the model's lock for it.
    pub sent_since_wait: AtomicBool,
    /// Where the I/O's and the timers' wake-ups go.
    pub router: Arc<Router>,
    /// `router` as the waker of reads (and of connecting and timers).
    pub read_waker: Waker,
    /// `router` as the waker of writes.
    pub write_waker: Waker,
}

/// How much of the connection's work one pass does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Everything: the model's transmits and timers, connecting, writing,
    /// reading.
    Full,
    /// All but reading: after `send()` or `close()`, which only add
    /// something to write (reading there would cost a failed read per call).
    Write,
}

/// The connection's I/O (the driver), as [`Shared`] keeps it. A trait so
/// that this module needs nothing of the driver's.
pub(crate) trait Io: Send {
    /// One pass over the connection's work; `Ready` once it is all done.
    /// Every poll inside registers one of `shared`'s wakers (the [`Router`]'s).
    fn poll(&mut self, shared: &Shared, pass: Pass) -> Poll<()>;
}

/// Where a wake-up of the connection's I/O goes: to the user's task that
/// is waiting on the socket (it drives the connection itself when it runs),
/// else to the connection's own task. Reading (and everything but writing:
/// connecting, timers) and writing are routed apart, since a task waiting
/// for `bufferedAmount` to fall drives only the write side and must not be
/// handed the read side's wake-ups.
///
/// A waiting task is registered by the futures that can withdraw it when
/// dropped (`next_event()`, `next_events()`, `buffered_at_most()`, the
/// Sink): a wake-up routed to a task that then stopped waiting would
/// otherwise be lost, and with it the pongs and the closing handshake of a
/// socket nobody polls. Withdrawing hands such a wake-up on to the
/// connection's task.
#[derive(Default)]
pub(crate) struct Router {
    state: Mutex<RouterState>,
}

/// Which wake-ups a wait takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// Reading, connecting, timers: for waits that run full passes.
    Read,
    /// Writing only: for waits on `bufferedAmount`.
    Write,
}

#[derive(Default)]
struct RouterState {
    /// The connection's task.
    task: Option<Waker>,
    read: Slot,
    write: Slot,
}

#[derive(Default)]
struct Slot {
    /// The user's task waiting on the socket, by its wait's id.
    waiter: Option<(u64, Waker)>,
    /// A wake-up went to `waiter` since it last polled.
    routed: bool,
}

/// Ids of waits, for [`Router::enter`].
static WAIT_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl RouterState {
    fn slot(&mut self, side: Side) -> &mut Slot {
        match side {
            Side::Read => &mut self.read,
            Side::Write => &mut self.write,
        }
    }
}

impl Router {
    fn lock(&self) -> MutexGuard<'_, RouterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh id for a wait.
    pub fn wait_id() -> u64 {
        WAIT_IDS.fetch_add(1, Ordering::Relaxed)
    }

    /// The connection's task polls with `waker`.
    pub fn set_task(&self, waker: &Waker) {
        let mut s = self.lock();
        if !s.task.as_ref().is_some_and(|t| t.will_wake(waker)) {
            s.task = Some(waker.clone());
        }
    }

    /// The wait `id` of the task of `waker` is polling: `side`'s wake-ups
    /// go to it until it leaves (or another wait of that side enters).
    pub fn enter(&self, side: Side, id: u64, waker: &Waker) {
        let mut s = self.lock();
        let slot = s.slot(side);
        match &mut slot.waiter {
            Some((current, w)) if *current == id => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
            }
            waiter => *waiter = Some((id, waker.clone())),
        }
        slot.routed = false;
    }

    /// The wait `id` ended (it got what it waited for, or was dropped):
    /// a wake-up it was given and did not act on goes to the task.
    pub fn leave(&self, id: u64) {
        let mut task = None;
        {
            let mut s = self.lock();
            for side in [Side::Read, Side::Write] {
                let slot = s.slot(side);
                if slot.waiter.as_ref().is_some_and(|(current, _)| *current == id) {
                    slot.waiter = None;
                    if std::mem::take(&mut slot.routed) {
                        task = s.task.clone();
                    }
                }
            }
        }
        if let Some(t) = task {
            t.wake();
        }
    }

    /// Wakes the connection's task (whoever waits).
    pub fn wake_task(&self) {
        let task = self.lock().task.clone();
        if let Some(t) = task {
            t.wake();
        }
    }

    /// A wake-up of `side`: to its waiter, else to the task.
    fn route(&self, side: Side) {
        let target = {
            let mut s = self.lock();
            let slot = s.slot(side);
            match slot.waiter.as_ref().map(|(_, w)| w.clone()) {
                Some(w) => {
                    slot.routed = true;
                    Some(w)
                }
                None => s.task.clone(),
            }
        };
        if let Some(w) = target {
            w.wake();
        }
    }
}

/// The waker given to everything but writes.
struct ReadSide(Arc<Router>);

/// The waker given to writes.
struct WriteSide(Arc<Router>);

impl Wake for ReadSide {
    fn wake(self: Arc<Self>) {
        self.0.route(Side::Read);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.route(Side::Read);
    }
}

impl Wake for WriteSide {
    fn wake(self: Arc<Self>) {
        self.0.route(Side::Write);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.route(Side::Write);
    }
}

/// A wait that takes the I/O's wake-ups while it is pending (see
/// [`Router`]), withdrawn when dropped.
pub(crate) struct Wait {
    router: Arc<Router>,
    /// Its id, for [`Router::enter`].
    id: u64,
    /// It entered the router and has not left: a wait that found what it
    /// waited for at once (the common case of a busy stream) never takes
    /// the router's lock.
    entered: AtomicBool,
}

impl Wait {
    pub fn new(router: &Arc<Router>) -> Wait {
        Wait {
            router: router.clone(),
            id: Router::wait_id(),
            entered: AtomicBool::new(false),
        }
    }

    /// The task of `waker` waits: `side`'s wake-ups go to it (see [`Router::enter`]).
    pub fn enter(&self, side: Side, waker: &Waker) {
        self.entered.store(true, Ordering::Relaxed);
        self.router.enter(side, self.id, waker);
    }

    /// The wait ended (see [`Router::leave`]); nothing if it never entered.
    pub fn leave(&self) {
        if self.entered.swap(false, Ordering::Relaxed) {
            self.router.leave(self.id);
        }
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        self.leave();
    }
}

impl Shared {
    pub fn new(model: Connection<Message>, journal: bool, handlers: Option<Handlers>) -> Arc<Shared> {
        let router = Arc::new(Router::default());
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                model,
                journal: journal.then(Vec::new),
                epoch: Instant::now(),
                last_now: Duration::ZERO,
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
                task_done: false,
                read_paused: false,
                read_resume_at: 0,
                spent: Vec::new(),
                spent_cost: 0,
                unsent_at_sender_write: 0,
            }),
            io: Mutex::new(None),
            asked_full: AtomicBool::new(false),
            asked_write: AtomicBool::new(false),
            sent_since_wait: AtomicBool::new(false),
            read_waker: Waker::from(Arc::new(ReadSide(router.clone()))),
            write_waker: Waker::from(Arc::new(WriteSide(router.clone()))),
            router,
        })
    }

    /// The I/O, to drive it (see `driver::drive`); `None` while another
    /// party drives it.
    pub fn try_io(&self) -> Option<MutexGuard<'_, Option<Box<dyn Io>>>> {
        match self.io.try_lock() {
            Ok(io) => Some(io),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[derive(Default)]
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn woken(c: &Arc<Count>) -> usize {
        c.0.load(Ordering::SeqCst)
    }

    #[test]
    fn written_payloads_are_held_for_the_sender_up_to_their_bound() {
        let model = wsapi_model::Connection::new(
            "ws://127.0.0.1:1/",
            &[] as &[&str],
            wsapi_model::Config::default(),
            Duration::ZERO,
        )
        .unwrap();
        let shared = Shared::new(model, false, None);
        let mut inner = shared.lock();
        let payload = |len: usize| Bytes::from(vec![0u8; len]);
        assert!(inner.keep_spent(vec![payload(100), payload(0)]).is_empty(), "kept");
        assert!(inner.keep_spent(Vec::new()).is_empty());
        // What would pass the bound is handed back, for the caller to drop.
        let over = SPENT_HELD - (100 + 2 * SPENT_ENTRY) - SPENT_ENTRY + 1;
        assert_eq!(inner.keep_spent(vec![payload(over)]).len(), 1, "over the bound");
        let fits = over - 1;
        assert!(inner.keep_spent(vec![payload(fits)]).is_empty(), "at the bound");
        let taken: Vec<usize> = inner.take_spent().iter().map(Bytes::len).collect();
        assert_eq!(taken, [100, 0, fits], "in order");
        assert!(inner.take_spent().is_empty(), "taken once");
        // Taking them resets the bound.
        assert!(inner.keep_spent(vec![payload(SPENT_HELD - SPENT_ENTRY)]).is_empty());
    }

    #[test]
    fn wake_ups_go_to_the_waiting_task_of_their_side_else_to_the_connection_task() {
        let router = Router::default();
        let (task, reader, writer) = (
            Arc::<Count>::default(),
            Arc::<Count>::default(),
            Arc::<Count>::default(),
        );
        router.set_task(&Waker::from(task.clone()));
        router.route(Side::Read);
        assert_eq!((woken(&task), woken(&reader)), (1, 0));
        router.enter(Side::Read, 1, &Waker::from(reader.clone()));
        router.enter(Side::Write, 2, &Waker::from(writer.clone()));
        router.route(Side::Read);
        router.route(Side::Write);
        assert_eq!((woken(&task), woken(&reader), woken(&writer)), (1, 1, 1));
        // The reader polled (entered again) and used its wake-up: leaving
        // hands nothing on.
        router.enter(Side::Read, 1, &Waker::from(reader.clone()));
        router.leave(1);
        assert_eq!(woken(&task), 1);
        // The writer leaves without having polled after its wake-up: the
        // connection's task gets it, and the next ones.
        router.leave(2);
        assert_eq!(woken(&task), 2);
        router.route(Side::Write);
        assert_eq!((woken(&task), woken(&writer)), (3, 1));
    }

    #[test]
    fn a_wait_left_by_another_id_stays() {
        let router = Router::default();
        let (task, a, b) = (
            Arc::<Count>::default(),
            Arc::<Count>::default(),
            Arc::<Count>::default(),
        );
        router.set_task(&Waker::from(task.clone()));
        router.enter(Side::Read, 1, &Waker::from(a.clone()));
        // A second wait takes the side over; the first leaving changes nothing.
        router.enter(Side::Read, 2, &Waker::from(b.clone()));
        router.leave(1);
        router.route(Side::Read);
        assert_eq!((woken(&task), woken(&a), woken(&b)), (0, 0, 1));
    }
}
