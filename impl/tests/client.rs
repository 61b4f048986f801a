//! The client over loopback against a well-behaved server: the API's
//! behaviour end to end (hostile servers: `props/tests/`).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use support::{echo_server, events_until_close, kinds, with_limit};
use wsapi::runtime::block_on;
use wsapi::{BinaryType, CloseError, Event, Message, ReadyState, SendError, WebSocket};

async fn open(url: &str, protocols: &[&str]) -> WebSocket {
    let ws = WebSocket::new(url, protocols).expect("valid URL");
    assert_eq!(with_limit(ws.next_event()).await, Some(Event::Open));
    ws
}

#[test]
fn echo_text_and_binary_with_buffered_amount() {
    block_on(async {
        let base = echo_server().await;
        let ws = WebSocket::new(&format!("{base}/x"), &["chat", "superchat"]).unwrap();
        assert_eq!(ws.ready_state(), ReadyState::Connecting);
        assert_eq!(ws.send("early"), Err(SendError::InvalidState));
        assert_eq!(ws.protocol(), "");
        assert_eq!(with_limit(ws.next_event()).await, Some(Event::Open));
        assert_eq!(
            (ws.ready_state(), ws.protocol()),
            (ReadyState::Open, "chat".to_string())
        );
        ws.send("héllo 🌍").unwrap();
        ws.send(vec![0u8, 255, 16]).unwrap();
        assert_eq!(ws.buffered_amount(), 14, "UTF-8 bytes, synchronously after send");
        ws.set_binary_type(BinaryType::ArrayBuffer);
        let Some(Event::Message(m)) = with_limit(ws.next_event()).await else {
            panic!()
        };
        assert_eq!(m.data.as_text(), Some("héllo 🌍"));
        assert_eq!(m.binary_type, None);
        let Some(Event::Message(m)) = with_limit(ws.next_event()).await else {
            panic!()
        };
        assert_eq!(m.data, Message::Binary(vec![0u8, 255, 16].into()));
        assert_eq!(m.binary_type, Some(BinaryType::ArrayBuffer));
        assert_eq!(ws.buffered_amount(), 0, "the echo came back: everything was written");
        ws.close(Some(1000), Some("done")).unwrap();
        assert_eq!(ws.ready_state(), ReadyState::Closing);
        let rest = events_until_close(&ws).await;
        let Some(Event::Close(c)) = rest.last() else {
            panic!("{rest:?}")
        };
        assert_eq!((c.code, c.reason.as_str(), c.was_clean), (1000, "done", true));
        assert_eq!(ws.ready_state(), ReadyState::Closed);
        assert_eq!(with_limit(ws.next_event()).await, None, "nothing after close");
    });
}

#[test]
fn close_arguments_and_send_after_close() {
    block_on(async {
        let base = echo_server().await;
        let ws = open(&format!("{base}/"), &[]).await;
        assert_eq!(ws.close(Some(1001), None), Err(CloseError::InvalidAccess(1001)));
        assert_eq!(
            ws.close(Some(1000), Some(&"a".repeat(124))),
            Err(CloseError::Syntax(124))
        );
        assert_eq!(ws.ready_state(), ReadyState::Open);
        ws.close(None, None).unwrap();
        ws.send("abc").unwrap();
        assert_eq!(ws.buffered_amount(), 3);
        let events = events_until_close(&ws).await;
        assert_eq!(kinds(&events), ["close"]);
        let Event::Close(c) = &events[0] else { unreachable!() };
        assert_eq!(
            (c.code, c.was_clean),
            (1005, true),
            "an empty Close frame is echoed empty"
        );
        ws.send(vec![0u8; 10]).unwrap();
        assert_eq!(ws.buffered_amount(), 13, "still counted after CLOSED");
        assert_eq!(ws.close(Some(999), None), Err(CloseError::InvalidAccess(999)));
    });
}

#[test]
fn large_message_drains_buffered_amount() {
    block_on(async {
        let base = echo_server().await;
        let ws = open(&format!("{base}/"), &[]).await;
        let big: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
        ws.send(big.clone()).unwrap();
        assert_eq!(ws.buffered_amount(), 4 << 20);
        with_limit(ws.buffered_at_most(0)).await;
        assert_eq!(ws.buffered_amount(), 0);
        let Some(Event::Message(m)) = with_limit(ws.next_event()).await else {
            panic!()
        };
        assert_eq!(m.data.as_bytes(), &big[..]);
        ws.close(Some(1000), None).unwrap();
        events_until_close(&ws).await;
    });
}

#[test]
fn many_messages_keep_order() {
    block_on(async {
        let base = echo_server().await;
        let ws = open(&format!("{base}/"), &[]).await;
        for i in 0..2000 {
            ws.send(format!("m{i}")).unwrap();
        }
        for i in 0..2000 {
            let Some(Event::Message(m)) = with_limit(ws.next_event()).await else {
                panic!()
            };
            assert_eq!(m.data.as_text(), Some(format!("m{i}").as_str()));
        }
        ws.close(None, None).unwrap();
        events_until_close(&ws).await;
    });
}

