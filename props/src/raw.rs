//! A one-connection loopback server that accepts the upgrade and then
//! hands the raw TCP stream to a closure: for floods that must not be
//! buffered whole (the scripted [`crate::server`] writes each action in one
//! piece), for the hostile-server measurements and for fuzzing.

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tungstenite::handshake::derive_accept_key;

use crate::server::{encode_frame, read_request};

/// Reads the client's upgrade request and accepts it (no subprotocol, no
/// extension). Bytes the client sent past the request are dropped.
pub fn accept_upgrade(tcp: &mut TcpStream) -> io::Result<()> {
    let (request, _) = read_request(tcp)?;
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
    )
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
