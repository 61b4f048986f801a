//! An inbound frame filter between the TCP/TLS stream and tungstenite.
//!
//! tungstenite hides three things the browser API has to decide itself, so
//! every byte the server sends passes through [`Wire`] first:
//!
//! 1. **Close frames belong to the model.** On a Close frame tungstenite
//!    replaces any code it dislikes (1014 among them, which is valid) by 1002
//!    and replies on its own. The filter takes every Close frame out of the
//!    stream and hands its *raw* payload to the driver
//!    ([`WireEvent::Close`]); the model validates it and decides the reply.
//! 2. **permessage-deflate.** Chromium offers it and servers compress, but
//!    tungstenite has no support for it. The client offers
//!    `permessage-deflate; client_max_window_bits`; once the server accepts
//!    ([`WireHandle::set_extensions`]) the filter inflates compressed
//!    messages (RFC 7692) and hands tungstenite plain frames. We never
//!    compress what we send, which RFC 7692 allows.
//! 3. **The end of TCP after a Close frame** must reach the driver at once,
//!    so that it can finish the closing handshake. tungstenite never saw the
//!    Close, so it must not see an unexpected EOF either: after a Close frame
//!    the filter reads and drops everything until EOF, reports
//!    [`WireEvent::Eof`], and keeps tungstenite's reads pending for ever.
//!
//! Writes pass through untouched.
//!
//! # How the read side works
//!
//! - *Handshake phase*: the HTTP response head is passed through as it
//!   arrives, but never a byte past the empty line that ends it (a CRLF or a
//!   bare LF, as `httparse` accepts both); whatever follows stays in the
//!   filter for the frame phase. A head over 64 KiB fails the read with
//!   `InvalidData` (stricter than letting tungstenite decide, and it
//!   guarantees no frame byte can ever bypass the filter).
//! - *Frame phase*: frames are parsed one at a time, and a frame is looked at
//!   only once tungstenite has taken every byte before it, so events are
//!   queued in stream order relative to the messages tungstenite yields.
//!   Plain frames stream through unchanged (header and payload, never
//!   buffered whole). Compressed frames are buffered (at most
//!   `max_frame_size`, or 64 MiB), inflated with a persistent raw-deflate
//!   context, and replaced by unmasked frames with RSV1 cleared.
//! - *Discard phase*: after a Close frame, a [`WireEvent::ProtocolError`] or
//!   [`WireEvent::MessageTooBig`], input is read and dropped until EOF.
//!
//! Choices for frames tungstenite checks anyway: a frame that is masked, has
//! RSV2/RSV3 set, has RSV1 set where permessage-deflate gives it no meaning
//! (control frames, continuation frames, or deflate not negotiated), or uses
//! a reserved opcode is passed through unchanged, and tungstenite fails the
//! connection for it. A 64-bit length with its top bit set (forbidden by
//! RFC 6455) is a [`WireEvent::ProtocolError`], so tungstenite never sees it.
//!
//! An inflated frame longer than `max_frame_size` is handed to tungstenite as
//! several fragments of at most that size (same message, same opcode on the
//! first fragment, FIN on the last only): the limit is about what the server
//! puts on the wire, and tungstenite would otherwise reject the frame.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use async_tungstenite::tungstenite::Bytes;
use flate2::{Decompress, FlushDecompress, Status};
use futures::io::{AsyncRead, AsyncWrite};

/// Largest HTTP response head passed through.
const MAX_HEAD: usize = 64 * 1024;
/// Largest compressed frame buffered when no `max_frame_size` is set.
const DEFAULT_MAX_COMPRESSED_FRAME: usize = 64 << 20;
/// Bytes asked of the inner stream per read.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes inflated per step, so that a bomb is caught early.
const INFLATE_CHUNK: usize = 32 * 1024;
/// Appended to every compressed message before inflating (RFC 7692 §7.2.2).
const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Reads per poll while discarding, before yielding to other tasks.
const MAX_DISCARD_READS: usize = 64;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;

/// Limits on compressed messages (tungstenite checks uncompressed ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WireConfig {
    /// Largest inflated message; beyond it [`WireEvent::MessageTooBig`].
    pub max_message_size: Option<usize>,
    /// Largest compressed frame buffered; beyond it
    /// [`WireEvent::MessageTooBig`] (64 MiB if `None`).
    pub max_frame_size: Option<usize>,
}

