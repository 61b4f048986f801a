//! The cost of handler mode against the stream, in one run, on the same
//! loopback server: handlers run on wsapi's handler threads (so that
//! a slow handler never stalls the protocol), which costs a hand-off per
//! batch of events; this prints what that costs.
//!
//! `cargo bench -p wsapi --bench handlers` (add `--no-default-features
//! --features smol-runtime` for smol). `WSAPI_BENCH_SCALE=0.1` scales the
//! workloads down; `WSAPI_BENCH_ROUNDS` sets the rounds (medians printed).
//!
//! Figures: messages/s received (a server floods 16-byte messages), and
//! round trips/s where each reply is sent from the message handler (or
//! after taking the message from the stream), the latency-bound case.

use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::{self, Message as WsMessage};
use wsapi::runtime::block_on;
use wsapi::{Event, WebSocket};

fn env_number<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn scaled(n: usize) -> usize {
    ((n as f64 * env_number("WSAPI_BENCH_SCALE", 1.0)) as usize).max(1)
}

/// What the server does with each connection.
#[derive(Clone, Copy)]
enum Serve {
    /// Send this many 16-byte messages, then a Close.
    Flood(usize),
    /// Echo every message until the client closes.
    Echo,
}

/// A blocking tungstenite server on its own thread, one connection per
/// entry of `plan`; returns its base URL.
fn server(plan: Vec<Serve>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("ws://{}", listener.local_addr().expect("addr"));
    thread::spawn(move || {
        for serve in plan {
            let Ok((tcp, _)) = listener.accept() else { return };
            tcp.set_nodelay(true).expect("nodelay");
            thread::spawn(move || serve_one(tcp, serve));
        }
    });
    base
}

fn serve_one(tcp: TcpStream, serve: Serve) {
    let Ok(mut ws) = tungstenite::accept(tcp) else { return };
    match serve {
        Serve::Flood(n) => {
            let payload = WsMessage::binary(vec![7u8; 16]);
            for _ in 0..n {
                if ws.write(payload.clone()).is_err() {
                    return;
                }
            }
            let _ = ws.close(None);
            let _ = ws.flush();
        }
        Serve::Echo => {}
    }
    loop {
        match ws.read() {
            Ok(m @ (WsMessage::Text(_) | WsMessage::Binary(_))) if matches!(serve, Serve::Echo) => {
                if ws.send(m).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

fn builder(base: &str) -> wsapi::WebSocketBuilder {
    WebSocket::builder(&format!("{base}/")).deflate(false)
}

/// Receives a flood of `n` messages from the stream; seconds taken.
fn flood_stream(n: usize) -> f64 {
    let base = server(vec![Serve::Flood(n)]);
    let ws = builder(&base).connect().expect("valid");
    block_on(async {
        let start = Instant::now();
        let mut got = 0;
        while let Some(e) = ws.next_event().await {
            got += usize::from(matches!(e, Event::Message(_)));
        }
        assert_eq!(got, n);
        start.elapsed().as_secs_f64()
    })
}

/// Receives a flood of `n` messages in `on_message`; seconds taken.
fn flood_handlers(n: usize) -> f64 {
    let base = server(vec![Serve::Flood(n)]);
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    let start = Instant::now();
    let ws = builder(&base)
        .on_message(move |_, _| {
            g.fetch_add(1, Ordering::Relaxed);
        })
        .connect()
        .expect("valid");
    block_on(ws.next_event());
    assert_eq!(got.load(Ordering::Relaxed), n);
    start.elapsed().as_secs_f64()
}

/// `n` round trips, each sent after taking the previous echo from the stream.
fn ping_pong_stream(n: usize) -> f64 {
    let base = server(vec![Serve::Echo]);
    let ws = builder(&base).connect().expect("valid");
    block_on(async {
        assert_eq!(ws.next_event().await, Some(Event::Open));
        let start = Instant::now();
        ws.send(vec![1u8; 16]).unwrap();
        let mut left = n;
        while let Some(e) = ws.next_event().await {
            if matches!(e, Event::Message(_)) {
                left -= 1;
                if left == 0 {
                    break;
                }
                ws.send(vec![1u8; 16]).unwrap();
            }
        }
        let took = start.elapsed().as_secs_f64();
        ws.close(None, None).unwrap();
        while ws.next_event().await.is_some() {}
        took
    })
}

/// `n` round trips, each sent from `on_message`.
fn ping_pong_handlers(n: usize) -> f64 {
    let base = server(vec![Serve::Echo]);
    let (done_tx, done) = mpsc::channel::<Instant>();
    let (start_tx, started) = mpsc::channel::<Instant>();
    let left = Arc::new(AtomicUsize::new(n));
    let ws = builder(&base)
        .on_open(move |ws| {
            let _ = start_tx.send(Instant::now());
            ws.send(vec![1u8; 16]).unwrap();
        })
        .on_message(move |ws, _| {
            if left.fetch_sub(1, Ordering::Relaxed) == 1 {
                let _ = done_tx.send(Instant::now());
                ws.close(None, None).unwrap();
            } else {
                ws.send(vec![1u8; 16]).unwrap();
            }
        })
        .connect()
        .expect("valid");
    let limit = Duration::from_secs(120);
    let start = started.recv_timeout(limit).expect("opened");
    let end = done.recv_timeout(limit).expect("all round trips");
    block_on(ws.next_event());
    (end - start).as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let rounds = env_number("WSAPI_BENCH_ROUNDS", 5usize).max(1);
    let flood = scaled(200_000);
    let trips = scaled(20_000);
    println!("handler mode against the stream: {rounds} rounds, medians; flood {flood} x 16 B, {trips} round trips");
    let (mut fs, mut fh, mut ps, mut ph) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        // Interleaved, so that both see the same machine load.
        fs.push(flood_stream(flood));
        fh.push(flood_handlers(flood));
        ps.push(ping_pong_stream(trips));
        ph.push(ping_pong_handlers(trips));
    }
    let (fs, fh, ps, ph) = (median(fs), median(fh), median(ps), median(ph));
    println!("| figure | stream | handlers | handlers / stream |");
    println!("|---|---|---|---|");
    println!(
        "| flood, messages/s | {:.0} | {:.0} | {:.2} |",
        flood as f64 / fs,
        flood as f64 / fh,
        fs / fh
    );
    println!(
        "| round trips/s | {:.0} | {:.0} | {:.2} |",
        trips as f64 / ps,
        trips as f64 / ph,
        ps / ph
    );
    println!(
        "| round trip, us | {:.1} | {:.1} | +{:.1} |",
        ps / trips as f64 * 1e6,
        ph / trips as f64 * 1e6,
        (ph - ps) / trips as f64 * 1e6
    );
}
