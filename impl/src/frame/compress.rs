//! Compressing what we send (RFC 7692 §7.2.1), as browsers do once
//! permessage-deflate is negotiated.
//!
//! Each message is compressed with a sync flush and the trailing
//! `00 00 ff ff` removed. The window is kept across messages unless the
//! server asked for `client_no_context_takeover`. We always compress with
//! a 32 KiB window, so when the server limits ours
//! (`client_max_window_bits` below 15) we send uncompressed messages, which
//! RFC 7692 always allows: a compressed message is one with RSV1 set, and
//! setting it is the sender's choice per message.
//!
//! # Only when it pays, and in bounded pieces
//!
//! A message is compressed a piece of [`PIECE`] input bytes at a time, each
//! piece sync-flushed and sent as a frame of its own (RSV1 on the first,
//! continuation frames after it, RFC 7692 §6.1), so that compressing a
//! 256 MiB message holds one piece's output, not a second copy of the
//! message. Whether to compress at all is decided on the first piece
//! (for a message of one piece, that is the whole message): if its
//! compressed form is not smaller, the message goes out uncompressed, with
//! RSV1 clear, which RFC 7692 allows per message. For a longer message the
//! first piece stands for the rest; if the rest compresses worse, zlib
//! sends it in stored blocks (5 bytes per 64 KiB), so the loss is bounded.
//!
//! The trial compresses with the connection's own compressor, so under
//! context takeover its window has then moved past bytes the server will
//! never inflate (the message goes out uncompressed). Left so, a later
//! message could refer back to those bytes, and the server's inflater,
//! whose window holds only what it inflated (RFC 7692 §7.2.3: the LZ77
//! window is shared across the *compressed* messages), would read other
//! bytes there: a corrupted message, or a failed connection. So a refused
//! trial resets the compressor: one that refers to nothing earlier cannot
//! refer to the wrong bytes, and the server's larger window is merely left
//! unused. The price is compression: the next message cannot refer to the
//! messages before the refused one (as under `client_no_context_takeover`,
//! for that message only; the window fills again from it on). Giving the
//! compressor the server's window back as a dictionary would keep that,
//! but loading 32 KiB costs about 75 µs against 5 µs for the reset and
//! 4 µs for compressing a 100-byte message (zlib-rs, optimised), so a
//! stream of small messages that do not compress would run 20 times
//! slower. Estimating from a sample before compressing would avoid the
//! trial's side effect, but needs a second compressor per connection and
//! compresses the sample twice; a refused trial costs one piece's
//! compression and a reset, and only for messages that do not compress.
//! Under `client_no_context_takeover` the compressor is reset after every
//! message anyway.
//!
//! flate2 runs on its `zlib-rs` backend (a Rust port of zlib), not on
//! miniz_oxide: miniz_oxide inflates a reference to bytes before the window
//! as zeros where zlib, as in browsers, refuses it (see [`super::inflate`]).
//! One difference shows here: after a sync flush, zlib writes nothing for
//! a message with no input (it has nothing to flush), where miniz_oxide
//! wrote another empty block; we then send the one byte RFC 7692 gives.

use flate2::{Compress, Compression, FlushCompress};
use wsapi_model::handshake::DeflateParams;

/// What every sync flush ends with; removed before sending (RFC 7692 §7.2.1).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Input bytes compressed per piece (and so per frame of a compressed
/// message): what compressing holds besides the message is one piece's
/// output.
pub(crate) const PIECE: usize = super::WRITE_CHUNK;

/// A raw-deflate compressor for the messages of one connection.
pub(crate) struct Compressor {
    compress: Compress,
    /// `client_no_context_takeover`: forget the window after each message.
    reset_each_message: bool,
}

/// The first frame of a message that [`Compressor::start`] compressed.
#[derive(Debug)]
pub(crate) struct FirstPiece {
    /// The frame's payload.
    pub payload: Vec<u8>,
    /// Input bytes it holds; the rest goes through [`Compressor::next_piece`].
    pub consumed: usize,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("reset_each_message", &self.reset_each_message)
            .finish_non_exhaustive()
    }
}

