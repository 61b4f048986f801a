//! A scripted WebSocket server on 127.0.0.1 (port 0), well-behaved or
//! hostile as its script says, that records every frame it receives.
//!
//! It is deliberately written on blocking `std::net` with one thread per
//! connection and its own frame writer, so that it can say anything a
//! hostile server can (raw bytes, invalid Close frames, masked frames,
//! never answering, resetting TCP) and shares no code with the client under
//! test. Every read has a timeout, so a server thread always ends.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::frame::coding::{Data as OpData, OpCode};
use tungstenite::protocol::frame::{Frame, FrameSocket};

/// How the server answers the opening handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// 101, selecting a subprotocol as said, with these extensions (raw header value).
    Accept {
        /// Which subprotocol to select.
        protocol: ProtocolChoice,
        /// A `Sec-WebSocket-Extensions` value to send back, if any.
        extensions: Option<String>,
    },
    /// Refuse with this HTTP status.
    Reject(u16),
    /// 101 with a wrong `Sec-WebSocket-Accept`.
    BadAcceptKey,
    /// Never answer (until the client gives up); the connection then ends.
    Hang,
    /// Wait this long, then accept as `Accept` with the first offered subprotocol.
    Delay(Duration),
    /// Write this response head (and whatever follows it) as it is, with
    /// every `{accept}` replaced by the right `Sec-WebSocket-Accept` value;
    /// then run the script as after `Accept`.
    Raw(String),
}

/// What happened when, across every connection of one server (connections
/// are numbered from 0 in the order they were accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// The TCP connection was accepted.
    Accepted(usize),
    /// Its opening handshake request was read.
    Request(usize),
    /// Its response is about to be written (so anything the client does
    /// because of it comes later in the timeline).
    Responding(usize),
}

/// The subprotocol a server selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolChoice {
    /// The first one the client offered (none if it offered none).
    FirstOffered,
    /// No `Sec-WebSocket-Protocol` header.
    None,
    /// This one, offered or not.
    Named(String),
}

/// One step of a connection's script, after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a text message (one frame).
    Text(String),
    /// Send a binary message (one frame).
    Binary(Vec<u8>),
    /// Send a ping.
    Ping(Vec<u8>),
    /// Send a Close frame with exactly this payload (code bytes + reason, unvalidated).
    CloseRaw(Vec<u8>),
    /// Write these bytes as they are (hand-made frames).
    Raw(Vec<u8>),
    /// Read frames until `n` data messages arrived, echoing each one back.
    Echo(usize),
    /// Read frames until the client's Close arrives; if `reply`, answer with a
    /// Close echoing its code and reason.
    AwaitClose {
        /// Whether to answer the client's Close.
        reply: bool,
    },
    /// Wait this long (while not reading).
    Sleep(Duration),
    /// Close TCP now (FIN) without a Close frame.
    DropTcp,
    /// Reset TCP now (RST: SO_LINGER 0).
    ResetTcp,
}

/// What the client sent, frame by frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A complete text message.
    Text(String),
    /// A complete binary message.
    Binary(Vec<u8>),
    /// A Close frame: `None` for an empty payload, else code and reason.
    Close(Option<(u16, String)>),
    /// A ping or pong.
    Control(u8),
    /// A frame the client must never send (unmasked, reserved bits, ...).
    Invalid(String),
}

/// The whole script of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The handshake answer.
    pub handshake: Handshake,
    /// Steps after a successful handshake.
    pub actions: Vec<Action>,
    /// After the steps: keep reading (recording, answering a Close once
    /// with an echo) until the client closes TCP, then close it too.
    pub finish_reading: bool,
}

impl Script {
    /// Accept (first offered subprotocol), run `actions`, then behave.
    pub fn accept(actions: Vec<Action>) -> Script {
        Script {
            handshake: Handshake::Accept {
                protocol: ProtocolChoice::FirstOffered,
                extensions: None,
            },
            actions,
            finish_reading: true,
        }
    }
}

