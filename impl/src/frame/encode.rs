//! The frames we send: queued, masked, coalesced into writes by size.
//!
//! Frames are copied once, from the message's shared buffer into the write
//! buffer, masking as they go (a client must mask, RFC 6455 §5.3, and the
//! message's buffer is shared with the caller, so masking needs that copy
//! anyway). The write buffer is filled up to [`WRITE_CHUNK`] from the queue
//! whenever it has been written out: many small messages leave in one
//! write, a large one in pieces of that size, and a message is never held
//! back waiting for more (whatever is queued is written at once).
//!
//! A compressed message is compressed piece by piece as the write buffer
//! takes it, each piece a frame of its own (see [`super::compress`]), so
//! that its compressed form is never held whole next to the message.
//!
//! `bufferedAmount` falls when a message's last byte was handed to the
//! socket: [`Encoder::advance`] returns those messages' bytes, which the
//! driver reports to the model once the stream is flushed.

use std::collections::VecDeque;

use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::Bytes;
use wsapi_model::CloseFrame;

use super::compress::Compressor;
use super::{MAX_HEADER, WRITE_CHUNK};
use crate::Message;

/// What the driver queues for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outbound {
    /// A data message (counts toward `bufferedAmount` until written).
    Message(Message),
    /// A Close frame, with its code and reason if any.
    Close(Option<CloseFrame>),
    /// A ping (keep-alive's).
    Ping(Bytes),
    /// The answer to a ping.
    Pong(Bytes),
}

/// The frame being copied into the write buffer.
struct Current {
    payload: Bytes,
    /// Payload bytes already copied.
    copied: usize,
    mask: [u8; 4],
    /// The message's length, reported as written when its last frame is done.
    message_len: u64,
    /// A compressed message with input left: more frames follow this one.
    deflating: Option<Deflating>,
}

/// What is left of a message being compressed piece by piece.
struct Deflating {
    /// The whole message (shared with the caller, not copied).
    message: Bytes,
    /// Bytes of it already compressed into frames.
    consumed: usize,
}

/// The send side of one connection (see the module docs).
pub(crate) struct Encoder {
    queue: VecDeque<Outbound>,
    current: Option<Current>,
    /// Bytes to write: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    /// `(end, len)`: a message of `len` bytes ends at `buf[..end]`.
    ends: VecDeque<(usize, u64)>,
    /// What the pongs queued and not yet in the write buffer cost
    /// ([`pong_cost`]).
    queued_pong_bytes: u64,
    /// A Close frame was queued: nothing may follow it.
    close_queued: bool,
    compressor: Option<Compressor>,
    /// Messages shorter than this are sent uncompressed.
    compress_min: usize,
    /// Small messages' payloads copied into the write buffer, kept to be
    /// dropped by the sender ([`Encoder::take_spent`]).
    spent: Vec<Bytes>,
}

