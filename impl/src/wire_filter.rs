//! An inbound frame filter between the TCP/TLS stream and tungstenite.
//!
//! Why it exists:
//! 1. **Close frames are the model's business.** tungstenite replaces any
//!    close code it dislikes (1014 among them, which is valid) by 1002 and
//!    answers by itself. The filter takes every Close frame out of the
//!    stream and hands its *raw* payload to the driver, which feeds the
//!    model; the model decides the reply, sent through tungstenite.
//! 2. **permessage-deflate.** Browsers offer it and servers compress;
//!    tungstenite has no support. The filter inflates compressed messages
//!    (RFC 7692) and hands tungstenite plain frames. We never compress what
//!    we send, which RFC 7692 allows.
//! 3. **The end of TCP after a Close frame** must reach the driver at once
//!    (to end the closing handshake cleanly), while tungstenite, which never
//!    saw the Close, must not see an unexpected EOF. After a Close frame the
//!    filter reads and drops everything until EOF, reports the EOF, and
//!    keeps tungstenite's reads pending for ever.
//!
//! Everything written passes through untouched.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use flate2::{Decompress, FlushDecompress, Status};
use futures::io::{AsyncRead, AsyncWrite};

/// Limits the filter enforces on compressed messages (uncompressed ones are
/// tungstenite's to check).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WireConfig {
    pub max_message_size: Option<usize>,
    pub max_frame_size: Option<usize>,
}

/// What the filter saw that tungstenite will not report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WireEvent {
    /// A Close frame's raw payload (at most 125 bytes, unvalidated).
    Close(Vec<u8>),
    /// A framing error in a frame the filter handles itself.
    ProtocolError(String),
    /// An inflated message exceeded `max_message_size`.
    MessageTooBig,
    /// The stream ended (or failed).
    Eof,
}

/// Largest HTTP response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest compressed frame when no frame limit is configured.
const DEFAULT_MAX_FRAME: usize = 64 << 20;
/// Read chunk from the inner stream.
const CHUNK: usize = 16 * 1024;

#[derive(Default)]
struct Shared {
    events: VecDeque<WireEvent>,
    /// `Some` once permessage-deflate was negotiated: server_no_context_takeover.
    deflate: Option<bool>,
}

/// The driver's side: negotiated extensions in, events out.
#[derive(Clone)]
pub(crate) struct WireHandle {
    shared: Arc<Mutex<Shared>>,
}

impl WireHandle {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the server's `Sec-WebSocket-Extensions`; enables inflating for
    /// `permessage-deflate`. Anything this filter cannot honour is an error.
    pub(crate) fn set_extensions(&self, header: Option<&str>) -> Result<(), String> {
        let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
            return Ok(());
        };
        let mut no_context_takeover = None;
        for ext in header.split(',') {
            let mut parts = ext.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            if !name.eq_ignore_ascii_case("permessage-deflate") {
                return Err(format!("unsupported extension {name:?}"));
            }
            if no_context_takeover.is_some() {
                return Err("permessage-deflate accepted twice".into());
            }
            let mut seen: Vec<String> = Vec::new();
            let mut server_no_takeover = false;
            for param in parts {
                let (key, value) = match param.split_once('=') {
                    Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().trim_matches('"'))),
                    None => (param.to_ascii_lowercase(), None),
                };
                if seen.contains(&key) {
                    return Err(format!("parameter {key} given twice"));
                }
                match (key.as_str(), value) {
                    ("server_no_context_takeover", None) => server_no_takeover = true,
                    ("client_no_context_takeover", None) => {}
                    ("server_max_window_bits" | "client_max_window_bits", Some(v)) => {
                        if !matches!(v.parse::<u8>(), Ok(8..=15)) {
                            return Err(format!("{key}={v} is not in 8..=15"));
                        }
                    }
                    _ => return Err(format!("unknown or malformed parameter {param:?}")),
                }
                seen.push(key);
            }
            no_context_takeover = Some(server_no_takeover);
        }
        self.lock().deflate = no_context_takeover;
        Ok(())
    }

    /// The next event, in order.
    pub(crate) fn poll_event(&self) -> Option<WireEvent> {
        self.lock().events.pop_front()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Passing the HTTP response head through.
    Handshake,
    /// Parsing frames.
    Frames,
    /// After a Close frame or an error: dropping input until EOF.
    Discard,
    /// The inner stream ended after `Discard`: tungstenite waits for ever.
    Done,
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy)]
struct Header {
    fin: bool,
    rsv1: bool,
    rsv23: bool,
    opcode: u8,
    masked: bool,
    len: u64,
    /// Bytes the header takes (mask included).
    size: usize,
}

