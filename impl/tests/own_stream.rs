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

/// A stream over real loopback TCP that fails as told: a read whose bytes
/// contain `boom` fails with `read_error`, a write of more than 1,500
/// bytes (the handshake is shorter) fails with `write_error`.
struct Failing {
    inner: wsapi::runtime::BoxedStream,
    read_error: Option<std::io::ErrorKind>,
    write_error: Option<std::io::ErrorKind>,
}

impl futures::io::AsyncRead for Failing {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let poll = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (std::task::Poll::Ready(Ok(n)), Some(kind)) = (&poll, this.read_error) {
            if buf[..*n].windows(4).any(|w| w == b"boom") {
                return std::task::Poll::Ready(Err(std::io::Error::new(kind, "my stream's own read failure")));
            }
        }
        poll
    }
}

impl futures::io::AsyncWrite for Failing {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if let (true, Some(kind)) = (buf.len() > 1500, self.write_error) {
            return std::task::Poll::Ready(Err(std::io::Error::new(kind, "my stream's own write failure")));
        }
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// An I/O error of the user's stream once the connection is open reaches
/// the error event with its kind and text (it was "connection lost"), on
/// the read side and on the write side, through `.stream()` and
/// `.connector()` alike.
#[test]
fn an_error_of_the_users_stream_reaches_the_error_event_with_its_kind_and_text() {
    use std::io::ErrorKind;
    block_on(async {
        let base = support::echo_server().await;
        let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
        for (read_error, write_error, send) in [
            (Some(ErrorKind::PermissionDenied), None, "boom".to_string()),
            (None, Some(ErrorKind::BrokenPipe), "x".repeat(5000)),
        ] {
            for via_connector in [false, true] {
                let builder = WebSocket::builder(&format!("ws://127.0.0.1:{port}/")).deflate(false);
                let builder = if via_connector {
                    builder.connector(move |_| {
                        Box::pin(async move {
                            let inner = connect_tcp("127.0.0.1", port).await?;
                            let stream: wsapi::runtime::BoxedStream = Box::new(Failing {
                                inner,
                                read_error,
                                write_error,
                            });
                            Ok(stream)
                        })
                    })
                } else {
                    let inner = connect_tcp("127.0.0.1", port).await.unwrap();
                    builder.stream(Failing {
                        inner,
                        read_error,
                        write_error,
                    })
                };
                let ws = builder.connect().unwrap();
                assert_eq!(ws.next_event().await, Some(wsapi::Event::Open));
                ws.send(send.as_str()).unwrap();
                let why = failure(&ws).await;
                let FailReason::TransportBroken(e) = &why else {
                    panic!("{why:?}")
                };
                let kind = read_error.or(write_error);
                assert_eq!(e.io_error_kind(), kind, "{why}");
                assert_eq!(why.kind(), "transport_broken");
                let side = if read_error.is_some() { "read" } else { "write" };
                let text = why.to_string();
                assert!(text.contains(&format!("my stream's own {side} failure")), "{text}");
                assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
            }
        }
    });
}
