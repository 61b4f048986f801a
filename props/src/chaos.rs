//! A byte-level chaos proxy: one loopback TCP connection relayed between a
//! client and a server, through a seeded fault [`Plan`] per direction:
//! writes split into 1-byte segments, delays, a stall, a bandwidth cap, and
//! a cut (TCP reset, or half-close) at a byte offset.
//!
//! Written on blocking `std::net` threads, like [`crate::server`], and
//! sharing no code with the client. The proxy never changes, drops or
//! reorders a byte: what the receiver of a direction gets is always a
//! prefix of what its sender wrote, which is what lets every faulted
//! session still be checked against the model (see [`crate::check`]).
//!
//! The sizes of delays and stalls are chosen against the timeouts the
//! sessions configure ([`crate::session::CLOSING_TIMEOUT`] 200 ms,
//! [`crate::session::CONNECT_TIMEOUT`] 3 s): a stall is at most 150 ms, so
//! it delays but does not by itself outlast a closing handshake, and the
//! slowest cap still carries the opening handshake well within 3 s. A
//! correct client passes whatever the proxy does (the timeouts are inputs
//! of the model), but a plan that made every session time out would test
//! nothing else.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::server::{connect_sentinel, is_sentinel, Sentinel};

/// The kinds of fault, one per row of the fault table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No fault: the proxy relays as it reads (the baseline).
    None,
    /// Every write split into 1-byte segments (with `TCP_NODELAY`), up to
    /// [`SPLIT_BUDGET`] bytes per direction, then into random segments of
    /// 1 to 512 bytes.
    Split,
    /// A delay of 0 to 3 ms before every write of up to 1 KiB.
    Delay,
    /// One stall of 50 to 150 ms at a random byte offset, each direction.
    Stall,
    /// A bandwidth cap of 256 KiB/s to 1 MiB/s, each direction.
    Bandwidth,
    /// A TCP reset (`SO_LINGER` 0) of both sides once a random number of
    /// bytes went one way.
    Reset,
    /// A half-close (FIN to the receiver) of one direction at a random
    /// byte offset; the other direction carries on.
    HalfClose,
}

impl Fault {
    /// Every proxy fault, in the table's order.
    pub const ALL: [Fault; 7] = [
        Fault::None,
        Fault::Split,
        Fault::Delay,
        Fault::Stall,
        Fault::Bandwidth,
        Fault::Reset,
        Fault::HalfClose,
    ];

    /// The table's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Fault::None => "proxy, no fault",
            Fault::Split => "proxy: 1-byte segments",
            Fault::Delay => "proxy: delays",
            Fault::Stall => "proxy: stalls",
            Fault::Bandwidth => "proxy: bandwidth cap",
            Fault::Reset => "proxy: reset at random byte",
            Fault::HalfClose => "proxy: half-close at random byte",
        }
    }
}

/// Bytes per direction sent in 1-byte segments by [`Fault::Split`]. Every
/// handshake and every frame header of the sessions falls in them, and
/// most whole frames do (8 in 9 message sizes are at most 1000 bytes);
/// past them, segments are 1 to 512 bytes, because a 200 KB message in
/// 1-byte writes costs seconds of CPU on each side.
pub const SPLIT_BUDGET: u64 = 32 * 1024;

/// How a direction is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Both sockets reset (`SO_LINGER` 0, then closed): a reset seen by
    /// client and server alike, as from a middlebox.
    Reset,
    /// The receiver of this direction gets a FIN; the sender's further
    /// bytes are read and dropped, so it never blocks.
    HalfClose,
}

/// What one direction does to its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirPlan {
    /// Largest write (1: byte by byte); `None`: as read.
    pub segment: Option<usize>,
    /// Bytes sent in 1-byte segments before `segment` applies.
    pub split_budget: u64,
    /// Largest delay before each write (drawn per write).
    pub delay: Option<Duration>,
    /// Pause this long once this many bytes went.
    pub stall: Option<(u64, Duration)>,
    /// Bytes per second at most.
    pub rate: Option<u64>,
    /// Cut once this many bytes went.
    pub cut: Option<(u64, Cut)>,
}

/// The fault plan of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Client to server.
    pub up: DirPlan,
    /// Server to client.
    pub down: DirPlan,
    /// Seeds the per-write draws (segment sizes, delays).
    pub seed: u64,
}

