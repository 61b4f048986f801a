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
//!    `permessage-deflate; client_max_window_bits`; once the model accepted
//!    the server's answer ([`WireHandle::set_deflate`]) the filter inflates compressed
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
//!
//! # No allocation on a header's word
//!
//! tungstenite reserves a frame's whole announced length as soon as it has
//! read the header, so a 10-byte header announcing 1 TiB would abort the
//! process. tungstenite is therefore always given a frame limit of at most
//! [`MAX_PASSED_FRAME`] ([`WireConfig::passed_frame_limit`]), and the filter
//! decides about longer frames before tungstenite sees their header: a data
//! frame longer than `max_frame_size` or `max_message_size` is a
//! [`WireEvent::MessageTooBig`] (1009), a control frame over 125 bytes a
//! [`WireEvent::ProtocolError`], and a well-formed data frame the user's
//! limits allow (both `None`, say) is handed over as fragments of at most
//! [`MAX_PASSED_FRAME`] bytes, each header synthesized when its payload
//! starts, so memory grows with the bytes that actually arrive.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use async_tungstenite::tungstenite::Bytes;
use flate2::{Decompress, FlushDecompress, Status};
use futures::io::{AsyncRead, AsyncWrite};
use wsapi_model::handshake::DeflateParams;

/// Largest HTTP response head passed through.
const MAX_HEAD: usize = 64 * 1024;
/// Largest compressed frame buffered when no `max_frame_size` is set.
const DEFAULT_MAX_COMPRESSED_FRAME: usize = 64 << 20;
/// The longest frame tungstenite is ever handed (its own default limit):
/// longer plain frames are split into fragments of this size.
pub(crate) const MAX_PASSED_FRAME: usize = 16 << 20;
/// Bytes asked of the inner stream per read.
pub(crate) const READ_CHUNK: usize = 16 * 1024;
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

impl WireConfig {
    /// The frame limit to give tungstenite: never more than
    /// [`MAX_PASSED_FRAME`], whatever the user chose (see the module docs).
    pub(crate) fn passed_frame_limit(&self) -> usize {
        self.max_frame_size
            .map_or(MAX_PASSED_FRAME, |max| max.min(MAX_PASSED_FRAME))
    }

    /// Why a frame routed to tungstenite must not reach it, if it must not:
    /// a control frame over 125 bytes, or a data frame longer than the
    /// frame or the message limit. Decided on the header alone.
    fn refuse_passed_frame(&self, h: &Header) -> Option<WireEvent> {
        if h.opcode & 0x8 != 0 {
            return (h.len > 125).then(|| WireEvent::ProtocolError("control frame payload over 125 bytes".to_string()));
        }
        let limit = match (self.max_frame_size, self.max_message_size) {
            (Some(frame), Some(message)) => frame.min(message),
            (Some(max), None) | (None, Some(max)) => max,
            (None, None) => return None,
        };
        (h.len > limit as u64).then_some(WireEvent::MessageTooBig)
    }
}