/// What the filter saw that tungstenite will not report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WireEvent {
    /// A Close frame arrived; raw application data (code + reason bytes),
    /// unvalidated, at most 125 bytes.
    Close(Vec<u8>),
    /// The server broke framing rules in a frame this filter inspects.
    /// Text for diagnostics.
    ProtocolError(String),
    /// An inflated message exceeded `max_message_size` (or a compressed
    /// frame exceeded `max_frame_size`): the driver fails with 1009.
    MessageTooBig,
    /// The inner stream reached EOF or failed on read (after or without a
    /// Close frame).
    Eof,
}

/// permessage-deflate as the server accepted it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Deflate {
    /// The server starts every message with an empty window.
    server_no_context_takeover: bool,
}

/// State shared by the filter and its handle.
#[derive(Debug, Default)]
struct Shared {
    events: VecDeque<WireEvent>,
    deflate: Option<Deflate>,
}

/// The driver's side of the filter: negotiated extensions in, events out.
#[derive(Debug, Clone, Default)]
pub(crate) struct WireHandle {
    shared: Arc<Mutex<Shared>>,
}

impl WireHandle {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // The lock is never held across code that can panic; a poisoned
        // mutex still holds consistent data.
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Call after the HTTP handshake succeeded, with the server's
    /// `Sec-WebSocket-Extensions` header value (`None` if absent).
    /// Enables inflating when it names permessage-deflate. Returns `Err` if
    /// the value is not one this filter can honour (unknown extensions or
    /// parameters, window bits outside 8..=15, duplicated parameters); the
    /// driver then fails the connection.
    pub(crate) fn set_extensions(&self, header: Option<&str>) -> Result<(), String> {
        let deflate = match header {
            Some(value) => parse_extensions(value)?,
            None => None,
        };
        self.lock().deflate = deflate;
        Ok(())
    }

    /// Takes the next event, if any (events are queued in order).
    pub(crate) fn poll_event(&self) -> Option<WireEvent> {
        self.lock().events.pop_front()
    }

    fn push_event(&self, event: WireEvent) {
        self.lock().events.push_back(event);
    }

    fn deflate(&self) -> Option<Deflate> {
        self.lock().deflate
    }
}

/// Parses a `Sec-WebSocket-Extensions` response value. `Ok(None)`: no
/// extension in use.
fn parse_extensions(value: &str) -> Result<Option<Deflate>, String> {
    let mut deflate = None;
    for extension in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = extension.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        if !name.eq_ignore_ascii_case("permessage-deflate") {
            return Err(format!("the server accepted extension {name:?}, which was not offered"));
        }
        if deflate.is_some() {
            return Err("the server accepted permessage-deflate twice".to_string());
        }
        deflate = Some(parse_deflate_params(parts)?);
    }
    Ok(deflate)
}

/// Parses the parameters of an accepted permessage-deflate (RFC 7692 §7.1).
fn parse_deflate_params<'a>(params: impl Iterator<Item = &'a str>) -> Result<Deflate, String> {
    let mut deflate = Deflate::default();
    let mut seen: Vec<String> = Vec::new();
    for param in params {
        let (key, value) = match param.split_once('=') {
            Some((key, value)) => (key.trim(), Some(unquote(value.trim()))),
            None => (param, None),
        };
        let key = key.to_ascii_lowercase();
        if seen.contains(&key) {
            return Err(format!("permessage-deflate parameter {key} appears twice"));
        }
        match (key.as_str(), value) {
            ("server_no_context_takeover", None) => deflate.server_no_context_takeover = true,
            // We never compress, so how the client compresses is moot.
            ("client_no_context_takeover", None) => {}
            ("server_max_window_bits" | "client_max_window_bits", Some(bits)) => {
                if !is_window_bits(bits) {
                    return Err(format!("permessage-deflate {key}={bits} is not a number in 8..=15"));
                }
            }
            _ => return Err(format!("unusable permessage-deflate parameter {param:?}")),
        }
        seen.push(key);
    }
    Ok(deflate)
}

/// A quoted-string value without its quotes (RFC 7692 §7.1 allows both).
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// 8..=15 written without sign or leading zeros.
fn is_window_bits(value: &str) -> bool {
    !value.starts_with('0') && value.bytes().all(|b| b.is_ascii_digit()) && matches!(value.parse::<u8>(), Ok(8..=15))
}

