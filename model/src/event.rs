//! What a driver feeds in and takes out, apart from the connection itself:
//! events, transmits, failure reasons and the small value types of the API.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use url::Url;

use crate::close_code::{BadClose, CloseFrame};

/// `readyState` (WHATWG: CONNECTING 0, OPEN 1, CLOSING 2, CLOSED 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ReadyState {
    /// The connection has not yet been established.
    Connecting = 0,
    /// The connection is established and communication is possible.
    Open = 1,
    /// The closing handshake has started, or `close()` was called.
    Closing = 2,
    /// The connection is closed or could not be opened.
    Closed = 3,
}

impl ReadyState {
    /// The numeric value scripts see.
    pub fn as_u16(self) -> u16 {
        self as u16
    }
}

/// `binaryType`: how binary messages are exposed (the spec's enum; setting
/// any other string is ignored, see [`BinaryType::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BinaryType {
    /// `"blob"`, the default.
    #[default]
    Blob,
    /// `"arraybuffer"`.
    ArrayBuffer,
}

impl BinaryType {
    /// Parses the IDL enum value; `None` for anything else (WebIDL: an
    /// invalid assignment to an enum attribute is ignored, case-sensitively).
    pub fn parse(s: &str) -> Option<BinaryType> {
        match s {
            "blob" => Some(BinaryType::Blob),
            "arraybuffer" => Some(BinaryType::ArrayBuffer),
            _ => None,
        }
    }

    /// The IDL string.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryType::Blob => "blob",
            BinaryType::ArrayBuffer => "arraybuffer",
        }
    }
}

/// A data message's payload as the model sees it: only its kind and length
/// matter, so a driver can use its own (shared, zero-copy) buffer types.
pub trait Payload {
    /// `true` for a text message, `false` for binary.
    fn is_text(&self) -> bool;
    /// Length in bytes (UTF-8 length for text): what `bufferedAmount` counts.
    fn byte_len(&self) -> usize;
}

/// A ready-made payload type for simple drivers and tests.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Data {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl Payload for Data {
    fn is_text(&self) -> bool {
        matches!(self, Data::Text(_))
    }
    fn byte_len(&self) -> usize {
        match self {
            Data::Text(s) => s.len(),
            Data::Binary(b) => b.len(),
        }
    }
}

/// Why the connection was *failed* (the cases in which the spec fires
/// `error`). Carried by [`Event::Error`] so that callers can tell why.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// The port is on Fetch's bad-port list; nothing was sent.
    BadPort(u16),
    /// TCP, TLS or the HTTP upgrade failed (includes a rejected handshake
    /// and a bad `Sec-WebSocket-Accept`); the text says what the driver saw.
    Handshake(String),
    /// The connect timeout fired before the handshake completed.
    ConnectTimeout,
    /// The server selected a subprotocol that was not offered.
    ProtocolMismatch(String),
    /// The server accepted an extension that was not offered.
    ExtensionMismatch(String),
    /// `close()` was called while CONNECTING.
    ClosedWhileConnecting,
    /// The server's Close frame was invalid.
    BadClose(BadClose),
    /// The server broke the framing rules (RFC 6455 §5): reserved bits or
    /// opcodes, a masked frame, a fragmented or oversized control frame...
    Protocol(String),
    /// A text message was not UTF-8 (RFC 6455 §8.1).
    InvalidUtf8,
    /// A message was larger than the configured limit.
    MessageTooBig,
    /// The transport was lost before a Close frame was received
    /// (RFC 6455 §7.2.1: the client must fail the connection).
    TransportLost,
    /// `send()` would have buffered more than the configured limit (the
    /// spec's "flag the WebSocket as full").
    BufferFull,
    /// Keep-alive (an extension, off by default): nothing arrived within
    /// the timeout after a ping (see [`crate::keepalive`]).
    KeepAliveTimeout,
}

impl FailReason {
    /// The status code of the Close frame we send when failing for this
    /// reason after the connection was established (`None`: send none).
    pub fn close_code(&self) -> Option<u16> {
        match self {
            FailReason::BadClose(b) => Some(b.fail_code()),
            FailReason::Protocol(_) => Some(1002),
            FailReason::InvalidUtf8 => Some(1007),
            FailReason::MessageTooBig => Some(1009),
            _ => None,
        }
    }
}

/// The `close` event's fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CloseEvent {
    /// `code`: the received Close frame's code, 1005 if it had none, 1006 if
    /// no (valid) Close frame was received.
    pub code: u16,
    /// `reason`: the received reason, or empty.
    pub reason: String,
    /// `wasClean`: whether the closing handshake completed.
    pub was_clean: bool,
}

/// An event, in the order the spec dispatches them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Event<M> {
    /// `open`.
    Open,
    /// `message`; `binary_type` is the value of `binaryType` when the event
    /// is delivered (`None` for text), which decides Blob or ArrayBuffer.
    Message {
        /// The message.
        data: M,
        /// `binaryType` at delivery, for binary messages.
        binary_type: Option<BinaryType>,
    },
    /// `error`: the connection was failed. Always followed by `Close`.
    Error(FailReason),
    /// `close`: always the last event.
    Close(CloseEvent),
}

/// What the driver must do on the network, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transmit<M> {
    /// Open the transport (TCP, TLS for `wss`) and perform the opening
    /// handshake for this URL, offering these subprotocols. Then report
    /// [`crate::Connection::handle_open`] or [`crate::Connection::handle_connect_failed`].
    Connect {
        /// The normalised URL (boxed: it is the largest field by far, and
        /// every queued message would otherwise pay for its size).
        url: Box<Url>,
        /// Subprotocols to offer (may be empty).
        protocols: Vec<String>,
    },
    /// Send this data message, after everything transmitted before it.
    /// Report its bytes with [`crate::Connection::handle_written`] once handed to the OS.
    Message(M),
    /// Send a Close frame (`None`: with an empty body).
    Close(Option<CloseFrame>),
    /// Send a Ping frame with an empty body (keep-alive, an extension; see
    /// [`crate::keepalive`]). Report any frame that arrives with
    /// [`crate::Connection::handle_received`].
    Ping,
    /// Close the transport: after writing what was transmitted before, if
    /// the transport still takes it; nothing will follow.
    CloseTransport,
}
