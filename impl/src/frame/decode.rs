//! The sans-IO frame decoder: bytes in, [`Inbound`] items out.
//!
//! Each byte is looked at once. Headers are parsed by tungstenite's
//! [`FrameHeader`] and checked here against RFC 6455 §5 for a client (the
//! server must not mask, reserved bits and opcodes, control frames short and
//! unfragmented, fragments in order, a 64-bit length's top bit clear) and
//! against the [`Limits`] — on the header, so a 10-byte header announcing a
//! terabyte costs nothing. Payload bytes go straight from the read buffer
//! into the message being assembled (or through the inflater into it); text
//! is checked for UTF-8 as it grows. A Close frame's payload is handed on
//! raw: the model validates it and decides the reply.
//!
//! After a Close frame or a failure the decoder stops: the driver reads and
//! drops what follows until the end of the stream.
//!
//! # Where a message's bytes live
//!
//! A small message (one uncompressed frame of at most [`SMALL_MESSAGE`]
//! bytes) is copied into the decoder's [`Decoder::small`] buffer, one
//! allocation of [`SMALL_CHUNK`] bytes that consecutive messages fill
//! densely, and handed out as a slice of it (`BytesMut::split`). A
//! `malloc` and `free` per message, and the allocator's heap growing and
//! being trimmed as batches of messages come and go (page faults, pages
//! cleared), cost 1 KiB messages a fifth of their CPU; now a chunk is
//! allocated per [`SMALL_CHUNK`] bytes, and reused when every message cut
//! from it was dropped (a few used-up chunks are kept for that). Memory stays bounded by what is
//! queued: chunks hold message bytes only (no headers or control frames),
//! densely (a chunk is left when the next message does not fit, so less
//! than [`SMALL_MESSAGE`] of it goes unused), so the queued messages pin at
//! most 8/7 of their own bytes plus one chunk. A message the user keeps keeps its chunk (at most
//! [`SMALL_CHUNK`]) alive, as with any `Bytes` cut from a shared buffer.
//! Other messages get a buffer of their own (large ones from the
//! [`BufferPool`]).

use std::io::Cursor;

use bytes::BytesMut;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::{Bytes, Utf8Bytes};
use wsapi_model::handshake::DeflateParams;
use wsapi_model::FailReason;

use super::inflate::{InflateError, Inflater};
use super::pool::BufferPool;
use super::utf8::Utf8Check;
use super::Limits;
use crate::Message;

/// Most bytes reserved for a message on a frame header's word; past this
/// the buffer grows with the bytes that actually arrive.
const MAX_RESERVE: usize = 16 << 20;

/// The largest message whose bytes go to the shared small-message buffer
/// (see the module docs).
pub(crate) const SMALL_MESSAGE: usize = 4 * 1024;

/// The size of the allocations small messages share.
pub(crate) const SMALL_CHUNK: usize = 32 * 1024;

/// Used-up chunks kept for reuse once their messages are dropped: enough
/// for the messages a reader has not taken yet in a busy stream, few
/// enough that an idle connection keeps little (at most this many chunks).
const SPARE_CHUNKS: usize = 4;

/// What the server sent, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// A whole message (text is valid UTF-8).
    Message(Message),
    /// A ping: the driver answers it with a pong of this payload.
    Ping(Bytes),
    /// A pong and its payload (a sign of life; shown to a control-frame
    /// observer, see `WebSocketBuilder::on_control_frame`).
    Pong(Bytes),
    /// A Close frame's raw payload. The decoder stopped.
    Close(Vec<u8>),
    /// The server broke the protocol or a limit. The decoder stopped.
    Fail(FailReason),
}

/// Why [`Decoder::decode`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pause {
    /// Every byte given was used, or the rest is an incomplete header:
    /// read more.
    NeedInput,
    /// The budget was spent; the rest waits until the user takes events.
    Budget,
    /// A Close frame or a failure ended decoding.
    Stopped,
}

/// What the decoder is in the middle of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a frame header.
    Header,
    /// Inside a data frame's payload.
    Data { remaining: u64, fin: bool },
    /// Inside a control frame's payload (at most 125 bytes).
    Control { opcode: Control, remaining: usize },
    /// A Close frame or a failure was decoded.
    Stopped,
}

