//! Generated sessions, shared by the property tests (`tests/against_model.rs`)
//! and the fault-injection suite (`tests/faults.rs`, `src/bin/fault_client.rs`):
//! the [`case`] strategy (a scripted, often hostile, server and a sequence of
//! client operations), [`run_client`] (runs one case's client side against a
//! URL and records what it saw) and [`run`] (a whole case over loopback,
//! checked against the model with [`crate::check`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use wsapi::{BinaryType, Event, Message, WebSocket, WebSocketBuilder, WebSocketHandle};
use wsapi_model::{Config, Event as ModelEvent, Input, Refusal, Step, Transmit};

use crate::check::{check, Attrs, Call, Observation, Session};
use crate::server::{Action, Handshake, Log, ProtocolChoice, Script, Server};

/// One thing the test does with the client.
#[derive(Debug, Clone)]
pub enum Op {
    /// `send()` a text message of this many bytes.
    SendText(usize),
    /// `send()` a binary message of this many bytes.
    SendBinary(usize),
    /// `close(code, reason)`.
    Close(Option<u16>, Option<String>),
    /// `binaryType = ...`.
    SetBinaryType(BinaryType),
    /// `ping()` with a payload of this many bytes (ours, not the
    /// standard's API; 126 is refused).
    Ping(usize),
    /// Read the attributes.
    Attrs,
    /// Wait a moment for an event.
    WaitEvent,
    /// Drop the socket.
    Drop,
    /// Stream mode: this many tasks (threads) wait for an event at once.
    WaitConcurrently(usize),
    /// Handler mode: replace the handler of this event type (0 open,
    /// 1 message, 2 error, 3 close) with a fresh one.
    Replace(u8),
    /// Handler mode, inside a handler: panic (after recording the event).
    Panic,
}

/// How the case takes its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `next_event()` / the Stream, from the test's task (or several).
    Stream,
    /// `on_*` handlers given to the builder; `handler_ops` run in them.
    Handlers,
}

const SIZES: [usize; 8] = [0, 1, 125, 126, 1000, 65535, 65536, 200_000];

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![8 => (0usize..5).prop_map(|i| SIZES[i]), 1 => (5usize..8).prop_map(|i| SIZES[i])]
}

fn close_code() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![
        Just(None),
        Just(Some(1000)),
        Just(Some(3000)),
        Just(Some(4999)),
        // Invalid for the API: must throw InvalidAccessError.
        Just(Some(1001)),
        Just(Some(999)),
        Just(Some(5000)),
    ]
}

fn reason() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("bye".to_string())),
        Just(Some("é".repeat(61))),
        Just(Some("a".repeat(124)))
    ]
}

/// A call of the API: what the test's task and the handlers both do.
fn api_call() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => size().prop_map(Op::SendText),
        2 => size().prop_map(Op::SendBinary),
        2 => (close_code(), reason()).prop_map(|(c, r)| Op::Close(c, r)),
        1 => prop_oneof![Just(BinaryType::Blob), Just(BinaryType::ArrayBuffer)].prop_map(Op::SetBinaryType),
        1 => Just(Op::Attrs),
        1 => prop_oneof![Just(0usize), Just(5), Just(125), Just(126)].prop_map(Op::Ping),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        9 => api_call(),
        4 => Just(Op::WaitEvent),
        1 => Just(Op::Drop),
        1 => (2usize..4).prop_map(Op::WaitConcurrently),
        1 => (0u8..4).prop_map(Op::Replace),
    ]
}

/// What a handler does after recording its event.
fn handler_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        9 => api_call(),
        2 => (0u8..4).prop_map(Op::Replace),
        1 => Just(Op::Panic),
    ]
}