/// Where the read side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Passing the HTTP response head through.
    Handshake,
    /// The head went over [`MAX_HEAD`]: every read fails.
    HeadTooLong,
    /// Parsing frames.
    Frames,
    /// After a Close frame or an error: dropping input until EOF.
    Discard,
    /// EOF after `Discard`: tungstenite's reads stay pending for ever.
    Done,
    /// EOF (or a read error) without a Close frame, already handed to
    /// tungstenite: later reads return EOF.
    Ended,
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    fin: bool,
    rsv1: bool,
    /// RSV2 or RSV3.
    rsv23: bool,
    opcode: u8,
    masked: bool,
    /// Payload length as sent (may be anything up to `u64::MAX`).
    len: u64,
    /// Bytes the header takes, masking key included (2 to 14).
    size: usize,
}

/// Parses the frame header at the start of `bytes`; `None` if incomplete.
fn parse_header(bytes: &[u8]) -> Option<Header> {
    let (&first, &second) = (bytes.first()?, bytes.get(1)?);
    let (len, len_size) = match second & 0x7f {
        126 => (u64::from(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?)), 2),
        127 => (u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?), 8),
        short => (u64::from(short), 0),
    };
    let masked = second & 0x80 != 0;
    let size = 2 + len_size + if masked { 4 } else { 0 };
    if bytes.len() < size {
        return None;
    }
    Some(Header {
        fin: first & 0x80 != 0,
        rsv1: first & 0x40 != 0,
        rsv23: first & 0x30 != 0,
        opcode: first & 0x0f,
        masked,
        len,
        size,
    })
}

/// Encodes an unmasked header without reserved bits, in the shortest
/// length form.
fn encode_header(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
    let mut header = Vec::with_capacity(10);
    header.push(if fin { 0x80 } else { 0 } | (opcode & 0x0f));
    match len {
        0..=125 => header.push(len as u8),
        126..=0xffff => {
            header.push(126);
            header.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            header.push(127);
            header.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    header
}

/// Queues `payload` as frames for tungstenite: one frame, or fragments of at
/// most `max_frame` bytes that make up the same message.
fn push_frames(out: &mut VecDeque<Bytes>, fin: bool, opcode: u8, payload: Vec<u8>, max_frame: Option<usize>) {
    let piece = max_frame.unwrap_or(usize::MAX).max(1);
    let mut rest = Bytes::from(payload);
    let mut first = true;
    loop {
        let chunk = rest.split_to(rest.len().min(piece));
        let last = rest.is_empty();
        let op = if first { opcode } else { OP_CONTINUATION };
        out.push_back(Bytes::from(encode_header(fin && last, op, chunk.len())));
        if !chunk.is_empty() {
            out.push_back(chunk);
        }
        if last {
            return;
        }
        first = false;
    }
}

/// What is wrong with a Close frame's header, if anything.
fn close_frame_violation(h: &Header) -> Option<&'static str> {
    if !h.fin {
        Some("fragmented close frame")
    } else if h.masked {
        Some("masked close frame")
    } else if h.rsv1 || h.rsv23 {
        Some("close frame with reserved bits set")
    } else if h.len > 125 {
        Some("close frame payload over 125 bytes")
    } else {
        None
    }
}

/// Why inflating stopped.
#[derive(Debug, PartialEq, Eq)]
enum InflateError {
    /// The output would exceed the budget.
    TooBig,
    /// Not valid deflate data.
    Corrupt(String),
}

/// A raw-deflate decompressor that keeps its window across messages.
struct Inflater {
    decompress: Decompress,
    scratch: Box<[u8]>,
    /// A block with BFINAL ended the deflate stream and the decompressor was
    /// reset since; no input was fed after it.
    at_stream_end: bool,
}

impl Inflater {
    fn new() -> Self {
        Inflater {
            decompress: Decompress::new(false),
            scratch: vec![0; INFLATE_CHUNK].into_boxed_slice(),
            at_stream_end: false,
        }
    }

    /// Inflates `input`, appending to `out`, which never grows past `budget`
    /// bytes (its capacity neither).
    fn inflate(&mut self, mut input: &[u8], budget: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
        loop {
            let (in_before, out_before) = (self.decompress.total_in(), self.decompress.total_out());
            let status = self
                .decompress
                .decompress(input, &mut self.scratch, FlushDecompress::Sync)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            let used = (self.decompress.total_in() - in_before) as usize;
            let produced = (self.decompress.total_out() - out_before) as usize;
            input = &input[used..];
            append_bounded(out, &self.scratch[..produced], budget)?;
            if status == Status::StreamEnd {
                // BFINAL (RFC 7692 §7.2.3.3): whatever follows is a new stream.
                self.decompress.reset(false);
                self.at_stream_end = true;
                if input.is_empty() {
                    return Ok(());
                }
                continue;
            }
            if used > 0 || produced > 0 {
                self.at_stream_end = false;
            }
            if produced == self.scratch.len() {
                continue; // more output may be waiting
            }
            if input.is_empty() {
                return Ok(());
            }
            if used == 0 && produced == 0 {
                return Err(InflateError::Corrupt("the inflater made no progress".to_string()));
            }
        }
    }

    /// Ends a message: feeds the 0x00 0x00 0xff 0xff tail (not after a
    /// BFINAL block, which already ended the stream).
    fn finish_message(&mut self, budget: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
        if self.at_stream_end {
            return Ok(());
        }
        self.inflate(&DEFLATE_TAIL, budget, out)
    }

    /// Forgets the window (`server_no_context_takeover`).
    fn reset(&mut self) {
        self.decompress.reset(false);
        self.at_stream_end = false;
    }
}

/// Appends `bytes` to `out` if the result stays within `budget`; grows the
/// capacity by doubling but never past `budget`.
fn append_bounded(out: &mut Vec<u8>, bytes: &[u8], budget: usize) -> Result<(), InflateError> {
    let needed = out.len().checked_add(bytes.len()).ok_or(InflateError::TooBig)?;
    if needed > budget {
        return Err(InflateError::TooBig);
    }
    if needed > out.capacity() {
        let target = out.capacity().saturating_mul(2).clamp(needed, budget.max(needed));
        out.reserve_exact(target - out.len());
    }
    out.extend_from_slice(bytes);
    Ok(())
}

/// What to do with a frame that is not a Close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Hand the frame to tungstenite as it is.
    Pass,
    /// Inflate the frame's payload.
    Inflate,
}