/// A plain frame longer than [`MAX_PASSED_FRAME`], handed to tungstenite as
/// fragments: its header was consumed, and each fragment's header is
/// synthesized when the previous fragment's payload has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Split {
    /// Payload bytes not yet announced by a fragment header.
    left: u64,
    /// Opcode of the next fragment (the frame's own, then continuation).
    opcode: u8,
    /// The frame's FIN bit, carried by the last fragment.
    fin: bool,
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

    /// Call after the model accepted the opening handshake, with the
    /// permessage-deflate parameters it accepted (`None`: not in use).
    /// Enables inflating. The model checked the parameters (unknown,
    /// repeated or out-of-range ones failed the connection): the filter
    /// only keeps what changes how it inflates.
    pub(crate) fn set_deflate(&self, params: Option<DeflateParams>) {
        self.lock().deflate = params.map(|p| Deflate {
            server_no_context_takeover: p.server_no_context_takeover,
        });
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
fn push_frames(out: &mut VecDeque<Bytes>, fin: bool, opcode: u8, payload: Vec<u8>, max_frame: usize) {
    let piece = max_frame.max(1);
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
            let used = ((self.decompress.total_in() - in_before) as usize).min(input.len());
            let produced = ((self.decompress.total_out() - out_before) as usize).min(self.scratch.len());
            input = &input[used..];
            append_bounded(out, &self.scratch[..produced], budget)?;
            if status == Status::StreamEnd {
                // A block with BFINAL ended the deflate stream (RFC 7692 lets
                // a sender do so): whatever follows starts a new one.
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
            self.release();
        }
    }

    /// Empties the buffer and frees it: an idle connection holds no read
    /// buffer here (tungstenite has its own), which is most of what an
    /// idle connection costs beyond a raw one.
    fn release(&mut self) {
        self.buf = Vec::new();
        self.start = 0;
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
        if self.buf.is_empty() {
            self.release();
        }
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
    /// The frame being passed through is split into fragments.
    split: Option<Split>,
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
            split: None,
            message: None,
            inflated: 0,
            inflater: None,
            eof_queued: false,
            event_queued: false,
        };
        (wire, handle)
    }

    /// Bytes read from the stream and not handed over yet (after a
    /// rejected handshake: the start of the response's body).
    pub(crate) fn buffered_input(&self) -> &[u8] {
        self.input.data()
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
        self.split = None;
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

    /// Hands over the rest of the current passed-through frame, then every
    /// following frame that is passed through unchanged, as far as `buf` and
    /// `input` go: small messages then cost tungstenite one read per batch,
    /// not one per frame. Stops before any frame that needs a look of its
    /// own (Close, compressed, malformed), so that its event still comes
    /// after tungstenite took every byte before it.
    fn pass_plain_frames(&mut self, buf: &mut [u8]) -> usize {
        let mut n = self.pass_frame_bytes(buf);
        let mut deflate = None;
        while self.passing == 0 && self.split.is_none() && n < buf.len() && !self.input.is_empty() {
            let Some(h) = parse_header(self.input.data()) else {
                break;
            };
            let deflate = *deflate.get_or_insert_with(|| self.handle.deflate().is_some());
            if !self.is_plain(&h, deflate) {
                break;
            }
            self.start_passing(&h);
            n += self.pass_frame_bytes(&mut buf[n..]);
        }
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
                if let Some(event) = self.config.refuse_passed_frame(&h) {
                    self.stop(event);
                } else {
                    self.start_passing(&h);
                }
                true
            }
            Route::Inflate => self.compressed_frame(&h, deflate.unwrap_or_default()),
        }
    }

    /// Whether a frame goes to tungstenite unchanged, with no event of its
    /// own: what [`Self::next_frame`] would pass through.
    /// Frames to refuse or to split are not plain: they need a look of
    /// their own.
    fn is_plain(&self, h: &Header, deflate: bool) -> bool {
        h.len >> 63 == 0
            && h.len <= MAX_PASSED_FRAME as u64
            && h.opcode != OP_CLOSE
            && self.route(h, deflate) == Route::Pass
            && self.config.refuse_passed_frame(h).is_none()
    }

    /// Starts handing the frame `h` (header included) to tungstenite; a
    /// well-formed data frame longer than [`MAX_PASSED_FRAME`] as fragments.
    /// (A malformed one passes whole: tungstenite refuses it on its header,
    /// over its frame limit, before allocating.)
    fn start_passing(&mut self, h: &Header) {
        self.track_message(h, Route::Pass);
        let well_formed_data = !h.masked && !h.rsv1 && !h.rsv23 && h.opcode <= OP_BINARY;
        if h.len > MAX_PASSED_FRAME as u64 && well_formed_data {
            self.input.consume(h.size);
            self.split = Some(Split {
                left: h.len,
                opcode: h.opcode,
                fin: h.fin,
            });
            self.next_fragment();
        } else {
            self.passing = h.size as u64 + h.len;
        }
    }

    /// Queues the next fragment header of a split frame and starts passing
    /// its payload.
    fn next_fragment(&mut self) {
        let Some(split) = self.split.as_mut() else {
            return;
        };
        let len = split.left.min(MAX_PASSED_FRAME as u64);
        split.left -= len;
        let last = split.left == 0;
        self.output.push_back(Bytes::from(encode_header(
            split.fin && last,
            split.opcode,
            len as usize,
        )));
        split.opcode = OP_CONTINUATION;
        if last {
            self.split = None;
        }
        self.passing = len;
    }

    /// Decides what to do with a frame that is not a Close frame.
    fn route(&self, h: &Header, deflate: bool) -> Route {
        let well_formed = !h.masked && !h.rsv23;
        match h.opcode {
            OP_TEXT | OP_BINARY if well_formed && deflate && h.rsv1 => Route::Inflate,
            OP_CONTINUATION if well_formed && !h.rsv1 && self.message == Some(true) => Route::Inflate,
            _ => Route::Pass,
        }
    }

    /// Tracks fragmented messages, once a frame is taken (a frame's header
    /// may be parsed several times while its payload arrives).
    fn track_message(&mut self, h: &Header, route: Route) {
        match h.opcode {
            OP_TEXT | OP_BINARY => self.message = (!h.fin).then_some(route == Route::Inflate),
            OP_CONTINUATION if h.fin => self.message = None,
            _ => {}
        }
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
        self.track_message(h, Route::Inflate);
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
                self.stop(WireEvent::ProtocolError(format!(
                    "invalid permessage-deflate data: {why}"
                )));
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
        push_frames(
            &mut self.output,
            h.fin,
            h.opcode,
            plain,
            self.config.passed_frame_limit(),
        );
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
                            return Poll::Ready(Ok(self.pass_plain_frames(buf)));
                        }
                    } else if self.split.is_some() {
                        self.next_fragment();
                        continue;
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

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};
    use futures::task::{noop_waker, waker, ArcWake};
    use futures::{AsyncReadExt, AsyncWriteExt};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Waker;

    const HEAD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

    /// What the scripted stream does once its chunks are used up.
    #[derive(Clone, Copy)]
    enum End {
        Eof,
        Pending,
        Fail,
    }

    /// An inner stream yielding scripted chunks (each read returns at most
    /// one chunk), recording what is written.
    struct Script {
        chunks: VecDeque<Vec<u8>>,
        end: End,
        written: Vec<u8>,
        flushed: bool,
        closed: bool,
    }

    impl Script {
        fn new(chunks: Vec<Vec<u8>>, end: End) -> Self {
            Script {
                chunks: chunks.into_iter().filter(|c| !c.is_empty()).collect(),
                end,
                written: Vec::new(),
                flushed: false,
                closed: false,
            }
        }
    }

    impl AsyncRead for Script {
        fn poll_read(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let Some(chunk) = this.chunks.front_mut() else {
                return match this.end {
                    End::Eof => Poll::Ready(Ok(0)),
                    End::Pending => Poll::Pending,
                    End::Fail => Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"))),
                };
            };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            chunk.drain(..n);
            if chunk.is_empty() {
                this.chunks.pop_front();
            }
            Poll::Ready(Ok(n))
        }
    }

    impl AsyncWrite for Script {
        fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.get_mut().written.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().flushed = true;
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().closed = true;
            Poll::Ready(Ok(()))
        }
    }

    /// How a run of reads stopped.
    #[derive(Debug, PartialEq, Eq)]
    enum Stop {
        Pending,
        Eof,
        Error(io::ErrorKind),
    }

    /// Reads until Pending, EOF or an error; returns every read's bytes.
    fn reads(wire: &mut Wire<Script>, waker: &Waker, buf_size: usize) -> (Vec<Vec<u8>>, Stop) {
        let mut cx = Context::from_waker(waker);
        let mut buf = vec![0; buf_size];
        let mut out = Vec::new();
        loop {
            match Pin::new(&mut *wire).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(0)) => return (out, Stop::Eof),
                Poll::Ready(Ok(n)) => out.push(buf[..n].to_vec()),
                Poll::Ready(Err(e)) => return (out, Stop::Error(e.kind())),
                Poll::Pending => return (out, Stop::Pending),
            }
        }
    }

    /// Reads as an executor would: until EOF, an error, or Pending without
    /// a wake-up.
    fn read_all(wire: &mut Wire<Script>, buf_size: usize) -> (Vec<u8>, Stop) {
        let (count, waker) = counting_waker();
        let mut all = Vec::new();
        loop {
            let woken = count.0.load(Ordering::SeqCst);
            let (chunks, stop) = reads(wire, &waker, buf_size);
            all.extend(chunks.concat());
            if stop != Stop::Pending || count.0.load(Ordering::SeqCst) == woken {
                return (all, stop);
            }
        }
    }

    fn events(handle: &WireHandle) -> Vec<WireEvent> {
        std::iter::from_fn(|| handle.poll_event()).collect()
    }

    fn wire(chunks: Vec<Vec<u8>>, end: End) -> (Wire<Script>, WireHandle) {
        Wire::new(Script::new(chunks, end), WireConfig::default())
    }

    fn deflate_wire(chunks: Vec<Vec<u8>>, end: End, config: WireConfig, ext: &str) -> (Wire<Script>, WireHandle) {
        let (wire, handle) = Wire::new(Script::new(chunks, end), config);
        // The model parsed `ext` (its tests cover the parsing); the filter
        // uses one parameter.
        handle.set_deflate(Some(DeflateParams {
            server_no_context_takeover: ext.contains("server_no_context_takeover"),
            ..DeflateParams::default()
        }));
        (wire, handle)
    }

    fn one_byte_chunks(bytes: &[u8]) -> Vec<Vec<u8>> {
        bytes.iter().map(|&b| vec![b]).collect()
    }

    /// An unmasked frame with first byte `b0` (FIN, RSV bits, opcode).
    fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![b0];
        match payload.len() {
            n @ 0..=125 => f.push(n as u8),
            n @ 126..=0xffff => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    /// Splits a stream of unmasked frames into (first byte, payload).
    fn parse_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let h = parse_header(bytes).expect("a complete header");
            assert!(!h.masked);
            let end = h.size + h.len as usize;
            frames.push((bytes[0], bytes[h.size..end].to_vec()));
            bytes = &bytes[end..];
        }
        frames
    }

    /// Compresses one message as a permessage-deflate sender does: sync
    /// flush, trailing 00 00 ff ff removed.
    fn deflate(c: &mut Compress, data: &[u8]) -> Vec<u8> {
        let start = c.total_in();
        let mut out = Vec::with_capacity(data.len().min(1 << 16) + 1024);
        loop {
            let consumed = (c.total_in() - start) as usize;
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity());
            }
            c.compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
                .unwrap();
            if (c.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
                break;
            }
        }
        assert!(out.ends_with(&DEFLATE_TAIL));
        out.truncate(out.len() - 4);
        out
    }

    fn compressor() -> Compress {
        Compress::new(Compression::default(), false)
    }

    struct CountingWaker(AtomicUsize);

    impl ArcWake for CountingWaker {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting_waker() -> (Arc<CountingWaker>, Waker) {
        let count = Arc::new(CountingWaker(AtomicUsize::new(0)));
        (count.clone(), waker(count))
    }

    fn sample_frames() -> Vec<u8> {
        let mut frames = frame(0x81, b"hello");
        frames.extend(frame(0x82, &[7u8; 200]));
        frames.extend(frame(0x89, b"ping"));
        frames.extend(frame(0x01, b"frag"));
        frames.extend(frame(0x80, b"ment"));
        frames
    }

    // ---- handshake phase -------------------------------------------------

    /// No read may hand over both head bytes and frame bytes.
    fn assert_head_boundary_kept(reads: &[Vec<u8>], head_len: usize) {
        let mut at = 0;
        for r in reads {
            assert!(
                at >= head_len || at + r.len() <= head_len,
                "a read crossed the end of the head"
            );
            at += r.len();
        }
    }

    #[test]
    fn head_and_frames_pass_through_split_at_every_byte() {
        let mut stream = HEAD.to_vec();
        stream.extend(sample_frames());
        for split in 0..=stream.len() {
            for buf_size in [1, 7, 4096] {
                let chunks = vec![stream[..split].to_vec(), stream[split..].to_vec()];
                let (mut wire, handle) = wire(chunks, End::Eof);
                let (got, stop) = reads(&mut wire, &noop_waker(), buf_size);
                assert_head_boundary_kept(&got, HEAD.len());
                assert_eq!(got.concat(), stream, "split at {split}, buffer {buf_size}");
                assert_eq!(stop, Stop::Eof);
                assert_eq!(events(&handle), vec![WireEvent::Eof]);
            }
        }
    }

    #[test]
    fn head_and_frames_pass_through_in_one_byte_chunks() {
        let mut stream = HEAD.to_vec();
        stream.extend(sample_frames());
        let (mut wire, handle) = wire(one_byte_chunks(&stream), End::Eof);
        let (got, stop) = reads(&mut wire, &noop_waker(), 4096);
        assert_head_boundary_kept(&got, HEAD.len());
        assert_eq!((got.concat(), stop), (stream, Stop::Eof));
        assert_eq!(events(&handle), vec![WireEvent::Eof]);
    }

    #[test]
    fn first_read_stops_at_the_end_of_the_head() {
        let bare_lf: &[u8] = b"HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n";
        let leading_crlf: &[u8] = b"\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        for head in [HEAD, bare_lf, leading_crlf] {
            let mut stream = head.to_vec();
            stream.extend(frame(0x81, b"x"));
            let (mut wire, _) = wire(vec![stream], End::Pending);
            let (got, stop) = reads(&mut wire, &noop_waker(), 4096);
            assert_eq!(got, vec![head.to_vec(), frame(0x81, b"x")]);
            assert_eq!(stop, Stop::Pending);
        }
    }

    #[test]
    fn head_over_64_kib_fails_the_read() {
        let mut head = b"HTTP/1.1 101 Switching Protocols\r\nX-Long: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        let (mut wire, _) = wire(vec![head], End::Pending);
        let (got, stop) = read_all(&mut wire, 4096);
        assert!(got.len() <= MAX_HEAD + 4096);
        assert_eq!(stop, Stop::Error(io::ErrorKind::InvalidData));
        assert_eq!(read_all(&mut wire, 4096).1, Stop::Error(io::ErrorKind::InvalidData));
    }

    // ---- plain frames ----------------------------------------------------

    #[test]
    fn large_frames_stream_through_unchanged() {
        let mut stream = HEAD.to_vec();
        let big: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        stream.extend(frame(0x82, &big)); // 64-bit length form
        stream.extend(frame(0x81, &[b'a'; 300])); // 16-bit length form
        let chunks = stream.chunks(1000).map(<[u8]>::to_vec).collect();
        let (mut wire, _) = wire(chunks, End::Eof);
        let (got, stop) = read_all(&mut wire, 8192);
        assert_eq!((got, stop), (stream, Stop::Eof));
        // Passing through never buffers a whole frame.
        assert!(wire.input.buf.capacity() <= 2 * READ_CHUNK);
    }

    #[test]
    fn text_frame_passes_unchanged_via_async_read() {
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0x81, b"hello"));
        let (mut wire, _) = wire(vec![stream.clone()], End::Eof);
        let mut got = Vec::new();
        futures::executor::block_on(wire.read_to_end(&mut got)).unwrap();
        assert_eq!(got, stream);
    }

    #[test]
    fn eof_without_close_reaches_tungstenite_once() {
        let (mut wire, handle) = wire(vec![HEAD.to_vec(), frame(0x81, b"a")], End::Eof);
        let (_, stop) = read_all(&mut wire, 4096);
        assert_eq!(stop, Stop::Eof);
        assert_eq!(read_all(&mut wire, 4096).1, Stop::Eof);
        assert_eq!(events(&handle), vec![WireEvent::Eof]);
    }

    #[test]
    fn read_error_without_close_reaches_tungstenite() {
        let (mut wire, handle) = wire(vec![HEAD.to_vec()], End::Fail);
        let (got, stop) = read_all(&mut wire, 4096);
        assert_eq!(got, HEAD);
        assert_eq!(stop, Stop::Error(io::ErrorKind::ConnectionReset));
        assert_eq!(events(&handle), vec![WireEvent::Eof]);
        assert_eq!(read_all(&mut wire, 4096).1, Stop::Eof);
    }

    #[test]
    fn frames_tungstenite_rejects_pass_through() {
        // RSV1 without deflate, masked, reserved opcodes, RSV2: tungstenite's to reject.
        let mut frames = frame(0xc1, b"rsv1");
        frames.extend(frame(0x83, b"reserved"));
        frames.extend(frame(0x8b, b"reserved control"));
        frames.extend(frame(0xa1, b"rsv2"));
        frames.extend([0x81, 0x82, 1, 2, 3, 4, 0x49, 0x6b]); // masked "Hi"
        let (mut wire, handle) = wire(vec![HEAD.to_vec(), frames.clone()], End::Eof);
        let (got, stop) = read_all(&mut wire, 4096);
        assert_eq!(got[HEAD.len()..], frames[..]);
        assert_eq!(stop, Stop::Eof);
        assert_eq!(events(&handle), vec![WireEvent::Eof]);
    }

    #[test]
    fn length_with_top_bit_set_is_a_protocol_error() {
        let mut bad = vec![0x82, 127];
        bad.extend(u64::MAX.to_be_bytes());
        let (mut wire, handle) = wire(vec![HEAD.to_vec(), bad, vec![0; 100]], End::Eof);
        let (got, stop) = read_all(&mut wire, 4096);
        assert_eq!((got.as_slice(), stop), (HEAD, Stop::Pending));
        let events = events(&handle);
        assert!(
            matches!(events.as_slice(), [WireEvent::ProtocolError(_), WireEvent::Eof]),
            "{events:?}"
        );
    }

    // ---- Close frames ----------------------------------------------------

    #[test]
    fn close_frame_is_taken_out_and_eof_reported_after_it() {
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0x81, b"before"));
        stream.extend(frame(0x88, &[0x03, 0xf6, b'x']));
        stream.extend(frame(0x81, b"after: dropped"));
        let (count, waker) = counting_waker();
        let (mut wire, handle) = wire(vec![stream], End::Eof);
        let (got, stop) = reads(&mut wire, &waker, 4096);
        let mut expected = HEAD.to_vec();
        expected.extend(frame(0x81, b"before"));
        assert_eq!((got.concat(), stop), (expected, Stop::Pending));
        assert!(count.0.load(Ordering::SeqCst) >= 1, "the reader's task must be woken");
        assert_eq!(
            events(&handle),
            vec![WireEvent::Close(vec![0x03, 0xf6, b'x']), WireEvent::Eof]
        );
        // tungstenite never sees EOF.
        for _ in 0..3 {
            assert_eq!(read_all(&mut wire, 4096), (Vec::new(), Stop::Pending));
        }
        assert!(events(&handle).is_empty());
    }

    #[test]
    fn close_frame_is_found_at_every_split() {
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0x82, &[1; 130]));
        stream.extend(frame(0x88, &[0x03, 0xe8, b'b', b'y', b'e']));
        for split in 0..=stream.len() {
            let chunks = vec![stream[..split].to_vec(), stream[split..].to_vec()];
            let (mut wire, handle) = wire(chunks, End::Eof);
            let (got, stop) = read_all(&mut wire, 64);
            assert_eq!(got.len(), HEAD.len() + 134);
            assert_eq!(stop, Stop::Pending);
            assert_eq!(
                events(&handle),
                vec![WireEvent::Close(vec![0x03, 0xe8, b'b', b'y', b'e']), WireEvent::Eof]
            );
        }
        let (mut wire, handle) = wire(one_byte_chunks(&stream), End::Eof);
        assert_eq!(read_all(&mut wire, 64).1, Stop::Pending);
        assert_eq!(events(&handle).len(), 2);
    }

    #[test]
    fn close_frame_is_reported_while_the_stream_stays_open() {
        let (count, waker) = counting_waker();
        let (mut wire, handle) = wire(vec![HEAD.to_vec(), vec![0x88, 0x00]], End::Pending);
        let (got, stop) = reads(&mut wire, &waker, 4096);
        assert_eq!((got.concat().as_slice(), stop), (HEAD, Stop::Pending));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(events(&handle), vec![WireEvent::Close(Vec::new())]);
        // No new event, no new wake-up.
        assert_eq!(reads(&mut wire, &waker, 4096).1, Stop::Pending);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn close_frame_before_a_read_error_still_hides_the_error() {
        let (mut wire, handle) = wire(vec![HEAD.to_vec(), vec![0x88, 0x02, 0x03, 0xe8]], End::Fail);
        assert_eq!(read_all(&mut wire, 4096).1, Stop::Pending);
        assert_eq!(
            events(&handle),
            vec![WireEvent::Close(vec![0x03, 0xe8]), WireEvent::Eof]
        );
    }

    #[test]
    fn malformed_close_frames_are_protocol_errors() {
        let mut long = vec![0x88, 126, 0, 126];
        long.extend([0u8; 126]);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("fin=0", vec![0x08, 0x02, 0x03, 0xe8]),
            ("masked", vec![0x88, 0x82, 1, 2, 3, 4, 0x02, 0xea]),
            ("rsv1", vec![0xc8, 0x02, 0x03, 0xe8]),
            ("rsv3", vec![0x98, 0x02, 0x03, 0xe8]),
            ("len 126", long),
        ];
        for (name, close) in cases {
            let (mut wire, handle) = wire(vec![HEAD.to_vec(), close, frame(0x81, b"after")], End::Eof);
            let (got, stop) = read_all(&mut wire, 4096);
            assert_eq!((got.as_slice(), stop), (HEAD, Stop::Pending), "{name}");
            let events = events(&handle);
            assert!(
                matches!(events.as_slice(), [WireEvent::ProtocolError(_), WireEvent::Eof]),
                "{name}: {events:?}"
            );
        }
    }

    // ---- permessage-deflate ----------------------------------------------

    const DEFLATE: &str = "permessage-deflate; client_max_window_bits=15";

    #[test]
    fn compressed_message_is_inflated_into_a_plain_frame() {
        let plain = b"Hello, hello, hello, hello!".repeat(20);
        let compressed = deflate(&mut compressor(), &plain);
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0xc1, &compressed));
        for chunks in [vec![stream.clone()], one_byte_chunks(&stream)] {
            let (mut wire, handle) = deflate_wire(chunks, End::Eof, WireConfig::default(), DEFLATE);
            let (got, stop) = read_all(&mut wire, 4096);
            assert_eq!(stop, Stop::Eof);
            assert_eq!(&got[..HEAD.len()], HEAD);
            assert_eq!(got[HEAD.len()..], frame(0x81, &plain)[..]);
            assert_eq!(events(&handle), vec![WireEvent::Eof]);
        }
    }

    #[test]
    fn fragmented_compressed_message_is_inflated_frame_by_frame() {
        let plain = b"fragmented and compressed, fragmented and compressed".repeat(10);
        let compressed = deflate(&mut compressor(), &plain);
        let third = compressed.len() / 3;
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0x42, &compressed[..third])); // binary, RSV1, no FIN
        stream.extend(frame(0x89, b"ping")); // interleaved control frame
        stream.extend(frame(0x00, &compressed[third..2 * third]));
        stream.extend(frame(0x80, &compressed[2 * third..]));
        for chunks in [vec![stream.clone()], one_byte_chunks(&stream)] {
            let (mut wire, _) = deflate_wire(chunks, End::Eof, WireConfig::default(), DEFLATE);
            let (got, _) = read_all(&mut wire, 4096);
            let frames = parse_frames(&got[HEAD.len()..]);
            let firsts: Vec<u8> = frames.iter().map(|f| f.0).collect();
            assert_eq!(firsts, vec![0x02, 0x89, 0x00, 0x80]);
            assert_eq!(frames[1].1, b"ping");
            let inflated: Vec<u8> = [&frames[0].1[..], &frames[2].1, &frames[3].1].concat();
            assert_eq!(inflated, plain);
        }
    }

    #[test]
    fn context_is_kept_across_messages() {
        let mut c = compressor();
        let text = b"the same sentence, sent twice over one connection".to_vec();
        let first = deflate(&mut c, &text);
        let second = deflate(&mut c, &text);
        assert!(
            second.len() < first.len() / 2,
            "the second message refers back to the first"
        );
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0xc1, &first));
        stream.extend(frame(0xc1, &second));
        let (mut wire, handle) = deflate_wire(vec![stream], End::Eof, WireConfig::default(), DEFLATE);
        let (got, _) = read_all(&mut wire, 4096);
        let frames = parse_frames(&got[HEAD.len()..]);
        assert_eq!(frames, vec![(0x81, text.clone()), (0x81, text)]);
        assert_eq!(events(&handle), vec![WireEvent::Eof]);
    }

    #[test]
    fn server_no_context_takeover_resets_the_window() {
        let text = b"every message on its own, every message on its own".to_vec();
        let mut stream = HEAD.to_vec();
        for _ in 0..3 {
            stream.extend(frame(0xc1, &deflate(&mut compressor(), &text)));
        }
        let ext = "permessage-deflate; server_no_context_takeover";
        let (mut wire, handle) = deflate_wire(vec![stream], End::Eof, WireConfig::default(), ext);
        let (got, _) = read_all(&mut wire, 4096);
        assert_eq!(parse_frames(&got[HEAD.len()..]), vec![(0x81, text.clone()); 3]);
        assert_eq!(events(&handle), vec![WireEvent::Eof]);
    }

    #[test]
    fn a_deflate_stream_ended_with_bfinal_is_followed_by_a_new_one() {
        let text = b"finished with a final block".to_vec();
        let mut c = compressor();
        let mut finished = Vec::with_capacity(1024);
        c.compress_vec(&text, &mut finished, FlushCompress::Finish).unwrap();
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0xc1, &finished));
        stream.extend(frame(0xc1, &deflate(&mut compressor(), &text)));
        let (mut wire, handle) = deflate_wire(vec![stream], End::Eof, WireConfig::default(), DEFLATE);
        let (got, _) = read_all(&mut wire, 4096);
        assert_eq!(parse_frames(&got[HEAD.len()..]), vec![(0x81, text.clone()); 2]);
        assert_eq!(events(&handle), vec![WireEvent::Eof]);
    }

    #[test]
    fn uncompressed_messages_pass_through_with_deflate_on() {
        let mut frames = frame(0x81, b"plain");
        frames.extend(frame(0x01, b"plain "));
        frames.extend(frame(0x80, b"fragments"));
        frames.extend(frame(0xc9, b"ping with rsv1")); // tungstenite rejects it
        let (mut wire, _) = deflate_wire(
            vec![HEAD.to_vec(), frames.clone()],
            End::Eof,
            WireConfig::default(),
            DEFLATE,
        );
        let (got, _) = read_all(&mut wire, 4096);
        assert_eq!(got[HEAD.len()..], frames[..]);
    }

    #[test]
    fn rsv1_on_a_continuation_passes_through() {
        let compressed = deflate(&mut compressor(), b"abcdef");
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0x41, &compressed));
        stream.extend(frame(0xc0, b"rsv1 continuation"));
        let (mut wire, _) = deflate_wire(vec![stream], End::Eof, WireConfig::default(), DEFLATE);
        let (got, _) = read_all(&mut wire, 4096);
        let frames = parse_frames(&got[HEAD.len()..]);
        assert_eq!(
            frames,
            vec![(0x01, b"abcdef".to_vec()), (0xc0, b"rsv1 continuation".to_vec())]
        );
    }

    #[test]
    fn corrupt_deflate_data_is_a_protocol_error() {
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0xc1, &[0xff; 40]));
        stream.extend(frame(0x81, b"after"));
        let (mut wire, handle) = deflate_wire(vec![stream], End::Eof, WireConfig::default(), DEFLATE);
        let (got, stop) = read_all(&mut wire, 4096);
        assert_eq!((got.as_slice(), stop), (HEAD, Stop::Pending));
        let events = events(&handle);
        assert!(
            matches!(events.as_slice(), [WireEvent::ProtocolError(_), WireEvent::Eof]),
            "{events:?}"
        );
    }

    #[test]
    fn decompression_bomb_is_message_too_big() {
        let bomb = deflate(&mut compressor(), &vec![0u8; 10 << 20]);
        assert!(bomb.len() < 64 * 1024);
        let config = WireConfig {
            max_message_size: Some(1 << 20),
            max_frame_size: None,
        };
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0xc2, &bomb));
        let (count, waker) = counting_waker();
        let (mut wire, handle) = deflate_wire(vec![stream], End::Eof, config, DEFLATE);
        let (got, stop) = reads(&mut wire, &waker, 4096);
        assert_eq!((got.concat().as_slice(), stop), (HEAD, Stop::Pending));
        assert!(count.0.load(Ordering::SeqCst) >= 1);
        assert_eq!(events(&handle), vec![WireEvent::MessageTooBig, WireEvent::Eof]);
    }

    #[test]
    fn inflating_never_allocates_past_the_budget() {
        let bomb = deflate(&mut compressor(), &vec![0u8; 10 << 20]);
        let budget = 1 << 20;
        let mut inflater = Inflater::new();
        let mut out = Vec::new();
        assert_eq!(inflater.inflate(&bomb, budget, &mut out), Err(InflateError::TooBig));
        assert!(out.len() <= budget && out.capacity() <= budget, "{}", out.capacity());
    }

    #[test]
    fn message_limit_counts_every_fragment() {
        let plain = vec![b'z'; 3000];
        let compressed = deflate(&mut compressor(), &plain);
        let half = compressed.len() / 2;
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0x41, &compressed[..half]));
        stream.extend(frame(0x80, &compressed[half..]));
        let config = WireConfig {
            max_message_size: Some(2000),
            max_frame_size: None,
        };
        let (mut wire, handle) = deflate_wire(vec![stream], End::Eof, config, DEFLATE);
        read_all(&mut wire, 4096);
        assert_eq!(events(&handle), vec![WireEvent::MessageTooBig, WireEvent::Eof]);
    }

    #[test]
    fn compressed_frame_over_max_frame_size_is_not_buffered() {
        let mut header = vec![0xc2, 127];
        header.extend((10u64 << 20).to_be_bytes());
        let config = WireConfig {
            max_message_size: None,
            max_frame_size: Some(1 << 20),
        };
        let (mut wire, handle) = deflate_wire(vec![HEAD.to_vec(), header, vec![0; 5000]], End::Eof, config, DEFLATE);
        assert_eq!(read_all(&mut wire, 4096).1, Stop::Pending);
        assert_eq!(events(&handle), vec![WireEvent::MessageTooBig, WireEvent::Eof]);
        assert!(wire.input.buf.capacity() <= 2 * READ_CHUNK);
    }

    #[test]
    fn inflated_frame_over_max_frame_size_is_fragmented() {
        let plain: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8 + b'a').collect();
        let compressed = deflate(&mut compressor(), &plain);
        let config = WireConfig {
            max_message_size: None,
            max_frame_size: Some(1000),
        };
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0xc1, &compressed));
        let (mut wire, _) = deflate_wire(vec![stream], End::Eof, config, DEFLATE);
        let (got, _) = read_all(&mut wire, 4096);
        let frames = parse_frames(&got[HEAD.len()..]);
        assert_eq!(frames.len(), 5);
        assert_eq!(frames[0].0, 0x01);
        assert!(frames[1..4].iter().all(|f| f.0 == 0x00));
        assert_eq!(frames[4].0, 0x80);
        assert!(frames.iter().all(|f| f.1.len() <= 1000));
        assert_eq!(frames.iter().flat_map(|f| f.1.clone()).collect::<Vec<u8>>(), plain);
    }

    #[test]
    fn synthesized_headers_use_the_shortest_length_form() {
        for (len, header_len) in [(0, 2), (125, 2), (126, 4), (0xffff, 4), (0x10000, 10)] {
            let header = encode_header(true, OP_BINARY, len);
            assert_eq!(header.len(), header_len);
            let parsed = parse_header(&header).unwrap();
            assert_eq!(
                (parsed.len, parsed.fin, parsed.opcode, parsed.rsv1),
                (len as u64, true, OP_BINARY, false)
            );
        }
    }

    // ---- robustness ------------------------------------------------------

    /// A small deterministic generator (xorshift).
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn hostile_input_never_panics() {
        for seed in 0..200u64 {
            let mut stream = HEAD.to_vec();
            let bytes = noise(seed, 3000);
            // Bias towards frame starts the filter inspects.
            let mut bytes_with_headers = Vec::new();
            for (i, chunk) in bytes.chunks(97).enumerate() {
                bytes_with_headers.push([0xc1, 0xc2, 0x88, 0x40, 0x00, 0x80][i % 6]);
                bytes_with_headers.extend_from_slice(chunk);
            }
            stream.extend(bytes_with_headers);
            let chunk_size = 1 + (seed as usize % 50);
            let chunks = stream.chunks(chunk_size).map(<[u8]>::to_vec).collect();
            let config = WireConfig {
                max_message_size: Some(1 << 16),
                max_frame_size: Some(1 << 16),
            };
            let ext = if seed % 2 == 0 {
                DEFLATE
            } else {
                "permessage-deflate; server_no_context_takeover"
            };
            let (mut wire, handle) = deflate_wire(chunks, End::Eof, config, ext);
            let (_, stop) = read_all(&mut wire, 1 + seed as usize % 300);
            let events = events(&handle);
            assert_eq!(events.last(), Some(&WireEvent::Eof), "seed {seed}");
            assert!(stop == Stop::Eof || stop == Stop::Pending);
        }
    }

    // ---- extensions and writes -------------------------------------------

    #[test]
    fn set_deflate_keeps_what_inflating_needs() {
        let handle = WireHandle::default();
        assert_eq!(handle.deflate(), None);
        handle.set_deflate(Some(DeflateParams::default()));
        assert_eq!(handle.deflate(), Some(Deflate::default()));
        let params = DeflateParams {
            server_no_context_takeover: true,
            ..DeflateParams::default()
        };
        handle.set_deflate(Some(params));
        assert_eq!(
            handle.deflate(),
            Some(Deflate {
                server_no_context_takeover: true
            })
        );
        handle.set_deflate(None);
        assert_eq!(handle.deflate(), None);
    }

    #[test]
    fn writes_pass_through() {
        let (mut wire, _) = wire(Vec::new(), End::Pending);
        futures::executor::block_on(async {
            wire.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            wire.flush().await.unwrap();
            wire.close().await.unwrap();
        });
        assert_eq!(wire.inner.written, b"GET / HTTP/1.1\r\n\r\n");
        assert!(wire.inner.flushed && wire.inner.closed);
    }

    // ---- end to end ------------------------------------------------------

    // ---- announced lengths (issue 12: no allocation on a header's word) ---

    /// A frame header with a 64-bit length and no payload.
    fn header64(b0: u8, len: u64) -> Vec<u8> {
        let mut h = vec![b0, 127];
        h.extend_from_slice(&len.to_be_bytes());
        h
    }

    #[test]
    fn huge_announced_lengths_over_a_limit_are_refused_on_the_header() {
        let limits = [
            (None, Some(16 * 1024)), // max_frame_size(None), a message limit
            (Some(1 << 20), None),
        ];
        for (max_frame_size, max_message_size) in limits {
            for len in [1u64 << 40, (1 << 63) - 1] {
                let config = WireConfig {
                    max_message_size,
                    max_frame_size,
                };
                let mut stream = HEAD.to_vec();
                stream.extend(header64(0x82, len));
                stream.extend([0u8; 100]);
                let (mut wire, handle) = Wire::new(Script::new(vec![stream], End::Pending), config);
                let (got, stop) = read_all(&mut wire, 4096);
                assert_eq!((got.as_slice(), stop), (HEAD, Stop::Pending), "{len}");
                assert_eq!(events(&handle), vec![WireEvent::MessageTooBig], "{len}");
                assert!(wire.input.buf.capacity() <= 2 * READ_CHUNK);
            }
        }
    }

    #[test]
    fn control_frame_over_125_bytes_is_refused_on_the_header() {
        for b0 in [0x89, 0x8a, 0x8b] {
            let mut stream = HEAD.to_vec();
            stream.extend(header64(b0, 1 << 40));
            let (mut wire, handle) = wire(vec![stream], End::Pending);
            let (got, _) = read_all(&mut wire, 4096);
            assert_eq!(got, HEAD);
            assert!(matches!(events(&handle).as_slice(), [WireEvent::ProtocolError(_)]));
        }
    }

    #[test]
    fn frame_longer_than_tungstenites_limit_is_split_into_fragments() {
        let payload: Vec<u8> = (0..MAX_PASSED_FRAME + 10).map(|i| (i % 251) as u8).collect();
        let mut stream = HEAD.to_vec();
        stream.extend(frame(0x82, &payload));
        stream.extend(frame(0x01, &[b'a'; 300])); // a fragmented text message follows
        stream.extend(frame(0x80, b"b"));
        let chunks = stream.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
        let (mut wire, handle) = wire(chunks, End::Eof);
        let (got, stop) = read_all(&mut wire, 64 * 1024);
        assert_eq!(stop, Stop::Eof);
        assert_eq!(&got[..HEAD.len()], HEAD);
        let frames = parse_frames(&got[HEAD.len()..]);
        let shape: Vec<(u8, usize)> = frames.iter().map(|(b0, p)| (*b0, p.len())).collect();
        assert_eq!(
            shape,
            vec![(0x02, MAX_PASSED_FRAME), (0x80, 10), (0x01, 300), (0x80, 1)]
        );
        assert_eq!([frames[0].1.as_slice(), frames[1].1.as_slice()].concat(), payload);
        assert_eq!(events(&handle), vec![WireEvent::Eof]);
    }

    #[test]
    fn an_unlimited_huge_frame_costs_only_the_bytes_that_arrive() {
        // Both limits off: the frame is allowed, so it is passed on as it
        // arrives, announced to tungstenite a fragment at a time.
        let mut stream = HEAD.to_vec();
        stream.extend(header64(0x81, (1 << 63) - 1));
        stream.extend([b'x'; 1000]);
        let (mut wire, handle) = wire(vec![stream], End::Eof);
        let (got, stop) = read_all(&mut wire, 4096);
        assert_eq!(stop, Stop::Eof);
        let mut expected = HEAD.to_vec();
        expected.extend(encode_header(false, OP_TEXT, MAX_PASSED_FRAME));
        expected.extend([b'x'; 1000]);
        assert_eq!(got, expected);
        assert_eq!(events(&handle), vec![WireEvent::Eof]);
        assert!(wire.input.buf.capacity() <= 2 * READ_CHUNK);
    }

    #[test]
    fn tungstenite_is_never_given_an_unbounded_frame_limit() {
        let limit = |max_frame_size| {
            WireConfig {
                max_message_size: None,
                max_frame_size,
            }
            .passed_frame_limit()
        };
        assert_eq!(limit(None), MAX_PASSED_FRAME);
        assert_eq!(limit(Some(usize::MAX)), MAX_PASSED_FRAME);
        assert_eq!(limit(Some(1000)), 1000);
    }

    #[cfg(feature = "async-std-runtime")]
    #[test]
    fn tungstenite_client_over_wire_sees_inflated_messages_and_raw_close() {
        use async_std::net::{TcpListener, TcpStream};
        use async_tungstenite::tungstenite::client::IntoClientRequest;
        use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
        use async_tungstenite::tungstenite::http::HeaderValue;
        use async_tungstenite::tungstenite::Message;
        use futures::StreamExt;

        #[derive(Debug, PartialEq)]
        enum Seen {
            Message(Message),
            Event(WireEvent),
            Failed(String),
        }

        let run = async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = async_std::task::spawn(async move {
                let (tcp, _) = listener.accept().await.unwrap();
                // tungstenite's callback type has a large error variant.
                #[allow(clippy::result_large_err)]
                let accept = |_: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
                    let ext = HeaderValue::from_static("permessage-deflate; client_max_window_bits=15");
                    response.headers_mut().insert("sec-websocket-extensions", ext);
                    Ok(response)
                };
                let mut ws = async_tungstenite::accept_hdr_async(tcp, accept).await.unwrap();
                ws.send(Message::text("plain")).await.unwrap();
                let mut raw = frame(0xc1, &deflate(&mut compressor(), b"inflated, inflated, inflated"));
                raw.extend(frame(0x88, &[0x03, 0xf6, b'x'])); // 1014, "x"
                ws.get_mut().write_all(&raw).await.unwrap();
                ws.get_mut().flush().await.unwrap();
                // Dropping the stream closes TCP.
            });

            let tcp = TcpStream::connect(addr).await.unwrap();
            let config = WireConfig {
                max_message_size: Some(1 << 20),
                max_frame_size: Some(1 << 20),
            };
            let (wire, handle) = Wire::new(tcp, config);
            let mut request = format!("ws://{addr}/").into_client_request().unwrap();
            let offer = HeaderValue::from_static("permessage-deflate; client_max_window_bits");
            request.headers_mut().insert("sec-websocket-extensions", offer);
            let (mut ws, response) = async_tungstenite::client_async(request, wire).await.unwrap();
            assert!(response.headers().get("sec-websocket-extensions").is_some());
            handle.set_deflate(Some(DeflateParams::default()));

            // As the driver does: tungstenite first, then the filter's events.
            let mut seen = Vec::new();
            while seen.last() != Some(&Seen::Event(WireEvent::Eof)) && seen.len() < 10 {
                let next = futures::future::poll_fn(|cx| {
                    match ws.poll_next_unpin(cx) {
                        Poll::Ready(Some(Ok(message))) => return Poll::Ready(Seen::Message(message)),
                        Poll::Ready(other) => return Poll::Ready(Seen::Failed(format!("{other:?}"))),
                        Poll::Pending => {}
                    }
                    handle
                        .poll_event()
                        .map_or(Poll::Pending, |e| Poll::Ready(Seen::Event(e)))
                })
                .await;
                seen.push(next);
            }
            server.await;
            seen
        };
        let seen = async_std::task::block_on(async_std::future::timeout(std::time::Duration::from_secs(20), run))
            .expect("the end-to-end exchange timed out");
        assert_eq!(
            seen,
            vec![
                Seen::Message(Message::text("plain")),
                Seen::Message(Message::text("inflated, inflated, inflated")),
                Seen::Event(WireEvent::Close(vec![0x03, 0xf6, b'x'])),
                Seen::Event(WireEvent::Eof),
            ]
        );
    }
}
