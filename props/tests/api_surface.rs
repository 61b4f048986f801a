//! The parts of the client's API that the generated sequences do not read
//! directly: attribute getters, `try_next_event`, `on_error`, and waiting
//! for `bufferedAmount` while the connection goes away under the waiter.
//! (Several of these were found by cargo-mutants: a getter replaced by a
//! constant survived every other test.)

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{mpsc, Arc, Mutex};
use std::task::Poll;
use std::thread;
use std::time::Duration;

use wsapi::runtime::{block_on, sleep};
use wsapi::{BinaryType, Event, FailReason, Message, ReadyState, WebSocket};
use wsapi_props::server::{Action, Handshake, ProtocolChoice, Script, Server};

/// Every wait is bounded by this; the tests do not depend on it otherwise.
const LIMIT: Duration = Duration::from_secs(10);

async fn with_limit<F: std::future::Future>(fut: F) -> F::Output {
    match futures::future::select(Box::pin(fut), sleep(LIMIT)).await {
        futures::future::Either::Left((out, _)) => out,
        futures::future::Either::Right(_) => panic!("step took longer than {LIMIT:?}"),
    }
}

/// A server that completes the handshake, then holds the connection
/// without reading or writing until told to go (it then drops TCP with
/// unread data, which resets it).
struct HoldServer {
    base: String,
    release: mpsc::Sender<()>,
}

fn hold_server() -> HoldServer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("ws://{}", listener.local_addr().expect("addr"));
    let (release, released) = mpsc::channel::<()>();
    thread::spawn(move || {
        let Ok((tcp, _)) = listener.accept() else { return };
        tcp.set_read_timeout(Some(LIMIT)).expect("timeout");
        let mut reader = BufReader::new(tcp.try_clone().expect("clone"));
        let mut key = None;
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("sec-websocket-key") {
                    key = Some(value.trim().to_string());
                }
            }
            line.clear();
        }
        let Some(key) = key else { return };
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        if (&tcp).write_all(reply.as_bytes()).is_err() {
            return;
        }
        // Hold until released, or until the test ended (sender dropped).
        let _ = released.recv();
        drop(reader);
        drop(tcp);
    });
    HoldServer { base, release }
}

async fn open(ws: &WebSocket) {
    assert_eq!(with_limit(ws.next_event()).await, Some(Event::Open));
}

#[test]
fn attributes_read_what_the_handshake_and_setters_said() {
    let server = Server::start(vec![Script {
        handshake: Handshake::Accept {
            protocol: ProtocolChoice::FirstOffered,
            extensions: Some("permessage-deflate".into()),
        },
        actions: vec![Action::AwaitClose { reply: true }],
        finish_reading: false,
    }])
    .expect("server");
    let url = format!("{}/attrs?q=1", server.base());
    let ws = WebSocket::new(&url, &["chat", "other"]).expect("valid");
    let authority = url.trim_start_matches("ws://").split('/').next().unwrap().to_string();
    assert_eq!(ws.url().as_str(), url);
    assert_eq!(ws.origin(), format!("ws://{authority}"));
    assert_eq!((ws.protocol(), ws.extensions()), (String::new(), String::new()));
    assert_eq!(ws.binary_type(), BinaryType::Blob, "the spec's default");
    let debug = format!("{ws:?}");
    assert!(debug.contains(&url) && debug.contains("Connecting"), "{debug}");
    block_on(async {
        open(&ws).await;
        assert_eq!(ws.protocol(), "chat");
        assert_eq!(ws.extensions(), "permessage-deflate");
        ws.set_binary_type(BinaryType::ArrayBuffer);
        assert_eq!(ws.binary_type(), BinaryType::ArrayBuffer);
        assert!(format!("{ws:?}").contains("Open"));
        ws.close(None, None).unwrap();
        let mut last = None;
        while let Some(e) = with_limit(ws.next_event()).await {
            last = Some(e);
        }
        assert!(matches!(last, Some(Event::Close(c)) if c.code == 1005 && c.was_clean));
    });
}

#[test]
fn try_next_event_takes_what_is_ready_without_waiting() {
    let server = Server::start(vec![Script::accept(vec![Action::Text("a".into()), Action::DropTcp])]).expect("server");
    let ws = WebSocket::new(&format!("{}/", server.base()), &[] as &[&str]).expect("valid");
    block_on(with_limit(async {
        while !ws.driver_finished() {
            sleep(Duration::from_millis(5)).await;
        }
    }));
    // The driver ended: every event is queued; none of them needs waiting for.
    let mut events = Vec::new();
    while let Some(e) = ws.try_next_event() {
        events.push(e);
    }
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[0], Event::Open);
    assert!(matches!(&events[1], Event::Message(m) if m.data == Message::Text("a".into())));
    assert!(matches!(&events[2], Event::Error(_)));
    assert!(matches!(&events[3], Event::Close(c) if c.code == 1006 && !c.was_clean));
    assert_eq!(ws.ready_state(), ReadyState::Closed);
}