/// The message being assembled from its frames.
#[derive(Debug)]
struct Assembly {
    text: bool,
    /// RSV1 on its first frame: the payload is deflated.
    compressed: bool,
    /// Its bytes are in [`Decoder::small`] (and `buf` is empty).
    small: bool,
    buf: Vec<u8>,
    utf8: Utf8Check,
}

/// permessage-deflate's receiving side.
struct Inflating {
    inflater: Inflater,
    /// `server_no_context_takeover`: the server resets its window per message.
    reset_each_message: bool,
}

/// Decodes the frames of one connection (see the module docs).
pub(crate) struct Decoder {
    limits: Limits,
    inflating: Option<Inflating>,
    state: State,
    message: Option<Assembly>,
    /// The control frame's payload so far.
    control: Vec<u8>,
    /// Where large messages' buffers come back to.
    pool: BufferPool,
    /// The bytes of the small message being assembled, in the allocation
    /// that consecutive small messages share (see the module docs); empty
    /// between messages.
    small: BytesMut,
    /// Used-up chunks, oldest first (see [`Decoder::next_chunk`]).
    spare_chunks: Vec<BytesMut>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("limits", &self.limits)
            .field("deflate", &self.inflating.is_some())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The cost of an item against the decoding budget: its bytes and a fixed
/// overhead, so that many tiny messages count as well as a few large ones.
pub(crate) fn cost(item: &Inbound, overhead: u64) -> u64 {
    match item {
        Inbound::Message(m) => m.len() as u64 + overhead,
        _ => overhead,
    }
}

impl Decoder {
    /// A decoder for a connection with these limits, and permessage-deflate
    /// if it was negotiated.
    pub(crate) fn new(limits: Limits, deflate: Option<DeflateParams>) -> Self {
        Decoder {
            limits,
            inflating: deflate.map(|params| Inflating {
                inflater: Inflater::new(),
                reset_each_message: params.server_no_context_takeover,
            }),
            state: State::Header,
            message: None,
            control: Vec::new(),
            pool: BufferPool::default(),
            small: BytesMut::new(),
            spare_chunks: Vec::new(),
        }
    }

    /// Whether a Close frame or a failure ended decoding.
    pub(crate) fn is_stopped(&self) -> bool {
        self.state == State::Stopped
    }

    /// Decodes from `input`, pushing items to `out`, until the input is used
    /// up or `budget` is spent: each item pushed takes its [`cost`] (with
    /// `overhead` per item) from it, and no frame is started once it is 0.
    /// Returns the bytes used and why it returned; unused bytes must be
    /// given again, with more after them.
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        budget: &mut u64,
        overhead: u64,
        out: &mut Vec<Inbound>,
    ) -> (usize, Pause) {
        let mut pos = 0;
        loop {
            match self.state {
                State::Stopped => return (pos, Pause::Stopped),
                State::Header => {
                    if *budget == 0 {
                        return (pos, Pause::Budget);
                    }
                    let mut cursor = Cursor::new(&input[pos..]);
                    match FrameHeader::parse(&mut cursor) {
                        Ok(None) => return (pos, Pause::NeedInput),
                        Ok(Some((header, len))) => {
                            let header_len = cursor.position() as usize;
                            pos += header_len;
                            let checked = check_length_form(header_len, header.mask.is_some(), len)
                                .and_then(|()| self.start_frame(&header, len));
                            if let Err(why) = checked {
                                self.fail(why, out);
                            }
                        }
                        Err(e) => self.fail(FailReason::Protocol(e.to_string()), out),
                    }
                }
                State::Data { remaining, fin } => {
                    let n = remaining.min((input.len() - pos) as u64) as usize;
                    if n == 0 && remaining > 0 {
                        return (pos, Pause::NeedInput);
                    }
                    let chunk = &input[pos..pos + n];
                    pos += n;
                    let remaining = remaining - n as u64;
                    self.state = State::Data { remaining, fin };
                    let done = match self.take_payload(chunk) {
                        Err(why) => Err(why),
                        Ok(()) if remaining > 0 => Ok(None),
                        Ok(()) => {
                            self.state = State::Header;
                            if fin {
                                self.finish_message().map(Some)
                            } else {
                                Ok(None)
                            }
                        }
                    };
                    match done {
                        Ok(Some(message)) => {
                            let item = Inbound::Message(message);
                            *budget = budget.saturating_sub(cost(&item, overhead));
                            out.push(item);
                        }
                        Ok(None) => {}
                        Err(why) => self.fail(why, out),
                    }
                }
                State::Control { opcode, remaining } => {
                    let n = remaining.min(input.len() - pos);
                    if n == 0 && remaining > 0 {
                        return (pos, Pause::NeedInput);
                    }
                    self.control.extend_from_slice(&input[pos..pos + n]);
                    pos += n;
                    if remaining > n {
                        self.state = State::Control {
                            opcode,
                            remaining: remaining - n,
                        };
                        continue;
                    }
                    self.state = State::Header;
                    let payload = std::mem::take(&mut self.control);
                    let item = match opcode {
                        Control::Ping => Inbound::Ping(payload.into()),
                        Control::Pong => Inbound::Pong(payload.into()),
                        Control::Close => {
                            self.state = State::Stopped;
                            self.message = None;
                            self.small.clear();
                            Inbound::Close(payload)
                        }
                        Control::Reserved(_) => unreachable!("refused in start_frame"),
                    };
                    *budget = budget.saturating_sub(cost(&item, overhead));
                    out.push(item);
                }
            }
        }
    }

