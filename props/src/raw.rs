//! Loopback servers that accept the upgrade and then hand the raw TCP
//! stream to a closure: for floods that must not be buffered whole (the
//! scripted [`crate::server`] writes each action in one piece), for the
//! hostile-server measurements ([`serve_one`]: one listener, one
//! connection) and for fuzzing ([`Listener`]: one listener, any number).

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tungstenite::handshake::derive_accept_key;

use crate::server::{encode_frame, read_request};

/// Reads the client's upgrade request and accepts it (no subprotocol, no
/// extension). Bytes the client sent past the request are dropped.
pub fn accept_upgrade(tcp: &mut TcpStream) -> io::Result<()> {
    accept_upgrade_to(tcp).map(|_| ())
}

/// [`accept_upgrade`], returning the request's path.
fn accept_upgrade_to(tcp: &mut TcpStream) -> io::Result<String> {
    let (request, _) = read_request(tcp)?;
    let path = request
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| io::Error::other("no request line"))?
        .to_string();
    let key = request
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, v)| v.trim().to_string())
        .ok_or_else(|| io::Error::other("no Sec-WebSocket-Key"))?;
    write!(
        tcp,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    )?;
    Ok(path)
}

type Job = Box<dyn FnOnce(TcpStream) + Send>;

/// One loopback listener for a whole run of many connections (a fuzzer's
/// millions): a server that binds once cannot fail to bind. Each
/// connection asks for its job by path (`/N`), so a connection that never
/// arrives leaves no job behind for the next one.
///
/// Why: a listener per connection used the loopback's ephemeral ports
/// twice per connection (the listener's and the client's), and a long fuzz
/// run ended after about 28,000 connections with `AddrInUse`, the ports
/// held by connections in TIME_WAIT: a failure of the harness, not of the
/// client. With one listener only the client's port is used.
pub struct Listener {
    base: String,
    jobs: Arc<Mutex<HashMap<u64, Job>>>,
    next: AtomicU64,
}

/// A connection [`Listener::serve`] waits for.
pub struct Served<T> {
    id: u64,
    jobs: Arc<Mutex<HashMap<u64, Job>>>,
    result: mpsc::Receiver<T>,
}

impl Listener {
    /// Binds 127.0.0.1 (port 0) and accepts in a thread for as long as the
    /// process lives; each connection's upgrade is accepted and its job run
    /// in a thread of its own.
    pub fn start() -> io::Result<Listener> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("ws://127.0.0.1:{}", listener.local_addr()?.port());
        let jobs: Arc<Mutex<HashMap<u64, Job>>> = Arc::default();
        let table = jobs.clone();
        thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(mut tcp) = tcp else { continue };
                let table = table.clone();
                thread::spawn(move || {
                    let Ok(path) = accept_upgrade_to(&mut tcp) else { return };
                    let id = path.trim_start_matches('/').parse::<u64>().ok();
                    let job = id.and_then(|id| table.lock().unwrap_or_else(|p| p.into_inner()).remove(&id));
                    if let Some(job) = job {
                        job(tcp);
                    }
                });
            }
        });
        Ok(Listener {
            base,
            jobs,
            next: AtomicU64::new(0),
        })
    }

    /// Registers `serve` for the next connection to the returned URL; the
    /// [`Served`] gives its result.
    pub fn serve<T: Send + 'static>(&self, serve: impl FnOnce(TcpStream) -> T + Send + 'static) -> (String, Served<T>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |tcp| {
            let _ = tx.send(serve(tcp));
        });
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).insert(id, job);
        let served = Served {
            id,
            jobs: self.jobs.clone(),
            result: rx,
        };
        (format!("{}/{id}", self.base), served)
    }
}

impl<T> Served<T> {
    /// The job's result, once it has run (waiting at most `limit`); `None`
    /// if no connection came for it (it is then withdrawn) or it did not
    /// finish in time.
    pub fn finish(self, limit: Duration) -> Option<T> {
        let withdrawn = self.jobs.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
        if withdrawn.is_some() {
            return None;
        }
        self.result.recv_timeout(limit).ok()
    }
}

/// Listens on 127.0.0.1 (port 0), accepts one connection and its upgrade,
/// and runs `serve` on it in a thread. Returns `ws://127.0.0.1:PORT` and the
/// thread (its result is `serve`'s).
pub fn serve_one<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> io::Result<(String, JoinHandle<io::Result<T>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("ws://127.0.0.1:{}", listener.local_addr()?.port());
    let thread = thread::spawn(move || {
        let (mut tcp, _) = listener.accept()?;
        accept_upgrade(&mut tcp)?;
        Ok(serve(tcp))
    });
    Ok((url, thread))
}

/// How a ping flood went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    /// Pings written in full.
    pub pings_written: u64,
    /// The flood stopped because the client stopped reading (no byte could
    /// be written for `idle`), not because every ping was written.
    pub stalled: bool,
}

/// Writes `count` pings of `payload` bytes and never reads, without ever
/// buffering more than one batch of frames. Stops early once no byte could be
/// written for `idle` (the client stopped reading). A stall can only be
/// reported too late, never wrongly: how many pings went out is the
/// measure, `idle` only ends the wait.
pub fn ping_flood(tcp: &TcpStream, count: u64, payload: usize, idle: Duration) -> io::Result<Flood> {
    const BATCH: u64 = 512;
    let ping = encode_frame(true, 0x9, &vec![b'p'; payload]);
    let batch: Vec<u8> = ping.iter().copied().cycle().take(ping.len() * BATCH as usize).collect();
    tcp.set_nonblocking(true)?;
    let mut tcp = tcp;
    let mut written = 0u64; // bytes
    let total = count * ping.len() as u64;
    let mut last_progress = Instant::now();
    while written < total {
        let offset = (written % batch.len() as u64) as usize;
        let end = batch.len().min(offset + (total - written) as usize);
        match tcp.write(&batch[offset..end]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                written += n as u64;
                last_progress = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if last_progress.elapsed() >= idle {
                    break;
                }
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
    tcp.set_nonblocking(false)?;
    Ok(Flood {
        pings_written: written / ping.len() as u64,
        stalled: written < total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A client that upgrades on `url` and reads until the server closes.
    fn client(url: &str) -> Vec<u8> {
        let rest = url.trim_start_matches("ws://");
        let (addr, path) = rest.split_at(rest.find('/').unwrap());
        let mut tcp = TcpStream::connect(addr).unwrap();
        write!(
            tcp,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut out = Vec::new();
        tcp.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn one_listener_serves_each_connection_its_own_job_and_withdraws_unclaimed_ones() {
        let listener = Listener::start().unwrap();
        let (url_a, a) = listener.serve(|mut tcp| tcp.write_all(b"for a").is_ok());
        let (_, never) = listener.serve(|_| true);
        let (url_b, b) = listener.serve(|mut tcp| tcp.write_all(b"for b").is_ok());
        // Out of order, and one job never claimed.
        assert!(client(&url_b).ends_with(b"for b"));
        assert!(client(&url_a).ends_with(b"for a"));
        assert_eq!(a.finish(Duration::from_secs(10)), Some(true));
        assert_eq!(b.finish(Duration::from_secs(10)), Some(true));
        assert_eq!(never.finish(Duration::from_secs(10)), None);
    }
}
