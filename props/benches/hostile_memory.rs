//! Peak memory of the client against hostile peers (issue 12): prints
//! figures, asserts nothing. Each scenario runs in a child process (this
//! program re-run with `--child`), which reports its peak resident size
//! (`VmHWM`, Linux); the first row of each table is what an idle connection
//! peaks at, for reference.
//!
//! ```text
//! cargo bench -p wsapi-props --bench hostile_memory
//! ```
//!
//! - ping flood: a server writes N pings of 125 bytes and never reads;
//! - frame header: a server announces a 1 TiB or a 2^63-1 byte frame with
//!   `max_frame_size(None)` (with the default message limit, and with none);
//! - protocols: how long the constructor's protocol check takes for 30,000
//!   and 300,000 distinct names (time, not memory);
//! - bufferedAmount: a server stops reading while the client sends 256 MiB
//!   in messages of 1 KiB, 64 KiB and 1 MiB, with plain `send()`, with
//!   `max_buffered_amount`, with the `Sink`, and with `buffered_at_most`;
//! - deflate: the client sends one incompressible message of 64 or 256 MiB
//!   with permessage-deflate negotiated (and one compressible message of
//!   the same size, for comparison) to a server that reads everything.

use std::fs;
use std::sync::mpsc;
use std::time::Duration;

use futures::SinkExt;
use wsapi::runtime::block_on;
use wsapi::{Event, Message, WebSocket, WebSocketBuilder};
use wsapi_props::raw::{ping_flood, serve_one};

const MIB: f64 = (1 << 20) as f64;

/// The peak resident size of this process, in MiB.
fn peak_mib() -> f64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0.0, |kb| kb as f64 / 1024.0)
}

/// Runs one scenario in a child process; returns its output line.
fn child(args: &[String]) -> String {
    let out = std::process::Command::new(std::env::current_exe().expect("own path"))
        .arg("--child")
        .args(args)
        .output()
        .expect("child runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Takes events until the close event; returns the event types seen.
fn events(ws: &WebSocket) -> Vec<&'static str> {
    block_on(async {
        let mut out = Vec::new();
        while let Some(e) = ws.next_event().await {
            out.push(e.type_name());
        }
        out
    })
}

/// A server writes `pings` pings of 125 bytes and never reads. Row: pings
/// written before it stalled.
fn ping_flood_row(pings: u64) -> String {
    let (url, server) = serve_one(move |tcp| ping_flood(&tcp, pings, 125, Duration::from_secs(2))).expect("server");
    let ws = WebSocket::new(&url, &[] as &[&str]).expect("url");
    events(&ws);
    let flood = server.join().unwrap().unwrap().unwrap();
    format!("| {pings} | {} |", flood.pings_written)
}

/// A server sends one frame header announcing `len` bytes (and 1000 bytes
/// of payload); the client has `max_frame_size(None)`. Row: events.
fn frame_header_row(len: u64, max_message_size: Option<usize>) -> String {
    let (url, server) = serve_one(move |mut tcp| {
        use std::io::Write;
        let mut header = vec![0x82, 127];
        header.extend_from_slice(&len.to_be_bytes());
        header.extend_from_slice(&[0; 1000]);
        let _ = tcp.write_all(&header);
        std::thread::sleep(Duration::from_millis(200));
    })
    .expect("server");
    let ws = WebSocketBuilder::new(&url)
        .max_frame_size(None)
        .max_message_size(max_message_size)
        .closing_timeout(Duration::from_millis(300))
        .connect()
        .expect("url");
    let seen = events(&ws);
    let _ = server.join();
    format!("| {len} | {max_message_size:?} | {} |", seen.join(", "))
}

/// How the client sends into a peer that stopped reading.
#[derive(Clone, Copy, Debug)]
enum Sender {
    /// `send()` in a loop, as a browser script would.
    Plain,
    /// `send()` with `max_buffered_amount(Some(16 MiB))`.
    MaxBuffered,
    /// The `Sink` with a 1 MiB high-water mark.
    Sink,
    /// `buffered_at_most(1 MiB)` before each `send()`.
    BufferedAtMost,
}

/// Sends up to `total` bytes in messages of `size` to a server that never
/// reads; stops after `Duration` without progress. Returns (bytes accepted
/// by send, bufferedAmount at the end, what ended it).
fn send_into_a_wall(sender: Sender, size: usize, total: usize) -> (u64, u64, &'static str) {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (url, server) = serve_one(move |tcp| {
        let _ = stop_rx.recv();
        drop(tcp);
    })
    .expect("server");
    let mut builder = WebSocketBuilder::new(&url);
    if let Sender::MaxBuffered = sender {
        builder = builder.max_buffered_amount(Some(16 << 20));
    }
    let ws = builder.connect().expect("url");
    // A fresh buffer per message, as a program producing data has.
    let message = || Message::Binary(vec![7u8; size].into());
    let outcome = block_on(async {
        assert_eq!(ws.next_event().await, Some(Event::Open));
        let mut sink = ws.sink(1 << 20);
        let mut sent = 0u64;
        let mut ended = "all sent";
        while (sent as usize) < total {
            let step = async {
                match sender {
                    Sender::Plain | Sender::MaxBuffered => ws.send(message()).is_ok(),
                    Sender::Sink => sink.send(message()).await.is_ok(),
                    Sender::BufferedAtMost => {
                        ws.buffered_at_most(1 << 20).await;
                        ws.send(message()).is_ok()
                    }
                }
            };
            let limit = wsapi::runtime::sleep(Duration::from_millis(500));
            match futures::future::select(Box::pin(step), limit).await {
                futures::future::Either::Left((true, _)) => sent += size as u64,
                futures::future::Either::Left((false, _)) => {
                    ended = "send failed";
                    break;
                }
                futures::future::Either::Right(_) => {
                    ended = "blocked (backpressure)";
                    break;
                }
            }
            // readyState changes as events are taken: look for the error.
            if let Some(Event::Error(why)) = ws.try_next_event() {
                ended = if why == wsapi::FailReason::BufferFull {
                    "failed: buffer full"
                } else {
                    "failed"
                };
                break;
            }
        }
        (sent, ws.buffered_amount(), ended)
    });
    drop(ws);
    let _ = stop_tx.send(());
    let _ = server.join();
    outcome
}

