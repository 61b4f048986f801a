//! `ReconnectingWebSocket` against loopback servers that close with a
//! code to retry on (1012, service restart), one not to (1008), and a port
//! nobody listens on. Waits are checked as lower bounds (a sleep is never
//! shorter), so nothing depends on timing luck.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures::StreamExt;
use support::with_limit;
use wsapi::reconnect::{ReconnectEvent, ReconnectingWebSocket};
use wsapi::runtime::{block_on, spawn, TcpListener};
use wsapi::{Event, ReconnectPolicy, StopReason, WebSocket};

/// A server that closes the first `closes` connections at once with
/// `code`, and echoes on the later ones; its URL and its count of
/// connections accepted.
async fn flaky_server(closes: usize, code: u16) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            spawn(async move {
                let Ok(mut ws) = async_tungstenite::accept_async(tcp).await else {
                    return;
                };
                if n < closes {
                    let frame = CloseFrame {
                        code: CloseCode::from(code),
                        reason: "restarting".into(),
                    };
                    let _ = ws.close(Some(frame)).await;
                }
                while let Some(Ok(msg)) = ws.next().await {
                    if matches!(msg, WsMessage::Text(_)) && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (url, accepted)
}

fn policy() -> ReconnectPolicy {
    ReconnectPolicy {
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
        jitter_permille: 0,
        ..ReconnectPolicy::default()
    }
}

#[test]
fn a_restarting_server_is_reconnected_with_backoff_until_the_user_closes() {
    block_on(async {
        let (url, accepted) = flaky_server(2, 1012).await;
        let mut ws = ReconnectingWebSocket::new(move || WebSocket::builder(&url).connect(), policy());
        let mut log = Vec::new();
        let mut closed_at = None;
        let mut gaps: Vec<Duration> = Vec::new();
        let mut delays: Vec<Duration> = Vec::new();
        while let Some(event) = with_limit(ws.next_event()).await {
            match &event {
                ReconnectEvent::Connecting { attempt } => {
                    log.push(format!("connecting {attempt}"));
                    if let Some(at) = closed_at.take() {
                        gaps.push(Instant::now().duration_since(at));
                    }
                }
                ReconnectEvent::Event(Event::Open) => {
                    log.push("open".into());
                    if accepted.load(Ordering::SeqCst) == 3 {
                        ws.socket().unwrap().send("hello").unwrap();
                    }
                }
                ReconnectEvent::Event(Event::Message(m)) => {
                    log.push(format!("message {}", m.data.as_text().unwrap()));
                    ws.close(Some(1000), None).unwrap();
                }
                ReconnectEvent::Event(Event::Close(c)) => {
                    log.push(format!("close {}", c.code));
                    closed_at = Some(Instant::now());
                }
                ReconnectEvent::Waiting { delay } => {
                    log.push("waiting".into());
                    delays.push(*delay);
                }
                ReconnectEvent::Stopped(why) => log.push(format!("stopped {why:?}")),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            log,
            [
                "connecting 0",
                "open",
                "close 1012",
                "waiting",
                "connecting 1",
                "open",
                "close 1012",
                "waiting",
                "connecting 2",
                "open",
                "message hello",
                "close 1000",
                "stopped UserClosed",
            ]
        );
        // The waits announced are at most the backoff (less what already
        // passed), and the gaps never shorter: 50 ms, then 100 ms.
        assert!(
            delays[0] <= Duration::from_millis(50) && delays[1] <= Duration::from_millis(100),
            "{delays:?}"
        );
        assert!(
            gaps[0] >= Duration::from_millis(50) && gaps[1] >= Duration::from_millis(100),
            "{gaps:?}"
        );
        // Pull-based: nothing connects once it stopped.
        assert!(ws.next_event().await.is_none());
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn a_close_code_not_listed_stops() {
    block_on(async {
        let (url, accepted) = flaky_server(1, 1008).await;
        let mut ws = ReconnectingWebSocket::new(move || WebSocket::builder(&url).connect(), policy());
        let mut last = None;
        while let Some(event) = with_limit(ws.next_event()).await {
            last = Some(event);
        }
        assert!(
            matches!(last, Some(ReconnectEvent::Stopped(StopReason::NotRetried(1008)))),
            "{last:?}"
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn failed_connects_give_up_after_max_attempts() {
    block_on(async {
        // A port nobody listens on: bind one, read its number, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("ws://127.0.0.1:{port}/");
        let policy = ReconnectPolicy {
            initial_delay: Duration::from_millis(10),
            max_attempts: Some(2),
            ..policy()
        };
        let mut ws = ReconnectingWebSocket::new(move || WebSocket::builder(&url).connect(), policy);
        let mut attempts = Vec::new();
        let mut last = None;
        while let Some(event) = with_limit(ws.next_event()).await {
            if let ReconnectEvent::Connecting { attempt } = &event {
                attempts.push(*attempt);
            }
            last = Some(event);
        }
        assert_eq!(attempts, [0, 1, 2]);
        assert!(
            matches!(last, Some(ReconnectEvent::Stopped(StopReason::GaveUp { attempts: 2 }))),
            "{last:?}"
        );
    });
}