fn wire_close_payload() -> impl Strategy<Value = Vec<u8>> {
    let code = prop_oneof![
        Just(1000u16),
        Just(1001),
        Just(1005),
        Just(1006),
        Just(1014),
        Just(1015),
        Just(999),
        Just(2999),
        Just(3000),
        Just(4999),
        Just(5000)
    ];
    let reason = prop_oneof![Just(b"".to_vec()), Just(b"bye".to_vec()), Just(vec![0xff, 0xfe])];
    prop_oneof![
        Just(Vec::new()),
        Just(vec![0x03]),
        (code, reason).prop_map(|(c, r)| {
            let mut p = c.to_be_bytes().to_vec();
            p.extend(r);
            p
        }),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => size().prop_map(|n| Action::Text("t".repeat(n))),
        2 => size().prop_map(|n| Action::Binary(vec![7; n])),
        1 => Just(Action::Ping(b"p".to_vec())),
        2 => wire_close_payload().prop_map(Action::CloseRaw),
        2 => (1usize..3).prop_map(Action::Echo),
        1 => prop_oneof![Just(true), Just(false)].prop_map(|reply| Action::AwaitClose { reply }),
        1 => Just(Action::DropTcp),
        1 => Just(Action::ResetTcp),
        1 => prop_oneof![
            Just(vec![0x83, 0x00]),               // reserved opcode
            Just(vec![0x81, 0x02, 0xc3, 0x28]),   // invalid UTF-8
            Just(vec![0x09, 0x00]),               // fragmented ping
            Just(vec![0x81, 0x81, 1, 2, 3, 4, 0x60]), // masked frame
        ]
        .prop_map(Action::Raw),
        1 => Just(Action::Sleep(Duration::from_millis(20))),
    ]
}

fn handshake() -> impl Strategy<Value = (Handshake, Vec<String>)> {
    let accept = |protocol: ProtocolChoice| Handshake::Accept {
        protocol,
        extensions: None,
    };
    prop_oneof![
        8 => Just((accept(ProtocolChoice::FirstOffered), vec![])),
        2 => Just((accept(ProtocolChoice::FirstOffered), vec!["chat".to_string()])),
        1 => Just((accept(ProtocolChoice::Named("other".into())), vec!["chat".to_string()])),
        1 => Just((accept(ProtocolChoice::Named("Chat".into())), vec!["chat".to_string()])),
        1 => Just((accept(ProtocolChoice::None), vec!["chat".to_string()])),
        1 => Just((Handshake::Reject(403), vec![])),
        1 => Just((Handshake::BadAcceptKey, vec![])),
        1 => Just((Handshake::Delay(Duration::from_millis(30)), vec!["chat".to_string()])),
    ]
}

/// One generated session: the server's script and what the client does.
#[derive(Debug, Clone)]
pub struct Case {
    /// How the server answers the opening handshake.
    pub handshake: Handshake,
    /// The subprotocols the client offers.
    pub protocols: Vec<String>,
    /// The server's script after the handshake.
    pub actions: Vec<Action>,
    /// How the client takes its events.
    pub mode: Mode,
    /// What the test's task does, in order.
    pub ops: Vec<Op>,
    /// Handler mode: run one by one, one per handler call, in the handlers.
    pub handler_ops: Vec<Op>,
    /// Stop reading at 4 KiB of undelivered messages (else the default).
    pub small_queue: bool,
}

/// Makes every scripted message distinct (its index leads it), so that a
/// lost, duplicated or reordered message cannot go unnoticed.
fn number(actions: Vec<Action>) -> Vec<Action> {
    actions
        .into_iter()
        .enumerate()
        .map(|(i, a)| match a {
            Action::Text(t) => Action::Text(format!("{i}:{t}")),
            Action::Binary(mut b) => {
                b.insert(0, i as u8);
                Action::Binary(b)
            }
            other => other,
        })
        .collect()
}

/// The strategy of `against_model`. Its structure fixes what the seeds in
/// `proptest-regressions/against_model.txt` replay: change it and those
/// seeds replay other cases.
pub fn case() -> impl Strategy<Value = Case> {
    (
        handshake(),
        prop::collection::vec(action(), 0..5),
        // Most sessions start by waiting for open, as programs do.
        prop::bool::weighted(0.75),
        prop::collection::vec(op(), 0..7),
        prop_oneof![2 => Just(Mode::Stream), 1 => Just(Mode::Handlers)],
        prop::collection::vec(handler_op(), 0..6),
        prop::bool::weighted(0.25),
    )
        .prop_map(
            |((handshake, protocols), actions, wait_open, mut ops, mode, handler_ops, small_queue)| {
                if wait_open {
                    ops.insert(0, Op::WaitEvent);
                }
                Case {
                    handshake,
                    protocols,
                    actions: number(actions),
                    mode,
                    ops,
                    handler_ops: if mode == Mode::Handlers {
                        handler_ops
                    } else {
                        Vec::new()
                    },
                    small_queue,
                }
            },
        )
}

