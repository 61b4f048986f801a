//! # wsapi-blocking: a second, blocking client on the same model
//!
//! This crate exists to prove that `wsapi-model` is reusable: it is a
//! complete blocking WebSocket client (plain `ws://`) on `std::net`, written
//! only against the model's public API and sharing no code with the async
//! client (`wsapi`). Every rule — constructor checks, `send`/`close`
//! preconditions, close codes, `bufferedAmount`, event order, timeouts — is
//! the model's; this file only moves bytes and time, following the driver
//! contract in `wsapi_model`'s crate docs:
//!
//! | contract | here |
//! |---|---|
//! | drain transmits after every call | [`BlockingWebSocket::pump`] |
//! | `QueueForHost` / `ReleaseHost` → a process-wide `HostGate` | [`BlockingWebSocket::pump`], [`BlockingWebSocket::next_event`] (waits for the slot) |
//! | `Connect` → `handle_response` / `handle_connect_failed` | [`BlockingWebSocket::connect_now`] (TCP, the request, the response head; the model judges it) |
//! | `Message` → write, then `handle_written` | `write_frame` in `pump` |
//! | raw Close payloads → `handle_close_frame` | [`BlockingWebSocket::handle_frame`] |
//! | framing errors → `handle_protocol_error` | [`BlockingWebSocket::handle_frame`] |
//! | timers: `poll_timeout` / `handle_timeout` | [`BlockingWebSocket::next_event`] (socket read timeouts) |
//! | events taken where the user sees them | [`BlockingWebSocket::next_event`] |
//!
//! Frames are read and written with tungstenite's `FrameSocket` and `Frame`
//! (not its `WebSocket`, which would replace close codes it dislikes and
//! answer Close frames by itself: the model must decide both).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use tungstenite::protocol::frame::coding::{Control, Data as OpData, OpCode};
use tungstenite::protocol::frame::{Frame, FrameSocket};
use wsapi_model::{
    BinaryType, CloseError, CloseFrame, Config, Connection, ConstructError, Data, Event, FailReason, PingError,
    ReadyState, Response, SendError, Transmit, Url,
};

mod host_gate;
use host_gate::HostSlot;
use wsapi_model::handshake::{request_head, Offer};

/// Options beyond the standard's.
#[derive(Debug, Clone)]
pub struct Options {
    /// Give up connecting after this long.
    pub connect_timeout: Duration,
    /// Close the transport this long after the closing handshake started.
    pub closing_timeout: Duration,
    /// Largest message accepted (a larger one fails the connection with 1009).
    pub max_message_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(30),
            closing_timeout: Duration::from_secs(2),
            max_message_size: 64 << 20,
        }
    }
}

/// A blocking WebSocket with the browser API's semantics.
pub struct BlockingWebSocket {
    model: Connection<Data>,
    start: Instant,
    options: Options,
    tcp: Option<TcpStream>,
    frames: Option<FrameSocket<TcpStream>>,
    /// A fragmented message being reassembled: (is_text, bytes).
    partial: Option<(bool, Vec<u8>)>,
    /// Our place in the host's queue, from `QueueForHost` to `ReleaseHost`;
    /// `true` once `handle_host_slot` was reported.
    host_slot: Option<(HostSlot, bool)>,
}