    /// Ends decoding with a failure.
    fn fail(&mut self, why: FailReason, out: &mut Vec<Inbound>) {
        self.state = State::Stopped;
        self.message = None;
        self.small.clear();
        out.push(Inbound::Fail(why));
    }

    /// Checks a header and sets up its payload (RFC 6455 §5.2–5.5, §5.8;
    /// RFC 7692 §6 for RSV1).
    fn start_frame(&mut self, h: &FrameHeader, len: u64) -> Result<(), FailReason> {
        let protocol = |why: &str| Err(FailReason::Protocol(why.to_string()));
        if h.mask.is_some() {
            return protocol("the server masked a frame");
        }
        if h.rsv2 || h.rsv3 {
            return protocol("a reserved bit (RSV2 or RSV3) is set");
        }
        if len >> 63 != 0 {
            return protocol("a 64-bit payload length has its top bit set");
        }
        let data = match h.opcode {
            OpCode::Control(Control::Reserved(_)) | OpCode::Data(Data::Reserved(_)) => {
                return protocol("a reserved opcode"); // FrameHeader::parse refuses these first
            }
            OpCode::Control(opcode) => {
                if !h.is_final {
                    return protocol("a fragmented control frame");
                }
                if len > 125 {
                    return protocol("a control frame payload over 125 bytes");
                }
                if h.rsv1 {
                    return protocol("RSV1 is set on a control frame");
                }
                self.control.clear();
                self.state = State::Control {
                    opcode,
                    remaining: len as usize,
                };
                return Ok(());
            }
            OpCode::Data(data) => data,
        };
        match (data, self.message.as_ref()) {
            (Data::Continue, None) => return protocol("a continuation frame without a message to continue"),
            (Data::Continue, Some(_)) if h.rsv1 => return protocol("RSV1 is set on a continuation frame"),
            (Data::Text | Data::Binary, Some(_)) => {
                return protocol("a new message started before the previous one ended")
            }
            (Data::Text | Data::Binary, None) => {
                if h.rsv1 && self.inflating.is_none() {
                    return protocol("RSV1 is set but permessage-deflate was not negotiated");
                }
                let small = h.is_final && !h.rsv1 && len <= SMALL_MESSAGE as u64;
                let buf = if small {
                    debug_assert!(self.small.is_empty(), "split off when the last one ended");
                    if self.small.capacity() < len as usize {
                        self.next_chunk();
                    }
                    Vec::new()
                } else {
                    // A large first frame takes a pooled buffer (see `pool`).
                    let capacity = if h.rsv1 { 0 } else { (len as usize).min(MAX_RESERVE) };
                    self.pool.take(capacity)
                };
                self.message = Some(Assembly {
                    text: data == Data::Text,
                    compressed: h.rsv1,
                    small,
                    buf,
                    utf8: Utf8Check::default(),
                });
            }
            _ => {}
        }
        if self.limits.max_frame_size.is_some_and(|max| len > max as u64) {
            return Err(FailReason::MessageTooBig);
        }
        let message = self.message.as_mut().expect("set above");
        if !message.compressed {
            let total = (message.buf.len() as u64).saturating_add(len);
            if self.limits.max_message_size.is_some_and(|max| total > max as u64) {
                return Err(FailReason::MessageTooBig);
            }
            if !message.small {
                message.buf.reserve((len as usize).min(MAX_RESERVE));
            }
        }
        self.state = State::Data {
            remaining: len,
            fin: h.is_final,
        };
        Ok(())
    }