/// How long any single wait may take (far above what a case needs).
pub const WAIT: Duration = Duration::from_secs(5);
/// The closing handshake's timeout every case configures.
pub const CLOSING_TIMEOUT: Duration = Duration::from_millis(200);
/// The opening handshake's timeout every case configures.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a `WaitEvent` op waits before moving on.
const QUIET: Duration = Duration::from_millis(50);

fn model_event(e: &Event) -> ModelEvent<Message> {
    match e {
        Event::Open => ModelEvent::Open,
        Event::Message(m) => ModelEvent::Message {
            data: m.data.clone(),
            binary_type: m.binary_type,
        },
        Event::Error(r) => ModelEvent::Error(r.clone()),
        Event::Close(c) => ModelEvent::Close(c.clone()),
    }
}

async fn next_event(ws: &WebSocket, wait: Duration) -> Option<Option<Event>> {
    match futures::future::select(Box::pin(ws.next_event()), wsapi::runtime::sleep(wait)).await {
        futures::future::Either::Left((e, _)) => Some(e),
        futures::future::Either::Right(_) => None,
    }
}

/// What the client sends: never equal to a scripted server message (those
/// start with their index, below 0xC1, or "i:"), so that an echo is never
/// taken for a scripted message. (With 1-byte [1] here, the server's message
/// number 1 with an empty body collided with it: a false failure found when
/// a mutant changed the timing.)
fn message(text: bool, n: usize) -> Message {
    if text {
        Message::from("x".repeat(n))
    } else {
        Message::from(vec![0xC1u8; n])
    }
}

/// What a case records: the API calls made (from the test's task or from
/// handlers) and what was observed. A call is made while holding `calls`,
/// so their order there is their order in the journal.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<Call>>,
    observations: Mutex<Vec<Observation>>,
    /// Handler mode: what the next handler calls do, in order.
    handler_ops: Mutex<VecDeque<Op>>,
    /// Handler mode: per event type, the id of the handler installed last,
    /// and whether it is certain to be the one that runs next (it is when
    /// it was set by the builder or inside a handler, which runs between
    /// two events; a replacement from the test's task races the event being
    /// dispatched, which may still go to the one before, as in a browser).
    installed: Mutex<[(u64, bool); 4]>,
    next_id: AtomicU64,
    /// What the handlers saw that must not happen.
    violations: Mutex<Vec<String>>,
}

impl Recorder {
    fn observe_event(&self, e: &Event, ws: &WebSocketHandle) {
        let (attrs, at) = Attrs::of(ws);
        self.observations.lock().unwrap().push(Observation::Event {
            event: model_event(e),
            attrs,
            at,
        });
    }

    fn observe_attrs(&self, ws: &WebSocketHandle) {
        let (attrs, at) = Attrs::of(ws);
        self.observations.lock().unwrap().push(Observation::Attrs { attrs, at });
    }

    /// Makes an API call and records it with its result; other ops are
    /// not calls and are ignored here.
    fn call(&self, ws: &WebSocketHandle, op: &Op) {
        self.call_via(ws, op, None)
    }

