//! What a driver feeds in and takes out, apart from the connection itself:
//! events, transmits, failure reasons and the small value types of the API.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use url::Url;

use crate::close_code::{BadClose, CloseFrame};
use crate::handshake::HandshakeFailure;
use crate::host_gate::HostKey;
use crate::transport_error::{TransportError, TransportLayer};

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
///
/// `#[non_exhaustive]`: new causes will be told apart as drivers learn to
/// (handshake details, proxies), so a `match` needs a `_` arm.
/// [`FailReason::kind`] names each case with a stable string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum FailReason {
    /// The port is on Fetch's bad-port list; nothing was sent.
    #[error(
        "port {0} is on the list of ports browsers refuse (Fetch's bad ports), so nothing was sent; use another port"
    )]
    BadPort(u16),
    /// TCP or TLS failed; the cause is typed (io error kind, TLS error).
    #[error(transparent)]
    Transport(TransportError),
    /// The HTTP upgrade failed: which check of the server's response failed
    /// (RFC 6455 §4.1), or why no response could be read
    /// ([`HandshakeFailure::NoResponse`]).
    #[error("the opening handshake failed: {0}")]
    Handshake(HandshakeFailure),
    /// The connect timeout fired before the handshake completed.
    #[error("the connection was not open before the connect timeout; check that the server is reachable and answering, or allow more time")]
    ConnectTimeout,
    /// The server selected a subprotocol that was not offered.
    #[error("the server selected subprotocol {0:?}, which was not offered; offer it, or fix the server's Sec-WebSocket-Protocol")]
    ProtocolMismatch(String),
    /// The server accepted an extension that was not offered.
    #[error("the server accepted extension {0:?}, which was not offered (or not with these parameters); fix the server's Sec-WebSocket-Extensions")]
    ExtensionMismatch(String),
    /// `close()` was called while CONNECTING.
    #[error("close() was called before the connection was open; wait for the open event to close cleanly")]
    ClosedWhileConnecting,
    /// The server's Close frame was invalid.
    #[error("the server's Close frame was invalid ({0}); the server breaks RFC 6455 and should be fixed")]
    BadClose(BadClose),
    /// The server broke the framing rules (RFC 6455 §5): reserved bits or
    /// opcodes, a masked frame, a fragmented or oversized control frame...
    #[error("the server broke the WebSocket framing rules ({0}); the server breaks RFC 6455 and should be fixed")]
    Protocol(String),
    /// A text message was not UTF-8 (RFC 6455 §8.1).
    #[error("a text message from the server was not valid UTF-8 (RFC 6455 §8.1); the server should send such data as binary")]
    InvalidUtf8,
    /// A message was larger than the configured limit.
    #[error("a message from the server was larger than the configured limit; raise the maximum message size if such messages are expected")]
    MessageTooBig,
    /// The transport was lost before a Close frame was received
    /// (RFC 6455 §7.2.1: the client must fail the connection).
    #[error("the connection was lost before the server's Close frame arrived (network failure, or the server dropped TCP without a closing handshake); reconnect if needed")]
    TransportLost,
    /// `send()` would have buffered more than the configured limit (the
    /// spec's "flag the WebSocket as full").
    #[error("send() would have buffered more than the configured maximum bufferedAmount; wait for bufferedAmount to fall before sending more, or raise the limit")]
    BufferFull,
    /// Keep-alive (an extension, off by default): nothing arrived within
    /// the timeout after a ping (see [`crate::keepalive`]).
    #[error("nothing arrived from the server within the keep-alive timeout after a ping (a dead or half-open connection); reconnect, or allow a longer keep-alive timeout")]
    KeepAliveTimeout,
    /// The transport failed with an error once the connection was
    /// established, before the server's Close frame (RFC 6455 §7.2.1, as
    /// [`FailReason::TransportLost`], which is the end of the stream with
    /// no error). The error is kept: for `wsapi` a `std::io::Error` from
    /// TCP, TLS or the user's own stream, with its kind
    /// ([`TransportError::io_error_kind`]) and text.
    #[error("the connection to {} broke before the server's Close frame arrived: {}; reconnect if needed", .0.target(), .0.cause())]
    TransportBroken(TransportError),
    /// Keep-alive: nothing could be read within the timeout after a ping
    /// because the server did not read what we sent: it kept sending
    /// pings, our replies could not be written, so reading was paused
    /// rather than queue more of them (and none of our writes progressed
    /// meanwhile). See [`crate::keepalive`].
    #[error("the server kept sending but read nothing we sent within the keep-alive timeout after a ping (our replies to its pings could not be written, so reading was paused); the server or the network is stuck; reconnect, or allow a longer keep-alive timeout")]
    KeepAliveStalled,
    /// The driver's I/O stopped for good before the connection closed: its
    /// task panicked (say, in the stream given to the builder) or was
    /// dropped with its runtime. Nothing more can be sent or received.
    #[error("the connection's I/O task stopped ({0}), so nothing more can be sent or received; check the stream or connector given to the builder, and keep the runtime alive while sockets are open")]
    DriverStopped(String),
    /// The browser fired `error` (the wasm32 build of `wsapi`, over the
    /// browser's own `WebSocket`): the standard's error event says nothing
    /// of its cause, so neither can this. The browser's console usually does.
    #[error("the browser failed the connection without saying why to the page (its console usually does: a refused handshake, a lost connection, a blocked port); reconnect if needed")]
    UserAgent,
}