/// Bytes read from the inner stream and not yet processed.
#[derive(Debug, Default)]
struct Input {
    buf: Vec<u8>,
    start: usize,
}

impl Input {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
        if self.start == self.buf.len() {
            self.clear();
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
    }

    /// Makes room for `total` unprocessed bytes in one allocation.
    fn reserve_total(&mut self, total: usize) {
        self.compact();
        self.buf.reserve(total.saturating_sub(self.buf.len()));
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Reads up to [`READ_CHUNK`] more bytes from `inner`.
    fn poll_fill<R: AsyncRead + Unpin>(&mut self, inner: &mut R, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        self.compact();
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let result = Pin::new(inner).poll_read(cx, &mut self.buf[old..]);
        let n = match result {
            Poll::Ready(Ok(n)) => n.min(READ_CHUNK),
            _ => 0,
        };
        self.buf.truncate(old + n);
        result.map_ok(|_| n)
    }
}

/// Finds the empty line ending an HTTP response head, ended by CRLF or a
/// bare LF; empty lines before the status line do not count (as in
/// `httparse`).
#[derive(Debug, Default)]
struct HeadScanner {
    /// The current line has a byte other than CR.
    line_has_text: bool,
    /// Some line had text.
    any_text: bool,
    /// Head bytes seen so far.
    seen: usize,
}

impl HeadScanner {
    /// How many of `bytes` belong to the head, and whether the head ends
    /// with them.
    fn scan(&mut self, bytes: &[u8]) -> (usize, bool) {
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'\n' if self.any_text && !self.line_has_text => {
                    self.seen += i + 1;
                    return (i + 1, true);
                }
                b'\n' => self.line_has_text = false,
                b'\r' => {}
                _ => {
                    self.line_has_text = true;
                    self.any_text = true;
                }
            }
        }
        self.seen += bytes.len();
        (bytes.len(), false)
    }
}

/// The filter: wraps the connection under tungstenite (see the module docs).
pub(crate) struct Wire<S> {
    inner: S,
    handle: WireHandle,
    config: WireConfig,
    phase: Phase,
    head: HeadScanner,
    input: Input,
    /// Synthesized frames for tungstenite, before anything else.
    output: VecDeque<Bytes>,
    /// Bytes of the current passed-through frame (header included) still to
    /// hand over.
    passing: u64,
    /// A fragmented message is in progress: `Some(compressed)`.
    message: Option<bool>,
    /// Bytes inflated so far in the current compressed message.
    inflated: usize,
    /// Created at the first compressed frame.
    inflater: Option<Inflater>,
    eof_queued: bool,
    /// An event was queued during the current `poll_read`.
    event_queued: bool,
}