#[test]
fn on_error_fires_before_on_close_when_the_connection_fails() {
    let invalid_utf8 = vec![0x81, 0x02, 0xc3, 0x28];
    let server = Server::start(vec![Script::accept(vec![Action::Raw(invalid_utf8)])]).expect("server");
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let (done_tx, done_rx) = futures::channel::oneshot::channel::<()>();
    let done_tx = Mutex::new(Some(done_tx));
    let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
    let _ws = WebSocket::builder(&format!("{}/", server.base()))
        .on_open(move |_| s1.lock().unwrap().push("open".into()))
        .on_error(move |ws, reason| {
            s2.lock()
                .unwrap()
                .push(format!("error {reason:?} {:?}", ws.ready_state()))
        })
        .on_close(move |_, c| {
            s3.lock().unwrap().push(format!("close {} {}", c.code, c.was_clean));
            if let Some(tx) = done_tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
        })
        .connect()
        .expect("valid");
    block_on(with_limit(done_rx)).expect("close handler ran");
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "open".to_string(),
            format!("error {:?} Closed", FailReason::InvalidUtf8),
            "close 1006 false".to_string()
        ]
    );
}

#[test]
fn a_drain_waiter_is_released_when_the_peer_vanishes() {
    let server = hold_server();
    let ws = WebSocket::builder(&format!("{}/", server.base))
        .deflate(false)
        .connect()
        .expect("valid");
    block_on(async {
        open(&ws).await;
        // Far more than loopback's socket buffers: the flush cannot finish
        // while the server does not read, so bufferedAmount stays up.
        ws.send(vec![7u8; 32 << 20]).unwrap();
        let mut drained = Box::pin(ws.buffered_at_most(0));
        assert_eq!(futures::poll!(drained.as_mut()), Poll::Pending);
        server.release.send(()).expect("server waiting");
        // Only the connection's end can wake this waiter now.
        with_limit(drained).await;
        let mut kinds = Vec::new();
        while let Some(e) = with_limit(ws.next_event()).await {
            kinds.push(e.type_name());
        }
        assert_eq!(kinds, ["error", "close"]);
        assert!(ws.buffered_amount() > 0, "never written, never reset");
    });
}

#[test]
fn a_drain_waiter_does_not_wait_for_the_closing_handshake() {
    let server = hold_server();
    let ws = WebSocket::builder(&format!("{}/", server.base))
        .closing_timeout(Duration::from_secs(600))
        .connect()
        .expect("valid");
    block_on(async {
        open(&ws).await;
        ws.close(Some(1000), None).unwrap();
        ws.send("after close").unwrap();
        assert_eq!(ws.buffered_amount(), 11);
        // CLOSING: nothing more will be written, so there is nothing to wait
        // for, although the peer has not answered (and will not for 600 s).
        with_limit(ws.buffered_at_most(0)).await;
        assert_eq!(ws.ready_state(), ReadyState::Closing);
    });
    drop(server);
}