/// A small deterministic generator (SplitMix64), so that a plan and its
/// draws follow from the session's seed alone.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// A byte offset below 4 KiB, spread over the orders of magnitude (as
    /// many below 16 as from 2 KiB): cuts fall in the opening handshake
    /// (about 130 bytes down, 230 up), in frame headers and inside
    /// payloads alike. Most sessions move a few hundred bytes each way, so
    /// larger offsets would rarely be reached.
    pub fn offset(&mut self) -> u64 {
        let bits = self.range(0, 12);
        self.range(0, (1 << bits) - 1)
    }
}

impl Plan {
    /// The plan of `fault` for the session seeded `seed`.
    pub fn new(fault: Fault, seed: u64) -> Plan {
        let mut rng = Rng::new(seed);
        let mut plan = Plan {
            seed: rng.next_u64(),
            ..Plan::default()
        };
        let mut both = |f: &mut dyn FnMut(&mut DirPlan, &mut Rng)| {
            f(&mut plan.up, &mut rng);
            f(&mut plan.down, &mut rng);
        };
        match fault {
            Fault::None => {}
            Fault::Split => both(&mut |d, _| {
                d.segment = Some(512);
                d.split_budget = SPLIT_BUDGET;
            }),
            Fault::Delay => both(&mut |d, _| {
                d.segment = Some(1024);
                d.delay = Some(Duration::from_millis(3));
            }),
            Fault::Stall => both(&mut |d, rng| {
                d.stall = Some((rng.offset(), Duration::from_millis(rng.range(50, 150))));
            }),
            Fault::Bandwidth => both(&mut |d, rng| d.rate = Some(rng.range(256, 1024) * 1024)),
            Fault::Reset | Fault::HalfClose => {
                let cut = if fault == Fault::Reset {
                    Cut::Reset
                } else {
                    Cut::HalfClose
                };
                let offset = rng.offset();
                if rng.range(0, 1) == 0 {
                    plan.up.cut = Some((offset, cut));
                } else {
                    plan.down.cut = Some((offset, cut));
                }
            }
        }
        plan
    }
}

/// What the proxy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Whether a client connected (and so the proxy connected upstream).
    pub connected: bool,
    /// Bytes relayed client to server.
    pub up_bytes: u64,
    /// Bytes relayed server to client.
    pub down_bytes: u64,
    /// Whether the plan's fault took effect: the cut or stall offset was
    /// reached, or at least one byte went through a split, delay or cap.
    pub fired: bool,
}

/// A running proxy for one connection.
pub struct Proxy {
    port: u16,
    sentinel: Sentinel,
    thread: Option<JoinHandle<Report>>,
}

