//! The frame layer: every byte the server sends is parsed here once, and
//! every frame we send is built here.
//!
//! # Why wsapi frames its own bytes
//!
//! The browser API needs decisions tungstenite's message layer makes for
//! itself: Close frames belong to the model (tungstenite would replace a
//! code it dislikes and reply on its own), permessage-deflate is needed
//! both ways (tungstenite has none), and a text message must fail as soon
//! as an invalid UTF-8 byte arrives (RFC 6455 §8.1). Earlier versions put a
//! byte filter in front of tungstenite that re-framed the stream for it, so
//! every byte was parsed twice and copied three times. Now tungstenite
//! supplies its frame-level pieces only ([`FrameHeader`] parses and formats
//! headers, its opcode and `Bytes` types carry frames), and this module does
//! the rest in one pass:
//!
//! - [`decode`]: a sans-IO [`Decoder`] — bytes in, [`Inbound`] items out:
//!   headers checked (RFC 6455 §5.2–5.5), fragments assembled, control
//!   frames kept apart, Close payloads handed on raw (the model judges
//!   them), UTF-8 checked incrementally as text arrives, compressed
//!   messages inflated as their bytes arrive, limits applied on the header
//!   before anything is allocated.
//! - [`encode`]: the [`Encoder`] — the queue of frames to send, masked and
//!   coalesced into writes of up to [`WRITE_CHUNK`] bytes, compressed above
//!   a threshold when permessage-deflate was negotiated.
//! - [`inflate`] and [`compress`]: RFC 7692's two directions.
//! - [`utf8`]: the incremental UTF-8 check.
//!
//! The driver reads into one reused buffer of up to [`READ_BUFFER`] bytes and
//! hands it to the decoder; nothing else reads the socket. Sans-IO keeps
//! the layer testable byte by byte and lets the fuzz targets
//! (`crate::fuzzing`) drive exactly the code the client runs.
//!
//! [`FrameHeader`]: tungstenite::protocol::frame::FrameHeader
//! [`Decoder`]: decode::Decoder
//! [`Inbound`]: decode::Inbound
//! [`Encoder`]: encode::Encoder

pub(crate) mod compress;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod inflate;
pub(crate) mod pool;
pub(crate) mod read_buffer;
pub(crate) mod utf8;

/// Bytes read from the socket per read call at most, into one reused
/// buffer: large enough that a 1 MiB message takes 16 reads, small enough
/// to stay in cache. The buffer starts smaller and grows to this only when
/// reads fill it (`read_buffer::FIRST_READ`), so an idle connection holds a
/// few KiB.
pub(crate) const READ_BUFFER: usize = 64 * 1024;

/// Bytes handed to the socket per write call at most: queued frames are
/// coalesced up to this size, and a longer message is written in pieces of
/// it (so it is never copied whole to be masked).
pub(crate) const WRITE_CHUNK: usize = 128 * 1024;

/// The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask.
pub(crate) const MAX_HEADER: usize = 14;

/// The limits on what the server sends (the builder's `max_message_size`
/// and `max_frame_size`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Largest message, after inflating; beyond it `MessageTooBig` (1009).
    pub max_message_size: Option<usize>,
    /// Largest frame payload as it is on the wire; beyond it `MessageTooBig`.
    pub max_frame_size: Option<usize>,
}