impl BlockingWebSocket {
    /// `new WebSocket(url, protocols)`: validates and returns at once; the
    /// connection is made by the first [`Self::next_event`].
    pub fn new<S: AsRef<str>>(url: &str, protocols: &[S], options: Options) -> Result<Self, ConstructError> {
        let config = Config {
            connect_timeout: Some(options.connect_timeout),
            closing_timeout: Some(options.closing_timeout),
            ..Config::default()
        };
        Ok(BlockingWebSocket {
            model: Connection::new(url, protocols, config, Duration::ZERO)?,
            start: Instant::now(),
            options,
            tcp: None,
            frames: None,
            partial: None,
            host_slot: None,
        })
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// `url`.
    pub fn url(&self) -> &Url {
        self.model.url()
    }
    /// `readyState`.
    pub fn ready_state(&self) -> ReadyState {
        self.model.ready_state()
    }
    /// `bufferedAmount`.
    pub fn buffered_amount(&self) -> u64 {
        self.model.buffered_amount()
    }
    /// `protocol`.
    pub fn protocol(&self) -> &str {
        self.model.protocol()
    }
    /// `extensions`.
    pub fn extensions(&self) -> &str {
        self.model.extensions()
    }
    /// `binaryType`.
    pub fn set_binary_type(&mut self, b: BinaryType) {
        self.model.set_binary_type(b);
    }

    /// `send(data)`; the data is written at once if the connection is open.
    pub fn send(&mut self, data: Data) -> Result<(), SendError> {
        self.model.send(data)?;
        self.pump();
        Ok(())
    }

    /// `send(text)`.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send(Data::Text(text.to_string()))
    }

    /// `send(bytes)`.
    pub fn send_binary(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        self.send(Data::Binary(bytes.to_vec()))
    }

    /// `close(code, reason)`.
    pub fn close(&mut self, code: Option<u16>, reason: Option<&str>) -> Result<(), CloseError> {
        let now = self.now();
        self.model.close(now, code, reason)?;
        self.pump();
        Ok(())
    }

