//! Whatever ends the connection's task, the model sees the transport go:
//! a user's stream that panics in `poll_read`, `poll_write` or its
//! connector, and (with tokio) the runtime running the connection dropped.
//! Each ends with the error and close events, `next_event()` ending, the
//! background tasks counted as finished: no socket left CLOSING for ever.

mod support;

use std::io;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use async_io::Async;
use futures::io::{AsyncRead, AsyncWrite};
use support::{echo_on, failure, with_limit};
use wsapi::runtime::{block_on, spawn};
use wsapi::{Event, FailReason, WebSocket};

/// The client's end of a Unix socket pair whose server end echoes; it
/// panics in `poll_read` (or `poll_write`) once armed.
struct Booby {
    stream: Async<UnixStream>,
    armed: Arc<AtomicBool>,
    in_write: bool,
}

fn booby(in_write: bool) -> (Booby, Arc<AtomicBool>) {
    let (client, server) = UnixStream::pair().expect("socketpair");
    spawn(echo_on(Async::new(server).expect("nonblocking")));
    let armed = Arc::new(AtomicBool::new(false));
    let stream = Booby {
        stream: Async::new(client).expect("nonblocking"),
        armed: armed.clone(),
        in_write,
    };
    (stream, armed)
}

impl AsyncRead for Booby {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if !self.in_write && self.armed.load(Ordering::SeqCst) {
            panic!("scripted panic in poll_read");
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Booby {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.in_write && self.armed.load(Ordering::SeqCst) {
            panic!("scripted panic in poll_write");
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_close(cx)
    }
}

/// Waits (bounded) until the socket's background tasks have ended.
async fn tasks_end(ws: &WebSocket) {
    with_limit(async {
        while !ws.driver_finished() {
            wsapi::runtime::sleep(std::time::Duration::from_millis(2)).await;
        }
    })
    .await;
}

/// Opens over a stream that panics once armed, arms it, sends: the
/// connection fails instead of hanging, and everything ends.
fn a_panicking_stream_fails_the_connection(in_write: bool) {
    block_on(async {
        let (stream, armed) = booby(in_write);
        let ws = WebSocket::builder("ws://localhost/booby")
            .stream(stream)
            .connect()
            .unwrap();
        assert_eq!(with_limit(ws.next_event()).await, Some(Event::Open));
        armed.store(true, Ordering::SeqCst);
        // A write panics at once; a read panics when the echo arrives.
        ws.send("boom").unwrap();
        let why = failure(&ws).await;
        assert!(
            matches!(
                why,
                FailReason::TransportLost | FailReason::Transport(_) | FailReason::TransportBroken(_)
            ),
            "{why:?}"
        );
        // Once open, the panic is the I/O error that broke the connection,
        // and the error event says so.
        if let FailReason::TransportBroken(_) = &why {
            assert!(why.to_string().contains("scripted panic"), "{why}");
        }
        assert_eq!(with_limit(ws.next_event()).await, None);
        tasks_end(&ws).await;
        // close() on a closed socket is a no-op, not a hang.
        ws.close(Some(1000), None).unwrap();
    });
}

#[test]
fn a_stream_that_panics_in_poll_read_fails_the_connection() {
    a_panicking_stream_fails_the_connection(false);
}

#[test]
fn a_stream_that_panics_in_poll_write_fails_the_connection() {
    a_panicking_stream_fails_the_connection(true);
}

#[test]
fn a_connector_that_panics_fails_the_connection() {
    block_on(async {
        let ws = WebSocket::builder("ws://localhost/")
            .connector(|_| Box::pin(async { panic!("scripted panic in the connector") }))
            .connect()
            .unwrap();
        match failure(&ws).await {
            FailReason::Transport(why) => assert!(why.to_string().contains("connector panicked"), "{why}"),
            other => panic!("{other:?}"),
        }
        tasks_end(&ws).await;
    });
}

/// The runtime that runs the connection is dropped while the socket is
/// open: the socket's user, on another thread, still gets the error and
/// close events, and nothing waits for ever.
#[cfg(feature = "tokio-runtime")]
mod runtime_dropped {
    use super::*;
    use std::sync::Mutex;
    use wsapi::runtime::TokioRuntime;

    fn open_on(rt: &tokio::runtime::Runtime, builder: wsapi::WebSocketBuilder) -> WebSocket {
        let runtime = Arc::new(TokioRuntime::new(rt.handle().clone()));
        rt.block_on(async { builder.runtime(runtime).connect().unwrap() })
    }

    fn tokio() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn the_stream_ends_with_error_and_close() {
        let base = block_on(support::echo_server());
        let rt = tokio();
        let ws = open_on(&rt, WebSocket::builder(&format!("{base}/dropped")));
        assert_eq!(rt.block_on(with_limit(ws.next_event())), Some(Event::Open));
        drop(rt);
        block_on(async {
            match failure(&ws).await {
                FailReason::DriverStopped(why) => assert!(why.contains("dropped"), "{why}"),
                other => panic!("{other:?}"),
            }
            assert_eq!(with_limit(ws.next_event()).await, None);
            // send() after the close is accepted and dropped, as the standard says.
            ws.send("after").unwrap();
            assert!(ws.driver_finished(), "{}", ws.debug_state());
        });
    }

    #[test]
    fn a_socket_still_connecting_fails_too() {
        let rt = tokio();
        // A connector that never finishes: the socket stays CONNECTING.
        let ws = open_on(
            &rt,
            WebSocket::builder("ws://localhost/").connector(|_| Box::pin(futures::future::pending())),
        );
        drop(rt);
        block_on(async {
            assert!(matches!(failure(&ws).await, FailReason::DriverStopped(_)));
            assert!(ws.driver_finished(), "{}", ws.debug_state());
        });
    }

    #[test]
    fn handler_mode_ends_and_wakes_its_waiter() {
        let base = block_on(support::echo_server());
        let rt = tokio();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let ws = open_on(
            &rt,
            WebSocket::builder(&format!("{base}/dropped")).on_open(move |_| s.lock().unwrap().push("open")),
        );
        rt.block_on(with_limit(async {
            while seen.lock().unwrap().is_empty() {
                wsapi::runtime::sleep(std::time::Duration::from_millis(2)).await;
            }
        }));
        drop(rt);
        block_on(async {
            // In handler mode next_event() ends once no handler will run again.
            assert_eq!(with_limit(ws.next_event()).await, None);
            tasks_end(&ws).await;
            // The model closed; its events stay undelivered (no runtime is
            // left to run the handlers on).
            assert!(ws.debug_state().starts_with("phase=Closed"), "{}", ws.debug_state());
        });
    }
}