impl FailReason {
    /// A stable `snake_case` name for the case (for logs and scripts;
    /// `wsapi --jsonl` prints it).
    pub fn kind(&self) -> &'static str {
        match self {
            FailReason::BadPort(_) => "bad_port",
            FailReason::Transport(t) => match t.layer() {
                TransportLayer::Tls => "tls",
                TransportLayer::Proxy => "proxy",
                _ => "tcp",
            },
            FailReason::Handshake(_) => "handshake",
            FailReason::ConnectTimeout => "connect_timeout",
            FailReason::ProtocolMismatch(_) => "protocol_mismatch",
            FailReason::ExtensionMismatch(_) => "extension_mismatch",
            FailReason::ClosedWhileConnecting => "closed_while_connecting",
            FailReason::BadClose(_) => "bad_close",
            FailReason::Protocol(_) => "protocol",
            FailReason::InvalidUtf8 => "invalid_utf8",
            FailReason::MessageTooBig => "message_too_big",
            FailReason::TransportLost => "transport_lost",
            FailReason::BufferFull => "buffer_full",
            FailReason::KeepAliveTimeout => "keep_alive_timeout",
            FailReason::TransportBroken(_) => "transport_broken",
            FailReason::KeepAliveStalled => "keep_alive_stalled",
            FailReason::DriverStopped(_) => "driver_stopped",
            FailReason::UserAgent => "user_agent",
        }
    }

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
///
/// `Debug` shows [`Transmit::Connect`]'s URL with its password replaced by
/// `***`: transmits are printed in journals and in [`crate::Divergence`],
/// an error, which end up in logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Transmit<M> {
    /// Wait for this host's slot (one connection in CONNECTING per host,
    /// see [`crate::host_gate`]); report [`crate::Connection::handle_host_slot`]
    /// once held. Always the first transmit of a connection that connects.
    QueueForHost(HostKey),
    /// Give the host's slot back (or leave its queue): the connection left
    /// CONNECTING. Comes before the `CloseTransport` of an abandoned attempt
    /// (the attempt is over for the model; the driver drops it right after).
    ReleaseHost,
    /// Open the transport (TCP, TLS for `wss`) and perform the opening
    /// handshake for this URL, offering these subprotocols. Then report
    /// [`crate::Connection::handle_response`] (or [`crate::Connection::handle_open`]
    /// if a library checked the response) or [`crate::Connection::handle_connect_failed`].
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
    /// Send a Ping frame with this payload (at most 125 bytes, RFC 6455
    /// §5.5): empty for keep-alive ([`crate::keepalive`]), the caller's for
    /// [`crate::Connection::ping`]. Both are extensions of ours, not the
    /// standard's API. With keep-alive on, report any frame that arrives
    /// with [`crate::Connection::handle_received`].
    Ping(Vec<u8>),
    /// Close the transport: after writing what was transmitted before, if
    /// the transport still takes it; nothing will follow.
    CloseTransport,
}

impl<M: core::fmt::Debug> core::fmt::Debug for Transmit<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Transmit::QueueForHost(key) => f.debug_tuple("QueueForHost").field(key).finish(),
            Transmit::ReleaseHost => f.write_str("ReleaseHost"),
            Transmit::Connect { url, protocols } => {
                let mut shown = (**url).clone();
                if shown.password().is_some() {
                    let _ = shown.set_password(Some("***"));
                }
                f.debug_struct("Connect")
                    .field("url", &shown.as_str())
                    .field("protocols", protocols)
                    .finish()
            }
            Transmit::Message(m) => f.debug_tuple("Message").field(m).finish(),
            Transmit::Close(frame) => f.debug_tuple("Close").field(frame).finish(),
            Transmit::Ping(payload) => f.debug_tuple("Ping").field(payload).finish(),
            Transmit::CloseTransport => f.write_str("CloseTransport"),
        }
    }
}
