//! Keep-alive over real loopback sockets. Keep-alive is **ours, not the
//! standard's** (the browser API has none; it is off by default): these
//! tests turn it on with `WebSocketBuilder::keep_alive`.

mod support;

use std::time::Duration;

use async_tungstenite::tungstenite::Message as WsMessage;
use futures::StreamExt;
use support::{events_until_close, kinds};
use wsapi::runtime::{spawn, TcpListener};
use wsapi::{Event, FailReason, WebSocket};
use wsapi_model::{Step, Transmit};

/// A half-open peer: completes the handshake, then neither reads nor
/// writes (nor closes) for as long as the test runs.
async fn half_open_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("ws://{}", listener.local_addr().expect("addr"));
    spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            if let Ok(ws) = async_tungstenite::accept_async(tcp).await {
                held.push(ws);
            }
        }
    });
    base
}

/// A live peer that counts the pings it receives (tungstenite answers each
/// with a pong) and sends "pinged" once it has seen `pings` of them.
async fn ping_counting_server(pings: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("ws://{}", listener.local_addr().expect("addr"));
    spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            spawn(async move {
                let Ok(mut ws) = async_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let mut seen = 0;
                while let Some(Ok(msg)) = ws.next().await {
                    if matches!(msg, WsMessage::Ping(_)) {
                        seen += 1;
                        if seen == pings
                            && futures::SinkExt::send(&mut ws, WsMessage::text("pinged"))
                                .await
                                .is_err()
                        {
                            return;
                        }
                    }
                }
            });
        }
    });
    base
}

fn pings_sent(ws: &WebSocket) -> usize {
    let journal = ws.journal();
    journal
        .iter()
        .filter(|s| matches!(s, Step::Transmit(Some(Transmit::Ping(_)))))
        .count()
}

#[test]
fn a_half_open_peer_is_detected_within_interval_plus_timeout() {
    wsapi::runtime::block_on(async {
        let base = half_open_server().await;
        let ws = WebSocket::builder(&format!("{base}/"))
            .keep_alive(Duration::from_millis(100), Duration::from_millis(200))
            .record_journal(true)
            .connect()
            .expect("url");
        let events = events_until_close(&ws).await;
        assert_eq!(kinds(&events), ["open", "error", "close"]);
        assert_eq!(events[1], Event::Error(FailReason::KeepAliveTimeout));
        match &events[2] {
            Event::Close(c) => assert!(c.code == 1006 && !c.was_clean, "{c:?}"),
            other => panic!("{other:?}"),
        }
        // Exactly one ping went out: the failure came from its timeout.
        assert_eq!(pings_sent(&ws), 1);
    });
}

#[test]
fn a_live_peer_answers_the_pings_and_the_connection_stays_open() {
    wsapi::runtime::block_on(async {
        let base = ping_counting_server(3).await;
        // A short interval, a long timeout: pongs arrive well within it.
        let ws = WebSocket::builder(&format!("{base}/"))
            .keep_alive(Duration::from_millis(20), Duration::from_secs(5))
            .record_journal(true)
            .connect()
            .expect("url");
        let mut seen = Vec::new();
        while let Some(event) = support::with_limit(ws.next_event()).await {
            if matches!(&event, Event::Message(m) if m.data.as_text() == Some("pinged")) {
                ws.close(Some(1000), None).expect("valid");
            }
            seen.push(event);
        }
        assert_eq!(kinds(&seen), ["open", "message", "close"], "{seen:?}");
        assert!(pings_sent(&ws) >= 3);
    });
}

#[test]
fn keep_alive_is_off_by_default() {
    let builder = WebSocket::builder("ws://127.0.0.1:1/");
    assert_eq!(builder.model_config().keep_alive, None);
}