impl Compressor {
    /// A compressor for what the server accepted, or `None` when we cannot
    /// honour its window limit (see the module docs).
    pub(crate) fn new(params: &DeflateParams) -> Option<Self> {
        if params.client_max_window_bits.is_some_and(|bits| bits < 15) {
            return None;
        }
        Some(Compressor {
            compress: Compress::new(Compression::default(), false),
            reset_each_message: params.client_no_context_takeover,
        })
    }

    /// Starts a message: compresses its first piece, and returns it if that
    /// pays (it is smaller than its input). `None`: send the message
    /// uncompressed; the compressor was reset (see the module docs).
    pub(crate) fn start(&mut self, message: &[u8]) -> Option<FirstPiece> {
        if message.is_empty() {
            // Nothing to gain (its compressed form is one byte), and no
            // trial to take back.
            return None;
        }
        let piece = &message[..message.len().min(PIECE)];
        let last = piece.len() == message.len();
        let payload = self.piece(piece, last, piece.len() + piece.len() / 16 + 64);
        if payload.len() >= piece.len() {
            // The trial moved the window past bytes the server never sees.
            self.compress.reset();
            return None;
        }
        Some(FirstPiece {
            payload,
            consumed: piece.len(),
        })
    }

    /// The next frame of a message [`Self::start`] began: compresses up to
    /// [`PIECE`] bytes of `rest` (what is left of the message). Returns the
    /// payload and the input bytes it holds; the message is done once they
    /// are all of `rest`.
    pub(crate) fn next_piece(&mut self, rest: &[u8]) -> (Vec<u8>, usize) {
        let piece = &rest[..rest.len().min(PIECE)];
        let payload = self.piece(piece, piece.len() == rest.len(), piece.len() + piece.len() / 16 + 64);
        (payload, piece.len())
    }

    /// A whole message, compressed whether or not it pays, as one payload
    /// (tests of the inflater).
    #[cfg(test)]
    pub(crate) fn compress(&mut self, message: &[u8]) -> Vec<u8> {
        self.compress_from(message, message.len() + 64)
    }