impl Proxy {
    /// Listens on 127.0.0.1:0 and relays its first connection to
    /// `upstream` through `plan`.
    pub fn start(upstream: SocketAddr, plan: Plan) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let sentinel = Sentinel::default();
        let seen = sentinel.clone();
        let thread = thread::spawn(move || {
            let Ok((client, peer)) = listener.accept() else {
                return Report::default();
            };
            if is_sentinel(peer, &seen) {
                return Report::default();
            }
            drop(listener);
            relay(client, upstream, plan)
        });
        Ok(Proxy {
            port,
            sentinel,
            thread: Some(thread),
        })
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Once the client can no longer connect (its tasks ended): waits for
    /// the relay to end and says what it did. A client that never
    /// connected is told from one that did by a sentinel connection, which
    /// is accepted after the client's, if any (see
    /// [`crate::server::Server::log_if_connected`]).
    pub fn finish(mut self) -> Report {
        let target = SocketAddr::from(([127, 0, 0, 1], self.port));
        // Refused when the client's connection was accepted and the
        // listener is gone: then there is nothing to tell apart.
        let _sentinel = connect_sentinel(target, &self.sentinel);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

/// Relays one connection until both directions ended.
fn relay(client: TcpStream, upstream: SocketAddr, plan: Plan) -> Report {
    let mut report = Report {
        connected: true,
        ..Report::default()
    };
    let Ok(server) = TcpStream::connect(upstream) else {
        // The server is ours and listening; a refused connect would be
        // the harness's failure. Reset the client so it ends at once.
        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
        return report;
    };
    for s in [&client, &server] {
        // Each write goes out as its own segment (the point of splitting).
        let _ = s.set_nodelay(true);
        // Neither side can keep a relay thread forever.
        let _ = s.set_read_timeout(Some(crate::server::READ_TIMEOUT));
    }
    let client = Arc::new(client);
    let server = Arc::new(server);
    let reset = Arc::new(AtomicBool::new(false));
    let up = {
        let (from, to, reset) = (client.clone(), server.clone(), reset.clone());
        let (dir, seed) = (plan.up.clone(), plan.seed);
        thread::spawn(move || pump(&from, &to, &dir, seed, &reset))
    };
    let down = pump(&server, &client, &plan.down, plan.seed ^ 1, &reset);
    let up = up.join().unwrap_or_default();
    report.up_bytes = up.0;
    report.down_bytes = down.0;
    report.fired = up.1 || down.1;
    // Dropping the last handles closes both sockets: with SO_LINGER 0 set
    // by a reset, that close sends the RST.
    report
}

/// Sets `SO_LINGER` 0 on both sockets and wakes both readers: the RST
/// goes out when the sockets are closed (after both pumps returned);
/// `shutdown(Read)` sends nothing, so no FIN precedes it.
fn reset_both(a: &TcpStream, b: &TcpStream, reset: &AtomicBool) {
    reset.store(true, Ordering::SeqCst);
    for s in [a, b] {
        let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
        let _ = s.shutdown(Shutdown::Read);
    }
}

/// Reads and drops what `from` still sends, until it ends, so that its
/// writer never blocks on a direction nobody reads any more.
fn drain(mut from: &TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    while matches!(from.read(&mut buf), Ok(n) if n > 0) {}
}

/// Relays one direction through `dir`; returns the bytes relayed and
/// whether the fault took effect.
fn pump(from: &TcpStream, to: &TcpStream, dir: &DirPlan, seed: u64, reset: &AtomicBool) -> (u64, bool) {
    let mut rng = Rng::new(seed);
    let mut buf = vec![0u8; 16 * 1024];
    let mut sent = 0u64;
    let mut fired = false;
    let start = Instant::now();
    let mut reader = from;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => {
                // End of stream: pass the FIN on (unless this is the wake
                // of a reset, which must reach the peer as an RST only).
                if !reset.load(Ordering::SeqCst) {
                    let _ = to.shutdown(Shutdown::Write);
                }
                return (sent, fired);
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                // The sender reset (or timed out): pass the reset on.
                if !reset.load(Ordering::SeqCst) {
                    reset_both(from, to, reset);
                }
                return (sent, fired);
            }
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            if let Some((at, cut)) = dir.cut {
                if sent + data.len() as u64 >= at {
                    let keep = (at - sent) as usize;
                    if write_all(to, &data[..keep]).is_ok() {
                        sent += keep as u64;
                    }
                    match cut {
                        Cut::Reset => reset_both(from, to, reset),
                        Cut::HalfClose => {
                            let _ = to.shutdown(Shutdown::Write);
                            drain(from);
                        }
                    }
                    return (sent, true);
                }
            }
            if let Some((at, pause)) = dir.stall {
                if sent <= at && at < sent + data.len() as u64 {
                    let before = (at - sent) as usize;
                    if write_all(to, &data[..before]).is_err() {
                        drain(from);
                        return (sent, fired);
                    }
                    sent += before as u64;
                    data = &data[before..];
                    thread::sleep(pause);
                    fired = true;
                }
            }
            let len = if sent < dir.split_budget {
                1
            } else if let Some(max) = dir.segment {
                rng.range(1, max as u64) as usize
            } else {
                data.len()
            }
            .min(data.len());
            if let Some(max) = dir.delay {
                thread::sleep(Duration::from_micros(rng.range(0, max.as_micros() as u64)));
            }
            if write_all(to, &data[..len]).is_err() {
                // The receiver is gone; the sender learns it from the other
                // direction's end.
                drain(from);
                return (sent, fired);
            }
            sent += len as u64;
            data = &data[len..];
            if let Some(rate) = dir.rate {
                let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    thread::sleep(wait);
                }
            }
            fired |= dir.segment.is_some() || dir.rate.is_some() || dir.split_budget > 0;
        }
    }
}

fn write_all(mut to: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    to.write_all(bytes)
}