    /// [`Self::call`], with sends through `sink` when one is given
    /// (`start_send` after a `poll_ready` that its unbounded high-water
    /// mark makes ready at once).
    fn call_via(&self, ws: &WebSocketHandle, op: &Op, sink: Option<&mut wsapi::MessageSink>) {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let (input, result) = match op {
            Op::SendText(n) | Op::SendBinary(n) => {
                let m = message(matches!(op, Op::SendText(_)), *n);
                let result = match sink {
                    Some(sink) => {
                        use futures::Sink;
                        let waker = futures::task::noop_waker();
                        let cx = &mut std::task::Context::from_waker(&waker);
                        let mut sink = std::pin::Pin::new(sink);
                        assert!(sink.as_mut().poll_ready(cx).is_ready(), "no high-water mark");
                        sink.start_send(m.clone())
                    }
                    None => ws.send(m.clone()),
                };
                (Input::Send(m), result.map_err(Refusal::Send))
            }
            Op::Close(code, reason) => {
                let result = ws.close(*code, reason.as_deref()).map_err(Refusal::Close);
                let input = Input::Close {
                    code: *code,
                    reason: reason.clone(),
                };
                (input, result)
            }
            Op::SetBinaryType(b) => {
                ws.set_binary_type(*b);
                (Input::SetBinaryType(*b), Ok(()))
            }
            Op::Ping(n) => {
                let payload = vec![b'p'; *n];
                let result = ws.ping(payload.clone()).map_err(Refusal::Ping);
                (Input::Ping(payload), result)
            }
            _ => return,
        };
        calls.push(Call { input, result });
    }

    /// Drops the socket as a call: its `close()` is journaled in call order.
    fn drop_socket(&self, ws: &mut Option<WebSocket>) {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        if ws.take().is_some() {
            calls.push(Call {
                input: Input::Close {
                    code: None,
                    reason: None,
                },
                result: Ok(()),
            });
        }
    }
}

/// The panic a scripted handler raises (kept off stderr by [`quiet_panics`]).
const HANDLER_PANIC: &str = "scripted handler panic";

/// Keeps the scripted handlers' panics off stderr; every other panic is
/// reported as usual.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&HANDLER_PANIC) {
                default(info)
            }
        }));
    });
}

fn kind_of(e: &Event) -> usize {
    match e {
        Event::Open => 0,
        Event::Message(_) => 1,
        Event::Error(_) => 2,
        Event::Close(_) => 3,
    }
}

/// A handler's body: check it is the handler that should run, record the
/// event, then do the next scripted op.
fn on_event(rec: &Arc<Recorder>, ws: &WebSocketHandle, e: Event, id: u64) {
    let (want, certain) = rec.installed.lock().unwrap()[kind_of(&e)];
    if certain && want != id {
        let why = format!("handler {id} ran for {e:?}, but handler {want} had replaced it");
        rec.violations.lock().unwrap().push(why);
    }
    rec.observe_event(&e, ws);
    let next = rec.handler_ops.lock().unwrap().pop_front();
    match next {
        Some(Op::Attrs) => rec.observe_attrs(ws),
        Some(Op::Replace(kind)) => replace_handler(rec, ws, kind, true),
        Some(Op::Panic) => std::panic::panic_any(HANDLER_PANIC),
        Some(op) => rec.call(ws, &op),
        None => {}
    }
}

/// Installs a fresh recording handler for one event type (0 open,
/// 1 message, 2 error, 3 close); `inside`: from inside a handler.
fn replace_handler(rec: &Arc<Recorder>, ws: &WebSocketHandle, kind: u8, inside: bool) {
    let id = rec.next_id.fetch_add(1, Ordering::SeqCst);
    // Held while setting, so that `installed` follows the socket's order.
    let mut installed = rec.installed.lock().unwrap();
    let r = rec.clone();
    let set = match kind {
        0 => ws.on_open(move |ws| on_event(&r, ws, Event::Open, id)),
        1 => ws.on_message(move |ws, m| on_event(&r, ws, Event::Message(m), id)),
        2 => ws.on_error(move |ws, why| on_event(&r, ws, Event::Error(why), id)),
        _ => ws.on_close(move |ws, c| on_event(&r, ws, Event::Close(c), id)),
    };
    set.expect("a socket built with handlers takes replacements");
    installed[usize::from(kind.min(3))] = (id, inside);
}