/// Payloads up to this size are handed back to be dropped by the thread
/// that sends ([`Encoder::take_spent`]); larger ones are dropped at once.
pub(crate) const SPENT_PAYLOAD: usize = 4 * 1024;

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("queued", &self.queue.len())
            .field("unwritten", &(self.buf.len() - self.pos))
            .field("compressing", &self.compressor.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder with nothing queued and no compression.
    pub(crate) fn new() -> Self {
        Encoder {
            queue: VecDeque::new(),
            current: None,
            buf: Vec::new(),
            pos: 0,
            ends: VecDeque::new(),
            queued_pong_bytes: 0,
            close_queued: false,
            compressor: None,
            compress_min: usize::MAX,
            spent: Vec::new(),
        }
    }

    /// Compresses messages of at least `min_size` bytes from now on.
    pub(crate) fn compress(&mut self, compressor: Compressor, min_size: usize) {
        self.compressor = Some(compressor);
        self.compress_min = min_size;
    }

    /// Queues a frame. Nothing is sent after a Close frame (RFC 6455
    /// §5.5.1): a ping that arrives while we close gets no pong.
    pub(crate) fn push(&mut self, item: Outbound) {
        if self.close_queued {
            return;
        }
        match &item {
            Outbound::Pong(payload) => self.queued_pong_bytes += pong_cost(payload),
            Outbound::Close(_) => self.close_queued = true,
            _ => {}
        }
        self.queue.push_back(item);
    }

    /// What the pongs waiting to be encoded cost: reading pauses while it
    /// is high, so that a peer that pings and never reads cannot grow them
    /// (empty pings included: each costs its queue entry).
    pub(crate) fn queued_pong_bytes(&self) -> u64 {
        self.queued_pong_bytes
    }

    /// Whether nothing is left to write.
    #[cfg(test)]
    pub(crate) fn is_idle(&self) -> bool {
        self.pos == self.buf.len() && self.current.is_none() && self.queue.is_empty()
    }

    /// Forgets everything queued (the transport is gone).
    pub(crate) fn clear(&mut self) {
        self.queue.clear();
        self.current = None;
        self.buf.clear();
        self.pos = 0;
        self.ends.clear();
        self.queued_pong_bytes = 0;
        self.spent.clear();
    }

    /// The payloads of small messages already copied into the write buffer
    /// (in the order sent), for the sending thread to drop. Why: a message
    /// the user cloned shares its reference count with the user's copy;
    /// dropping it on the thread that writes, while the sender clones the
    /// next on another core, moved that count's cache line between the
    /// cores for every message (17 % of the client's CPU for 16-byte
    /// messages), and a buffer freed on another thread than the one that
    /// allocated it costs the allocator more as well.
    pub(crate) fn take_spent(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.spent)
    }

    /// The next bytes to write (empty: nothing to write), refilled from the
    /// queue once the previous ones were all written.
    pub(crate) fn unwritten(&mut self) -> &[u8] {
        if self.pos == self.buf.len() {
            self.fill();
        }
        &self.buf[self.pos..]
    }

    /// `n` bytes of [`Encoder::unwritten`] were handed to the socket;
    /// returns the bytes of the messages whose last byte was among them.
    pub(crate) fn advance(&mut self, n: usize) -> u64 {
        self.pos += n;
        debug_assert!(self.pos <= self.buf.len());
        let mut written = 0;
        while let Some(&(end, len)) = self.ends.front() {
            if end > self.pos {
                break;
            }
            written += len;
            self.ends.pop_front();
        }
        written
    }

    /// Fills the write buffer from the queue, up to [`WRITE_CHUNK`].
    fn fill(&mut self) {
        self.buf.clear();
        self.pos = 0;
        debug_assert!(self.ends.is_empty());
        while self.buf.len() < WRITE_CHUNK {
            // A header never straddles the chunk's end.
            let header_fits = WRITE_CHUNK - self.buf.len() >= MAX_HEADER;
            match &self.current {
                None => {
                    if !header_fits {
                        break;
                    }
                    let Some(item) = self.queue.pop_front() else {
                        break;
                    };
                    self.start_frame(item);
                }
                // A frame done, and its message not: the next piece.
                Some(c) if c.copied == c.payload.len() => {
                    if !header_fits {
                        break;
                    }
                    self.next_fragment();
                }
                Some(_) => {}
            }
            let current = self.current.as_mut().expect("started above");
            let n = (current.payload.len() - current.copied).min(WRITE_CHUNK.saturating_sub(self.buf.len()));
            let start = self.buf.len();
            self.buf
                .extend_from_slice(&current.payload[current.copied..current.copied + n]);
            apply_mask(&mut self.buf[start..], current.mask, current.copied);
            current.copied += n;
            if current.copied == current.payload.len() && current.deflating.is_none() {
                if current.message_len > 0 {
                    self.ends.push_back((self.buf.len(), current.message_len));
                }
                let done = self.current.take().expect("the current frame");
                if done.message_len > 0 && done.payload.len() <= SPENT_PAYLOAD {
                    self.spent.push(done.payload);
                }
            }
        }
    }

    /// Writes a frame's header and makes it the current frame.
    fn start_frame(&mut self, item: Outbound) {
        let mut deflating = None;
        let (opcode, payload, rsv1, message_len) = match item {
            Outbound::Message(message) => {
                let len = message.len();
                let opcode = OpCode::Data(if message.is_text() { Data::Text } else { Data::Binary });
                let bytes = match message {
                    Message::Text(t) => Bytes::from(t),
                    Message::Binary(b) => b,
                };
                let first = match self.compressor.as_mut() {
                    Some(c) if len >= self.compress_min => c.start(&bytes),
                    _ => None,
                };
                match first {
                    Some(first) => {
                        if first.consumed < len {
                            deflating = Some(Deflating {
                                message: bytes,
                                consumed: first.consumed,
                            });
                        }
                        (opcode, Bytes::from(first.payload), true, len as u64)
                    }
                    None => (opcode, bytes, false, len as u64),
                }
            }
            Outbound::Close(frame) => {
                let payload = frame.map_or_else(Vec::new, |f| {
                    let mut p = f.code.to_be_bytes().to_vec();
                    p.extend_from_slice(f.reason.as_bytes());
                    p
                });
                (OpCode::Control(Control::Close), Bytes::from(payload), false, 0)
            }
            Outbound::Ping(p) => (OpCode::Control(Control::Ping), p, false, 0),
            Outbound::Pong(p) => {
                self.queued_pong_bytes -= pong_cost(&p);
                (OpCode::Control(Control::Pong), p, false, 0)
            }
        };
        let is_final = deflating.is_none();
        self.begin_frame(is_final, rsv1, opcode, payload, message_len, deflating);
    }

    /// Compresses the next piece of the current message and starts its
    /// frame, a continuation (RSV1 is on the first frame only, RFC 7692 §6.1).
    fn next_fragment(&mut self) {
        let current = self.current.take().expect("a message is being compressed");
        let mut deflating = current.deflating.expect("a message with input left");
        let compressor = self.compressor.as_mut().expect("it compressed the first piece");
        let (payload, used) = compressor.next_piece(&deflating.message[deflating.consumed..]);
        deflating.consumed += used;
        let more = (deflating.consumed < deflating.message.len()).then_some(deflating);
        let opcode = OpCode::Data(Data::Continue);
        self.begin_frame(
            more.is_none(),
            false,
            opcode,
            Bytes::from(payload),
            current.message_len,
            more,
        );
    }

    /// Writes a frame's header and makes it the current frame.
    fn begin_frame(
        &mut self,
        is_final: bool,
        rsv1: bool,
        opcode: OpCode,
        payload: Bytes,
        message_len: u64,
        deflating: Option<Deflating>,
    ) {
        let mask: [u8; 4] = rand::random();
        let header = FrameHeader {
            is_final,
            rsv1,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: Some(mask),
        };
        let mut bytes = [0u8; MAX_HEADER];
        let mut cursor = std::io::Cursor::new(&mut bytes[..]);
        header
            .format(payload.len() as u64, &mut cursor)
            .expect("a header fits in 14 bytes");
        let n = cursor.position() as usize;
        self.buf.extend_from_slice(&bytes[..n]);
        self.current = Some(Current {
            payload,
            copied: 0,
            mask,
            message_len,
            deflating,
        });
    }
}

