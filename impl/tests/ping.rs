//! `WebSocketHandle::ping` and `WebSocketBuilder::on_control_frame` over a
//! real loopback socket. Both are **ours, not the browser's API** (a
//! browser never lets a script send a ping or see one): see `wsapi::control`.

mod support;

use std::sync::{Arc, OnceLock};

use async_tungstenite::tungstenite::Message as WsMessage;
use futures::channel::mpsc;
use futures::StreamExt;
use support::{events_until_close, kinds, with_limit};
use wsapi::control::ControlFrame;
use wsapi::runtime::{spawn, TcpListener};
use wsapi::{Bytes, Event, PingError, ReadyState, WebSocket, WebSocketHandle};

/// A server that reports every ping, pong and text message it receives
/// (tungstenite answers pings with pongs itself), and answers the client's
/// first ping with a ping of its own.
async fn ping_server(seen: mpsc::UnboundedSender<WsMessage>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("ws://{}", listener.local_addr().expect("addr"));
    spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else { return };
        let Ok(mut ws) = async_tungstenite::accept_async(tcp).await else {
            return;
        };
        let mut pinged = false;
        while let Some(Ok(msg)) = ws.next().await {
            let first_ping = matches!(msg, WsMessage::Ping(_)) && !pinged;
            if matches!(msg, WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Text(_)) {
                let _ = seen.unbounded_send(msg);
            }
            if first_ping {
                pinged = true;
                if ws
                    .send(WsMessage::Ping(Bytes::from_static(b"from server")))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    base
}

fn bytes(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

#[test]
fn a_ping_reaches_the_server_with_its_payload_and_the_pongs_and_pings_are_observed() {
    wsapi::runtime::block_on(async {
        let (server_tx, mut server_seen) = mpsc::unbounded();
        let base = ping_server(server_tx).await;
        let (tx, mut frames) = mpsc::unbounded();
        // The observer calls the socket from inside (it runs with no lock of
        // the model held): once the server's pong arrived, it says so.
        let handle: Arc<OnceLock<WebSocketHandle>> = Arc::default();
        let in_observer = Arc::clone(&handle);
        let ws = WebSocket::builder(&format!("{base}/"))
            .on_control_frame(move |frame| {
                if let (ControlFrame::PongReceived(_), Some(ws)) = (frame, in_observer.get()) {
                    ws.send("pong seen").expect("open");
                }
                let _ = tx.unbounded_send(frame.clone());
            })
            .connect()
            .expect("url");
        let _ = handle.set(ws.handle());

        // CONNECTING until the open event is taken: refused, nothing sent.
        assert_eq!(ws.ping("early"), Err(PingError::InvalidState(ReadyState::Connecting)));
        assert_eq!(with_limit(ws.next_event()).await, Some(Event::Open));
        assert_eq!(ws.ping(vec![0; 126]), Err(PingError::PayloadTooLong(126)));
        ws.ping("hello").expect("open, 5 bytes");

        // The connection's own task drives it while the test waits here.
        let mut observed = Vec::new();
        while observed.len() < 3 {
            observed.push(with_limit(frames.next()).await.expect("observer alive"));
        }
        // Ours is reported first (it had to go out before its answer came);
        // the server's pong and its own ping arrive in either order.
        assert_eq!(observed[0], ControlFrame::PingSent(bytes("hello")));
        assert!(
            observed.contains(&ControlFrame::PongReceived(bytes("hello"))),
            "{observed:?}"
        );
        assert!(
            observed.contains(&ControlFrame::PingReceived(bytes("from server"))),
            "{observed:?}"
        );

        let mut server = Vec::new();
        while server.len() < 3 {
            server.push(with_limit(server_seen.next()).await.expect("server alive"));
        }
        assert_eq!(server[0], WsMessage::Ping(bytes("hello")), "{server:?}");
        // wsapi answered the server's ping with its payload.
        assert!(server.contains(&WsMessage::Pong(bytes("from server"))), "{server:?}");
        assert!(server.contains(&WsMessage::text("pong seen")), "{server:?}");

        // Control frames are no events: only the close follows.
        ws.close(Some(1000), None).expect("valid");
        let events = events_until_close(&ws).await;
        assert_eq!(kinds(&events), ["close"], "{events:?}");
        assert_eq!(ws.ping("late"), Err(PingError::InvalidState(ReadyState::Closed)));
    });
}

#[test]
fn the_largest_payload_goes_out_whole() {
    wsapi::runtime::block_on(async {
        let (server_tx, mut server_seen) = mpsc::unbounded();
        let base = ping_server(server_tx).await;
        let ws = WebSocket::new(&format!("{base}/"), &[]).expect("url");
        assert_eq!(with_limit(ws.next_event()).await, Some(Event::Open));
        let payload = vec![b'x'; wsapi::control::MAX_PING_PAYLOAD];
        ws.ping(payload.clone()).expect("125 bytes");
        let got = with_limit(server_seen.next()).await.expect("server alive");
        assert_eq!(got, WsMessage::Ping(payload.into()));
        ws.close(None, None).expect("valid");
        events_until_close(&ws).await;
    });
}