    /// Replaces the used-up small-message chunk with one of the
    /// [`SPARE_CHUNKS`] kept whose messages were all dropped (a check of
    /// its reference count each), else a new one. The used-up chunk is kept
    /// in its place, in case its messages are dropped before the next
    /// switch: a chunk freed to the allocator and allocated again costs its
    /// pages faulted in and cleared again once the allocator trims its heap.
    fn next_chunk(&mut self) {
        if self.small.try_reclaim(SMALL_CHUNK) {
            return; // its messages are all gone already
        }
        let used = std::mem::take(&mut self.small);
        let reclaimed = self.spare_chunks.iter_mut().position(|c| c.try_reclaim(SMALL_CHUNK));
        self.small = match reclaimed {
            Some(i) => self.spare_chunks.swap_remove(i),
            None => BytesMut::with_capacity(SMALL_CHUNK),
        };
        if self.spare_chunks.len() == SPARE_CHUNKS {
            // The oldest is left to its messages.
            self.spare_chunks.remove(0);
        }
        self.spare_chunks.push(used);
    }

    /// Adds payload bytes of the current data frame to the message.
    fn take_payload(&mut self, chunk: &[u8]) -> Result<(), FailReason> {
        let message = self.message.as_mut().expect("a data frame belongs to a message");
        if message.compressed {
            let inflating = self.inflating.as_mut().expect("checked on the first frame");
            let budget = self.limits.max_message_size.unwrap_or(usize::MAX);
            inflating
                .inflater
                .inflate(chunk, budget, &mut message.buf)
                .map_err(inflate_failure)?;
        } else if message.small {
            self.small.extend_from_slice(chunk);
        } else {
            message.buf.extend_from_slice(chunk);
        }
        let bytes: &[u8] = if message.small { &self.small } else { &message.buf };
        if message.text && !message.utf8.update(bytes) {
            return Err(FailReason::InvalidUtf8);
        }
        Ok(())
    }

    /// The message whose last frame just ended.
    fn finish_message(&mut self) -> Result<Message, FailReason> {
        let mut message = self.message.take().expect("a data frame belongs to a message");
        if message.compressed {
            let inflating = self.inflating.as_mut().expect("checked on the first frame");
            let budget = self.limits.max_message_size.unwrap_or(usize::MAX);
            inflating
                .inflater
                .finish_message(budget, &mut message.buf)
                .map_err(inflate_failure)?;
            if inflating.reset_each_message {
                inflating.inflater.reset();
            }
            if message.text && !message.utf8.update(&message.buf) {
                return Err(FailReason::InvalidUtf8);
            }
        }
        let bytes = if message.small {
            if message.text && !message.utf8.is_complete(&self.small) {
                return Err(FailReason::InvalidUtf8);
            }
            self.small.split().freeze()
        } else {
            if message.text && !message.utf8.is_complete(&message.buf) {
                return Err(FailReason::InvalidUtf8);
            }
            self.pool.freeze(message.buf)
        };
        if !message.text {
            return Ok(Message::Binary(bytes));
        }
        // SAFETY: `Utf8Check` validated every byte of the buffer as it was
        // appended and found no character cut at its end, so it is UTF-8.
        Ok(Message::Text(unsafe { Utf8Bytes::from_bytes_unchecked(bytes) }))
    }
}

/// RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the
/// length" (Chromium fails the connection too). `header_len` is the
/// header's size as read; a masked header is refused anyway.
fn check_length_form(header_len: usize, masked: bool, len: u64) -> Result<(), FailReason> {
    let extended = header_len - 2 - if masked { 4 } else { 0 };
    let minimal = match extended {
        2 => len >= 126,
        8 => len > 0xffff,
        _ => true,
    };
    if minimal {
        Ok(())
    } else {
        Err(FailReason::Protocol(
            "a payload length not in its shortest form".to_string(),
        ))
    }
}

fn inflate_failure(e: InflateError) -> FailReason {
    match e {
        InflateError::TooBig => FailReason::MessageTooBig,
        InflateError::Corrupt(why) => FailReason::Protocol(format!("invalid compressed data: {why}")),
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