fn builder_for(case: &Case, url: &str, rec: &Arc<Recorder>) -> WebSocketBuilder {
    let builder = WebSocket::builder(url)
        .protocols(&case.protocols)
        .closing_timeout(CLOSING_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .max_message_size(Some(1 << 20))
        .max_queued_bytes(if case.small_queue { 4096 } else { 16 << 20 })
        .record_journal(true);
    if case.mode == Mode::Stream {
        return builder;
    }
    // The builder's handlers are ids 0 to 3, certain to run first.
    *rec.installed.lock().unwrap() = [(0, true), (1, true), (2, true), (3, true)];
    rec.next_id.store(4, Ordering::SeqCst);
    let (r1, r2, r3, r4) = (rec.clone(), rec.clone(), rec.clone(), rec.clone());
    builder
        .on_handler_panic(|_| {})
        .on_open(move |ws| on_event(&r1, ws, Event::Open, 0))
        .on_message(move |ws, m| on_event(&r2, ws, Event::Message(m), 1))
        .on_error(move |ws, why| on_event(&r3, ws, Event::Error(why), 2))
        .on_close(move |ws, c| on_event(&r4, ws, Event::Close(c), 3))
}

/// Stream mode: `n` tasks (threads) wait for an event at once; each event
/// must go to exactly one of them. Returns whether the end was seen.
fn wait_concurrently(rec: &Recorder, socket: &WebSocket, n: usize) -> bool {
    let got: Vec<Option<Option<Event>>> = std::thread::scope(|scope| {
        let waiters: Vec<_> = (0..n)
            .map(|_| {
                scope.spawn(|| {
                    let got = wsapi::runtime::block_on(next_event(socket, QUIET));
                    if let Some(Some(e)) = &got {
                        rec.observe_event(e, socket);
                    }
                    got
                })
            })
            .collect();
        waiters.into_iter().map(|w| w.join().expect("waiter")).collect()
    });
    got.iter()
        .any(|g| matches!(g, Some(None) | Some(Some(Event::Close(_)))))
}

/// Puts event observations in the order the events were taken (concurrent
/// waiters record them in the order their threads ran): by each event's
/// position in the journal.
fn order_by_journal(observations: &mut [Observation], journal: &[Step<Message>]) {
    let mut used = vec![false; journal.len()];
    let mut position = |event: &ModelEvent<Message>| {
        let i = journal
            .iter()
            .enumerate()
            .position(|(i, s)| !used[i] && matches!(s, Step::Event(Some(e)) if e == event));
        if let Some(i) = i {
            used[i] = true;
        }
        i.unwrap_or(usize::MAX)
    };
    let mut keyed: Vec<(usize, Observation)> = observations
        .iter()
        .map(|o| match o {
            Observation::Event { event, .. } => (position(event), o.clone()),
            Observation::Attrs { at, .. } => (*at, o.clone()),
        })
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    for (slot, (_, o)) in observations.iter_mut().zip(keyed) {
        *slot = o;
    }
}

impl Case {
    /// The server's script for this case (one connection).
    pub fn script(&self) -> Script {
        Script {
            handshake: self.handshake.clone(),
            actions: self.actions.clone(),
            finish_reading: true,
        }
    }
}

/// What the client side of one session recorded: everything
/// [`crate::check::check`] needs but the server's log.
#[derive(Debug, Clone)]
pub struct ClientRun {
    /// The URL given to the constructor.
    pub url: String,
    /// The protocols offered.
    pub protocols: Vec<String>,
    /// The model configuration the client used.
    pub config: Config,
    /// The client's journal, once its tasks had ended.
    pub journal: Vec<Step<Message>>,
    /// What the test saw, in the order the events were taken.
    pub observations: Vec<Observation>,
    /// The API calls made, in order.
    pub calls: Vec<Call>,
    /// Whether the test took events until the close event.
    pub ran_to_close: bool,
    /// From the start of the run to the end (the close() it then makes, if
    /// the socket was not closed yet) to the close event; `None` when the
    /// socket had been dropped or the close event was already taken.
    pub close_wait: Option<Duration>,
}

impl ClientRun {
    /// The session to check, with the script the server ran and its log.
    pub fn session<'a>(&'a self, script: &'a [Action], log: &'a Log) -> Session<'a> {
        Session {
            url: &self.url,
            protocols: &self.protocols,
            config: self.config.clone(),
            journal: &self.journal,
            observations: &self.observations,
            calls: &self.calls,
            script,
            log,
            ran_to_close: self.ran_to_close,
        }
    }

    /// Whether the driver set out to connect (close() before the driver
    /// started connecting withdraws the connect: then no connection
    /// reached the server at all).
    pub fn tried_to_connect(&self) -> bool {
        self.journal
            .iter()
            .any(|s| matches!(s, Step::Transmit(Some(Transmit::Connect { .. }))))
    }

    /// Events the model gave out (the journal's) that nobody saw, in a
    /// session that kept its socket to the end (took events until the
    /// close event, or had its handlers see it). A socket the test dropped
    /// is not counted: dropping it drops its handlers, and the events the
    /// model still gives out (a drop while CONNECTING fails the connection:
    /// error, close) go to no one, by design
    /// (`spec-notes/events-and-ordering.md`), as a stream socket's do.
    pub fn events_lost(&self) -> usize {
        if !self.ran_to_close {
            return 0;
        }
        let delivered = self
            .journal
            .iter()
            .filter(|s| matches!(s, Step::Event(Some(_))))
            .count();
        let seen = self
            .observations
            .iter()
            .filter(|o| matches!(o, Observation::Event { .. }))
            .count();
        delivered.saturating_sub(seen)
    }
}

