//! The client over loopback against a well-behaved server: the API's
//! behaviour end to end (hostile servers: `props/tests/`).

mod support;

use std::sync::{Arc, Mutex};

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
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
        let ws = WebSocket::builder(&format!("{base}/"))
            .on_open(move |ws| {
                s1.lock().unwrap().push(format!("open rs={:?}", ws.ready_state()));
                ws.send("ping").unwrap();
            })
            .on_message(move |ws, m| {
                s2.lock().unwrap().push(format!("message {:?}", m.data.as_text()));
                ws.close(Some(3000), Some("bye")).unwrap();
            })
            .on_close(move |ws, c| {
                s3.lock().unwrap().push(format!(
                    "close {} {} {} rs={:?}",
                    c.code,
                    c.reason,
                    c.was_clean,
                    ws.ready_state()
                ));
            })
            .connect()
            .unwrap();
        // In handler mode the stream yields nothing and ends after the close event.
        assert_eq!(with_limit(ws.next_event()).await, None);
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
fn events_queued_before_the_dispatcher_runs_still_reach_the_handlers() {
    block_on(async {
        // A blocked port fails at once, before the dispatcher ever runs.
        let (tx, rx) = futures::channel::oneshot::channel::<(u16, bool)>();
        let tx = Mutex::new(Some(tx));
        let ws = WebSocket::builder("ws://127.0.0.1:25/")
            .on_close(move |_, c| {
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send((c.code, c.was_clean));
                }
            })
            .connect()
            .unwrap();
        assert_eq!(with_limit(rx).await.unwrap(), (1006, false));
        assert_eq!(with_limit(ws.next_event()).await, None);
    });
}
