//! Bring your own stream: `WebSocketBuilder::stream` and `::connector`
//! instead of TCP opened by wsapi. A Unix socket pair, a connector opening
//! TCP itself under wss (TLS still added by wsapi), and a connector that
//! never finishes (the model's connect timeout covers it).

mod support;

use std::os::unix::net::UnixStream;
use std::time::Duration;

use async_io::Async;
use support::{echo_on, echo_round_trip, failure, tls_echo_server};
use wsapi::runtime::{block_on, connect_tcp, spawn};
use wsapi::{FailReason, WebSocket};

/// A connected Unix socket pair whose server end runs an echo server.
fn unix_echo_pair() -> Async<UnixStream> {
    let (client, server) = UnixStream::pair().expect("socketpair");
    spawn(echo_on(Async::new(server).expect("nonblocking")));
    Async::new(client).expect("nonblocking")
}

#[test]
fn a_unix_socket_stream_carries_the_connection() {
    block_on(async {
        let ws = WebSocket::builder("ws://localhost/over-unix")
            .stream(unix_echo_pair())
            .connect()
            .unwrap();
        echo_round_trip(&ws, "over my own stream").await;
    });
}

#[test]
fn an_already_secure_stream_gets_no_tls_for_wss() {
    block_on(async {
        // The server speaks plain WebSocket: TLS on top would fail the handshake.
        let ws = WebSocket::builder("wss://localhost/over-unix")
            .stream(unix_echo_pair())
            .already_secure(true)
            .connect()
            .unwrap();
        echo_round_trip(&ws, "over my own stream").await;
    });
}

#[test]
fn a_connector_under_wss_still_gets_tls_from_wsapi() {
    block_on(async {
        let (port, cert) = tls_echo_server().await;
        let ws = WebSocket::builder(&format!("wss://localhost:{port}/tls"))
            .root_certificates([cert])
            .unwrap()
            // Plain TCP from the connector; the TLS server answers only if wsapi adds TLS.
            .connector(move |url| {
                assert_eq!(url.host_str(), Some("localhost"));
                Box::pin(connect_tcp("127.0.0.1", port))
            })
            .connect()
            .unwrap();
        echo_round_trip(&ws, "over my own stream").await;
    });
}

#[test]
fn a_failing_connector_fails_the_connection() {
    block_on(async {
        let ws = WebSocket::builder("ws://localhost/")
            .connector(|_| Box::pin(async { Err(std::io::Error::other("no route to the service")) }))
            .connect()
            .unwrap();
        match failure(&ws).await {
            FailReason::Transport(why) => assert!(why.to_string().contains("no route to the service"), "{why}"),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn the_connect_timeout_covers_a_connector_that_never_finishes() {
    block_on(async {
        let ws = WebSocket::builder("ws://localhost/")
            .connector(|_| Box::pin(futures::future::pending()))
            .connect_timeout(Duration::from_millis(100))
            .connect()
            .unwrap();
        assert_eq!(failure(&ws).await, FailReason::ConnectTimeout);
    });
}