/// `len` incompressible bytes (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes()[..(len - out.len()).min(8)]);
    }
    out
}

/// The client sends one message of `mib` MiB (`noise` or repeated text) with
/// permessage-deflate negotiated, to a server that reads everything. Row:
/// whether the message went out compressed (its first frame's RSV1), and
/// the bytes on the wire.
fn deflate_row(kind: &str, mib: usize) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("ws://127.0.0.1:{}/", listener.local_addr().expect("addr").port());
    let server = std::thread::spawn(move || -> std::io::Result<(bool, u64)> {
        let (mut tcp, _) = listener.accept()?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut byte)?;
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        let key = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("sec-websocket-key"))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default();
        write!(
            tcp,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            tungstenite::handshake::derive_accept_key(key.as_bytes())
        )?;
        // Everything until the client closes TCP; the first byte says RSV1.
        let (mut first, mut total) = (None, 0u64);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = tcp.read(&mut buf)?;
            if n == 0 {
                return Ok((first.is_some_and(|b: u8| b & 0x40 != 0), total));
            }
            first.get_or_insert(buf[0]);
            total += n as u64;
        }
    });
    let message = match kind {
        "noise" => noise(mib << 20),
        _ => b"0123456789abcdef".repeat(mib << 16),
    };
    let ws = WebSocket::new(&url, &[] as &[&str]).expect("url");
    block_on(async {
        assert_eq!(ws.next_event().await, Some(Event::Open));
        ws.send(Message::Binary(message.into())).expect("open");
        ws.buffered_at_most(0).await;
    });
    drop(ws);
    let (compressed, wire) = server.join().unwrap().unwrap();
    format!(
        "| {kind} | {mib} MiB | {} | {:.1} MiB |",
        if compressed { "compressed" } else { "uncompressed" },
        wire as f64 / MIB
    )
}

const SENDERS: [Sender; 4] = [Sender::Plain, Sender::MaxBuffered, Sender::Sink, Sender::BufferedAtMost];

