//! wsapi against a hand-written raw async-tungstenite client, in one run,
//! on the same in-process loopback echo server and the same runtime.
//!
//! `cargo bench -p wsapi --bench compare` (async-std), and
//! `cargo bench -p wsapi --bench compare --no-default-features --features smol-runtime`
//! (or `tokio-runtime`: then a second table compares wsapi with
//! tokio-tungstenite on the same tokio runtime, see [`tokio_tungstenite_rows`]).
//! `WSAPI_BENCH_SCALE=0.1` scales every workload down (default 1.0);
//! `WSAPI_BENCH_ONLY=small-wsapi` runs one figure of one client (see [`selected`]).
//!
//! Both clients are measured the same way: messages are sent without
//! waiting while a concurrent task receives the echoes (a client that only
//! starts reading after sending everything deadlocks on TCP buffers once
//! the echo server blocks writing). The raw client batches writes (`feed`
//! many, `flush` once). wsapi is built with `deflate(false)`, as the raw
//! client does not offer compression.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::Message as WsMessage;
use async_tungstenite::WebSocketStream;
use futures::channel::oneshot;
use futures::{SinkExt, StreamExt};
use wsapi::runtime::{block_on, connect_tcp, spawn, BoxedStream, TcpListener};
use wsapi::{Event, Message, WebSocket};

/// The number in environment variable `key`, or `default`.
fn env_number<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn scale() -> f64 {
    env_number("WSAPI_BENCH_SCALE", 1.0)
}

fn scaled(n: usize) -> usize {
    ((n as f64 * scale()) as usize).max(1)
}