impl<S> Wire<S> {
    /// Wraps `inner`; the handle goes to the driver.
    pub(crate) fn new(inner: S, cfg: WireConfig) -> (Self, WireHandle) {
        let handle = WireHandle::default();
        let wire = Wire {
            inner,
            handle: handle.clone(),
            config: cfg,
            phase: Phase::Handshake,
            head: HeadScanner::default(),
            input: Input::default(),
            output: VecDeque::new(),
            passing: 0,
            message: None,
            inflated: 0,
            inflater: None,
            eof_queued: false,
            event_queued: false,
        };
        (wire, handle)
    }

    fn push_event(&mut self, event: WireEvent) {
        self.handle.push_event(event);
        self.event_queued = true;
    }

    fn push_eof(&mut self) {
        if !self.eof_queued {
            self.eof_queued = true;
            self.push_event(WireEvent::Eof);
        }
    }

    /// Queues `event` and drops all further input (Close frame or error).
    fn stop(&mut self, event: WireEvent) {
        self.push_event(event);
        self.phase = Phase::Discard;
        self.input.clear();
        self.passing = 0;
    }

    /// Copies queued output into `buf`; `None` if there is none.
    fn take_output(&mut self, buf: &mut [u8]) -> Option<usize> {
        let front = self.output.front_mut()?;
        let n = front.len().min(buf.len());
        buf[..n].copy_from_slice(&front.split_to(n));
        if front.is_empty() {
            self.output.pop_front();
        }
        Some(n)
    }

    /// Hands over head bytes from `input`, never past the head's end.
    fn pass_head(&mut self, buf: &mut [u8]) -> usize {
        let available = self.input.len().min(buf.len());
        let (n, ended) = self.head.scan(&self.input.data()[..available]);
        buf[..n].copy_from_slice(&self.input.data()[..n]);
        self.input.consume(n);
        if ended {
            self.phase = Phase::Frames;
        } else if self.head.seen > MAX_HEAD {
            self.phase = Phase::HeadTooLong;
        }
        n
    }

    /// Hands over bytes of a passed-through frame from `input`.
    fn pass_frame_bytes(&mut self, buf: &mut [u8]) -> usize {
        let n = (self.input.len().min(buf.len()) as u64).min(self.passing) as usize;
        buf[..n].copy_from_slice(&self.input.data()[..n]);
        self.input.consume(n);
        self.passing -= n as u64;
        n
    }

    /// Looks at the frame starting `input`; `false` if more input is needed.
    fn next_frame(&mut self) -> bool {
        let Some(h) = parse_header(self.input.data()) else {
            return false;
        };
        if h.len >> 63 != 0 {
            self.stop(WireEvent::ProtocolError(
                "frame length has its most significant bit set".to_string(),
            ));
            return true;
        }
        if h.opcode == OP_CLOSE {
            return self.close_frame(&h);
        }
        let deflate = self.handle.deflate();
        match self.route(&h, deflate.is_some()) {
            Route::Pass => {
                self.passing = h.size as u64 + h.len;
                true
            }
            Route::Inflate => self.compressed_frame(&h, deflate.unwrap_or_default()),
        }
    }

    /// Decides what to do with a non-Close frame and tracks fragmented
    /// messages.
    fn route(&mut self, h: &Header, deflate: bool) -> Route {
        let well_formed = !h.masked && !h.rsv23;
        let route = match h.opcode {
            OP_TEXT | OP_BINARY if well_formed && deflate && h.rsv1 => Route::Inflate,
            OP_CONTINUATION if well_formed && !h.rsv1 && self.message == Some(true) => Route::Inflate,
            _ => Route::Pass,
        };
        match h.opcode {
            OP_TEXT | OP_BINARY => self.message = (!h.fin).then_some(route == Route::Inflate),
            OP_CONTINUATION if h.fin => self.message = None,
            _ => {}
        }
        route
    }

    /// Takes a Close frame out of the stream; `false` if more input is
    /// needed.
    fn close_frame(&mut self, h: &Header) -> bool {
        if let Some(why) = close_frame_violation(h) {
            self.stop(WireEvent::ProtocolError(why.to_string()));
            return true;
        }
        // len <= 125 here.
        let total = h.size + h.len as usize;
        let Some(frame) = self.input.data().get(..total) else {
            return false;
        };
        let payload = frame[h.size..].to_vec();
        self.stop(WireEvent::Close(payload));
        true
    }