fn sender_named(name: &str) -> Sender {
    SENDERS
        .into_iter()
        .find(|s| format!("{s:?}") == name)
        .expect("a sender name")
}

/// Runs the scenario named by `args` (in the child) and prints its row
/// with the peak resident size.
fn run_child(args: &[String]) {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    let row = match arg(0) {
        "idle" => {
            let (url, server) = serve_one(|tcp| {
                std::thread::sleep(Duration::from_millis(300));
                drop(tcp);
            })
            .expect("server");
            let ws = WebSocket::new(&url, &[] as &[&str]).expect("url");
            events(&ws);
            let _ = server.join();
            "| idle connection |".to_string()
        }
        "ping" => ping_flood_row(arg(1).parse().expect("pings")),
        "header" => frame_header_row(arg(1).parse().expect("length"), arg(2).parse().ok()),
        "buffered" => {
            let size: usize = arg(2).parse().expect("size");
            let (sent, buffered, ended) = send_into_a_wall(sender_named(arg(1)), size, 256 << 20);
            format!(
                "| {} | {} KiB | {:.0} MiB | {:.0} MiB | {ended} |",
                arg(1),
                size >> 10,
                sent as f64 / MIB,
                buffered as f64 / MIB
            )
        }
        "deflate" => deflate_row(arg(1), arg(2).parse().expect("MiB")),
        other => panic!("unknown scenario {other}"),
    };
    println!("{row} {:.1} MiB |", peak_mib());
}

fn main() {
    if fs::metadata("/proc/self/status").is_err() {
        eprintln!("hostile_memory: needs Linux's /proc/self/status for the peak resident size");
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        return run_child(&args[i + 1..]);
    }
    let only = args.iter().find(|a| !a.starts_with('-')).cloned();
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let idle = child(&strings(&["idle"]));
    if run("ping") {
        println!("## ping flood: 125-byte pings, the server never reads\n");
        println!("| pings the server tries to send | pings it could write | peak RSS |\n|---:|---:|---:|");
        println!("{idle}");
        for pings in ["250000", "1000000", "2000000"] {
            println!("{}", child(&strings(&["ping", pings])));
        }
        println!();
    }
    if run("header") {
        println!("## one frame header, max_frame_size(None)\n");
        println!("| announced length | max_message_size | events | peak RSS |\n|---|---|---|---:|");
        println!("{idle}");
        for len in [1u64 << 40, (1 << 63) - 1] {
            for limit in [Some(64usize << 20), None] {
                let limit = limit.map_or("none".to_string(), |l| l.to_string());
                println!("{}", child(&strings(&["header", &len.to_string(), &limit])));
            }
        }
        println!();
    }
    if run("protocols") {
        println!("## constructor protocol check (distinct names)\n");
        println!("| names | time |\n|---:|---:|");
        for n in [30_000usize, 300_000] {
            let names: Vec<String> = (0..n).map(|i| format!("protocol-{i}")).collect();
            let start = std::time::Instant::now();
            let checked = wsapi_model::validate_protocols(&names).map(|v| v.len());
            println!(
                "| {n} | {:.1} ms ({checked:?}) |",
                start.elapsed().as_secs_f64() * 1000.0
            );
        }
        println!();
    }
    if run("deflate") {
        println!("## one message with permessage-deflate negotiated\n");
        println!("| message | size | sent | on the wire | peak RSS |\n|---|---:|---|---:|---:|");
        println!("{idle}");
        for (kind, mib) in [("noise", "64"), ("noise", "256"), ("text", "64"), ("text", "256")] {
            println!("{}", child(&strings(&["deflate", kind, mib])));
        }
        println!();
    }
    if run("buffered") {
        println!("## a peer that stops reading; the client tries to send 256 MiB\n");
        println!("| how | message size | accepted by send | bufferedAmount at the end | ended by | peak RSS |");
        println!("|---|---:|---:|---:|---|---:|");
        println!("{idle}");
        for sender in SENDERS {
            for size in ["1024", "65536", "1048576"] {
                println!("{}", child(&strings(&["buffered", &format!("{sender:?}"), size])));
            }
        }
        println!();
    }
}