/// What one connection saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    /// The request's `Sec-WebSocket-Protocol` values, in order.
    pub offered_protocols: Vec<String>,
    /// The request's `Sec-WebSocket-Extensions` header, if any.
    pub offered_extensions: Option<String>,
    /// Every frame received, in order (data messages reassembled).
    pub received: Vec<Received>,
    /// Whether the client closed TCP (EOF seen) while the server read.
    pub saw_eof: bool,
    /// Whether the server sent a Close frame before the client did.
    pub server_closed_first: bool,
    /// The payload of the first Close frame the server sent, if any.
    pub close_sent: Option<Vec<u8>>,
    /// The request's `Sec-WebSocket-Key`, once a request was read.
    pub key: Option<String>,
    /// The response head the server wrote (status line and fields), if it
    /// wrote one.
    pub response: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Log {
    /// The log as one line of text (for a client in another process:
    /// the fault-injection suite's `fault_client`); [`Log::decode`] reads
    /// it back.
    pub fn encode(&self) -> String {
        let mut out = vec!["log".to_string()];
        out.extend(self.offered_protocols.iter().map(|p| format!("P{}", hex(p.as_bytes()))));
        out.extend(
            self.offered_extensions
                .iter()
                .map(|e| format!("E{}", hex(e.as_bytes()))),
        );
        for r in &self.received {
            out.push(match r {
                Received::Text(t) => format!("T{}", hex(t.as_bytes())),
                Received::Binary(b) => format!("B{}", hex(b)),
                Received::Close(None) => "C".to_string(),
                Received::Close(Some((code, reason))) => format!("C{code}:{}", hex(reason.as_bytes())),
                Received::Control(op) => format!("K{op}"),
                Received::Invalid(why) => format!("I{}", hex(why.as_bytes())),
            });
        }
        if self.saw_eof {
            out.push("eof".into());
        }
        if self.server_closed_first {
            out.push("first".into());
        }
        if let Some(c) = &self.close_sent {
            out.push(format!("S{}", hex(c)));
        }
        if let Some(k) = &self.key {
            out.push(format!("Y{}", hex(k.as_bytes())));
        }
        if let Some(r) = &self.response {
            out.push(format!("R{}", hex(r.as_bytes())));
        }
        out.join(" ")
    }

    /// Reads a line written by [`Log::encode`].
    pub fn decode(line: &str) -> Option<Log> {
        let mut words = line.split_whitespace();
        if words.next()? != "log" {
            return None;
        }
        let text = |h: &str| unhex(h).and_then(|b| String::from_utf8(b).ok());
        let mut log = Log::default();
        for w in words {
            match w.split_at(1) {
                ("P", h) => log.offered_protocols.push(text(h)?),
                ("E", h) => log.offered_extensions = Some(text(h)?),
                ("T", h) => log.received.push(Received::Text(text(h)?)),
                ("B", h) => log.received.push(Received::Binary(unhex(h)?)),
                ("C", "") => log.received.push(Received::Close(None)),
                ("C", rest) => {
                    let (code, reason) = rest.split_once(':')?;
                    log.received
                        .push(Received::Close(Some((code.parse().ok()?, text(reason)?))));
                }
                ("K", op) => log.received.push(Received::Control(op.parse().ok()?)),
                ("I", h) => log.received.push(Received::Invalid(text(h)?)),
                ("S", h) => log.close_sent = Some(unhex(h)?),
                ("Y", h) => log.key = Some(text(h)?),
                ("R", h) => log.response = Some(text(h)?),
                _ if w == "eof" => log.saw_eof = true,
                _ if w == "first" => log.server_closed_first = true,
                _ => return None,
            }
        }
        Some(log)
    }
}

/// A running server: one script per accepted connection, in order.
/// Dropping it stops accepting (its connections finish by themselves).
pub struct Server {
    port: u16,
    /// `None`: the sentinel of [`Server::log_if_connected`] was accepted.
    logs: mpsc::Receiver<Option<Log>>,
    stop: Arc<AtomicBool>,
    timeline: Timeline,
    sentinel: Sentinel,
}

/// The local address of a sentinel connection, set before it connects.
pub(crate) type Sentinel = Arc<Mutex<Option<SocketAddr>>>;

/// Connects to `target` from an address stored in `sentinel` before the
/// connection is made, so that the listener can tell it from the client's:
/// it is accepted after any connection made before it (the accept queue is
/// in order), so "the sentinel came first" means no client connected.
pub(crate) fn connect_sentinel(target: SocketAddr, sentinel: &Sentinel) -> io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    let local = socket.local_addr()?.as_socket();
    *sentinel.lock().unwrap_or_else(|p| p.into_inner()) = local;
    socket.connect(&target.into())?;
    Ok(socket.into())
}

