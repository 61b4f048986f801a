//! Generated sessions: a scripted (often hostile) server and a sequence of
//! client operations, run against the real client over loopback, then
//! checked against the model (`wsapi_props::check`), and judged
//! (`wsapi_model::judge`): the trace the client showed must be allowed.
//!
//! `PROPTEST_CASES` raises the number of cases (default 256).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};
use wsapi::{BinaryType, Event, Message, WebSocket, WebSocketBuilder, WebSocketHandle};
use wsapi_model::{Event as ModelEvent, Input, Refusal, Step, Transmit};
use wsapi_props::check::{check, Attrs, Call, Observation, Session};
use wsapi_props::server::{Action, Handshake, ProtocolChoice, Script, Server};

/// One thing the test does with the client.
#[derive(Debug, Clone)]
enum Op {
    SendText(usize),
    SendBinary(usize),
    Close(Option<u16>, Option<String>),
    SetBinaryType(BinaryType),
    Attrs,
    WaitEvent,
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
enum Mode {
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

#[derive(Debug, Clone)]
struct Case {
    handshake: Handshake,
    protocols: Vec<String>,
    actions: Vec<Action>,
    mode: Mode,
    ops: Vec<Op>,
    /// Handler mode: run one by one, one per handler call, in the handlers.
    handler_ops: Vec<Op>,
    /// Stop reading at 4 KiB of undelivered messages (else the default).
    small_queue: bool,
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

fn case() -> impl Strategy<Value = Case> {
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
const WAIT: Duration = Duration::from_secs(5);
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
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let (input, result) = match op {
            Op::SendText(n) | Op::SendBinary(n) => {
                let m = message(matches!(op, Op::SendText(_)), *n);
                let result = ws.send(m.clone()).map_err(Refusal::Send);
                (Input::Send(m), result)
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
        .closing_timeout(Duration::from_millis(200))
        .connect_timeout(Duration::from_secs(3))
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

fn run(case: &Case) -> Result<(), String> {
    quiet_panics();
    let script = Script {
        handshake: case.handshake.clone(),
        actions: case.actions.clone(),
        finish_reading: true,
    };
    let server = Server::start(vec![script]).map_err(|e| e.to_string())?;
    let url = format!("{}/prop", server.base());
    let rec = Arc::new(Recorder::default());
    rec.handler_ops.lock().unwrap().extend(case.handler_ops.iter().cloned());
    let builder = builder_for(case, &url, &rec);
    let config = builder.model_config();
    let ws = builder.connect().map_err(|e| e.to_string())?;
    let handle = ws.handle();
    let mut ws = Some(ws);
    let mut ran_to_close = false;
    let mut closed = false;
    wsapi::runtime::block_on(async {
        for op in &case.ops {
            let Some(socket) = ws.as_ref() else { break };
            match op {
                Op::Attrs => rec.observe_attrs(&handle),
                Op::WaitEvent if case.mode == Mode::Handlers => {
                    // Events go to the handlers; give them a moment.
                    if next_event(socket, QUIET).await == Some(None) {
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
                    match next_event(socket, QUIET).await {
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
                Op::Drop if case.mode == Mode::Handlers => rec.drop_socket(&mut ws),
                Op::Drop => ws = None,
                op => rec.call(&handle, op),
            }
        }
        if let Some(socket) = ws.as_ref() {
            // Run to the end: close if needed, then take every event (in
            // handler mode: wait until the handlers had the close event).
            if !closed {
                rec.call(&handle, &Op::Close(Some(1000), None));
            }
            loop {
                match next_event(socket, WAIT).await {
                    Some(Some(e)) => rec.observe_event(&e, &handle),
                    Some(None) => break,
                    None => return Err("the connection did not close within 5 s of close()".to_string()),
                }
            }
            ran_to_close = true;
            rec.observe_attrs(&handle);
        }
        Ok(())
    })?;
    drop(ws);
    // The connection's tasks end by themselves (bounded by the timeouts).
    let deadline = std::time::Instant::now() + WAIT;
    while !handle.driver_finished() {
        if std::time::Instant::now() > deadline {
            return Err("the connection's tasks did not end".into());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let journal = handle.journal();
    // close() before the driver started connecting withdraws the connect:
    // then no connection reached the server at all.
    let connected = journal
        .iter()
        .any(|s| matches!(s, Step::Transmit(Some(Transmit::Connect { .. }))));
    let log = if connected {
        server.next_log().ok_or("the server thread did not end")?
    } else {
        Default::default()
    };
    if let Some(why) = rec.violations.lock().unwrap().first() {
        return Err(why.clone());
    }
    let calls = rec.calls.lock().unwrap().clone();
    let mut observations = rec.observations.lock().unwrap().clone();
    order_by_journal(&mut observations, &journal);
    let session = Session {
        url: &url,
        protocols: &case.protocols,
        config: config.clone(),
        journal: &journal,
        observations: &observations,
        calls: &calls,
        script: &case.actions,
        log: &log,
        ran_to_close,
    };
    check(&session)?;
    judged(&url, &case.protocols, &config, &journal)
}

/// The judge allows what the client showed (the trace of its journal),
/// with an explanation that replays: any client's trace is judged the same
/// way (`wsapi judge`).
fn judged(
    url: &str,
    protocols: &[String],
    config: &wsapi_model::Config,
    journal: &[Step<Message>],
) -> Result<(), String> {
    use wsapi_model::judge::{judge, observe, Verdict};
    let trace = observe(url, protocols, config, journal).map_err(|e| e.to_string())?;
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

/// Cases run one at a time: the leak check counts every connection task.
static SERIAL: Mutex<()> = Mutex::new(());

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(256),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/against_model.txt"
        )))),
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Every session is one the model allows, seen by all three witnesses.
    #[test]
    fn client_sessions_are_what_the_model_allows(case in case()) {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(why) = run(&case) {
            return Err(TestCaseError::fail(why));
        }
        prop_assert_eq!(wsapi::live_connections(), 0, "a connection task outlived its socket");
    }
}