/// Parses a frame header from the start of `b`; `None` if incomplete.
fn parse_header(b: &[u8]) -> Option<Header> {
    if b.len() < 2 {
        return None;
    }
    let masked = b[1] & 0x80 != 0;
    let (len, mut size) = match b[1] & 0x7f {
        126 => (u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) as u64, 4),
        127 => {
            let bytes: [u8; 8] = b.get(2..10)?.try_into().ok()?;
            (u64::from_be_bytes(bytes), 10)
        }
        n => (n as u64, 2),
    };
    if masked {
        size += 4;
    }
    if b.len() < size {
        return None;
    }
    Some(Header {
        fin: b[0] & 0x80 != 0,
        rsv1: b[0] & 0x40 != 0,
        rsv23: b[0] & 0x30 != 0,
        opcode: b[0] & 0x0f,
        masked,
        len,
        size,
    })
}

/// Encodes an unmasked frame header.
fn encode_header(fin: bool, opcode: u8, len: usize, out: &mut VecDeque<u8>) {
    out.push_back(if fin { 0x80 } else { 0 } | opcode);
    match len {
        n if n < 126 => out.push_back(n as u8),
        n if n <= 0xffff => {
            out.push_back(126);
            out.extend((n as u16).to_be_bytes());
        }
        n => {
            out.push_back(127);
            out.extend((n as u64).to_be_bytes());
        }
    }
}

/// The filter itself (see the module docs).
pub(crate) struct Wire<S> {
    inner: S,
    handle: WireHandle,
    config: WireConfig,
    phase: Phase,
    /// Read from `inner`, not yet processed.
    input: Vec<u8>,
    /// Processed, for tungstenite.
    output: VecDeque<u8>,
    /// Payload bytes of a passed-through frame still to copy.
    passing: u64,
    /// Inside a compressed (fragmented) message.
    in_compressed: bool,
    /// Bytes inflated so far in the current compressed message.
    inflated: usize,
    /// Created with the first compressed message: its state is tens of KiB.
    inflater: Option<Box<Decompress>>,
    eof_reported: bool,
    /// The HTTP response head went over [`MAX_HEAD`]: the handshake fails.
    head_too_long: bool,
}

impl<S> Wire<S> {
    pub(crate) fn new(inner: S, config: WireConfig) -> (Self, WireHandle) {
        let handle = WireHandle {
            shared: Arc::new(Mutex::new(Shared::default())),
        };
        let wire = Wire {
            inner,
            handle: handle.clone(),
            config,
            phase: Phase::Handshake,
            input: Vec::new(),
            output: VecDeque::new(),
            passing: 0,
            in_compressed: false,
            inflated: 0,
            inflater: None,
            eof_reported: false,
            head_too_long: false,
        };
        (wire, handle)
    }

    fn event(&mut self, e: WireEvent) {
        self.handle.lock().events.push_back(e);
    }

    fn fail(&mut self, e: WireEvent) {
        self.event(e);
        self.phase = Phase::Discard;
        self.input.clear();
    }

    /// Turns as much of `input` into `output` (and events) as possible.
    fn process(&mut self) {
        loop {
            match self.phase {
                Phase::Handshake => {
                    let Some(end) = self.input.windows(4).position(|w| w == b"\r\n\r\n") else {
                        if self.input.len() > MAX_HEAD {
                            // A server streaming headers for ever: stop it here.
                            self.head_too_long = true;
                        }
                        return;
                    };
                    self.output.extend(self.input.drain(..end + 4));
                    self.phase = Phase::Frames;
                }
                Phase::Frames => {
                    if !self.process_frame() {
                        return;
                    }
                }
                Phase::Discard | Phase::Done => {
                    self.input.clear();
                    return;
                }
            }
        }
    }