/// What a queued pong costs: its payload, its frame's header and mask, and
/// its queue entry.
fn pong_cost(payload: &Bytes) -> u64 {
    (payload.len() + MAX_HEADER + std::mem::size_of::<Outbound>()) as u64
}

/// XORs `buf` with the mask, as the bytes at `offset..` of a payload
/// (RFC 6455 §5.3), eight bytes at a time.
fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let key: [u8; 4] = std::array::from_fn(|i| mask[(offset + i) % 4]);
    let word = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let value = u64::from_ne_bytes((&*chunk).try_into().expect("8 bytes")) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::frame::compress::PIECE;
    use crate::frame::inflate::Inflater;
    use wsapi_model::handshake::DeflateParams;

    /// Parses what a server reads: (header, unmasked payload) per frame.
    fn server_reads(mut bytes: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let mut cursor = Cursor::new(bytes);
            let (header, len) = FrameHeader::parse(&mut cursor).unwrap().expect("a whole header");
            let start = cursor.position() as usize;
            let mut payload = bytes[start..start + len as usize].to_vec();
            let mask = header.mask.expect("a client masks every frame");
            payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= mask[i % 4]);
            bytes = &bytes[start + len as usize..];
            frames.push((header, payload));
        }
        frames
    }

    /// Writes everything, `max_write` bytes at a time; returns the bytes,
    /// the sizes of the writes and the message bytes reported written.
    fn drain(encoder: &mut Encoder, max_write: usize) -> (Vec<u8>, Vec<usize>, u64) {
        let (mut all, mut writes, mut written) = (Vec::new(), Vec::new(), 0);
        loop {
            let bytes = encoder.unwritten();
            if bytes.is_empty() {
                return (all, writes, written);
            }
            let n = bytes.len().min(max_write);
            all.extend_from_slice(&bytes[..n]);
            writes.push(n);
            written += encoder.advance(n);
        }
    }

    #[test]
    fn small_written_payloads_are_handed_back_in_order_not_copied_and_large_ones_dropped() {
        let mut encoder = Encoder::new();
        let small = Bytes::from(vec![1u8; 16]);
        let large = Bytes::from(vec![2u8; SPENT_PAYLOAD + 1]);
        let limit = Bytes::from(vec![3u8; SPENT_PAYLOAD]);
        for m in [&small, &large, &limit] {
            encoder.push(Outbound::Message(Message::Binary(m.clone())));
        }
        encoder.push(Outbound::Ping(Bytes::from_static(b"p")));
        assert!(encoder.take_spent().is_empty(), "nothing copied yet");
        let (_, _, written) = drain(&mut encoder, usize::MAX);
        assert_eq!(written, (16 + 2 * SPENT_PAYLOAD + 1) as u64);
        let spent = encoder.take_spent();
        // The same buffers (no copy), messages only, the large one dropped.
        let ptrs: Vec<*const u8> = spent.iter().map(|b| b.as_ptr()).collect();
        assert_eq!(ptrs, [small.as_ptr(), limit.as_ptr()]);
        assert!(encoder.take_spent().is_empty(), "taken once");
    }

    #[test]
    fn small_frames_are_coalesced_into_one_write_and_masked() {
        let mut encoder = Encoder::new();
        for i in 0..1000u32 {
            encoder.push(Outbound::Message(Message::Binary(Bytes::from(
                i.to_be_bytes().repeat(4),
            ))));
        }
        encoder.push(Outbound::Close(Some(CloseFrame {
            code: 1000,
            reason: "bye".into(),
        })));
        let (bytes, writes, written) = drain(&mut encoder, usize::MAX);
        assert_eq!(writes.len(), 1, "{writes:?}");
        let frames = server_reads(&bytes);
        assert_eq!(frames.len(), 1001);
        for (i, (header, payload)) in frames[..1000].iter().enumerate() {
            assert_eq!(header.opcode, OpCode::Data(Data::Binary));
            assert!(header.is_final && !header.rsv1);
            assert_eq!(payload, &(i as u32).to_be_bytes().repeat(4));
        }
        assert_eq!(frames[1000].1, [&1000u16.to_be_bytes()[..], b"bye"].concat());
        assert_eq!(written, 16_000);
        assert!(encoder.is_idle());
    }

    #[test]
    fn a_large_message_leaves_in_pieces_of_the_write_chunk() {
        let mut encoder = Encoder::new();
        let payload: Vec<u8> = (0..(3 * WRITE_CHUNK + 5)).map(|i| (i * 7) as u8).collect();
        encoder.push(Outbound::Message(Message::Binary(payload.clone().into())));
        encoder.push(Outbound::Ping(Bytes::new()));
        let (bytes, writes, _) = drain(&mut encoder, usize::MAX);
        assert!(writes.iter().all(|&n| n <= WRITE_CHUNK + MAX_HEADER), "{writes:?}");
        assert_eq!(writes.len(), 4);
        let frames = server_reads(&bytes);
        assert_eq!(frames[0].1, payload);
        assert_eq!(frames[1].0.opcode, OpCode::Control(Control::Ping));
    }

    #[test]
    fn a_message_counts_as_written_when_its_last_byte_is() {
        let mut encoder = Encoder::new();
        encoder.push(Outbound::Message("abcdef".into()));
        encoder.push(Outbound::Message("gh".into()));
        // 2-byte header + 4-byte mask + 6 bytes, then 2 + 4 + 2.
        assert_eq!(encoder.unwritten().len(), 20);
        assert_eq!(encoder.advance(11), 0);
        assert_eq!(encoder.advance(1), 6);
        assert_eq!(encoder.advance(7), 0);
        assert_eq!(encoder.advance(1), 2);
        assert!(encoder.is_idle());
    }

    #[test]
    fn pongs_count_until_they_are_encoded() {
        let mut encoder = Encoder::new();
        encoder.push(Outbound::Pong(Bytes::from_static(b"12345")));
        encoder.push(Outbound::Pong(Bytes::from_static(b"678")));
        let entry = (MAX_HEADER + std::mem::size_of::<Outbound>()) as u64;
        assert_eq!(encoder.queued_pong_bytes(), 8 + 2 * entry);
        // Empty pings cost their entry: a flood of them is bounded too.
        encoder.push(Outbound::Pong(Bytes::new()));
        assert_eq!(encoder.queued_pong_bytes(), 8 + 3 * entry);
        let (bytes, _, _) = drain(&mut encoder, 3);
        assert_eq!(encoder.queued_pong_bytes(), 0);
        let frames = server_reads(&bytes);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1], (frames[1].0.clone(), b"678".to_vec()));
        assert_eq!(frames[1].0.opcode, OpCode::Control(Control::Pong));
        // One pong alone: encoding it takes back exactly its cost.
        encoder.push(Outbound::Pong(Bytes::from_static(b"9")));
        drain(&mut encoder, 64);
        assert_eq!(encoder.queued_pong_bytes(), 0);
        encoder.push(Outbound::Pong(Bytes::from_static(b"x")));
        encoder.clear();
        assert_eq!(encoder.queued_pong_bytes(), 0);
        assert!(encoder.is_idle());
    }

    #[test]
    fn messages_above_the_threshold_are_compressed_with_rsv1() {
        let mut encoder = Encoder::new();
        encoder.compress(Compressor::new(&DeflateParams::default()).unwrap(), 10);
        let long = "compress me, compress me, compress me".repeat(10);
        encoder.push(Outbound::Message(long.as_str().into()));
        encoder.push(Outbound::Message("short".into()));
        encoder.push(Outbound::Message(long.as_str().into()));
        let (bytes, _, written) = drain(&mut encoder, 100);
        let frames = server_reads(&bytes);
        let rsv1: Vec<bool> = frames.iter().map(|(h, _)| h.rsv1).collect();
        assert_eq!(rsv1, [true, false, true]);
        assert_eq!(frames[1].1, b"short");
        let mut inflater = Inflater::new();
        for i in [0, 2] {
            let mut out = Vec::new();
            inflater.inflate(&frames[i].1, usize::MAX, &mut out).unwrap();
            inflater.finish_message(usize::MAX, &mut out).unwrap();
            assert_eq!(out, long.as_bytes());
        }
        // bufferedAmount counts what the user sent, not the wire bytes.
        assert_eq!(written, 2 * long.len() as u64 + 5);
    }

    /// `len` incompressible bytes (xorshift from `seed`).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    /// What the server's inflater makes of the frames: each message's RSV1,
    /// frame count and payload, inflating (through one inflater for the
    /// whole connection, as under context takeover) those with RSV1 set.
    fn server_messages(frames: &[(FrameHeader, Vec<u8>)], inflater: &mut Inflater) -> Vec<(bool, usize, Vec<u8>)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < frames.len() {
            let compressed = frames[i].0.rsv1;
            let mut data = Vec::new();
            let start = i;
            loop {
                let (header, payload) = &frames[i];
                assert!(i == start || (!header.rsv1 && header.opcode == OpCode::Data(Data::Continue)));
                if compressed {
                    inflater
                        .inflate(payload, usize::MAX, &mut data)
                        .expect("the server inflates it");
                } else {
                    data.extend_from_slice(payload);
                }
                i += 1;
                if header.is_final {
                    break;
                }
            }
            if compressed {
                inflater
                    .finish_message(usize::MAX, &mut data)
                    .expect("the server inflates it");
            }
            out.push((compressed, i - start, data));
        }
        out
    }

    /// A message that does not compress goes out as it is, with RSV1 clear
    /// (RFC 7692 lets the sender choose per message), and the messages
    /// around it still inflate on the server: under context takeover the
    /// trial compression of the noise moved our window past bytes the
    /// server never saw, and the compressor is reset. `text` again after
    /// the noise is where a compressor that was not reset refers back
    /// across the noise (a distance the server's window does not have).
    #[test]
    fn a_message_that_does_not_compress_is_sent_uncompressed_and_the_next_still_inflates() {
        let text = "a message that compresses well, a message that compresses well; ".repeat(40);
        for no_context_takeover in [false, true] {
            let params = DeflateParams {
                client_no_context_takeover: no_context_takeover,
                ..DeflateParams::default()
            };
            for noise_len in [100, 8_000, PIECE, PIECE + 1, 2 * PIECE + 10] {
                let noise = noise(noise_len, noise_len as u64);
                let mut encoder = Encoder::new();
                encoder.compress(Compressor::new(&params).unwrap(), 10);
                for data in [text.as_bytes(), &noise, text.as_bytes(), &noise, text.as_bytes()] {
                    encoder.push(Outbound::Message(Message::Binary(Bytes::copy_from_slice(data))));
                }
                let (bytes, _, written) = drain(&mut encoder, 1000);
                let frames = server_reads(&bytes);
                let messages = server_messages(&frames, &mut Inflater::new());
                let what = format!("{noise_len} bytes of noise, no_context_takeover {no_context_takeover}");
                let compressed: Vec<bool> = messages.iter().map(|m| m.0).collect();
                assert_eq!(compressed, [true, false, true, false, true], "{what}");
                for (i, data) in [text.as_bytes(), &noise, text.as_bytes(), &noise, text.as_bytes()]
                    .iter()
                    .enumerate()
                {
                    assert!(messages[i].2 == *data, "message {i}, {what}");
                }
                // Sent as it is, the noise is one frame of its own length.
                assert_eq!((messages[1].1, frames[1].1.len()), (1, noise_len), "{what}");
                assert_eq!(written, 3 * text.len() as u64 + 2 * noise_len as u64);
            }
        }
    }

    /// A large compressible message leaves in frames of one piece each
    /// (RSV1 on the first only), so its compressed form is never held
    /// whole; the server inflates them as one message.
    #[test]
    fn a_large_compressed_message_is_sent_piece_by_piece() {
        let text = "piece by piece, piece by piece; ".repeat(3 * PIECE / 32 + 5);
        let mut encoder = Encoder::new();
        encoder.compress(Compressor::new(&DeflateParams::default()).unwrap(), 10);
        encoder.push(Outbound::Message(text.as_str().into()));
        encoder.push(Outbound::Message("after".into()));
        let (bytes, writes, written) = drain(&mut encoder, usize::MAX);
        assert!(writes.iter().all(|&n| n <= WRITE_CHUNK), "{writes:?}");
        let frames = server_reads(&bytes);
        assert_eq!(frames[0].0.opcode, OpCode::Data(Data::Text));
        assert!(frames[0].0.rsv1 && !frames[0].0.is_final);
        let messages = server_messages(&frames, &mut Inflater::new());
        assert_eq!(messages.len(), 2);
        assert_eq!((messages[0].0, messages[0].1), (true, 4));
        assert!(messages[0].2 == text.as_bytes());
        assert_eq!(messages[1].2, b"after");
        assert_eq!(written, text.len() as u64 + 5);
    }

    #[test]
    fn a_header_never_straddles_the_end_of_a_write_chunk() {
        // The first frame (14-byte header) ends one byte before the chunk's
        // end: the next header goes into the next write.
        let mut encoder = Encoder::new();
        let first = vec![1u8; WRITE_CHUNK - 15];
        encoder.push(Outbound::Message(Message::Binary(first.clone().into())));
        encoder.push(Outbound::Message(Message::Binary(vec![2u8; 70_000].into())));
        let (bytes, writes, _) = drain(&mut encoder, usize::MAX);
        assert!(writes.iter().all(|&n| n <= WRITE_CHUNK), "{writes:?}");
        assert_eq!(writes[0], WRITE_CHUNK - 1);
        let frames = server_reads(&bytes);
        assert_eq!((frames[0].1.len(), frames[1].1.len()), (first.len(), 70_000));
    }

    #[test]
    fn nothing_is_queued_after_a_close_frame() {
        let mut encoder = Encoder::new();
        encoder.push(Outbound::Close(None));
        encoder.push(Outbound::Pong(Bytes::from_static(b"late")));
        assert_eq!(encoder.queued_pong_bytes(), 0);
        let (bytes, _, _) = drain(&mut encoder, usize::MAX);
        let frames = server_reads(&bytes);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0.opcode, OpCode::Control(Control::Close));
    }

    #[test]
    fn masking_at_any_offset_matches_the_byte_by_byte_rule() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..37).collect();
        for offset in 0..8 {
            let mut fast = data.clone();
            apply_mask(&mut fast, mask, offset);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[(offset + i) % 4])
                .collect();
            assert_eq!(fast, slow, "offset {offset}");
        }
    }
}