#[test]
fn reading_pauses_for_a_slow_reader_and_resumes_as_events_are_taken() {
    // 40 distinct 1000-byte messages; the client may hold 4096 bytes of
    // them before it stops reading from the network.
    let texts: Vec<String> = (0..40).map(|i| format!("{i:04}{}", "m".repeat(996))).collect();
    let mut actions: Vec<Action> = texts.iter().cloned().map(Action::Text).collect();
    actions.push(Action::AwaitClose { reply: true });
    let script = Script {
        finish_reading: false,
        ..Script::accept(actions)
    };
    let server = Server::start(vec![script]).expect("server");
    let ws = WebSocket::builder(&format!("{}/", server.base()))
        .max_queued_bytes(4096)
        .record_journal(true)
        .connect()
        .expect("valid");
    let received = messages_received;
    block_on(async {
        open(&ws).await;
        // Wait (bounded) until the client stopped reading: each queued
        // message costs its 1000 bytes plus a 64-byte event overhead, so 4
        // reach the 4096-byte limit, and nothing is taken meanwhile.
        with_limit(async {
            while received(&ws) < 4 {
                sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
        // Nothing more arrives while the client is paused (the server sent
        // everything long ago); a short wait cannot make this pass wrongly.
        sleep(Duration::from_millis(50)).await;
        assert_eq!(received(&ws), 4, "reading stops at the limit");
        // Reading resumes only once the queue has fallen to half the limit
        // (2048): one event taken leaves 3 x 1064 = 3192 queued, so still
        // nothing more is read (a resume per event taken would read one).
        match with_limit(ws.next_event()).await {
            Some(Event::Message(m)) => assert_eq!(m.data.as_text(), Some(texts[0].as_str())),
            other => panic!("expected message 0000, got {other:?}"),
        }
        sleep(Duration::from_millis(50)).await;
        assert_eq!(received(&ws), 4, "reading stays paused above half the limit");
        // Nor does a pass that runs for another reason read on: two sends
        // in a row wake the connection's task for a full pass (the server
        // ignores data while it awaits the Close).
        ws.send("a").unwrap();
        ws.send("b").unwrap();
        sleep(Duration::from_millis(50)).await;
        assert_eq!(received(&ws), 4, "a write's pass leaves reading paused");
        // Two more taken leave 1064 queued, under half: reading resumes
        // now, not only once the queue is empty.
        for text in &texts[1..3] {
            match with_limit(ws.next_event()).await {
                Some(Event::Message(m)) => assert_eq!(m.data.as_text(), Some(text.as_str())),
                other => panic!("expected message {}, got {other:?}", &text[..4]),
            }
        }
        with_limit(async {
            while received(&ws) == 4 {
                sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
        // Taking events must resume reading, until every message arrived.
        for text in &texts[3..] {
            match with_limit(ws.next_event()).await {
                Some(Event::Message(m)) => assert_eq!(m.data.as_text(), Some(text.as_str())),
                other => panic!("expected message {}, got {other:?}", &text[..4]),
            }
        }
        ws.close(Some(1000), None).unwrap();
        let mut last = None;
        while let Some(e) = with_limit(ws.next_event()).await {
            last = Some(e);
        }
        assert!(matches!(&last, Some(Event::Close(c)) if c.was_clean), "{last:?}");
    });
}

// WHATWG bufferedAmount getter ("as of the last time the event loop reached step 1"): a burst of
// send()s and reads with no event-loop turn between them never sees the value fall, however busy
// the runtime and however fast the background task writes; the turn (here the end of a
// buffered_at_most wait) brings it down to what is really unsent.
#[test]
fn buffered_amount_never_falls_within_a_burst_on_a_busy_runtime() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let server = Server::start(vec![Script::accept(vec![Action::AwaitClose { reply: true }])]).expect("server");
    let ws = WebSocket::builder(&format!("{}/", server.base()))
        .deflate(false)
        .connect()
        .expect("valid");
    // Tasks that keep the runtime's threads busy, yielding now and then.
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..4 {
        let stop = stop.clone();
        wsapi::runtime::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let until = std::time::Instant::now() + Duration::from_micros(200);
                while std::time::Instant::now() < until {
                    std::hint::spin_loop();
                }
                // Yield: let the executor run other tasks, then come back.
                let mut yielded = false;
                futures::future::poll_fn(|cx| {
                    if std::mem::replace(&mut yielded, true) {
                        Poll::Ready(())
                    } else {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
                .await;
            }
        });
    }
    block_on(async {
        assert_eq!(with_limit(ws.next_event()).await, Some(Event::Open));
        for round in 0..200 {
            let mut last = ws.buffered_amount();
            for i in 0..20 {
                ws.send(vec![round as u8; 100]).unwrap();
                // Between two statements the driver may well have written
                // everything: the value must not show it.
                thread::yield_now();
                let now = ws.buffered_amount();
                assert_eq!(now, last + 100, "round {round}, send {i}: it fell from {last}");
                last = now;
            }
            with_limit(ws.buffered_at_most(0)).await;
            assert_eq!(ws.buffered_amount(), 0, "a turn after the drain brings it to 0");
        }
        ws.close(Some(1000), None).unwrap();
        while with_limit(ws.next_event()).await.is_some() {}
    });
    stop.store(true, Ordering::Relaxed);
}

// next_events: a batch is exactly the events next_event would give one by one, in order, and
// takes as many as are ready (up to the maximum) under one lock.
#[test]
fn next_events_takes_ready_events_in_batches_in_order() {
    let texts: Vec<String> = (0..100).map(|i| format!("message {i}")).collect();
    let mut actions: Vec<Action> = texts.iter().cloned().map(Action::Text).collect();
    actions.push(Action::CloseRaw(1000u16.to_be_bytes().to_vec()));
    actions.push(Action::AwaitClose { reply: false });
    let server = Server::start(vec![Script::accept(actions)]).expect("server");
    let ws = WebSocket::builder(&format!("{}/", server.base()))
        .record_journal(true)
        .connect()
        .expect("valid");
    block_on(async {
        // Wait (bounded) until every message was received and queued.
        with_limit(async {
            while messages_received(&ws) < 100 {
                sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
        let mut events = Vec::new();
        assert_eq!(
            with_limit(ws.next_events(&mut events, 7)).await,
            7,
            "open and 6 messages are ready"
        );
        assert!(matches!(events[0], Event::Open));
        let mut batches = 1;
        loop {
            let n = with_limit(ws.next_events(&mut events, 7)).await;
            if n == 0 {
                break;
            }
            assert!(n <= 7);
            batches += 1;
        }
        assert!(batches >= 15, "at most 7 per batch: {batches}");
        let messages: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => m.data.as_text(),
                _ => None,
            })
            .collect();
        assert_eq!(messages, texts.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            matches!(events.last(), Some(Event::Close(c)) if c.code == 1000),
            "{:?}",
            events.last()
        );
        assert_eq!(ws.next_events(&mut events, 7).await, 0, "the end stays the end");
    });
}

/// How many messages the client has received from the network so far (the
/// journal's `Input::Message` steps), taken by the user or not.
fn messages_received(ws: &WebSocket) -> usize {
    ws.journal()
        .iter()
        .filter(|s| {
            matches!(
                s,
                wsapi_model::Step::Input {
                    input: wsapi_model::Input::Message(_),
                    ..
                }
            )
        })
        .count()
}
