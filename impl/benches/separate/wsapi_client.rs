//! The wsapi clients, through the public API only (`send`, `next_event`,
//! `close`, `sink`), so that this keeps measuring whatever the read and
//! write paths become. Built with `deflate(false)`: the others offer no
//! compression. The same code runs on async-std (the default runtime) and,
//! called inside a tokio runtime, on tokio (see `wsapi::runtime`).

use std::time::Instant;

use futures::channel::oneshot;
use futures::SinkExt;
use wsapi::{Event, Message, WebSocket};

use crate::measure::{percentiles, print_figures, print_throughput, Snapshot};
use crate::Workload;

/// `sink()`'s high-water mark for the `-sink` variants: 1 MiB of `bufferedAmount`.
const SINK_HIGH_WATER: u64 = 1 << 20;

async fn connect(addr: &str) -> WebSocket {
    let ws = WebSocket::builder(&format!("ws://{addr}/wsapi"))
        .deflate(false)
        .connect()
        .expect("url");
    match ws.next_event().await {
        Some(Event::Open) => ws,
        other => panic!("no open: {other:?}"),
    }
}

/// Runs `workload` (`n` times) and prints its figures; `sink` sends through
/// `ws.sink(SINK_HIGH_WATER)` (backpressure) instead of `send()`.
/// `spawn` starts the reader task on the runtime in use.
pub async fn run(
    workload: Workload,
    addr: &str,
    n: usize,
    sink: bool,
    spawn: fn(futures::future::BoxFuture<'static, ()>),
) {
    match workload {
        Workload::Latency | Workload::LatencyUnpinned => {
            let ws = connect(addr).await;
            let mut samples = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                ws.send("0123456789abcdef").expect("open");
                while !matches!(ws.next_event().await, Some(Event::Message(_))) {}
                samples.push(t.elapsed());
            }
            ws.close(Some(1000), None).expect("valid");
            let (p50, p99) = percentiles(samples);
            print_figures(&[("p50", p50), ("p99", p99)]);
        }
        Workload::Setup | Workload::SetupPinned => {
            let start = Snapshot::now();
            for _ in 0..n {
                let ws = connect(addr).await;
                ws.close(None, None).expect("valid");
                while ws.next_event().await.is_some() {}
            }
            let span = start.since();
            print_figures(&[("secs", span.secs), ("cpu", span.cpu), ("conns", n as f64)]);
        }
        Workload::Idle => {
            let warm = connect(addr).await;
            let before = crate::measure::status_kib("VmRSS:");
            let mut conns = Vec::with_capacity(n);
            for _ in 0..n {
                conns.push(connect(addr).await);
            }
            wsapi::runtime::sleep(std::time::Duration::from_millis(200)).await;
            let after = crate::measure::status_kib("VmRSS:");
            print_figures(&[("idle_kib", after.saturating_sub(before) as f64 / n as f64)]);
            drop((conns, warm));
        }
        Workload::Small | Workload::Kib | Workload::Mib => {
            let msg = match workload.payload() {
                (bytes, true) => Message::from(String::from_utf8(bytes).expect("text")),
                (bytes, false) => Message::from(bytes),
            };
            let size = msg.len();
            let ws = connect(addr).await;
            let reader = ws.handle();
            let (done_tx, done_rx) = oneshot::channel();
            let start = Snapshot::now();
            spawn(Box::pin(async move {
                let mut got = 0;
                while got < n {
                    match reader.next_event().await {
                        Some(Event::Message(_)) => got += 1,
                        Some(_) => {}
                        None => break,
                    }
                }
                let _ = done_tx.send(got);
            }));
            if sink {
                let mut sink = ws.sink(SINK_HIGH_WATER);
                for _ in 0..n {
                    sink.feed(msg.clone()).await.expect("open");
                }
                sink.flush().await.expect("open");
            } else {
                for _ in 0..n {
                    ws.send(msg.clone()).expect("open");
                }
            }
            assert_eq!(done_rx.await.expect("reader"), n, "wsapi: echoes lost");
            let span = start.since();
            ws.close(Some(1000), None).expect("valid");
            print_throughput(span, n, size);
        }
    }
}

/// wsapi on its default runtime (async-std).
pub fn run_default(workload: Workload, addr: &str, n: usize, sink: bool) {
    wsapi::runtime::block_on(run(workload, addr, n, sink, wsapi::runtime::spawn));
}

/// wsapi on its default runtime, with the workload's code in a task spawned
/// on the runtime rather than in `block_on` on the main thread: the
/// connection's task and the user's task then share the runtime's threads,
/// and handing an event from one to the other need not wake another thread.
pub fn run_in_task(workload: Workload, addr: &str, n: usize) {
    let addr = addr.to_string();
    let (done_tx, done_rx) = oneshot::channel();
    wsapi::runtime::spawn(async move {
        run(workload, &addr, n, false, wsapi::runtime::spawn).await;
        let _ = done_tx.send(());
    });
    wsapi::runtime::block_on(done_rx).expect("the workload's task ends");
}

/// wsapi on tokio: called inside a 2-worker tokio runtime, wsapi uses it.
#[cfg(feature = "tokio-runtime")]
pub fn run_tokio(workload: Workload, addr: &str, n: usize, sink: bool) {
    crate::tokio_runtime().block_on(run(workload, addr, n, sink, |f| drop(tokio::spawn(f))));
}

/// wsapi on tokio with the workload's code in a task spawned on the runtime
/// (where `run_tokio` runs it in `block_on`, as `#[tokio::main]` does).
#[cfg(feature = "tokio-runtime")]
pub fn run_tokio_task(workload: Workload, addr: &str, n: usize) {
    let addr = addr.to_string();
    let rt = crate::tokio_runtime();
    let task = rt.spawn(async move { run(workload, &addr, n, false, |f| drop(tokio::spawn(f))).await });
    rt.block_on(task).expect("the workload's task ends");
}