/// Whether `peer` is the registered sentinel.
pub(crate) fn is_sentinel(peer: SocketAddr, sentinel: &Sentinel) -> bool {
    *sentinel.lock().unwrap_or_else(|p| p.into_inner()) == Some(peer)
}

/// The server's [`Moment`]s, in order.
type Timeline = Arc<Mutex<Vec<Moment>>>;

fn record(timeline: &Timeline, moment: Moment) {
    timeline.lock().unwrap_or_else(|p| p.into_inner()).push(moment);
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake a blocked accept().
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Longest a server thread waits for the client at any point.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

impl Server {
    /// Binds 127.0.0.1:0 and serves `scripts`, one per connection.
    pub fn start(scripts: Vec<Script>) -> io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let (tx, logs) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let timeline = Timeline::default();
        let moments = timeline.clone();
        let sentinel = Sentinel::default();
        let sentinel_seen = sentinel.clone();
        thread::spawn(move || {
            for (index, script) in scripts.into_iter().enumerate() {
                let Ok((tcp, peer)) = listener.accept() else { return };
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                if is_sentinel(peer, &sentinel_seen) {
                    let _ = tx.send(None);
                    return;
                }
                record(&moments, Moment::Accepted(index));
                let tx = tx.clone();
                let moments = moments.clone();
                thread::spawn(move || {
                    let log = serve(tcp, &script, index, &moments);
                    let _ = tx.send(Some(log));
                });
            }
        });
        Ok(Server {
            port,
            logs,
            stop,
            timeline,
            sentinel,
        })
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every [`Moment`] so far, in order.
    pub fn timeline(&self) -> Vec<Moment> {
        self.timeline.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits (at most `READ_TIMEOUT` + a margin) for the next connection's log.
    pub fn next_log(&self) -> Option<Log> {
        self.logs
            .recv_timeout(READ_TIMEOUT + Duration::from_secs(5))
            .ok()
            .flatten()
    }

    /// For a server of one script, once the client can no longer connect
    /// (its tasks or its process ended): `Ok(Some(log))` if a connection
    /// was made, `Ok(None)` if none was, decided without a timeout. A
    /// client whose connect failed (refused, injected faults, withdrawn)
    /// leaves no connection, and waiting for one would take
    /// [`Server::next_log`]'s whole timeout; a client whose connect
    /// succeeded left its connection in the accept queue ahead of the
    /// sentinel this connects.
    pub fn log_if_connected(&self) -> Result<Option<Log>, String> {
        let target = SocketAddr::from(([127, 0, 0, 1], self.port));
        // Refused, or reset (it reached the accept queue as the listener
        // closed): the listener is gone, which it is only once it accepted
        // its one connection; the log of that connection then follows.
        let _sentinel = match connect_sentinel(target, &self.sentinel) {
            Err(e)
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                ) =>
            {
                return Err(format!("sentinel: {e}"))
            }
            other => other,
        };
        match self.logs.recv_timeout(READ_TIMEOUT + Duration::from_secs(5)) {
            Ok(log) => Ok(log),
            Err(_) => Err("the server thread did not end".into()),
        }
    }
}

fn serve(mut tcp: TcpStream, script: &Script, index: usize, timeline: &Timeline) -> Log {
    let mut log = Log::default();
    let _ = tcp.set_read_timeout(Some(READ_TIMEOUT));
    let _ = tcp.set_nodelay(true);
    let Ok((request, rest)) = read_request(&mut tcp) else {
        return log;
    };
    record(timeline, Moment::Request(index));
    let header = |name: &str| {
        request
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect::<Vec<_>>()
    };
    log.offered_protocols = header("sec-websocket-protocol")
        .iter()
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .filter(|p| !p.is_empty())
        .collect();
    log.offered_extensions = header("sec-websocket-extensions").into_iter().next();
    let key = header("sec-websocket-key").into_iter().next().unwrap_or_default();
    log.key = Some(key.clone());
    let response = match &script.handshake {
        Handshake::Reject(status) => {
            record(timeline, Moment::Responding(index));
            let head = format!("HTTP/1.1 {status} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            log.response = Some(head.clone());
            let _ = tcp.write_all(head.as_bytes());
            let _ = tcp.shutdown(Shutdown::Both);
            return log;
        }
        Handshake::Hang => {
            let mut sink = [0u8; 64];
            while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
            return log;
        }
        Handshake::BadAcceptKey => switching(&derive_accept_key(b"not the key"), None, None),
        Handshake::Raw(head) => head.replace("{accept}", &derive_accept_key(key.as_bytes())),
        Handshake::Delay(d) => {
            thread::sleep(*d);
            switching(
                &derive_accept_key(key.as_bytes()),
                log.offered_protocols.first().map(String::as_str),
                None,
            )
        }
        Handshake::Accept { protocol, extensions } => {
            let selected = match protocol {
                ProtocolChoice::FirstOffered => log.offered_protocols.first().cloned(),
                ProtocolChoice::None => None,
                ProtocolChoice::Named(n) => Some(n.clone()),
            };
            switching(
                &derive_accept_key(key.as_bytes()),
                selected.as_deref(),
                extensions.as_deref(),
            )
        }
    };
    record(timeline, Moment::Responding(index));
    log.response = Some(response.clone());
    if tcp.write_all(response.as_bytes()).is_err()
        || !matches!(
            script.handshake,
            Handshake::Accept { .. } | Handshake::Delay(_) | Handshake::Raw(_)
        )
    {
        return log;
    }
    let Ok(clone) = tcp.try_clone() else { return log };
    let mut frames = FrameSocket::from_partially_read(clone, rest);
    let mut conn = Conn {
        tcp,
        log,
        close_sent: false,
        close_received: false,
        partial: None,
    };
    for action in &script.actions {
        if !conn.run(&mut frames, action) {
            return conn.log;
        }
    }
    if script.finish_reading {
        conn.finish(&mut frames);
    }
    conn.log
}

fn switching(accept: &str, protocol: Option<&str>, extensions: Option<&str>) -> String {
    let mut r = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
    );
    if let Some(p) = protocol {
        r.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    if let Some(e) = extensions {
        r.push_str(&format!("Sec-WebSocket-Extensions: {e}\r\n"));
    }
    r.push_str("\r\n");
    r
}

/// Reads the HTTP request head; returns it and any bytes read past it.
pub(crate) fn read_request(tcp: &mut TcpStream) -> io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > 64 * 1024 {
            return Err(io::Error::other("request head too long"));
        }
        let n = tcp.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

struct Conn {
    tcp: TcpStream,
    log: Log,
    close_sent: bool,
    close_received: bool,
    /// A fragmented data message being reassembled: (is_text, bytes).
    partial: Option<(bool, Vec<u8>)>,
}

/// Encodes an unmasked server frame.
pub fn encode_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(if fin { 0x80 } else { 0 } | (opcode & 0x0f));
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

impl Conn {
    fn write(&mut self, bytes: &[u8]) -> bool {
        self.tcp.write_all(bytes).is_ok()
    }

    /// Runs one action; `false` when the connection is over.
    fn run(&mut self, frames: &mut FrameSocket<TcpStream>, action: &Action) -> bool {
        match action {
            Action::Text(t) => self.write(&encode_frame(true, 1, t.as_bytes())),
            Action::Binary(b) => self.write(&encode_frame(true, 2, b)),
            Action::Ping(p) => self.write(&encode_frame(true, 9, p)),
            Action::CloseRaw(payload) => {
                if !self.close_received {
                    self.log.server_closed_first = true;
                }
                self.note_close(payload);
                self.write(&encode_frame(true, 8, payload))
            }
            Action::Raw(bytes) => {
                if bytes.len() >= 2 && bytes[0] & 0x0f == 8 {
                    self.close_sent = true;
                }
                self.write(bytes)
            }
            Action::Echo(n) => {
                let mut echoed = 0;
                while echoed < *n {
                    match self.read_one(frames) {
                        Some(Received::Text(t)) => {
                            echoed += 1;
                            if !self.write(&encode_frame(true, 1, t.as_bytes())) {
                                return false;
                            }
                        }
                        Some(Received::Binary(b)) => {
                            echoed += 1;
                            if !self.write(&encode_frame(true, 2, &b)) {
                                return false;
                            }
                        }
                        Some(Received::Close(c)) => {
                            self.answer_close(c);
                            return false;
                        }
                        Some(_) => {}
                        None => return false,
                    }
                }
                true
            }
            Action::AwaitClose { reply } => loop {
                match self.read_one(frames) {
                    Some(Received::Close(c)) => {
                        if *reply {
                            self.answer_close(c);
                        }
                        return true;
                    }
                    Some(_) => {}
                    None => return false,
                }
            },
            Action::Sleep(d) => {
                thread::sleep(*d);
                true
            }
            Action::DropTcp => {
                let _ = self.tcp.shutdown(Shutdown::Both);
                false
            }
            Action::ResetTcp => {
                let _ = socket2::SockRef::from(&self.tcp).set_linger(Some(Duration::ZERO));
                let _ = self.tcp.shutdown(Shutdown::Read);
                false
            }
        }
    }

    fn answer_close(&mut self, c: Option<(u16, String)>) {
        if self.close_sent {
            return;
        }
        let mut payload = Vec::new();
        if let Some((code, reason)) = c {
            payload.extend_from_slice(&code.to_be_bytes());
            payload.extend_from_slice(reason.as_bytes());
        }
        self.note_close(&payload);
        self.write(&encode_frame(true, 8, &payload));
    }

    fn note_close(&mut self, payload: &[u8]) {
        self.close_sent = true;
        if self.log.close_sent.is_none() {
            self.log.close_sent = Some(payload.to_vec());
        }
    }

    /// Reads until the client closes TCP (answering its Close if not yet
    /// answered), then closes TCP.
    fn finish(&mut self, frames: &mut FrameSocket<TcpStream>) {
        let deadline = Instant::now() + READ_TIMEOUT;
        while Instant::now() < deadline {
            match self.read_one(frames) {
                Some(Received::Close(c)) => {
                    self.answer_close(c);
                    // RFC 6455 §7.1.1: the server closes TCP first, once both Close frames went.
                    break;
                }
                Some(_) => {}
                None => break,
            }
        }
        let _ = self.tcp.shutdown(Shutdown::Both);
    }

    /// Reads the next complete message or control frame (recording it);
    /// `None` at EOF, error or timeout.
    fn read_one(&mut self, frames: &mut FrameSocket<TcpStream>) -> Option<Received> {
        loop {
            let frame: Frame = match frames.read(Some(128 << 20)) {
                Ok(Some(f)) => f,
                Ok(None) => {
                    self.log.saw_eof = true;
                    return None;
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.log.saw_eof = true;
                    return None;
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                    self.log.saw_eof = true;
                    return None;
                }
                Err(_) => return None,
            };
            // `None`: a fragment of a message still being reassembled.
            let Some(got) = self.classify(frame) else { continue };
            self.log.received.push(got.clone());
            return Some(got);
        }
    }

    /// Turns a frame into a record; `None` while a fragmented message is incomplete.
    fn classify(&mut self, frame: Frame) -> Option<Received> {
        let h = frame.header();
        if !h.is_final && matches!(h.opcode, OpCode::Control(_)) {
            return Some(Received::Invalid("fragmented control frame".into()));
        }
        if h.rsv1 || h.rsv2 || h.rsv3 {
            return Some(Received::Invalid("reserved bits set".into()));
        }
        if h.mask.is_none() {
            return Some(Received::Invalid("unmasked client frame".into()));
        }
        let fin = h.is_final;
        let opcode = h.opcode;
        let mask = h.mask.unwrap_or_default();
        let mut payload = frame.into_payload().to_vec();
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        match opcode {
            OpCode::Data(OpData::Text) | OpCode::Data(OpData::Binary) => {
                let text = opcode == OpCode::Data(OpData::Text);
                if fin {
                    return Some(data(text, payload));
                }
                self.partial = Some((text, payload));
                None
            }
            OpCode::Data(OpData::Continue) => {
                let (text, mut acc) = self.partial.take()?;
                acc.extend_from_slice(&payload);
                if fin {
                    return Some(data(text, acc));
                }
                self.partial = Some((text, acc));
                None
            }
            OpCode::Control(tungstenite::protocol::frame::coding::Control::Close) => {
                self.close_received = true;
                Some(Received::Close(match payload.len() {
                    0 => None,
                    1 => Some((0, String::new())),
                    _ => Some((
                        u16::from_be_bytes([payload[0], payload[1]]),
                        String::from_utf8_lossy(&payload[2..]).into_owned(),
                    )),
                }))
            }
            OpCode::Control(c) => Some(Received::Control(u8::from(OpCode::Control(c)))),
            OpCode::Data(OpData::Reserved(r)) => Some(Received::Invalid(format!("reserved opcode {r}"))),
        }
    }
}

fn data(text: bool, payload: Vec<u8>) -> Received {
    if text {
        match String::from_utf8(payload) {
            Ok(s) => Received::Text(s),
            Err(_) => Received::Invalid("text message is not UTF-8".into()),
        }
    } else {
        Received::Binary(payload)
    }
}