    /// Processes one frame (or part of a passed-through payload); `false`
    /// when more input is needed.
    fn process_frame(&mut self) -> bool {
        if self.passing > 0 {
            let n = (self.passing.min(self.input.len() as u64)) as usize;
            if n == 0 {
                return false;
            }
            self.output.extend(self.input.drain(..n));
            self.passing -= n as u64;
            return true;
        }
        let Some(h) = parse_header(&self.input) else {
            return false;
        };
        let deflate = self.handle.lock().deflate;
        if h.opcode == 0x8 {
            return self.close_frame(h);
        }
        let compressed = deflate.is_some()
            && match h.opcode {
                0x1 | 0x2 => h.rsv1,
                0x0 => self.in_compressed,
                _ => false,
            };
        if compressed {
            if h.opcode == 0 && h.rsv1 {
                self.fail(WireEvent::ProtocolError("RSV1 set on a continuation frame".into()));
                return true;
            }
            return self.compressed_frame(h, deflate == Some(true));
        }
        if matches!(h.opcode, 0x1 | 0x2) {
            self.in_compressed = false;
        }
        // Passed through as it is: tungstenite checks everything else.
        self.output.extend(self.input.drain(..h.size));
        self.passing = h.len;
        true
    }

    fn close_frame(&mut self, h: Header) -> bool {
        if !h.fin || h.masked || h.rsv1 || h.rsv23 {
            self.fail(WireEvent::ProtocolError(
                "malformed Close frame (fragmented, masked or reserved bits)".into(),
            ));
            return true;
        }
        if h.len > 125 {
            self.fail(WireEvent::ProtocolError("Close frame payload over 125 bytes".into()));
            return true;
        }
        let total = h.size + h.len as usize;
        if self.input.len() < total {
            return false;
        }
        let payload = self.input[h.size..total].to_vec();
        self.fail(WireEvent::Close(payload));
        true
    }

    fn compressed_frame(&mut self, h: Header, reset_after: bool) -> bool {
        if h.masked {
            // Pass it on: tungstenite rejects masked server frames.
            self.output.extend(self.input.drain(..h.size));
            self.passing = h.len;
            return true;
        }
        let max_frame = self.config.max_frame_size.unwrap_or(DEFAULT_MAX_FRAME);
        if h.len > max_frame as u64 {
            self.fail(WireEvent::MessageTooBig);
            return true;
        }
        let total = h.size + h.len as usize;
        if self.input.len() < total {
            return false;
        }
        let payload: Vec<u8> = self.input.drain(..total).skip(h.size).collect();
        let limit = self
            .config
            .max_message_size
            .unwrap_or(usize::MAX)
            .saturating_sub(self.inflated);
        let mut plain = Vec::new();
        let inflater = self.inflater.get_or_insert_with(|| Box::new(Decompress::new(false)));
        let mut result = inflate(inflater, &payload, limit, &mut plain);
        if result.is_ok() && h.fin {
            result = inflate(inflater, &[0x00, 0x00, 0xff, 0xff], limit, &mut plain);
        }
        match result {
            Ok(()) => {}
            Err(Inflate::TooBig) => {
                self.fail(WireEvent::MessageTooBig);
                return true;
            }
            Err(Inflate::Corrupt(why)) => {
                self.fail(WireEvent::ProtocolError(format!(
                    "permessage-deflate data is corrupt: {why}"
                )));
                return true;
            }
        }
        self.inflated += plain.len();
        encode_header(h.fin, h.opcode, plain.len(), &mut self.output);
        self.output.extend(plain);
        self.in_compressed = !h.fin;
        if h.fin {
            self.inflated = 0;
            if reset_after {
                if let Some(inflater) = self.inflater.as_mut() {
                    inflater.reset(false);
                }
            }
        }
        true
    }
}

enum Inflate {
    TooBig,
    Corrupt(String),
}