/// Runs the client side of `case` against `url` (a server running
/// `case.script()`, possibly through a proxy) and returns what it recorded
/// once the connection's tasks ended. `Err` when the client misbehaved in a
/// way that needs no model to see (no close event within [`WAIT`] of
/// close(), tasks that never end, a handler run that should not have).
pub fn run_client(case: &Case, url: &str) -> Result<ClientRun, String> {
    run_client_driven(case, url, Driving::Waits)
}

/// Who drives the connection while a case runs: the ways a program can
/// use a socket, each of which moves the connection's work to another
/// party (see `wsapi`'s crate docs, "Who drives the connection").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driving {
    /// `next_event()` waits: the waiting task drives the connection.
    Waits,
    /// Raw polls in bursts (`poll_next_event` with a waker that is never
    /// woken, every 2 ms): they drive when nothing is ready, and leave the
    /// wake-ups to the connection's task.
    Polls,
    /// Nobody takes an event before the end: the connection's task drives
    /// alone (a wait op only sleeps).
    Idle,
    /// Sends go through a `Sink`, each flushed (bounded): the task waits on
    /// the write side and writes itself.
    Sink,
    /// A second task takes every event with `next_events()` from the start
    /// (it drives while it waits); the ops never wait.
    Background,
}

/// Every way of driving.
pub fn driving() -> impl Strategy<Value = Driving> {
    prop_oneof![
        Just(Driving::Waits),
        Just(Driving::Polls),
        Just(Driving::Idle),
        Just(Driving::Sink),
        Just(Driving::Background),
    ]
}

/// Takes the next event as `driving` does, within `wait`: `Some(None)`
/// at the end, `None` if none came.
async fn take_event(ws: &WebSocket, driving: Driving, wait: Duration) -> Option<Option<Event>> {
    if driving != Driving::Polls {
        return next_event(ws, wait).await;
    }
    let deadline = Instant::now() + wait;
    let waker = futures::task::noop_waker();
    loop {
        if let std::task::Poll::Ready(e) = ws.poll_next_event(&mut std::task::Context::from_waker(&waker)) {
            return Some(e);
        }
        if Instant::now() >= deadline {
            return None;
        }
        wsapi::runtime::sleep(Duration::from_millis(2)).await;
    }
}