    /// Inflates a whole compressed frame into plain frames for tungstenite;
    /// `false` if more input is needed.
    fn compressed_frame(&mut self, h: &Header, deflate: Deflate) -> bool {
        let limit = self.config.max_frame_size.unwrap_or(DEFAULT_MAX_COMPRESSED_FRAME);
        let total = usize::try_from(h.len)
            .ok()
            .filter(|&len| len <= limit)
            .and_then(|len| len.checked_add(h.size));
        let Some(total) = total else {
            self.stop(WireEvent::MessageTooBig);
            return true;
        };
        if self.input.len() < total {
            self.input.reserve_total(total);
            return false;
        }
        let budget = self
            .config
            .max_message_size
            .map_or(usize::MAX, |max| max.saturating_sub(self.inflated));
        let inflater = self.inflater.get_or_insert_with(Inflater::new);
        let mut plain = Vec::new();
        let mut result = inflater.inflate(&self.input.data()[h.size..total], budget, &mut plain);
        if result.is_ok() && h.fin {
            result = inflater.finish_message(budget, &mut plain);
        }
        self.input.consume(total);
        match result {
            Ok(()) => {}
            Err(InflateError::TooBig) => {
                self.stop(WireEvent::MessageTooBig);
                return true;
            }
            Err(InflateError::Corrupt(why)) => {
                self.stop(WireEvent::ProtocolError(format!("invalid permessage-deflate data: {why}")));
                return true;
            }
        }
        self.inflated += plain.len();
        if h.fin {
            self.inflated = 0;
            if deflate.server_no_context_takeover {
                inflater.reset();
            }
        }
        push_frames(&mut self.output, h.fin, h.opcode, plain, self.config.max_frame_size);
        true
    }
}

impl<S: AsyncRead + Unpin> Wire<S> {
    /// Reads more input in the handshake or frame phase. `Some(result)`:
    /// the stream ended and `result` goes to tungstenite.
    fn poll_more(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<usize>>> {
        match ready!(self.input.poll_fill(&mut self.inner, cx)) {
            Ok(0) => {
                self.push_eof();
                self.phase = Phase::Ended;
                Poll::Ready(Some(Ok(0)))
            }
            Ok(_) => Poll::Ready(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Poll::Ready(None),
            Err(e) => {
                self.push_eof();
                self.phase = Phase::Ended;
                Poll::Ready(Some(Err(e)))
            }
        }
    }

    /// Reads and drops input until EOF or a read error.
    fn poll_discard(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..MAX_DISCARD_READS {
            self.input.clear();
            match ready!(self.input.poll_fill(&mut self.inner, cx)) {
                Ok(0) => return Poll::Ready(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Poll::Ready(()),
            }
        }
        self.input.clear();
        // A server flooding us: let other tasks run, then come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn poll_filtered(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            if let Some(n) = self.take_output(buf) {
                return Poll::Ready(Ok(n));
            }
            match self.phase {
                Phase::Handshake => {
                    if !self.input.is_empty() {
                        return Poll::Ready(Ok(self.pass_head(buf)));
                    }
                    if let Some(result) = ready!(self.poll_more(cx)) {
                        return Poll::Ready(result);
                    }
                }
                Phase::Frames => {
                    if self.passing > 0 {
                        if !self.input.is_empty() {
                            return Poll::Ready(Ok(self.pass_frame_bytes(buf)));
                        }
                    } else if self.next_frame() {
                        continue;
                    }
                    if let Some(result) = ready!(self.poll_more(cx)) {
                        return Poll::Ready(result);
                    }
                }
                Phase::HeadTooLong => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the HTTP response head is over {MAX_HEAD} bytes"),
                    )));
                }
                Phase::Discard => {
                    ready!(self.poll_discard(cx));
                    self.push_eof();
                    self.phase = Phase::Done;
                }
                Phase::Done => return Poll::Pending,
                Phase::Ended => return Poll::Ready(Ok(0)),
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Wire<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let result = this.poll_filtered(cx, buf);
        // The driver polls tungstenite, then the events: if tungstenite
        // gets Pending, the task must run again to see what was queued.
        if std::mem::take(&mut this.event_queued) && result.is_pending() {
            cx.waker().wake_by_ref();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Wire<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
