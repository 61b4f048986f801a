//! The echo server child: a hand-written frame-level echo on one tokio
//! thread (current-thread runtime), pinned to a core of its own when it can be.
//!
//! Why hand-written rather than tokio-tungstenite or fastwebsockets: an echo
//! does not need messages, only frames. Each read (up to 256 KiB) is parsed
//! in place, every client frame's payload is unmasked straight into one
//! output buffer behind a server header, and the whole batch goes out in
//! one `write` — one read and one write syscall per batch, no allocation
//! per message, no UTF-8 check, no reassembly (a 1 MiB frame streams
//! through in read-sized pieces). That is less work per message than any
//! client does (they mask, frame, allocate and validate), so the server is
//! not the bottleneck. Pings are answered with pongs, pongs are dropped, a
//! Close frame is echoed and the connection shut down. The opening handshake
//! is parsed just enough to find `Sec-WebSocket-Key`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

const READ_SIZE: usize = 256 * 1024;

/// Binds 127.0.0.1:0, prints the port on stdout, serves until stdin closes
/// (the orchestrator exits or kills it).
pub fn main() {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("{}", listener.local_addr().expect("addr").port());
        use std::io::Write;
        std::io::stdout().flush().expect("stdout");
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let _ = serve(tcp).await;
            });
        }
    });
}

async fn serve(mut tcp: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    let mut filled = handshake(&mut tcp, &mut buf).await?;
    let mut echo = Echo::default();
    let mut out = Vec::with_capacity(READ_SIZE + 1024);
    loop {
        let used = echo.process(&mut buf[..filled], &mut out);
        if !out.is_empty() {
            tcp.write_all(&out).await?;
            out.clear();
        }
        if echo.closed {
            return tcp.shutdown().await;
        }
        // Keep an incomplete header for the next read.
        buf.copy_within(used..filled, 0);
        filled -= used;
        let n = tcp.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
    }
}

/// Reads the request, answers 101; returns how many bytes after the request
/// were read (moved to the front of `buf`).
async fn handshake(tcp: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    let end = loop {
        let n = tcp.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
        if let Some(i) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let request = String::from_utf8_lossy(&buf[..end]);
    let key = request
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_string())
        })
        .ok_or(std::io::ErrorKind::InvalidData)?;
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    tcp.write_all(response.as_bytes()).await?;
    buf.copy_within(end..filled, 0);
    Ok(filled - end)
}

/// Where the parser is: between frames, or inside one's payload.
#[derive(Default)]
struct Echo {
    /// Payload bytes still to come of the current frame, its mask, how many
    /// of its bytes were unmasked, and whether it is echoed.
    remaining: u64,
    mask: [u8; 4],
    offset: usize,
    keep: bool,
    /// A Close frame was echoed in full: shut down after writing.
    closing: bool,
    closed: bool,
}

impl Echo {
    /// Echoes what `input` holds into `out`; returns how many bytes were
    /// used (the rest is an incomplete header).
    fn process(&mut self, input: &mut [u8], out: &mut Vec<u8>) -> usize {
        let mut at = 0;
        loop {
            if self.remaining > 0 {
                let take = (self.remaining.min((input.len() - at) as u64)) as usize;
                if self.keep {
                    let start = out.len();
                    out.extend_from_slice(&input[at..at + take]);
                    unmask(&mut out[start..], self.mask, self.offset);
                }
                self.offset += take;
                self.remaining -= take as u64;
                at += take;
                if self.remaining > 0 {
                    return at;
                }
            }
            if self.closing {
                self.closed = true;
                return at;
            }
            match header(&input[at..]) {
                None => return at,
                Some((len, first, mask, payload)) => {
                    at += len;
                    let opcode = first & 0x0f;
                    // Ping -> pong; pong dropped; everything else echoed as it came.
                    self.keep = opcode != 0xA;
                    let first = if opcode == 0x9 { (first & 0xf0) | 0xA } else { first };
                    self.closing = opcode == 0x8;
                    if self.keep {
                        server_header(out, first, payload);
                    }
                    (self.remaining, self.mask, self.offset) = (payload, mask, 0);
                }
            }
        }
    }
}

/// A client frame's header: (its length, first byte, mask, payload length).
fn header(b: &[u8]) -> Option<(usize, u8, [u8; 4], u64)> {
    if b.len() < 2 {
        return None;
    }
    let (len, at) = match b[1] & 0x7f {
        126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as u64, 4),
        127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().ok()?), 10),
        126 | 127 => return None,
        n => (n as u64, 2),
    };
    let masked = b[1] & 0x80 != 0;
    let end = at + if masked { 4 } else { 0 };
    if b.len() < end {
        return None;
    }
    let mask = if masked { b[at..end].try_into().ok()? } else { [0; 4] };
    Some((end, b[0], mask, len))
}

fn server_header(out: &mut Vec<u8>, first: u8, len: u64) {
    out.push(first);
    if len < 126 {
        out.push(len as u8);
    } else if len <= u16::MAX as u64 {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// XORs `data` with `mask`, `offset` bytes into the frame's payload, eight
/// bytes at a time.
fn unmask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut key = mask;
    key.rotate_left(offset % 4);
    let wide = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let v = u64::from_ne_bytes((&*chunk).try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}