/// [`run_client`], with the connection driven as `driving` says.
pub fn run_client_driven(case: &Case, url: &str, driving: Driving) -> Result<ClientRun, String> {
    quiet_panics();
    let rec = Arc::new(Recorder::default());
    rec.handler_ops.lock().unwrap().extend(case.handler_ops.iter().cloned());
    let builder = builder_for(case, url, &rec);
    let config = builder.model_config();
    let ws = builder.connect().map_err(|e| e.to_string())?;
    let handle = ws.handle();
    let mut ws = Some(ws);
    let mut ran_to_close = false;
    let mut closed = false;
    let mut close_wait = None;
    let mut sink = (driving == Driving::Sink).then(|| ws.as_ref().expect("just built").sink(u64::MAX));
    let background = (driving == Driving::Background).then(|| {
        let (done, finished) = futures::channel::oneshot::channel::<()>();
        let (rec, handle) = (rec.clone(), handle.clone());
        wsapi::runtime::spawn(async move {
            let mut events = Vec::new();
            while handle.next_events(&mut events, 8).await > 0 {
                for e in events.drain(..) {
                    rec.observe_event(&e, &handle);
                }
            }
            let _ = done.send(());
        });
        finished
    });
    let taker = driving != Driving::Idle && driving != Driving::Background;
    wsapi::runtime::block_on(async {
        for op in &case.ops {
            let Some(socket) = ws.as_ref() else { break };
            match op {
                Op::Attrs => rec.observe_attrs(&handle),
                Op::WaitEvent | Op::WaitConcurrently(_) if !taker => {
                    // Someone else takes the events, or nobody yet.
                    wsapi::runtime::sleep(QUIET).await;
                }
                Op::WaitEvent if case.mode == Mode::Handlers => {
                    // Events go to the handlers; give them a moment.
                    if take_event(socket, driving, QUIET).await == Some(None) {
                        closed = true;
                    }
                }
                Op::WaitEvent => {
                    if closed {
                        continue;
                    }
                    // Nothing may be coming (a quiet server): a short wait
                    // that may end with no event. The verdict does not
                    // depend on it: checks are against the journal.
                    match take_event(socket, driving, QUIET).await {
                        Some(Some(e)) => {
                            closed = matches!(e, Event::Close(_));
                            rec.observe_event(&e, &handle);
                        }
                        Some(None) => closed = true,
                        None => {}
                    }
                }
                Op::WaitConcurrently(n) if case.mode == Mode::Stream && !closed => {
                    closed = wait_concurrently(&rec, socket, *n);
                }
                Op::Replace(kind) if case.mode == Mode::Handlers => replace_handler(&rec, &handle, *kind, false),
                Op::Drop if case.mode == Mode::Handlers => {
                    sink = None;
                    rec.drop_socket(&mut ws)
                }
                Op::Drop => {
                    sink = None;
                    ws = None
                }
                op @ (Op::SendText(_) | Op::SendBinary(_)) if sink.is_some() => {
                    let sink = sink.as_mut().expect("just checked");
                    rec.call_via(&handle, op, Some(&mut *sink));
                    // Waits (bounded) until it was written, or nothing more can be.
                    let flushed = futures::SinkExt::flush(sink);
                    let _ = futures::future::select(flushed, wsapi::runtime::sleep(QUIET)).await;
                }
                op => rec.call(&handle, op),
            }
        }
        if let Some(finished) = background {
            // The background task takes every event, to the end.
            if ws.is_some() {
                rec.call(&handle, &Op::Close(Some(1000), None));
            }
            let start = Instant::now();
            match futures::future::select(finished, wsapi::runtime::sleep(WAIT)).await {
                futures::future::Either::Left(_) => {}
                futures::future::Either::Right(_) => {
                    return Err(format!(
                        "the background task saw no end within 5 s of close(): {}",
                        handle.debug_state()
                    ))
                }
            }
            if ws.is_some() {
                close_wait = Some(start.elapsed());
                ran_to_close = true;
                rec.observe_attrs(&handle);
            }
            return Ok(());
        }
        if let Some(socket) = ws.as_ref() {
            // Run to the end: close if needed, then take every event (in
            // handler mode: wait until the handlers had the close event).
            let start = Instant::now();
            if !closed {
                rec.call(&handle, &Op::Close(Some(1000), None));
            }
            loop {
                match take_event(socket, driving, WAIT).await {
                    Some(Some(e)) => rec.observe_event(&e, &handle),
                    Some(None) => break,
                    None => {
                        let journal = handle.journal();
                        let tail = &journal[journal.len().saturating_sub(12)..];
                        return Err(format!(
                            "the connection did not close within 5 s of close(): {}; journal tail: {tail:?}",
                            handle.debug_state()
                        ));
                    }
                }
            }
            if !closed {
                close_wait = Some(start.elapsed());
            }
            ran_to_close = true;
            rec.observe_attrs(&handle);
        }
        Ok(())
    })?;
    drop(sink);
    drop(ws);
    // The connection's tasks end by themselves (bounded by the timeouts).
    let deadline = Instant::now() + WAIT;
    while !handle.driver_finished() {
        if Instant::now() > deadline {
            return Err("the connection's tasks did not end".into());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let journal = handle.journal();
    if let Some(why) = rec.violations.lock().unwrap().first() {
        return Err(why.clone());
    }
    let calls = rec.calls.lock().unwrap().clone();
    let mut observations = rec.observations.lock().unwrap().clone();
    order_by_journal(&mut observations, &journal);
    Ok(ClientRun {
        url: url.to_string(),
        protocols: case.protocols.clone(),
        config,
        journal,
        observations,
        calls,
        ran_to_close,
        close_wait,
    })
}

/// Runs `case` against the scripted server over loopback and checks the
/// session against the model, the observations and the server's log, and
/// has it judged ([`judged`]).
pub fn run(case: &Case) -> Result<(), String> {
    run_driven(case, Driving::Waits)
}

/// [`run`], with the connection driven as `driving` says.
pub fn run_driven(case: &Case, driving: Driving) -> Result<(), String> {
    let server = Server::start(vec![case.script()]).map_err(|e| e.to_string())?;
    let url = format!("{}/prop", server.base());
    let client = run_client_driven(case, &url, driving)?;
    let log = if client.tried_to_connect() {
        server.next_log().ok_or("the server thread did not end")?
    } else {
        Default::default()
    };
    check(&client.session(&case.actions, &log))?;
    judged(&client)
}

/// The judge allows what the client showed (the trace of its journal),
/// with an explanation that replays: any client's trace is judged the same
/// way (`wsapi judge`).
pub fn judged(client: &ClientRun) -> Result<(), String> {
    use wsapi_model::judge::{judge, observe, Verdict};
    let trace = observe(&client.url, &client.protocols, &client.config, &client.journal).map_err(|e| e.to_string())?;
    match judge(&trace) {
        Verdict::Allowed(explanations) => {
            for e in explanations {
                let url = e.url.unwrap_or_default();
                match wsapi_model::replay(&url, &e.protocols, e.config, Duration::ZERO, &e.steps) {
                    Ok(Ok(_)) => {}
                    other => return Err(format!("the judge's explanation does not replay: {other:?}")),
                }
            }
            Ok(())
        }
        other => Err(format!("the judge refuses the client's trace: {other:?}")),
    }
}

/// The case the [`case`] strategy draws from `seed`: the fault suite runs
/// numbered sessions, and the fault client process must build the very
/// case the test process serves.
pub fn case_for_seed(seed: u64) -> Case {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(RunnerConfig::default(), rng);
    case()
        .new_tree(&mut runner)
        .expect("the case strategy never rejects")
        .current()
}

/// Margin over the model's timeouts for a close event to arrive (thread
/// hand-offs, a loaded machine).
pub const CLOSE_MARGIN: Duration = Duration::from_secs(1);

/// A session that ran to the end must have closed within the model's
/// timeouts: at most the closing timeout plus [`CLOSE_MARGIN`] from the
/// end's close() to the close event. The model bounds every path: close()
/// while CONNECTING fails the connection at once (no wait for the
/// handshake's outcome); while OPEN it arms the closing timer, after which
/// the driver closes TCP whatever the peer or the network does; a closing
/// handshake the peer started armed that timer earlier still. Nothing a
/// proxy delays or a failed call retries can move the close event past it.
pub fn check_close_wait(client: &ClientRun) -> Result<(), String> {
    let bound = CLOSING_TIMEOUT + CLOSE_MARGIN;
    match client.close_wait {
        Some(wait) if wait > bound => Err(format!(
            "the close event came {wait:?} after close(), more than the model's timeouts allow ({bound:?})"
        )),
        _ => Ok(()),
    }
}

/// The proptest configuration of a generated-session test: `PROPTEST_CASES`
/// cases (else `default_cases`), shrunk failures kept in
/// `proptest-regressions/NAME.txt`.
pub fn proptest_config(name: &str, default_cases: u32) -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, FileFailurePersistence};
    let path = format!("{}/proptest-regressions/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(default_cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(Box::leak(
            path.into_boxed_str(),
        )))),
        max_shrink_iters: 200,
        ..Config::default()
    }
}