    /// [`Compressor::compress`] with each piece starting from `capacity`
    /// bytes of output room: the loop in [`Self::piece`] grows it as needed
    /// (tests start it small, so that the loop's stop rule is exercised,
    /// not only its first call).
    #[cfg(test)]
    fn compress_from(&mut self, message: &[u8], capacity: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let piece = &message[at..message.len().min(at + PIECE)];
            let last = at + piece.len() == message.len();
            out.extend_from_slice(&self.piece(piece, last, capacity));
            at += piece.len();
            if last {
                return out;
            }
        }
    }

    /// Compresses `input` with a sync flush, starting from `capacity`
    /// bytes of output room. The `last` piece of a message loses its sync
    /// tail (RFC 7692 §7.2.1) and ends the message's window under
    /// `client_no_context_takeover`; the others keep it, an empty stored
    /// block inside the stream, which the server's inflater skips.
    fn piece(&mut self, input: &[u8], last: bool, capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity);
        let start_in = self.compress.total_in();
        let mut previous_left_room = true;
        loop {
            let consumed = (self.compress.total_in() - start_in) as usize;
            self.compress
                .compress_vec(&input[consumed..], &mut out, FlushCompress::Sync)
                .expect("deflate cannot fail on a valid stream");
            let consumed = (self.compress.total_in() - start_in) as usize;
            let left_room = out.len() < out.capacity();
            // Done when all input is in and this call, and the one before,
            // left room: after a call that filled the buffer, the next may
            // only write out what was pending and return with the flush
            // unfinished (Autobahn 12.2.9 caught that). Looking for the
            // flush's 00 00 ff ff is no test either: stored data may end
            // with those bytes. A needless extra call adds nothing (zlib has
            // nothing left to flush), which costs only the call.
            if consumed == input.len() && left_room && previous_left_room {
                break;
            }
            previous_left_room = left_room;
            if !left_room {
                out.reserve(out.capacity().max(64));
            }
        }
        // An empty message right after a flush leaves zlib nothing to
        // write. Its payload is then the single byte 0x00 (RFC 7692
        // §7.2.3.6): with the tail the receiver appends, 00 00 00 ff ff, an
        // empty stored block. Sent empty, the receiver would read the tail
        // alone, misaligned by the block header it lacks.
        if !last {
            return out;
        }
        if out.is_empty() {
            out.push(0x00);
        } else {
            debug_assert!(
                out.ends_with(&SYNC_TAIL),
                "a sync flush ends with an empty stored block"
            );
            out.truncate(out.len() - SYNC_TAIL.len());
        }
        if self.reset_each_message {
            self.compress.reset();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::inflate::Inflater;

    fn params(client_no_context_takeover: bool, bits: Option<u8>) -> DeflateParams {
        DeflateParams {
            client_no_context_takeover,
            client_max_window_bits: bits,
            ..DeflateParams::default()
        }
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

    fn inflate(inflater: &mut Inflater, compressed: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        inflater.inflate(compressed, usize::MAX, &mut out).unwrap();
        inflater.finish_message(usize::MAX, &mut out).unwrap();
        out
    }

    #[test]
    fn messages_round_trip_through_the_inflater_with_context_takeover() {
        let mut c = Compressor::new(&params(false, None)).unwrap();
        let mut i = Inflater::new();
        let text = "the same words again and again, ".repeat(40);
        let first = c.compress(text.as_bytes());
        let second = c.compress(text.as_bytes());
        assert!(first.len() < text.len() / 4, "{}", first.len());
        // The window is kept: the second message refers to the first.
        assert!(second.len() < first.len() / 2, "{} vs {}", second.len(), first.len());
        assert_eq!(inflate(&mut i, &first), text.as_bytes());
        assert_eq!(inflate(&mut i, &second), text.as_bytes());
        assert!(!first.ends_with(&SYNC_TAIL));
    }

    #[test]
    fn no_context_takeover_makes_every_message_stand_alone() {
        let mut c = Compressor::new(&params(true, None)).unwrap();
        let text = vec![b'x'; 5000];
        let first = c.compress(&text);
        let second = c.compress(&text);
        assert_eq!(first, second);
        // A fresh inflater for each: nothing refers to an earlier message.
        assert_eq!(inflate(&mut Inflater::new(), &second), text);
    }

    #[test]
    fn large_and_incompressible_messages_round_trip() {
        let mut c = Compressor::new(&params(false, Some(15))).unwrap();
        let mut i = Inflater::new();
        let noise = noise(300_000, 0x9e37_79b9_7f4a_7c15);
        for msg in [&noise[..], &[][..], &noise[..1000]] {
            assert_eq!(inflate(&mut i, &c.compress(msg)), msg);
        }
    }

    #[test]
    fn stored_data_ending_like_a_flush_is_not_mistaken_for_its_end() {
        // Incompressible data is sent in stored blocks (the first holds
        // 31,745 bytes here); with 00 00 ff ff as its last bytes, a
        // compressor that looked for the flush's tail stopped early, cut
        // the message and sent the rest with the next one.
        let mut c = Compressor::new(&params(false, None)).unwrap();
        let mut i = Inflater::new();
        for len in (31_746..32_000).step_by(10) {
            let mut data = noise(len, len as u64);
            data[31_741..31_745].copy_from_slice(&SYNC_TAIL);
            assert_eq!(inflate(&mut i, &c.compress(&data)), data, "{len} bytes");
            assert_eq!(inflate(&mut i, &c.compress(b"next")), b"next", "after {len} bytes");
        }
    }

    #[test]
    fn output_room_that_runs_out_mid_message_still_gives_whole_messages() {
        // With the room reserved up front one call normally does it all;
        // from 1 to 100 bytes of room, the loop must grow the buffer and
        // stop only once the sync flush is complete (Autobahn 12.2.9 was a
        // flush cut short after a call that filled the buffer).
        let text = "the same words again and again, ".repeat(300).into_bytes();
        let noisy = noise(70_000, 7);
        for capacity in [1, 2, 5, 17, 100] {
            let mut c = Compressor::new(&params(false, None)).unwrap();
            let mut i = Inflater::new();
            for msg in [b"", &text[..], &noisy[..], b"", &text[..100], &noisy[..]] {
                let compressed = c.compress_from(msg, capacity);
                assert_eq!(
                    inflate(&mut i, &compressed),
                    msg,
                    "{capacity} bytes of room, {} bytes",
                    msg.len()
                );
            }
        }
    }

    #[test]
    fn a_window_limit_we_cannot_honour_means_no_compression() {
        assert!(Compressor::new(&params(false, Some(9))).is_none());
        assert!(Compressor::new(&params(false, Some(14))).is_none());
    }
}
