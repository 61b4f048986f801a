//! Hand-written async-tungstenite clients on async-std (wsapi's default
//! runtime, its `TcpStream` with Nagle off), the baseline every ratio is
//! taken against. Three shapes of throughput client, since which one is
//! fastest depends on the machine; the orchestrator keeps the best per
//! figure and names it:
//!
//! - `raw-split`: async-tungstenite's own `WebSocketStream::split`, the
//!   writer on the main task, a reader task;
//! - `raw-bilock`: `futures::StreamExt::split` (a `BiLock` around the stream);
//! - `raw-select`: one task that polls reading and writing by turns.
//!
//! Writers `feed` every message and flush every 256. With one message in
//! flight (latency), sequential connects (setup) and idle connections there
//! is nothing to split: those run as `raw-split` only (idle connections
//! have a task reading them, as a real client has).

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use futures::channel::oneshot;
use futures::{Sink, SinkExt, Stream, StreamExt};
use wsapi::runtime::{block_on, connect_tcp, spawn, BoxedStream};

use crate::measure::{percentiles, print_figures, print_throughput, Snapshot};
use crate::Workload;

/// The same 16 KiB read buffer as wsapi (tungstenite's default is 128 KiB,
/// zero-filled before every read), as in `compare.rs`.
const READ_BUFFER: usize = 16 * 1024;

/// How the throughput client reads while it writes.
#[derive(Clone, Copy)]
pub enum Shape {
    Split,
    BiLock,
    Select,
}

async fn connect(addr: &str) -> WebSocketStream<BoxedStream> {
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let tcp = connect_tcp(host, port.parse().expect("port")).await.expect("connect");
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let (ws, _) = async_tungstenite::client_async_with_config(format!("ws://{addr}/raw"), tcp, Some(config))
        .await
        .expect("handshake");
    ws
}

pub fn run(workload: Workload, addr: &str, n: usize, shape: Shape) {
    block_on(async {
        match workload {
            Workload::Small | Workload::Kib | Workload::Mib => {
                let msg = match workload.payload() {
                    (bytes, true) => Message::text(String::from_utf8(bytes).expect("text")),
                    (bytes, false) => Message::binary(bytes),
                };
                let size = msg.len();
                let ws = connect(addr).await;
                let start = Snapshot::now();
                match shape {
                    Shape::Split => {
                        let (tx, rx) = ws.split();
                        write_read(tx, rx, n, msg).await;
                    }
                    Shape::BiLock => {
                        let (tx, rx) = StreamExt::split(ws);
                        write_read(tx, rx, n, msg).await;
                    }
                    Shape::Select => select(ws, n, msg).await,
                }
                print_throughput(start.since(), n, size);
            }
            Workload::Latency | Workload::LatencyUnpinned => {
                let mut ws = connect(addr).await;
                let mut samples = Vec::with_capacity(n);
                for _ in 0..n {
                    let t = Instant::now();
                    ws.send(Message::text("0123456789abcdef")).await.expect("send");
                    while !matches!(ws.next().await, Some(Ok(Message::Text(_)))) {}
                    samples.push(t.elapsed());
                }
                let _ = ws.close(None).await;
                let (p50, p99) = percentiles(samples);
                print_figures(&[("p50", p50), ("p99", p99)]);
            }
            Workload::Setup | Workload::SetupPinned => {
                let start = Snapshot::now();
                for _ in 0..n {
                    let mut ws = connect(addr).await;
                    ws.close(None).await.expect("close");
                    while let Some(Ok(_)) = ws.next().await {}
                }
                let span = start.since();
                print_figures(&[("secs", span.secs), ("cpu", span.cpu), ("conns", n as f64)]);
            }
            Workload::Idle => {
                let open = || async {
                    let mut ws = connect(addr).await;
                    let (stop, stopped) = oneshot::channel::<()>();
                    spawn(async move {
                        let read = async { while let Some(Ok(_)) = ws.next().await {} };
                        futures::future::select(Box::pin(read), stopped).await;
                    });
                    stop
                };
                let warm = open().await;
                let before = crate::measure::status_kib("VmRSS:");
                let mut conns = Vec::with_capacity(n);
                for _ in 0..n {
                    conns.push(open().await);
                }
                wsapi::runtime::sleep(std::time::Duration::from_millis(200)).await;
                let after = crate::measure::status_kib("VmRSS:");
                print_figures(&[("idle_kib", after.saturating_sub(before) as f64 / n as f64)]);
                drop((conns, warm));
            }
        }
    });
}

/// Writes `n` copies of `msg` on this task while a spawned task counts the echoes.
async fn write_read<T, R>(mut tx: T, mut rx: R, n: usize, msg: Message)
where
    T: Sink<Message> + Unpin,
    T::Error: std::fmt::Debug,
    R: Stream<Item = Result<Message, async_tungstenite::tungstenite::Error>> + Unpin + Send + 'static,
{
    let (done_tx, done_rx) = oneshot::channel();
    spawn(async move {
        let mut got = 0;
        while got < n {
            match rx.next().await {
                Some(Ok(Message::Text(_) | Message::Binary(_))) => got += 1,
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        let _ = done_tx.send(got);
    });
    for i in 0..n {
        tx.feed(msg.clone()).await.expect("feed");
        if i % 256 == 255 {
            tx.flush().await.expect("flush");
        }
    }
    tx.flush().await.expect("flush");
    assert_eq!(done_rx.await.expect("reader"), n, "raw: echoes lost");
    let _ = tx.close().await;
}

/// One task: each wake-up reads every echo that is ready, then writes until
/// the socket pushes back (flushing every 256 and when it does).
async fn select(mut ws: WebSocketStream<BoxedStream>, n: usize, msg: Message) {
    // `dirty`: messages were started and not yet flushed (a pending flush is retried on the next wake-up).
    let (mut sent, mut got, mut dirty) = (0, 0, false);
    poll_fn(|cx| {
        let mut ws = Pin::new(&mut ws);
        while got < n {
            match ws.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(Message::Text(_) | Message::Binary(_)))) => got += 1,
                Poll::Ready(Some(Ok(_))) => {}
                Poll::Ready(other) => panic!("raw-select: stream ended: {other:?}"),
                Poll::Pending => break,
            }
        }
        while sent < n {
            match ws.as_mut().poll_ready(cx) {
                Poll::Ready(r) => r.expect("ready"),
                Poll::Pending => break,
            }
            ws.as_mut().start_send(msg.clone()).expect("send");
            (sent, dirty) = (sent + 1, true);
            if sent % 256 == 0 {
                break;
            }
        }
        if dirty {
            if let Poll::Ready(r) = ws.as_mut().poll_flush(cx) {
                r.expect("flush");
                dirty = false;
            }
        }
        if sent < n && sent % 256 == 0 && !dirty {
            // A batch went out without pushback: come back for the next one after reading.
            cx.waker().wake_by_ref();
        }
        if got == n {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    let _ = ws.close(None).await;
}