#[test]
fn stream_and_sink_interfaces() {
    block_on(async {
        let base = echo_server().await;
        let mut ws = open(&format!("{base}/"), &[]).await;
        let mut sink = ws.sink(64 * 1024);
        for i in 0..100u32 {
            sink.send(Message::Binary(vec![0u8; 10_000].into())).await.unwrap();
            assert!(
                ws.buffered_amount() <= 64 * 1024 + 10_000,
                "backpressure at message {i}"
            );
        }
        sink.flush().await.unwrap();
        assert_eq!(ws.buffered_amount(), 0);
        let mut got = 0;
        while got < 100 {
            match with_limit(ws.next()).await {
                Some(Event::Message(m)) => {
                    assert_eq!(m.data.len(), 10_000);
                    got += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        sink.close().await.unwrap();
        let rest = events_until_close(&ws).await;
        assert_eq!(kinds(&rest), ["close"]);
    });
}

#[test]
fn handlers_receive_events_like_a_browser() {
    block_on(async {
        let base = echo_server().await;
        let ws = WebSocket::new(&format!("{base}/"), &[] as &[&str]).unwrap();
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let (done_tx, done_rx) = futures::channel::oneshot::channel::<()>();
        let done_tx = Mutex::new(Some(done_tx));
        let s = seen.clone();
        ws.on_open(move |ws| {
            s.lock().unwrap().push(format!("open rs={:?}", ws.ready_state()));
            ws.send("ping").unwrap();
        });
        let s = seen.clone();
        ws.on_message(move |ws, m| {
            s.lock().unwrap().push(format!("message {:?}", m.data.as_text()));
            ws.close(Some(3000), Some("bye")).unwrap();
        });
        let s = seen.clone();
        ws.on_close(move |ws, c| {
            s.lock().unwrap().push(format!(
                "close {} {} {} rs={:?}",
                c.code,
                c.reason,
                c.was_clean,
                ws.ready_state()
            ));
            if let Some(tx) = done_tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
        });
        with_limit(done_rx).await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "open rs=Open",
                "message Some(\"ping\")",
                "close 3000 bye true rs=Closed"
            ]
        );
    });
}

#[test]
fn constructor_errors_are_typed() {
    for (url, protocols) in [
        ("ftp://127.0.0.1/", vec![]),
        ("ws://127.0.0.1/#x", vec![]),
        ("ws://[::1/", vec![]),
        ("ws://127.0.0.1/", vec!["a", "A"]),
        ("ws://127.0.0.1/", vec![""]),
        ("ws://127.0.0.1/", vec!["a b"]),
    ] {
        let err = WebSocket::new(url, &protocols).unwrap_err();
        assert_eq!(err.dom_exception(), "SyntaxError", "{url} {protocols:?}");
    }
}

#[test]
fn blocked_port_fails_without_connecting() {
    block_on(async {
        let ws = WebSocket::new("ws://127.0.0.1:25/", &[] as &[&str]).unwrap();
        let events = events_until_close(&ws).await;
        assert_eq!(kinds(&events), ["error", "close"]);
        assert!(matches!(events[0], Event::Error(wsapi::FailReason::BadPort(25))));
    });
}

#[test]
fn close_while_connecting_and_connect_timeout() {
    block_on(async {
        // A listener that accepts TCP but never answers the handshake.
        let listener = wsapi::runtime::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("ws://{}", listener.local_addr().unwrap());
        let held = Arc::new(Mutex::new(Vec::new()));
        let h = held.clone();
        wsapi::runtime::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                h.lock().unwrap().push(tcp);
            }
        });
        let ws = WebSocket::new(&format!("{base}/"), &[] as &[&str]).unwrap();
        ws.close(Some(4000), Some("early")).unwrap();
        assert_eq!(ws.ready_state(), ReadyState::Closing);
        // The failure's events are queued, not fired inside close(): until
        // they are taken, the state stays CLOSING.
        assert_eq!(ws.ready_state(), ReadyState::Closing);
        let events = events_until_close(&ws).await;
        assert_eq!(kinds(&events), ["error", "close"]);
        let Event::Close(c) = &events[1] else { unreachable!() };
        assert_eq!((c.code, c.was_clean), (1006, false));

        let ws = WebSocket::builder(&format!("{base}/"))
            .connect_timeout(Duration::from_millis(200))
            .connect()
            .unwrap();
        let events = events_until_close(&ws).await;
        assert_eq!(kinds(&events), ["error", "close"]);
        assert_eq!(events[0], Event::Error(wsapi::FailReason::ConnectTimeout));
    });
}

#[test]
fn drop_closes_and_leaks_nothing() {
    block_on(async {
        let base = echo_server().await;
        for _ in 0..20 {
            let ws = open(&format!("{base}/"), &[]).await;
            ws.send("bye").unwrap();
            drop(ws);
        }
        // Each driver ends after its closing handshake (bounded by the 2 s
        // closing timeout); wait for all of them, bounded.
        with_limit(async {
            while wsapi::live_connections() > 0 {
                wsapi::runtime::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    });
}

#[test]
fn stream_ends_after_close() {
    block_on(async {
        let base = echo_server().await;
        let mut ws = open(&format!("{base}/"), &[]).await;
        ws.close(None, None).unwrap();
        let rest: Vec<Event> = with_limit(ws.by_ref().collect()).await;
        assert_eq!(kinds(&rest), ["close"]);
    });
}

#[test]
fn handlers_set_after_the_driver_ended_still_fire() {
    block_on(async {
        // A blocked port fails at once: the driver may be gone before the handler is set.
        let ws = WebSocket::new("ws://127.0.0.1:25/", &[] as &[&str]).unwrap();
        with_limit(async {
            while !ws.driver_finished() {
                wsapi::runtime::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let (tx, rx) = futures::channel::oneshot::channel::<(u16, bool)>();
        let tx = Mutex::new(Some(tx));
        ws.on_close(move |_, c| {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send((c.code, c.was_clean));
            }
        });
        assert_eq!(with_limit(rx).await.unwrap(), (1006, false));
    });
}
