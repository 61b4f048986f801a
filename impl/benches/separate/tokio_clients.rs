//! The tokio clients: tokio-tungstenite (over tokio's own `TcpStream`, the
//! same 16 KiB read buffer and feed/flush-every-256 writer as the raw
//! client) and fastwebsockets (handshake written by hand over the
//! `TcpStream`, so no hyper; its split halves, one frame written per
//! `write_frame`, which is how it is meant to be used). Both on a 2-worker
//! multi-thread tokio runtime, the same as `wsapi-tokio`.

use std::time::Instant;

use fastwebsockets::{Frame, OpCode, Payload, Role};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::measure::{percentiles, print_figures, print_throughput, Snapshot};
use crate::Workload;

async fn tcp(addr: &str) -> TcpStream {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    tcp
}

async fn tt_connect(addr: &str) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (ws, _) = tokio_tungstenite::client_async_with_config(format!("ws://{addr}/tt"), tcp(addr).await, Some(config))
        .await
        .expect("handshake");
    ws
}

/// Opens, measures and prints `workload` for tokio-tungstenite.
pub fn tokio_tungstenite(workload: Workload, addr: &str, n: usize) {
    crate::tokio_runtime().block_on(async {
        match workload {
            Workload::Small | Workload::Kib | Workload::Mib => {
                let msg = match workload.payload() {
                    (bytes, true) => Message::text(String::from_utf8(bytes).expect("text")),
                    (bytes, false) => Message::binary(bytes),
                };
                let size = msg.len();
                let (mut tx, mut rx) = tt_connect(addr).await.split();
                let start = Snapshot::now();
                let reader = tokio::spawn(async move {
                    let mut got = 0;
                    while got < n {
                        match rx.next().await {
                            Some(Ok(Message::Text(_) | Message::Binary(_))) => got += 1,
                            Some(Ok(_)) => {}
                            _ => break,
                        }
                    }
                    got
                });
                for i in 0..n {
                    tx.feed(msg.clone()).await.expect("feed");
                    if i % 256 == 255 {
                        tx.flush().await.expect("flush");
                    }
                }
                tx.flush().await.expect("flush");
                assert_eq!(reader.await.expect("reader"), n, "tokio-tungstenite: echoes lost");
                print_throughput(start.since(), n, size);
                let _ = tx.close().await;
            }
            Workload::Latency | Workload::LatencyUnpinned => {
                let mut ws = tt_connect(addr).await;
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
                    let mut ws = tt_connect(addr).await;
                    ws.close(None).await.expect("close");
                    while let Some(Ok(_)) = ws.next().await {}
                }
                let span = start.since();
                print_figures(&[("secs", span.secs), ("cpu", span.cpu), ("conns", n as f64)]);
            }
            Workload::Idle => {
                let open = || async {
                    let mut ws = tt_connect(addr).await;
                    tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} }).abort_handle()
                };
                idle(n, open).await;
            }
        }
    });
}

/// Holds `n` connections from `open` (after one to warm up); prints resident KiB per connection.
async fn idle<F: std::future::Future<Output = tokio::task::AbortHandle>>(n: usize, open: impl Fn() -> F) {
    let warm = open().await;
    let before = crate::measure::status_kib("VmRSS:");
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(open().await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let after = crate::measure::status_kib("VmRSS:");
    print_figures(&[("idle_kib", after.saturating_sub(before) as f64 / n as f64)]);
    for task in conns.into_iter().chain([warm]) {
        task.abort();
    }
}

/// The opening handshake by hand: a fixed key, the 101 checked, nothing else.
async fn fws_connect(addr: &str) -> fastwebsockets::WebSocket<TcpStream> {
    let mut tcp = tcp(addr).await;
    let request = format!(
        "GET /fws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("request");
    // Read byte by byte up to the blank line: nothing of the WebSocket stream may be consumed.
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        response.push(tcp.read_u8().await.expect("response"));
    }
    assert!(response.starts_with(b"HTTP/1.1 101"), "fastwebsockets: no 101");
    fastwebsockets::WebSocket::after_handshake(tcp, Role::Client)
}

fn fws_frame(bytes: &[u8], text: bool) -> Frame<'_> {
    let payload = Payload::Borrowed(bytes);
    if text {
        Frame::text(payload)
    } else {
        Frame::binary(payload)
    }
}

/// Opens, measures and prints `workload` for fastwebsockets.
pub fn fastwebsockets(workload: Workload, addr: &str, n: usize) {
    crate::tokio_runtime().block_on(async {
        match workload {
            Workload::Small | Workload::Kib | Workload::Mib => {
                let (bytes, text) = workload.payload();
                let (mut rx, mut tx) = fws_connect(addr).await.split(|tcp| tcp.into_split());
                let start = Snapshot::now();
                let reader = tokio::spawn(async move {
                    let mut ignore = |_: Frame<'_>| async { Ok::<(), std::io::Error>(()) };
                    let mut got = 0;
                    while got < n {
                        match rx.read_frame(&mut ignore).await {
                            Ok(f) if matches!(f.opcode, OpCode::Text | OpCode::Binary) => got += 1,
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                    got
                });
                for _ in 0..n {
                    tx.write_frame(fws_frame(&bytes, text)).await.expect("write");
                }
                assert_eq!(reader.await.expect("reader"), n, "fastwebsockets: echoes lost");
                print_throughput(start.since(), n, bytes.len());
                let _ = tx.write_frame(Frame::close(1000, b"")).await;
            }
            Workload::Latency | Workload::LatencyUnpinned => {
                let mut ws = fws_connect(addr).await;
                let mut samples = Vec::with_capacity(n);
                for _ in 0..n {
                    let t = Instant::now();
                    ws.write_frame(fws_frame(b"0123456789abcdef", true))
                        .await
                        .expect("write");
                    while ws.read_frame().await.expect("read").opcode != OpCode::Text {}
                    samples.push(t.elapsed());
                }
                let (p50, p99) = percentiles(samples);
                print_figures(&[("p50", p50), ("p99", p99)]);
            }
            Workload::Setup | Workload::SetupPinned => {
                let start = Snapshot::now();
                for _ in 0..n {
                    let mut ws = fws_connect(addr).await;
                    ws.write_frame(Frame::close(1000, b"")).await.expect("close");
                    while let Ok(f) = ws.read_frame().await {
                        if f.opcode == OpCode::Close {
                            break;
                        }
                    }
                }
                let span = start.since();
                print_figures(&[("secs", span.secs), ("cpu", span.cpu), ("conns", n as f64)]);
            }
            Workload::Idle => {
                let open = || async {
                    let mut ws = fws_connect(addr).await;
                    tokio::spawn(async move { while ws.read_frame().await.is_ok() {} }).abort_handle()
                };
                idle(n, open).await;
            }
        }
    });
}
