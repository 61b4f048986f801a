//! The `on_*` handlers and concurrent event waiters, against the scripted
//! server: one regression test for each way they once broke (issue 10).
//!
//! 1. handlers set one call at a time on a running socket lost events;
//! 2. a panicking handler left a socket that never closed;
//! 3. handlers were never dropped (a handler holding its own socket leaked it);
//! 4. two tasks awaiting `next_event()` lost a wake-up;
//! 5. a blocking handler stalled the protocol, and `try_next_event()` in a
//!    handler took a message away from `on_message`.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use wsapi::runtime::block_on;
use wsapi::{Event, HandlerError, Message, WebSocket};
use wsapi_props::server::{Action, Received, Script, Server};

/// Every wait in these tests is bounded by this.
const LIMIT: Duration = Duration::from_secs(10);

fn close_1000() -> Action {
    Action::CloseRaw(1000u16.to_be_bytes().to_vec())
}

/// Waits (bounded) for the next event, or the end (`None`).
fn next(ws: &wsapi::WebSocketHandle) -> Option<Event> {
    block_on(async {
        match futures::future::select(Box::pin(ws.next_event()), wsapi::runtime::sleep(LIMIT)).await {
            futures::future::Either::Left((e, _)) => e,
            futures::future::Either::Right(_) => panic!("no event and no end within {LIMIT:?}"),
        }
    })
}