/// A fast echo server: reads everything available, echoes with one flush per batch.
async fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("ws://{}", listener.local_addr().expect("addr"));
    spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            spawn(async move {
                let Ok(ws) = async_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let (mut tx, mut rx) = ws.split();
                while let Some(Ok(first)) = rx.next().await {
                    let mut batch = vec![first];
                    while let Some(Some(Ok(m))) = futures::FutureExt::now_or_never(rx.next()) {
                        batch.push(m);
                        if batch.len() >= 1024 {
                            break;
                        }
                    }
                    for m in batch {
                        if matches!(m, WsMessage::Text(_) | WsMessage::Binary(_)) && tx.feed(m).await.is_err() {
                            return;
                        }
                    }
                    if tx.flush().await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    base
}

async fn raw_connect(base: &str) -> WebSocketStream<BoxedStream> {
    let addr: std::net::SocketAddr = base.trim_start_matches("ws://").parse().expect("addr");
    // Nagle's algorithm off, as for wsapi's streams.
    let tcp = connect_tcp(&addr.ip().to_string(), addr.port()).await.expect("connect");
    let config = WebSocketConfig::default().read_buffer_size(RAW_READ_BUFFER);
    let (ws, _) = async_tungstenite::client_async_with_config(format!("{base}/raw"), tcp, Some(config))
        .await
        .expect("handshake");
    ws
}

/// The raw client's read buffer: the same as wsapi's (16 KiB; tungstenite's
/// default is 128 KiB, which it zero-fills before every read), so that the
/// comparison measures the API layer, not a tuning either client could use.
const RAW_READ_BUFFER: usize = 16 * 1024;

/// A raw connection kept open the way a real client keeps it: a task reads
/// it (to see messages and answer pings), as wsapi's background task does.
async fn raw_connect_reading(base: &str) -> oneshot::Sender<()> {
    let mut ws = raw_connect(base).await;
    let (stop, stopped) = oneshot::channel::<()>();
    spawn(async move {
        let read = async { while let Some(Ok(_)) = ws.next().await {} };
        futures::future::select(Box::pin(read), stopped).await;
    });
    stop
}

async fn wsapi_connect(base: &str) -> WebSocket {
    let ws = WebSocket::builder(&format!("{base}/wsapi"))
        .deflate(false)
        .connect()
        .expect("url");
    match ws.next_event().await {
        Some(Event::Open) => ws,
        other => panic!("no open: {other:?}"),
    }
}

/// Sends `n` copies of `msg`, a concurrent reader counts `n` echoes. Messages/s.
async fn raw_throughput(base: &str, n: usize, msg: WsMessage) -> f64 {
    let ws = raw_connect(base).await;
    let (mut tx, mut rx) = ws.split();
    let (done_tx, done_rx) = oneshot::channel();
    let start = Instant::now();
    spawn(async move {
        let mut got = 0;
        while got < n {
            match rx.next().await {
                Some(Ok(WsMessage::Text(_) | WsMessage::Binary(_))) => got += 1,
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
    let got = done_rx.await.expect("reader");
    assert_eq!(got, n, "raw: echoes lost");
    let secs = start.elapsed().as_secs_f64();
    let _ = tx.close(None).await;
    n as f64 / secs
}

async fn wsapi_throughput(base: &str, n: usize, msg: Message) -> f64 {
    let ws = wsapi_connect(base).await;
    let reader = ws.handle();
    let (done_tx, done_rx) = oneshot::channel();
    let start = Instant::now();
    spawn(async move {
        let mut got = 0;
        while got < n {
            match reader.next_event().await {
                Some(Event::Message(_)) => got += 1,
                Some(_) => {}
                None => break,
            }
        }
        let _ = done_tx.send(got);
    });
    for _ in 0..n {
        ws.send(msg.clone()).expect("open");
    }
    let got = done_rx.await.expect("reader");
    assert_eq!(got, n, "wsapi: echoes lost");
    let secs = start.elapsed().as_secs_f64();
    ws.close(Some(1000), None).expect("valid");
    n as f64 / secs
}

/// Sequential round trips; returns (p50, p99) in µs.
async fn raw_latency(base: &str, n: usize) -> (f64, f64) {
    let mut ws = raw_connect(base).await;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        ws.send(WsMessage::text("0123456789abcdef")).await.expect("send");
        loop {
            if let Some(Ok(WsMessage::Text(_))) = ws.next().await {
                break;
            }
        }
        samples.push(t.elapsed());
    }
    let _ = ws.close(None).await;
    percentiles(samples)
}

async fn wsapi_latency(base: &str, n: usize) -> (f64, f64) {
    let ws = wsapi_connect(base).await;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        ws.send("0123456789abcdef").expect("open");
        loop {
            if let Some(Event::Message(_)) = ws.next_event().await {
                break;
            }
        }
        samples.push(t.elapsed());
    }
    ws.close(Some(1000), None).expect("valid");
    percentiles(samples)
}

fn percentiles(mut s: Vec<Duration>) -> (f64, f64) {
    s.sort();
    let at = |q: f64| s[((s.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

async fn raw_setup(base: &str, n: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        let mut ws = raw_connect(base).await;
        ws.close(None).await.expect("close");
        while let Some(Ok(_)) = ws.next().await {}
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn wsapi_setup(base: &str, n: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        let ws = wsapi_connect(base).await;
        ws.close(None, None).expect("valid");
        while ws.next_event().await.is_some() {}
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// `WSAPI_BENCH_ONLY=small-wsapi,latency-raw,...` runs only those figures
/// (for profiling one of them); the others print as NaN.
fn selected(name: &str) -> bool {
    match std::env::var("WSAPI_BENCH_ONLY") {
        Ok(only) => only.split(',').any(|o| name.starts_with(o.trim())),
        Err(_) => true,
    }
}

/// What an unselected figure prints as.
trait Missing {
    fn missing() -> Self;
}

impl Missing for f64 {
    fn missing() -> Self {
        f64::NAN
    }
}

impl Missing for (f64, f64) {
    fn missing() -> Self {
        (f64::NAN, f64::NAN)
    }
}

async fn run_if<T: Missing>(name: &str, fut: impl std::future::Future<Output = T>) -> T {
    if selected(name) {
        fut.await
    } else {
        T::missing()
    }
}

fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Counts live heap bytes when [`COUNTING`] is on (only in the child
/// processes that measure idle connections).
struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Opens `n` connections with `open` and keeps them idle; returns KiB of
/// resident memory and of live heap per connection. Runs in a child
/// process of its own (see [`idle_in_child`]), so that neither client
/// reuses memory the other freed and the server's share is not counted.
async fn idle<C, F: std::future::Future<Output = C>>(n: usize, open: impl Fn() -> F) -> (f64, f64) {
    // One connection first: runtime threads, reactor and TLS-free statics exist before measuring.
    let warm = open().await;
    let (rss_before, heap_before) = (rss_kib(), LIVE_BYTES.load(Ordering::Relaxed));
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(open().await);
    }
    wsapi::runtime::sleep(Duration::from_millis(200)).await;
    let rss = rss_kib().saturating_sub(rss_before) as f64 / n as f64;
    let heap = (LIVE_BYTES.load(Ordering::Relaxed) - heap_before) as f64 / 1024.0 / n as f64;
    drop(conns);
    drop(warm);
    (rss, heap)
}

/// In a child process: measures idle connections of `which` client against
/// `base`, prints "rss heap" (KiB per connection).
fn idle_child(which: &str, base: &str, n: usize) {
    COUNTING.store(true, Ordering::Relaxed);
    let (rss, heap) = block_on(async {
        match which {
            "raw" => idle(n, || raw_connect_reading(base)).await,
            _ => idle(n, || wsapi_connect(base)).await,
        }
    });
    println!("{rss} {heap}");
}

/// Runs this binary again as a child (`mode`: `IDLE` or `STREAM`) that
/// measures `which` client against this process's server, and returns the
/// numbers it prints.
fn run_child(mode: &str, which: &str, base: &str, n: usize) -> Vec<f64> {
    let out = std::process::Command::new(std::env::current_exe().expect("own path"))
        .env(format!("WSAPI_BENCH_{mode}_CHILD"), which)
        .env("WSAPI_BENCH_BASE", base)
        .env("WSAPI_BENCH_N", n.to_string())
        .output()
        .expect("child runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let numbers: Vec<f64> = text.split_whitespace().filter_map(|v| v.parse().ok()).collect();
    if numbers.is_empty() {
        panic!("{mode} child failed: {text} {}", String::from_utf8_lossy(&out.stderr));
    }
    numbers
}

/// KiB resident and KiB of live heap per idle connection (see [`idle_child`]).
fn idle_in_child(which: &str, base: &str, n: usize) -> (f64, f64) {
    let v = run_child("IDLE", which, base, n);
    (v[0], v.get(1).copied().unwrap_or(f64::NAN))
}

struct Row {
    name: &'static str,
    unit: &'static str,
    /// One (wsapi, raw) pair per round.
    rounds: Vec<(f64, f64)>,
    /// Target on wsapi/raw, and whether higher is better.
    target: f64,
    higher_is_better: bool,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

impl Row {
    /// Medians over the rounds; the ratio is the median of each round's own
    /// ratio (both clients measured back to back), which is what noise on a
    /// shared machine disturbs least.
    fn figures(&self) -> (f64, f64, f64) {
        let wsapi = median(self.rounds.iter().map(|r| r.0).collect());
        let raw = median(self.rounds.iter().map(|r| r.1).collect());
        let ratio = median(self.rounds.iter().map(|r| r.0 / r.1).collect());
        (wsapi, raw, ratio)
    }
}

fn print(rows: &[Row]) {
    print_against(rows, "raw");
}

/// Prints `rows` with `other` as the name of the client wsapi is compared with.
fn print_against(rows: &[Row], other: &str) {
    println!("| figure | unit | wsapi | {other} | wsapi/{other} | target | |");
    println!("|---|---|---:|---:|---:|---|---|");
    for r in rows {
        let (wsapi, raw, ratio) = r.figures();
        let ok = if r.higher_is_better {
            ratio >= r.target
        } else {
            ratio <= r.target
        };
        let cmp = if r.higher_is_better { "≥" } else { "≤" };
        let target = if r.target.is_finite() {
            format!("{cmp} {}", r.target)
        } else {
            "-".to_string()
        };
        let verdict = match (r.target.is_finite(), ok) {
            (false, _) => "",
            (true, true) => "PASS",
            (true, false) => "MISS",
        };
        println!(
            "| {} | {} | {wsapi:.1} | {raw:.1} | {ratio:.3} | {target} | {verdict} |",
            r.name, r.unit
        );
    }
}

fn rounds() -> usize {
    env_number("WSAPI_BENCH_ROUNDS", 3).max(1)
}

/// In a child process: streams `mib` 1 MiB messages through `which` client
/// against `base`, prints the process's peak resident memory (KiB).
fn stream_child(which: &str, base: &str, mib: usize) {
    block_on(async {
        let bin1m = vec![7u8; 1 << 20];
        match which {
            "raw" => drop(raw_throughput(base, mib, WsMessage::binary(bin1m)).await),
            _ => drop(wsapi_throughput(base, mib, Message::from(bin1m)).await),
        }
    });
    println!("{}", status_kib("VmHWM:"));
}

/// Peak resident MiB of a process streaming `mib` messages (see [`stream_child`]).
fn stream_in_child(which: &str, base: &str, mib: usize) -> f64 {
    run_child("STREAM", which, base, mib)[0] / 1024.0
}

fn child_n() -> usize {
    env_number("WSAPI_BENCH_N", 1000)
}

fn main() {
    if let Ok(which) = std::env::var("WSAPI_BENCH_IDLE_CHILD") {
        let base = std::env::var("WSAPI_BENCH_BASE").expect("base");
        return idle_child(&which, &base, child_n());
    }
    if let Ok(which) = std::env::var("WSAPI_BENCH_STREAM_CHILD") {
        let base = std::env::var("WSAPI_BENCH_BASE").expect("base");
        return stream_child(&which, &base, child_n());
    }
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing we need.
    let runtime = if cfg!(feature = "async-std-runtime") {
        "async-std"
    } else if cfg!(feature = "smol-runtime") {
        "smol"
    } else {
        "tokio"
    };
    let rounds = rounds();
    println!(
        "wsapi vs raw async-tungstenite on {runtime}, scale {}, {rounds} rounds (medians)",
        scale()
    );
    block_on(async {
        let base = echo_server().await;
        let small = scaled(1_000_000);
        let kib = scaled(1_000_000);
        let mib = scaled(1024);
        let trips = scaled(10_000);
        let setups = scaled(1000);
        let idle = scaled(1000);
        let text16 = "0123456789abcdef";
        let text1k = "x".repeat(1024);
        let bin1m = vec![7u8; 1 << 20];
        let mut m: [Vec<(f64, f64)>; 9] = Default::default();
        for round in 0..rounds {
            // Alternate which client goes first, so that neither always runs on a warmer machine.
            let raw_first = round % 2 == 0;
            macro_rules! pair {
                ($name:literal, $wsapi:expr, $raw:expr) => {{
                    if raw_first {
                        let r = run_if(concat!($name, "-raw"), $raw).await;
                        (run_if(concat!($name, "-wsapi"), $wsapi).await, r)
                    } else {
                        let w = run_if(concat!($name, "-wsapi"), $wsapi).await;
                        (w, run_if(concat!($name, "-raw"), $raw).await)
                    }
                }};
            }
            m[0].push(pair!(
                "small",
                wsapi_throughput(&base, small, Message::from(text16)),
                raw_throughput(&base, small, WsMessage::text(text16))
            ));
            m[1].push(pair!(
                "kib",
                wsapi_throughput(&base, kib, Message::from(text1k.clone())),
                raw_throughput(&base, kib, WsMessage::text(text1k.clone()))
            ));
            let (w, r) = pair!(
                "mib",
                wsapi_throughput(&base, mib, Message::from(bin1m.clone())),
                raw_throughput(&base, mib, WsMessage::binary(bin1m.clone()))
            );
            m[2].push((w * 1.048576, r * 1.048576));
            let ((w50, w99), (r50, r99)) = pair!("latency", wsapi_latency(&base, trips), raw_latency(&base, trips));
            m[3].push((w50, r50));
            m[4].push((w99, r99));
            m[5].push(pair!("setup", wsapi_setup(&base, setups), raw_setup(&base, setups)));
            let (wi, ri) = pair!("idle", async { idle_in_child("wsapi", &base, idle) }, async {
                idle_in_child("raw", &base, idle)
            });
            m[6].push((wi.0, ri.0));
            m[7].push((wi.1, ri.1));
            m[8].push(pair!("peak", async { stream_in_child("wsapi", &base, mib) }, async {
                stream_in_child("raw", &base, mib)
            }));
        }
        let [small_r, kib_r, mib_r, p50, p99, setup, idle_rss, idle_heap, peak] = m;
        let row = |name, unit, rounds, target, higher_is_better| Row {
            name,
            unit,
            rounds,
            target,
            higher_is_better,
        };
        let rows = [
            row("16 B text messages", "msg/s", small_r, 1.0, true),
            row("1 KiB text messages", "msg/s", kib_r, 1.0, true),
            row("1 MiB binary messages", "MB/s", mib_r, 0.95, true),
            row("round trip p50", "µs", p50, 1.1, false),
            row("round trip p99", "µs", p99, f64::INFINITY, false),
            row("connect+handshake+close", "conn/s", setup, 0.9, true),
            row("idle connection, resident", "KiB/conn", idle_rss, 1.2, false),
            row(
                "idle connection, live heap",
                "KiB/conn",
                idle_heap,
                f64::INFINITY,
                false,
            ),
            row(
                "peak resident, 1 GiB of 1 MiB messages",
                "MiB",
                peak,
                f64::INFINITY,
                false,
            ),
        ];
        print(&rows);
        #[cfg(all(
            feature = "tokio-runtime",
            not(feature = "async-std-runtime"),
            not(feature = "smol-runtime")
        ))]
        tokio_tungstenite_rows(&base, rounds).await;
    });
}

/// On tokio: wsapi against tokio-tungstenite (over tokio's own `TcpStream`,
/// no compat layer), measured the same way as the raw client, same server.
#[cfg(all(
    feature = "tokio-runtime",
    not(feature = "async-std-runtime"),
    not(feature = "smol-runtime")
))]
async fn tokio_tungstenite_rows(base: &str, rounds: usize) {
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig as TtConfig;
    use tokio_tungstenite::tungstenite::Message as TtMessage;

    async fn tt_connect(base: &str) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
        let addr = base.trim_start_matches("ws://");
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let config = TtConfig::default().read_buffer_size(RAW_READ_BUFFER);
        let (ws, _) = tokio_tungstenite::client_async_with_config(format!("{base}/tt"), tcp, Some(config))
            .await
            .expect("handshake");
        ws
    }

    async fn tt_throughput(base: &str, n: usize, msg: TtMessage) -> f64 {
        let (mut tx, mut rx) = tt_connect(base).await.split();
        let start = Instant::now();
        let reader = tokio::spawn(async move {
            let mut got = 0;
            while got < n {
                match rx.next().await {
                    Some(Ok(TtMessage::Text(_) | TtMessage::Binary(_))) => got += 1,
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
        let secs = start.elapsed().as_secs_f64();
        let _ = tx.close().await;
        n as f64 / secs
    }

    async fn tt_latency(base: &str, n: usize) -> (f64, f64) {
        let mut ws = tt_connect(base).await;
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            ws.send(TtMessage::text("0123456789abcdef")).await.expect("send");
            while !matches!(ws.next().await, Some(Ok(TtMessage::Text(_)))) {}
            samples.push(t.elapsed());
        }
        let _ = ws.close(None).await;
        percentiles(samples)
    }

    async fn tt_setup(base: &str, n: usize) -> f64 {
        let start = Instant::now();
        for _ in 0..n {
            let mut ws = tt_connect(base).await;
            ws.close(None).await.expect("close");
            while let Some(Ok(_)) = ws.next().await {}
        }
        n as f64 / start.elapsed().as_secs_f64()
    }

    let (small, kib, mib) = (scaled(1_000_000), scaled(1_000_000), scaled(1024));
    let (trips, setups) = (scaled(10_000), scaled(1000));
    let text16 = "0123456789abcdef";
    let text1k = "x".repeat(1024);
    let bin1m = vec![7u8; 1 << 20];
    let mut m: [Vec<(f64, f64)>; 6] = Default::default();
    for _ in 0..rounds {
        let w = wsapi_throughput(base, small, Message::from(text16)).await;
        m[0].push((w, tt_throughput(base, small, TtMessage::text(text16)).await));
        let w = wsapi_throughput(base, kib, Message::from(text1k.clone())).await;
        m[1].push((w, tt_throughput(base, kib, TtMessage::text(text1k.clone())).await));
        let w = wsapi_throughput(base, mib, Message::from(bin1m.clone())).await;
        let t = tt_throughput(base, mib, TtMessage::binary(bin1m.clone())).await;
        m[2].push((w * 1.048576, t * 1.048576));
        let ((w50, w99), (t50, t99)) = (wsapi_latency(base, trips).await, tt_latency(base, trips).await);
        m[3].push((w50, t50));
        m[4].push((w99, t99));
        m[5].push((wsapi_setup(base, setups).await, tt_setup(base, setups).await));
    }
    let [small_r, kib_r, mib_r, p50, p99, setup] = m;
    let row = |name, unit, rounds, higher_is_better| Row {
        name,
        unit,
        rounds,
        target: f64::INFINITY,
        higher_is_better,
    };
    println!();
    println!("wsapi vs tokio-tungstenite on tokio (same server, same rounds)");
    print_against(
        &[
            row("16 B text messages", "msg/s", small_r, true),
            row("1 KiB text messages", "msg/s", kib_r, true),
            row("1 MiB binary messages", "MB/s", mib_r, true),
            row("round trip p50", "µs", p50, false),
            row("round trip p99", "µs", p99, false),
            row("connect+handshake+close", "conn/s", setup, true),
        ],
        "tokio-tungstenite",
    );
}