/// Inflates `input` into `out`, never letting `out` grow past `limit`
/// bytes (plus one chunk of slack is never allocated: capacity is bounded too).
fn inflate(d: &mut Decompress, input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), Inflate> {
    let mut consumed = 0;
    loop {
        let room = limit.saturating_add(1).saturating_sub(out.len()).min(32 * 1024);
        if room == 0 {
            return Err(Inflate::TooBig);
        }
        out.reserve(room);
        let spare_before = out.capacity() - out.len();
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let status = d
            .decompress_vec(&input[consumed..], out, FlushDecompress::Sync)
            .map_err(|e| Inflate::Corrupt(e.to_string()))?;
        consumed += (d.total_in() - in_before) as usize;
        let produced = (d.total_out() - out_before) as usize;
        if out.len() > limit {
            return Err(Inflate::TooBig);
        }
        let filled = produced >= spare_before;
        match status {
            Status::StreamEnd => return Ok(()),
            _ if consumed >= input.len() && !filled => return Ok(()),
            Status::BufError if produced == 0 && consumed >= input.len() => return Ok(()),
            _ => {}
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Wire<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut chunk = [0u8; CHUNK];
        loop {
            // Frames processed before a Close still go to tungstenite.
            if !this.output.is_empty() {
                let n = buf.len().min(this.output.len());
                for (dst, src) in buf.iter_mut().zip(this.output.drain(..n)) {
                    *dst = src;
                }
                return Poll::Ready(Ok(n));
            }
            if this.phase == Phase::Done {
                return Poll::Pending;
            }
            let before = this.phase;
            this.process();
            if this.head_too_long {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the HTTP response head is over 64 KiB",
                )));
            }
            if this.phase != before && this.phase == Phase::Discard {
                // A Close frame or an error was queued: the driver must look.
                cx.waker().wake_by_ref();
            }
            if !this.output.is_empty() {
                continue;
            }
            match Pin::new(&mut this.inner).poll_read(cx, &mut chunk) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(n)) if n > 0 => {
                    if this.phase != Phase::Discard {
                        this.input.extend_from_slice(&chunk[..n]);
                    }
                }
                Poll::Ready(result) => {
                    if !this.eof_reported {
                        this.eof_reported = true;
                        this.event(WireEvent::Eof);
                    }
                    cx.waker().wake_by_ref();
                    let discarding = this.phase == Phase::Discard;
                    this.phase = Phase::Done;
                    if !discarding {
                        // No Close frame came: tungstenite sees the end too.
                        return Poll::Ready(result.map(|_| 0));
                    }
                }
            }
        }
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
    use futures::io::AsyncReadExt;

    /// An inner stream that yields scripted chunks, then EOF (or pends for ever).
    struct Chunks {
        chunks: VecDeque<Vec<u8>>,
        then_pending: bool,
    }

    impl AsyncRead for Chunks {
        fn poll_read(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            match this.chunks.front_mut() {
                Some(chunk) => {
                    let n = buf.len().min(chunk.len());
                    buf[..n].copy_from_slice(&chunk[..n]);
                    chunk.drain(..n);
                    if chunk.is_empty() {
                        this.chunks.pop_front();
                    }
                    Poll::Ready(Ok(n))
                }
                None if this.then_pending => Poll::Pending,
                None => Poll::Ready(Ok(0)),
            }
        }
    }

    const HEAD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";

    fn wire(chunks: Vec<Vec<u8>>, then_pending: bool, max: Option<usize>) -> (Wire<Chunks>, WireHandle) {
        let inner = Chunks {
            chunks: chunks.into(),
            then_pending,
        };
        Wire::new(
            inner,
            WireConfig {
                max_message_size: max,
                max_frame_size: None,
            },
        )
    }

    /// Everything the filter hands on until it ends or pends.
    fn drain(w: &mut Wire<Chunks>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        loop {
            match Pin::new(&mut *w).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(0)) | Poll::Pending | Poll::Ready(Err(_)) => return out,
                Poll::Ready(Ok(n)) => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    fn events(h: &WireHandle) -> Vec<WireEvent> {
        std::iter::from_fn(|| h.poll_event()).collect()
    }

    fn frame(fin: bool, opcode: u8, rsv1: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = VecDeque::new();
        encode_header(fin, opcode, payload.len(), &mut out);
        let mut v: Vec<u8> = out.into();
        if rsv1 {
            v[0] |= 0x40;
        }
        v.extend_from_slice(payload);
        v
    }

    /// Compresses one message as a permessage-deflate sender does (sync
    /// flush, trailing 00 00 ff ff removed), keeping the compressor's window.
    fn deflate(c: &mut Compress, data: &[u8]) -> Vec<u8> {
        let start = c.total_in();
        let mut out = Vec::with_capacity(data.len() + 64);
        loop {
            let consumed = (c.total_in() - start) as usize;
            c.compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
                .unwrap();
            if out.len() < out.capacity() && (c.total_in() - start) as usize == data.len() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        out
    }

    #[test]
    fn frames_split_at_every_byte_pass_through_unchanged() {
        let text = frame(true, 1, false, b"hello");
        let mut all = HEAD.to_vec();
        all.extend_from_slice(&text);
        let chunks: Vec<Vec<u8>> = all.iter().map(|b| vec![*b]).collect();
        let (mut w, h) = wire(chunks, true, None);
        assert_eq!(drain(&mut w), all);
        assert!(events(&h).is_empty());
    }

    #[test]
    fn close_frames_are_taken_out_and_eof_follows() {
        let mut all = HEAD.to_vec();
        all.extend_from_slice(&frame(true, 1, false, b"a"));
        all.extend_from_slice(&frame(true, 8, false, &[0x03, 0xf6, b'x']));
        all.extend_from_slice(&frame(true, 1, false, b"after close"));
        let (mut w, h) = wire(vec![all], false, None);
        let mut expected = HEAD.to_vec();
        expected.extend_from_slice(&frame(true, 1, false, b"a"));
        assert_eq!(
            drain(&mut w),
            expected,
            "the Close and what follows never reach tungstenite"
        );
        assert_eq!(events(&h), [WireEvent::Close(vec![0x03, 0xf6, b'x']), WireEvent::Eof]);
        assert_eq!(w.phase, Phase::Done, "tungstenite's reads now pend for ever (no EOF)");
    }

    #[test]
    fn malformed_close_frames_are_protocol_errors() {
        for bad in [
            frame(false, 8, false, &[0x03, 0xe8]),
            {
                let mut f = frame(true, 8, false, &[0x03, 0xe8]);
                f[1] |= 0x80;
                f.splice(2..2, [1, 2, 3, 4]);
                f
            },
            frame(true, 8, false, &[0u8; 126]),
            frame(true, 8, true, &[0x03, 0xe8]),
        ] {
            let mut all = HEAD.to_vec();
            all.extend_from_slice(&bad);
            let (mut w, h) = wire(vec![all], false, None);
            drain(&mut w);
            assert!(matches!(events(&h)[0], WireEvent::ProtocolError(_)), "{bad:02x?}");
        }
    }

    #[test]
    fn eof_without_close_reaches_tungstenite() {
        let (mut w, h) = wire(vec![HEAD.to_vec()], false, None);
        assert_eq!(drain(&mut w), HEAD);
        assert_eq!(events(&h), [WireEvent::Eof]);
    }

    #[test]
    fn compressed_messages_are_inflated_with_context_takeover() {
        let mut c = Compress::new(Compression::default(), false);
        let first = deflate(&mut c, b"hello hello hello");
        let second = deflate(&mut c, b"hello hello hello");
        assert!(
            second.len() < first.len(),
            "the second message refers to the first's window"
        );
        // A fragmented compressed message too.
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        let third = deflate(&mut c, &big);
        let (a, b) = third.split_at(third.len() / 2);
        let mut all = HEAD.to_vec();
        all.extend_from_slice(&frame(true, 1, true, &first));
        all.extend_from_slice(&frame(true, 1, true, &second));
        all.extend_from_slice(&frame(false, 2, true, a));
        all.extend_from_slice(&frame(true, 0, false, b));
        let (mut w, h) = wire(vec![all], true, None);
        h.set_extensions(Some(
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        ))
        .unwrap();
        let out = drain(&mut w);
        let mut expected = HEAD.to_vec();
        expected.extend_from_slice(&frame(true, 1, false, b"hello hello hello"));
        expected.extend_from_slice(&frame(true, 1, false, b"hello hello hello"));
        assert_eq!(&out[..expected.len()], &expected[..]);
        // The fragments come out as two plain frames whose payloads make `big`.
        let rest = &out[expected.len()..];
        let h1 = parse_header(rest).unwrap();
        assert!(!h1.fin && !h1.rsv1 && h1.opcode == 2);
        let p1 = &rest[h1.size..h1.size + h1.len as usize];
        let rest = &rest[h1.size + h1.len as usize..];
        let h2 = parse_header(rest).unwrap();
        assert!(h2.fin && h2.opcode == 0);
        let mut joined = p1.to_vec();
        joined.extend_from_slice(&rest[h2.size..]);
        assert_eq!(joined, big);
        assert!(events(&h).is_empty());
    }

    #[test]
    fn decompression_bombs_are_stopped_at_the_limit() {
        let mut c = Compress::new(Compression::best(), false);
        let bomb = deflate(&mut c, &vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000, "10 MiB of zeros compress to {} bytes", bomb.len());
        let mut all = HEAD.to_vec();
        all.extend_from_slice(&frame(true, 2, true, &bomb));
        let (mut w, h) = wire(vec![all], true, Some(1 << 20));
        h.set_extensions(Some("permessage-deflate")).unwrap();
        assert_eq!(drain(&mut w), HEAD);
        assert_eq!(events(&h), [WireEvent::MessageTooBig]);
    }

    #[test]
    fn corrupt_deflate_data_is_a_protocol_error() {
        let mut all = HEAD.to_vec();
        all.extend_from_slice(&frame(true, 1, true, &[0xff, 0xff, 0xff, 0xff]));
        let (mut w, h) = wire(vec![all], true, None);
        h.set_extensions(Some("permessage-deflate")).unwrap();
        drain(&mut w);
        assert!(matches!(events(&h)[0], WireEvent::ProtocolError(_)));
    }

    #[test]
    fn extension_headers() {
        let h = wire(vec![], true, None).1;
        for ok in [
            None,
            Some(""),
            Some("permessage-deflate"),
            Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
        ] {
            assert!(h.set_extensions(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "x-unknown",
            "permessage-deflate; foo=1",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate, permessage-deflate",
        ] {
            assert!(h.set_extensions(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostile_headers_do_not_panic() {
        // Huge lengths, lengths with the top bit set, truncated frames.
        for bytes in [
            vec![0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            vec![0xc1, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0],
            vec![0x88, 0x7e, 0xff],
            vec![0x81],
        ] {
            let mut all = HEAD.to_vec();
            all.extend_from_slice(&bytes);
            let (mut w, h) = wire(vec![all], false, Some(1 << 20));
            h.set_extensions(Some("permessage-deflate")).unwrap();
            let _ = drain(&mut w);
            let _ = events(&h);
        }
    }

    #[test]
    fn endless_response_heads_are_refused() {
        let chunks = vec![b"HTTP/1.1 101 OK\r\n".to_vec(), vec![b'x'; 70_000]];
        let (mut w, _) = wire(chunks, true, None);
        let mut buf = [0u8; 1024];
        let waker = futures::task::noop_waker();
        let r = Pin::new(&mut w).poll_read(&mut Context::from_waker(&waker), &mut buf);
        assert!(
            matches!(r, Poll::Ready(Err(ref e)) if e.kind() == io::ErrorKind::InvalidData),
            "{r:?}"
        );
    }

    #[test]
    fn read_through_async_read_ext() {
        let mut all = HEAD.to_vec();
        all.extend_from_slice(&frame(true, 2, false, &[1, 2, 3]));
        let (mut w, _) = wire(vec![all.clone()], false, None);
        let mut out = Vec::new();
        futures::executor::block_on(w.read_to_end(&mut out)).unwrap();
        assert_eq!(out, all);
    }
}