/// Waits (bounded) until `cond` holds.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn handlers_given_to_the_builder_see_every_event_of_every_socket() {
    const SOCKETS: usize = 50;
    let script = Script::accept(vec![Action::Text("hi".into()), close_1000()]);
    let server = Server::start(vec![script; SOCKETS]).expect("server");
    let (opens, messages, closes) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut sockets = Vec::new();
    for _ in 0..SOCKETS {
        let (o, m, c) = (opens.clone(), messages.clone(), closes.clone());
        // The pauses between the calls that once lost events: they cannot
        // matter now, nothing starts before connect().
        let builder = WebSocket::builder(&format!("{}/", server.base())).on_open(move |_| {
            o.fetch_add(1, Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(1));
        let builder = builder.on_message(move |_, _| {
            m.fetch_add(1, Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(1));
        let builder = builder.on_close(move |_, close| {
            assert_eq!(close.code, 1000);
            c.fetch_add(1, Ordering::SeqCst);
        });
        sockets.push(builder.connect().expect("valid"));
    }
    for ws in &sockets {
        next(ws);
    }
    assert_eq!(opens.load(Ordering::SeqCst), SOCKETS);
    assert_eq!(messages.load(Ordering::SeqCst), SOCKETS);
    assert_eq!(closes.load(Ordering::SeqCst), SOCKETS);
}

#[test]
fn a_handler_set_on_a_stream_socket_is_refused_and_the_stream_loses_nothing() {
    let server = Server::start(vec![Script::accept(vec![Action::Text("a".into()), close_1000()])]).expect("server");
    let ws = WebSocket::new(&format!("{}/", server.base()), &[] as &[&str]).expect("valid");
    assert_eq!(ws.on_open(|_| {}), Err(HandlerError::StreamMode));
    assert_eq!(ws.on_message(|_, _| {}), Err(HandlerError::StreamMode));
    assert_eq!(ws.on_error(|_, _| {}), Err(HandlerError::StreamMode));
    assert_eq!(ws.on_close(|_, _| {}), Err(HandlerError::StreamMode));
    let mut kinds = Vec::new();
    while let Some(e) = next(&ws) {
        kinds.push(e.type_name());
    }
    assert_eq!(kinds, ["open", "message", "close"]);
}

#[test]
fn a_panicking_handler_is_reported_and_the_socket_carries_on() {
    let script = Script::accept(vec![
        Action::Text("first".into()),
        Action::Echo(1),
        Action::AwaitClose { reply: true },
    ]);
    let server = Server::start(vec![script]).expect("server");
    let panics = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (p, s1, s2) = (panics.clone(), seen.clone(), seen.clone());
    let ws = WebSocket::builder(&format!("{}/", server.base()))
        .on_handler_panic(move |panic| p.lock().unwrap().push((panic.event, panic.message.clone())))
        .on_open(|_| panic!("open handler fails"))
        .on_message(move |ws, m| {
            s1.lock()
                .unwrap()
                .push(m.data.as_text().unwrap_or("<binary>").to_string());
            if m.data == Message::from("first") {
                // Sent after a panic: the socket must still work.
                ws.send("echo me").unwrap();
                panic!("message handler fails");
            }
            ws.close(Some(1000), None).unwrap();
        })
        .on_close(move |_, c| s2.lock().unwrap().push(format!("close {} {}", c.code, c.was_clean)))
        .connect()
        .expect("valid");
    assert_eq!(next(&ws), None);
    assert_eq!(*seen.lock().unwrap(), ["first", "echo me", "close 1000 true"]);
    assert_eq!(
        *panics.lock().unwrap(),
        [
            ("open", "open handler fails".to_string()),
            ("message", "message handler fails".to_string())
        ]
    );
    wait_until("the connection's tasks ended", || ws.driver_finished());
}

/// Set when the value holding it is dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn handlers_are_dropped_after_the_close_event_even_when_they_hold_their_socket() {
    let server = Server::start(vec![Script::accept(vec![close_1000()])]).expect("server");
    let dropped = Arc::new(AtomicBool::new(false));
    let ws = WebSocket::builder(&format!("{}/", server.base()))
        .on_open(|_| {})
        .connect()
        .expect("valid");
    // A handler that holds its own socket's handle and some state: the
    // cycle that kept whole connections alive.
    let own = ws.handle();
    let flag = DropFlag(dropped.clone());
    ws.on_close(move |_, _| {
        let _ = (&own, &flag);
    })
    .expect("handler mode");
    assert_eq!(next(&ws), None);
    wait_until("the close handler was dropped", || dropped.load(Ordering::SeqCst));
}

#[test]
fn handlers_are_dropped_when_the_socket_is_dropped() {
    let server = Server::start(vec![Script::accept(vec![Action::AwaitClose { reply: true }])]).expect("server");
    let dropped = Arc::new(AtomicBool::new(false));
    let (opened_tx, opened) = mpsc::channel();
    let flag = DropFlag(dropped.clone());
    let ws = WebSocket::builder(&format!("{}/", server.base()))
        .on_open(move |_| {
            let _ = opened_tx.send(());
        })
        .on_message(move |_, _| {
            let _ = &flag;
        })
        .connect()
        .expect("valid");
    opened.recv_timeout(LIMIT).expect("opened");
    let handle = ws.handle();
    drop(ws);
    wait_until("the handlers were dropped", || dropped.load(Ordering::SeqCst));
    wait_until("the connection's tasks ended", || handle.driver_finished());
    // A handle kept elsewhere sees the end, and a handler set now (holding
    // that very handle) is dropped at once.
    let late = Arc::new(AtomicBool::new(false));
    let (flag, own) = (DropFlag(late.clone()), handle.clone());
    handle
        .on_close(move |_, _| {
            let _ = (&flag, &own);
        })
        .expect("handler mode");
    assert!(late.load(Ordering::SeqCst), "a handler set after the end is dropped");
    assert_eq!(next(&handle), None);
}

/// A waker that records that it was woken.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn concurrent_waiters_each_take_distinct_events_and_none_sleeps_through_the_end() {
    let script = Script::accept(vec![Action::Echo(1), close_1000()]);
    let server = Server::start(vec![script]).expect("server");
    let ws = WebSocket::new(&format!("{}/", server.base()), &[] as &[&str]).expect("valid");
    assert_eq!(next(&ws), Some(Event::Open));
    // Two waiters, as two tasks would be: each future is polled only when
    // its own waker was woken, exactly as an executor does.
    let flags = [
        Arc::new(Flag(AtomicBool::new(false))),
        Arc::new(Flag(AtomicBool::new(false))),
    ];
    let wakers: Vec<Waker> = flags.iter().map(|f| Waker::from(f.clone())).collect();
    let mut waiters = [pin!(ws.next_event()), pin!(ws.next_event())];
    let mut results: [Option<Option<Event>>; 2] = [None, None];
    for i in 0..2 {
        let poll = waiters[i].as_mut().poll(&mut Context::from_waker(&wakers[i]));
        assert_eq!(poll, Poll::Pending, "nothing has arrived yet");
    }
    // The echo, then the server's Close: two events for two waiters.
    ws.send("x").unwrap();
    let deadline = Instant::now() + LIMIT;
    while results.iter().any(Option::is_none) {
        assert!(
            Instant::now() < deadline,
            "a waiter slept while an event was there: {results:?}"
        );
        for i in 0..2 {
            if results[i].is_none() && flags[i].0.swap(false, Ordering::SeqCst) {
                if let Poll::Ready(e) = waiters[i].as_mut().poll(&mut Context::from_waker(&wakers[i])) {
                    results[i] = Some(e);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut kinds: Vec<&str> = results
        .iter()
        .map(|r| r.as_ref().unwrap().as_ref().unwrap().type_name())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["close", "message"], "each event went to exactly one waiter");
    assert_eq!(next(&ws), None);
}

#[test]
fn a_blocking_handler_does_not_stall_the_protocol() {
    // The server pings, closes, and waits for our reply, all while the
    // client's open handler is blocked.
    let script = Script::accept(vec![
        Action::Text("one".into()),
        Action::Text("two".into()),
        Action::Ping(b"are you there".to_vec()),
        close_1000(),
    ]);
    let server = Server::start(vec![script]).expect("server");
    let (release_tx, release) = mpsc::channel::<()>();
    let release = Mutex::new(release);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
    let ws = WebSocket::builder(&format!("{}/", server.base()))
        .closing_timeout(Duration::from_millis(100))
        .on_open(move |ws| {
            let _ = release.lock().unwrap().recv_timeout(LIMIT * 2);
            // Events wait for the handlers: none can be taken from here.
            assert_eq!(ws.try_next_event(), None);
            s1.lock().unwrap().push("open".to_string());
        })
        .on_message(move |_, m| {
            s2.lock()
                .unwrap()
                .push(m.data.as_text().unwrap_or("<binary>").to_string())
        })
        .on_close(move |_, c| s3.lock().unwrap().push(format!("close {} {}", c.code, c.was_clean)))
        .connect()
        .expect("valid");
    // The whole closing handshake happens while the handler blocks.
    let log = server.next_log().expect("the server's connection ended");
    assert!(
        log.received.contains(&Received::Control(0xA)),
        "pong: {:?}",
        log.received
    );
    assert_eq!(log.received.last(), Some(&Received::Close(Some((1000, String::new())))));
    assert!(seen.lock().unwrap().is_empty(), "no event was delivered yet");
    release_tx.send(()).unwrap();
    assert_eq!(next(&ws), None);
    assert_eq!(*seen.lock().unwrap(), ["open", "one", "two", "close 1000 true"]);
}

#[test]
fn reading_resumes_as_the_handlers_take_events() {
    // 40 messages of 1000 bytes; the client stops reading at 4096 queued
    // bytes, so only the handlers taking events can let the rest in.
    let mut actions: Vec<Action> = (0..40)
        .map(|i| Action::Text(format!("{i:04}{}", "m".repeat(996))))
        .collect();
    actions.push(close_1000());
    let server = Server::start(vec![Script::accept(actions)]).expect("server");
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    let ws = WebSocket::builder(&format!("{}/", server.base()))
        .max_queued_bytes(4096)
        .on_message(move |_, _| {
            // A slow handler: the queue fills up behind it.
            std::thread::sleep(Duration::from_millis(1));
            g.fetch_add(1, Ordering::SeqCst);
        })
        .connect()
        .expect("valid");
    assert_eq!(next(&ws), None);
    assert_eq!(got.load(Ordering::SeqCst), 40);
}