    /// `ping(payload)` (ours, not the standard's API: see
    /// `wsapi_model::Connection::ping`); written at once while OPEN.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), PingError> {
        self.model.ping(payload.to_vec())?;
        self.pump();
        Ok(())
    }

    /// Drives the connection until an event is ready (returned) or
    /// `timeout` passes (`None`). `None` also once everything is over.
    pub fn next_event(&mut self, timeout: Duration) -> Option<Event<Data>> {
        let deadline = Instant::now() + timeout;
        loop {
            self.pump();
            if let Some(event) = self.model.poll_event() {
                return Some(event);
            }
            if self.model.is_finished() {
                return None;
            }
            let now = self.now();
            if let Some(t) = self.model.poll_timeout() {
                if now >= t {
                    self.model.handle_timeout(now);
                    continue;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let timer = self.model.poll_timeout().map(|t| t.saturating_sub(now)).unwrap_or(left);
            let wait = left.min(timer).max(Duration::from_millis(1));
            match self.host_slot.as_ref() {
                Some((slot, false)) => slot.wait_held(wait),
                _ => self.read_once(wait),
            }
        }
    }

    /// Carries out every pending transmit, in order.
    pub fn pump(&mut self) {
        loop {
            self.report_host_slot();
            let Some(t) = self.model.poll_transmit() else {
                return;
            };
            match t {
                Transmit::QueueForHost(key) => self.host_slot = Some((HostSlot::queue(key), false)),
                // Dropping the slot frees the host (or leaves its queue).
                Transmit::ReleaseHost => self.host_slot = None,
                Transmit::Connect { url, protocols } => self.connect_now(&url, &protocols),
                Transmit::Message(data) => {
                    let len = match &data {
                        Data::Text(t) => t.len(),
                        Data::Binary(b) => b.len(),
                    };
                    let frame = match data {
                        Data::Text(t) => Frame::message(t.into_bytes(), OpCode::Data(OpData::Text), true),
                        Data::Binary(b) => Frame::message(b, OpCode::Data(OpData::Binary), true),
                    };
                    if self.write_frame(frame) {
                        let _ = self.model.handle_written(len as u64);
                    }
                }
                Transmit::Close(frame) => {
                    let frame = Frame::close(frame.map(|f: CloseFrame| tungstenite::protocol::CloseFrame {
                        code: f.code.into(),
                        reason: f.reason.into(),
                    }));
                    self.write_frame(frame);
                }
                Transmit::CloseTransport => self.drop_transport(),
                // Keep-alive's (empty; this client never enables it) or ping()'s.
                Transmit::Ping(payload) => {
                    self.write_frame(Frame::ping(payload));
                }
            }
        }
    }

    /// Tells the model once the gate admitted us.
    fn report_host_slot(&mut self) {
        if let Some((slot, reported @ false)) = self.host_slot.as_mut() {
            if slot.held() {
                *reported = true;
                let _ = self.model.handle_host_slot(self.start.elapsed());
            }
        }
    }

    /// Writes one masked frame; on failure reports the transport closed.
    fn write_frame(&mut self, mut frame: Frame) -> bool {
        let Some(tcp) = self.tcp.as_mut() else {
            return false;
        };
        frame.header_mut().mask = Some(rand::random());
        let mut bytes = Vec::with_capacity(frame.len() + 14);
        let written = frame.format(&mut bytes).is_ok() && tcp.write_all(&bytes).and_then(|_| tcp.flush()).is_ok();
        if !written {
            self.transport_lost();
        }
        written
    }

    fn drop_transport(&mut self) {
        if let Some(tcp) = self.tcp.take() {
            let _ = tcp.shutdown(Shutdown::Both);
        }
        self.frames = None;
    }

    fn transport_lost(&mut self) {
        self.drop_transport();
        let now = self.now();
        let _ = self.model.handle_transport_closed(now);
    }

    /// `Transmit::Connect`: TCP, then the HTTP upgrade; the model judges the response.
    pub fn connect_now(&mut self, url: &Url, protocols: &[String]) {
        let now = self.now();
        let (tcp, leftover, key, response) = match handshake(url, protocols, self.options.connect_timeout) {
            Ok(done) => done,
            Err(why) => {
                let _ = self.model.handle_connect_failed(now, why);
                return;
            }
        };
        let frames = match tcp.try_clone() {
            Ok(clone) => FrameSocket::from_partially_read(clone, leftover),
            Err(e) => {
                let _ = self.model.handle_connect_failed(now, e.to_string());
                return;
            }
        };
        // The model opens the connection or fails it; only an open one keeps the socket.
        if let Ok(Some(_)) = self.model.handle_response(now, &key, &response) {
            self.tcp = Some(tcp);
            self.frames = Some(frames);
        }
    }

    /// Reads at most one frame, waiting at most `wait`.
    fn read_once(&mut self, wait: Duration) {
        let Some(tcp) = self.tcp.as_ref() else {
            std::thread::sleep(wait);
            return;
        };
        let _ = tcp.set_read_timeout(Some(wait));
        let max = self.options.max_message_size;
        let now = self.now();
        let Some(frames) = self.frames.as_mut() else { return };
        match frames.read(Some(max)) {
            Ok(Some(frame)) => self.handle_frame(frame),
            Ok(None) => self.transport_lost(),
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(tungstenite::Error::Io(_)) => self.transport_lost(),
            Err(tungstenite::Error::Capacity(_)) => {
                let _ = self.model.handle_protocol_error(now, FailReason::MessageTooBig);
            }
            Err(e) => {
                let _ = self
                    .model
                    .handle_protocol_error(now, FailReason::Protocol(e.to_string()));
            }
        }
    }

    /// Checks a server frame and feeds what it means to the model.
    pub fn handle_frame(&mut self, frame: Frame) {
        let now = self.now();
        let h = frame.header();
        let protocol_error = |why: &str| FailReason::Protocol(why.to_string());
        let failure = if h.rsv1 || h.rsv2 || h.rsv3 {
            Some(protocol_error("reserved bits set"))
        } else if h.mask.is_some() {
            Some(protocol_error("masked frame from the server"))
        } else if matches!(h.opcode, OpCode::Control(_)) && (!h.is_final || frame.len() > 125 && !is_close(h.opcode)) {
            Some(protocol_error("fragmented or oversized control frame"))
        } else if !h.is_final && is_close(h.opcode) {
            Some(protocol_error("fragmented Close frame"))
        } else {
            None
        };
        if let Some(reason) = failure {
            let _ = self.model.handle_protocol_error(now, reason);
            return;
        }
        let (fin, opcode) = (h.is_final, h.opcode);
        let payload = frame.into_payload().to_vec();
        match opcode {
            OpCode::Control(Control::Close) => {
                let _ = self.model.handle_close_frame(now, &payload);
            }
            OpCode::Control(Control::Ping) => {
                self.write_frame(Frame::pong(payload));
            }
            OpCode::Control(Control::Pong) => {}
            OpCode::Control(Control::Reserved(_)) | OpCode::Data(OpData::Reserved(_)) => {
                let _ = self.model.handle_protocol_error(now, protocol_error("reserved opcode"));
            }
            OpCode::Data(OpData::Text) | OpCode::Data(OpData::Binary) => {
                if self.partial.is_some() {
                    let _ = self
                        .model
                        .handle_protocol_error(now, protocol_error("new message inside a fragmented one"));
                    return;
                }
                self.partial = Some((opcode == OpCode::Data(OpData::Text), payload));
                if fin {
                    self.message_complete();
                }
            }
            OpCode::Data(OpData::Continue) => match self.partial.as_mut() {
                None => {
                    let _ = self
                        .model
                        .handle_protocol_error(now, protocol_error("continuation without a message"));
                }
                Some((_, acc)) => {
                    acc.extend_from_slice(&payload);
                    if acc.len() > self.options.max_message_size {
                        let _ = self.model.handle_protocol_error(now, FailReason::MessageTooBig);
                    } else if fin {
                        self.message_complete();
                    }
                }
            },
        }
    }

    fn message_complete(&mut self) {
        let now = self.now();
        let Some((text, bytes)) = self.partial.take() else {
            return;
        };
        let result = if text {
            match String::from_utf8(bytes) {
                Ok(t) => self.model.handle_message(now, Data::Text(t)),
                Err(_) => self.model.handle_protocol_error(now, FailReason::InvalidUtf8),
            }
        } else {
            self.model.handle_message(now, Data::Binary(bytes))
        };
        let _ = result;
    }
}

fn is_close(op: OpCode) -> bool {
    op == OpCode::Control(Control::Close)
}

/// TCP connect and the opening handshake's request (RFC 6455 §4.1), then
/// the response head read with `httparse`: returns the stream, bytes read
/// past the head, the key sent and the response, for the model to judge.
type Handshaken = (TcpStream, Vec<u8>, String, Response);

/// Most header fields in a response head.
const MAX_HEADERS: usize = 128;
/// Largest response head read.
const MAX_HEAD: usize = 64 * 1024;

fn handshake(url: &Url, protocols: &[String], timeout: Duration) -> Result<Handshaken, String> {
    let host = url.host_str().ok_or("no host")?;
    let port = url.port_or_known_default().ok_or("no port")?;
    if url.scheme() != "ws" {
        return Err("this blocking client speaks ws:// only".into());
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = (bare, port).to_socket_addrs().map_err(|e| e.to_string())?.collect();
    let mut last = String::from("no address");
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let mut tcp = tcp.ok_or(last)?;
    let _ = tcp.set_nodelay(true);
    tcp.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let key = tungstenite::handshake::client::generate_key();
    let offer = Offer {
        key: &key,
        protocols,
        extensions: &[],
    };
    let request = request_head(url, &offer, &[]);
    tcp.write_all(&request).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut headers);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let leftover = buf[len..].to_vec();
                let fields = parsed.headers.iter().map(|h| (h.name, h.value));
                let response = Response::new(parsed.code.unwrap_or_default(), fields, &leftover);
                return Ok((tcp, leftover, key, response));
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => return Err(format!("malformed HTTP response: {e}")),
        }
        if buf.len() > MAX_HEAD {
            return Err("response head over 64 KiB".into());
        }
        let n = tcp.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed during the handshake".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
