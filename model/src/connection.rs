//! The state machine: one [`Connection`] per `WebSocket` object.
//!
//! Two states are kept apart on purpose:
//!
//! * the **wire** state ([`Phase`], whether our Close was sent, whether the
//!   peer's was received): what has happened on the network, as reported by
//!   the driver;
//! * the **observable** state (`readyState`, `protocol`, `extensions`): what
//!   a caller sees. The spec changes it from *queued tasks* (open, "closing
//!   handshake started", close), so here it changes when the corresponding
//!   task is taken out of the queue by [`Connection::poll_event`]. Between
//!   two polls a caller's view is consistent: an event is never seen with a
//!   `readyState` that belongs to a later one.
//!
//! `send()` and `close()` look at the observable state where the spec says
//! `readyState`, and at the wire state where it speaks of the connection
//! being established or the closing handshake having started.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;
use url::Url;

use crate::close_code::{check_close_args, close_frame_for, parse_close_payload, CloseError, ReceivedClose};
use crate::constructor::{parse_url, url_port_is_blocked, validate_protocols, ConstructError};
use crate::event::{BinaryType, CloseEvent, Event, FailReason, Payload, ReadyState, Transmit};
use crate::handshake::{check_response, Accepted, HandshakeFailure, Offer, Response};
use crate::host_gate::HostKey;
use crate::keepalive::{KeepAlive, KeepAliveDue, KeepAliveTimer};
use crate::transport_error::TransportError;

/// A point in time, as a duration since an epoch of the driver's choosing
/// (e.g. `start.elapsed()`); the model has no clock of its own.
pub type Time = Duration;

/// Options that the spec leaves to the user agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Config {
    /// Fail the connection if the opening handshake has not completed this
    /// long after construction (`None`: never).
    pub connect_timeout: Option<Duration>,
    /// Close the transport ourselves this long after the closing handshake
    /// started if the peer has not closed it (RFC 6455 §7.1.1).
    pub closing_timeout: Option<Duration>,
    /// "Flag the WebSocket as full" and close it when a `send()` would make
    /// the unwritten data exceed this many bytes (`None`: no limit).
    pub max_buffered_amount: Option<u64>,
    /// The extensions the driver offers, one offer each as written in the
    /// request (e.g. `permessage-deflate; client_max_window_bits`, or just a
    /// name); the server may accept only these.
    pub offered_extensions: Vec<String>,
    /// Ping an idle peer and fail the connection if it stays silent
    /// (`None`, the default: never; an extension, see [`crate::keepalive`]).
    pub keep_alive: Option<KeepAlive>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connect_timeout: Some(Duration::from_secs(30)),
            closing_timeout: Some(Duration::from_secs(2)),
            max_buffered_amount: None,
            offered_extensions: Vec::new(),
            keep_alive: None,
        }
    }
}

/// `send()` threw.
///
/// Exhaustive: these are the exceptions the standard's `send()` throws
/// (see `spec-notes/errors.md`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SendError {
    /// `readyState` is CONNECTING (`InvalidStateError`).
    #[error("InvalidStateError: send() was called while CONNECTING; wait for the open event first")]
    InvalidState,
}

impl SendError {
    /// The DOMException name a browser throws.
    pub fn dom_exception(&self) -> &'static str {
        "InvalidStateError"
    }
}

/// The most bytes a Ping frame's payload may have (RFC 6455 §5.5: "All
/// control frames MUST have a payload length of 125 bytes or less").
pub const MAX_PING_PAYLOAD: usize = 125;

/// [`Connection::ping`] refused. Ours, like `ping()` itself: the standard's
/// API has no ping (see `spec-notes/keep-alive.md`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PingError {
    /// `readyState` is not OPEN: before the open event there is no
    /// connection to ping, and once `close()` was called or the peer's
    /// Close frame delivered (CLOSING) a Ping could no longer be answered
    /// by the closing handshake's rules (RFC 6455 §5.5.1: nothing but the
    /// Close follows our Close). The state is the one seen.
    #[error("ping() was called while {}; send pings only while OPEN: after the open event, before close()", state_name(*.0))]
    InvalidState(ReadyState),
    /// The payload is longer than [`MAX_PING_PAYLOAD`] (125) bytes, the
    /// limit of every control frame (RFC 6455 §5.5). The length is given.
    #[error("a ping's payload can have at most 125 bytes (RFC 6455 §5.5), this one has {0}; shorten it")]
    PayloadTooLong(usize),
}

/// `readyState`'s constant name, as the spec writes it.
fn state_name(state: ReadyState) -> &'static str {
    match state {
        ReadyState::Connecting => "CONNECTING",
        ReadyState::Open => "OPEN",
        ReadyState::Closing => "CLOSING",
        ReadyState::Closed => "CLOSED",
    }
}

/// A driver fed an input that cannot happen in the state it reported
/// before (a driver bug). Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// `handle_open`, `handle_response`, `handle_connect_failed` or
    /// `handle_transport_failed` after the driver had already reported the
    /// handshake's outcome, or without a `Connect` transmit;
    /// `handle_host_slot` twice or without a `QueueForHost`.
    #[error("the driver reported the opening handshake's outcome twice, or without a Connect transmit (or the host's slot twice, or unasked); this is a bug in the driver")]
    NotConnecting,
    /// A frame was reported before `handle_open`.
    #[error("the driver reported a frame before the connection was open; this is a bug in the driver")]
    NotOpen,
    /// More bytes reported written than were transmitted and not yet reported.
    #[error(
        "the driver reported {reported} bytes written, but only {unwritten} were waiting; this is a bug in the driver"
    )]
    WrittenTooMuch {
        /// Bytes reported.
        reported: u64,
        /// Bytes that were waiting.
        unwritten: u64,
    },
}

/// Where the network side is.
///
/// `#[non_exhaustive]`: the model may track finer phases (the opening
/// handshake) without breaking code that reads this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// `Connect` was (or is about to be) transmitted; no outcome yet.
    Connecting,
    /// The opening handshake succeeded; the transport is up.
    Established,
    /// The transport is gone, or we told the driver to close it.
    Closed,
}

/// Where a connection is with its host's slot (see [`crate::host_gate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum HostSlot {
    /// Never asked (a blocked port fails before connecting).
    None,
    /// `QueueForHost` transmitted; waiting for `handle_host_slot`.
    Queued,
    /// Held: `Connect` was transmitted.
    Held,
    /// Given back (`ReleaseHost` transmitted, or the request withdrawn).
    Released,
}

/// A queued task (WHATWG: "queue a task"): run, in order, by `poll_event`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Task<M> {
    Open {
        protocol: String,
        extensions: String,
    },
    Message(M),
    /// "When the WebSocket closing handshake is started" (by the peer).
    SetClosing,
    /// "When the WebSocket connection is closed": error (if failed), then close.
    Closed {
        error: Option<FailReason>,
        close: CloseEvent,
    },
    /// The close event of a `Closed` task whose error event was just delivered.
    CloseEvent(CloseEvent),
}

/// One WebSocket: every rule of the API, as a pure state machine.
///
/// The caller's methods ([`send`](Self::send), [`close`](Self::close),
/// attributes) are named after the spec; the driver's inputs are the
/// `handle_*` methods; outputs are drained with [`poll_transmit`](Self::poll_transmit),
/// [`poll_event`](Self::poll_event) and [`poll_timeout`](Self::poll_timeout).
///
/// ```
/// use core::time::Duration;
/// use wsapi_model::{Connection, Config, Data, Event, ReadyState, Transmit};
///
/// let t0 = Duration::ZERO;
/// let mut ws = Connection::<Data>::new("ws://example.com/chat", &["chat"], Config::default(), t0).unwrap();
/// assert!(matches!(ws.poll_transmit(), Some(Transmit::QueueForHost(_))));
/// ws.handle_host_slot(t0).unwrap(); // the driver's HostGate admitted it
/// assert!(matches!(ws.poll_transmit(), Some(Transmit::Connect { .. })));
/// ws.handle_open(t0, Some("chat"), None).unwrap();
/// assert_eq!(ws.poll_transmit(), Some(Transmit::ReleaseHost));
/// assert_eq!(ws.ready_state(), ReadyState::Connecting); // until the open event is delivered
/// assert_eq!(ws.poll_event(), Some(Event::Open));
/// assert_eq!(ws.ready_state(), ReadyState::Open);
/// ws.send(Data::Text("hi".into())).unwrap();
/// assert_eq!(ws.buffered_amount(), 2);
/// assert_eq!(ws.poll_transmit(), Some(Transmit::Message(Data::Text("hi".into()))));
/// ws.handle_written(2).unwrap();
/// assert_eq!(ws.buffered_amount(), 2); // as of the last event-loop turn
/// assert_eq!(ws.poll_event(), None); // asking for an event is a turn
/// assert_eq!(ws.buffered_amount(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connection<M> {
    url: Url,
    requested_protocols: Vec<String>,
    config: Config,

    // Observable state.
    ready_state: ReadyState,
    protocol: String,
    extensions: String,
    binary_type: BinaryType,
    /// Bytes counted by `send()` and never sent (closing handshake started).
    discarded: u64,
    /// Bytes transmitted to the driver and not yet reported written.
    unwritten: u64,
    /// Bytes reported written since the last event-loop turn: still in the
    /// visible `bufferedAmount`, which changes only at a turn.
    written_since_turn: u64,

    // Wire state.
    phase: Phase,
    close_sent: bool,
    close_received: Option<ReceivedClose>,
    /// The close task has been queued (exactly once).
    close_queued: bool,
    /// `handle_open` succeeded at some point.
    established: bool,
    connect_deadline: Option<Time>,
    closing_deadline: Option<Time>,
    host_slot: HostSlot,
    /// Armed when the connection is established, if configured.
    keep_alive: Option<KeepAliveTimer>,
    /// The driver stopped reading because the peer does not read: its
    /// replies to the peer's pings cannot be written
    /// ([`Connection::handle_read_stalled`]); names a keep-alive failure.
    read_stalled: bool,

    transmits: VecDeque<Transmit<M>>,
    tasks: VecDeque<Task<M>>,
    /// Sum of the byte lengths of queued `Task::Message`s.
    queued_bytes: u64,
    /// How many `Task::Message`s are queued.
    queued_messages: u64,
}

impl<M: Payload> Connection<M> {
    /// `new WebSocket(url, protocols)`: validates, then asks the driver to
    /// connect (or, for a blocked port, queues the failure without ever
    /// asking). `now` starts the connect timeout.
    pub fn new<S: AsRef<str>>(url: &str, protocols: &[S], config: Config, now: Time) -> Result<Self, ConstructError> {
        let url = parse_url(url)?;
        let requested_protocols = validate_protocols(protocols)?;
        let mut conn = Connection {
            url,
            requested_protocols,
            config,
            ready_state: ReadyState::Connecting,
            protocol: String::new(),
            extensions: String::new(),
            binary_type: BinaryType::Blob,
            discarded: 0,
            unwritten: 0,
            written_since_turn: 0,
            phase: Phase::Connecting,
            close_sent: false,
            close_received: None,
            close_queued: false,
            established: false,
            connect_deadline: None,
            closing_deadline: None,
            host_slot: HostSlot::None,
            keep_alive: None,
            transmits: VecDeque::new(),
            tasks: VecDeque::new(),
            queued_bytes: 0,
            queued_messages: 0,
            read_stalled: false,
        };
        if url_port_is_blocked(&conn.url) {
            let port = conn.url.port_or_known_default().unwrap_or(0);
            conn.fail(FailReason::BadPort(port));
        } else {
            // The timeout counts from construction: time queued for the host counts.
            conn.connect_deadline = conn.config.connect_timeout.map(|d| now.saturating_add(d));
            match HostKey::of(&conn.url) {
                Some(key) => {
                    conn.host_slot = HostSlot::Queued;
                    conn.transmits.push_back(Transmit::QueueForHost(key));
                }
                None => conn.push_connect(),
            }
        }
        Ok(conn)
    }

    // ----- attributes -------------------------------------------------

    /// `url`: the normalised URL.
    pub fn url(&self) -> &Url {
        &self.url
    }
    /// The subprotocols offered, in order.
    pub fn requested_protocols(&self) -> &[String] {
        &self.requested_protocols
    }
    /// `readyState`.
    pub fn ready_state(&self) -> ReadyState {
        self.ready_state
    }
    /// `bufferedAmount`: bytes accepted by `send()` that, as of the last
    /// event-loop turn ([`poll_event`](Self::poll_event) or
    /// [`handle_turn`](Self::handle_turn)), had not been handed to the OS,
    /// plus (for ever) those accepted once the closing handshake started.
    ///
    /// WHATWG: "the number of bytes of application data ... that have been
    /// queued using send() but that, as of the last time the event loop
    /// reached step 1, had not yet been transmitted to the network". So it
    /// grows at once with `send()` but falls only at a turn: a caller never
    /// sees it fall between two calls with no turn between them, however
    /// fast the driver writes.
    pub fn buffered_amount(&self) -> u64 {
        self.unsent_amount().saturating_add(self.written_since_turn)
    }

    /// Bytes accepted by `send()` and not handed to the OS *now* (what
    /// `bufferedAmount` will say after the next turn): for drivers that wait
    /// for the buffer to drain, and for backpressure.
    pub fn unsent_amount(&self) -> u64 {
        self.discarded.saturating_add(self.unwritten)
    }
    /// `protocol`: the selected subprotocol, empty until `open` is delivered.
    pub fn protocol(&self) -> &str {
        &self.protocol
    }
    /// `extensions`: the accepted extensions, empty until `open` is delivered.
    pub fn extensions(&self) -> &str {
        &self.extensions
    }
    /// `binaryType`.
    pub fn binary_type(&self) -> BinaryType {
        self.binary_type
    }
    /// Sets `binaryType`; it applies to messages delivered from now on.
    pub fn set_binary_type(&mut self, binary_type: BinaryType) {
        self.binary_type = binary_type;
    }
    /// Where the network side is (for drivers and checkers).
    pub fn phase(&self) -> Phase {
        self.phase
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----- methods ----------------------------------------------------

    /// `send(data)`.
    ///
    /// CONNECTING throws. While the connection is established and the
    /// closing handshake has not started, the message is transmitted; in
    /// every other case it is dropped. Either way `bufferedAmount` grows by
    /// its byte length.
    pub fn send(&mut self, data: M) -> Result<(), SendError> {
        if self.ready_state == ReadyState::Connecting {
            return Err(SendError::InvalidState);
        }
        let len = data.byte_len() as u64;
        if self.phase == Phase::Established && !self.closing_handshake_started() {
            if let Some(max) = self.config.max_buffered_amount {
                if self.unwritten.saturating_add(len) > max {
                    // "flag the WebSocket as full and then close the WebSocket connection"
                    self.discarded = self.discarded.saturating_add(len);
                    self.fail(FailReason::BufferFull);
                    return Ok(());
                }
            }
            self.unwritten = self.unwritten.saturating_add(len);
            self.transmits.push_back(Transmit::Message(data));
        } else {
            self.discarded = self.discarded.saturating_add(len);
        }
        Ok(())
    }

    /// Sends a Ping frame with `payload`. **Ours, not the standard's**: the
    /// WHATWG API has no ping; this is for diagnostics and for programs
    /// that measure round trips (see `spec-notes/keep-alive.md`).
    ///
    /// Checked as `close()` checks its arguments, then as `send()` checks
    /// the state: a payload over [`MAX_PING_PAYLOAD`] bytes is
    /// [`PingError::PayloadTooLong`] in every state; then any `readyState`
    /// but OPEN is [`PingError::InvalidState`] (nothing changes either
    /// way). While OPEN the Ping is transmitted after everything sent
    /// before it, unless the connection already ended or the closing
    /// handshake started on the wire and its task is not yet delivered
    /// (the peer's Close frame, a failure): then it is dropped, as a
    /// `send()` then drops its data, since no Ping may follow our Close.
    /// The reply (a Pong) is not an event; keep-alive counts it as a sign
    /// of life like any frame.
    pub fn ping(&mut self, payload: Vec<u8>) -> Result<(), PingError> {
        if payload.len() > MAX_PING_PAYLOAD {
            return Err(PingError::PayloadTooLong(payload.len()));
        }
        if self.ready_state != ReadyState::Open {
            return Err(PingError::InvalidState(self.ready_state));
        }
        if self.phase == Phase::Established && !self.closing_handshake_started() {
            self.transmits.push_back(Transmit::Ping(payload));
        }
        Ok(())
    }

    /// `close(code, reason)`. Arguments are checked first, whatever the state.
    pub fn close(&mut self, now: Time, code: Option<u16>, reason: Option<&str>) -> Result<(), CloseError> {
        check_close_args(code, reason)?;
        match self.ready_state {
            ReadyState::Closing | ReadyState::Closed => {}
            _ if self.phase == Phase::Connecting => {
                self.fail(FailReason::ClosedWhileConnecting);
                self.ready_state = ReadyState::Closing;
            }
            _ if self.phase == Phase::Established && !self.closing_handshake_started() => {
                self.close_sent = true;
                self.transmits.push_back(Transmit::Close(close_frame_for(code, reason)));
                self.arm_closing_timer(now);
                self.ready_state = ReadyState::Closing;
            }
            _ => self.ready_state = ReadyState::Closing,
        }
        Ok(())
    }

    // ----- driver inputs ----------------------------------------------

    /// The opening handshake succeeded; `protocol` and `extensions` are the
    /// server's `Sec-WebSocket-Protocol` / `Sec-WebSocket-Extensions`.
    /// A protocol or extension that was not offered fails the connection.
    pub fn handle_open(
        &mut self,
        now: Time,
        protocol: Option<&str>,
        extensions: Option<&str>,
    ) -> Result<(), InputError> {
        match self.phase {
            Phase::Connecting if !self.connect_in_flight() => return Err(InputError::NotConnecting),
            Phase::Connecting => {}
            // close() during CONNECTING (or a timeout) already failed it: a late success changes nothing.
            Phase::Closed if !self.established => return Ok(()),
            _ => return Err(InputError::NotConnecting),
        }
        let protocol = protocol.unwrap_or("");
        // Fetch, "establish a WebSocket connection": offered protocols but
        // none selected fails; so does one that was not offered (RFC 6455 §4.1).
        let selected_ok = if protocol.is_empty() {
            self.requested_protocols.is_empty()
        } else {
            self.requested_protocols.iter().any(|p| p == protocol)
        };
        if !selected_ok {
            self.fail(FailReason::ProtocolMismatch(protocol.to_string()));
            return Ok(());
        }
        let extensions = extensions.unwrap_or("");
        if let Some(bad) = self.unoffered_extension(extensions) {
            self.fail(FailReason::ExtensionMismatch(bad));
            return Ok(());
        }
        self.phase = Phase::Established;
        self.established = true;
        self.connect_deadline = None;
        self.release_host();
        self.keep_alive = self.config.keep_alive.map(|k| KeepAliveTimer::start(k, now));
        self.tasks.push_back(Task::Open {
            protocol: protocol.to_string(),
            extensions: extensions.to_string(),
        });
        Ok(())
    }

    /// The server's response to the opening handshake arrived, for the
    /// request sent with `Sec-WebSocket-Key: key`: the model checks it
    /// ([`check_response`]) and opens or fails the connection. Returns what
    /// the response selected if the connection is now established (the
    /// driver sets up extensions from it), `None` otherwise.
    pub fn handle_response(
        &mut self,
        now: Time,
        key: &str,
        response: &Response,
    ) -> Result<Option<Accepted>, InputError> {
        let offer = Offer {
            key,
            protocols: &self.requested_protocols,
            extensions: &self.config.offered_extensions,
        };
        match check_response(response, &offer) {
            Ok(accepted) => {
                self.handle_open(now, accepted.protocol.as_deref(), accepted.extensions.as_deref())?;
                Ok((self.phase == Phase::Established).then_some(accepted))
            }
            Err(failure) => self.handle_connect_failed(now, failure).map(|()| None),
        }
    }

    /// The HTTP upgrade failed without a response to check (the
    /// connection ended, the head was malformed...; a string is a
    /// [`HandshakeFailure::NoResponse`]), or with a failure already typed.
    pub fn handle_connect_failed(&mut self, now: Time, why: impl Into<HandshakeFailure>) -> Result<(), InputError> {
        self.connect_failed(now, FailReason::Handshake(why.into()))
    }

    /// TCP or TLS failed while connecting.
    pub fn handle_transport_failed(&mut self, now: Time, error: TransportError) -> Result<(), InputError> {
        self.connect_failed(now, FailReason::Transport(error))
    }

    fn connect_failed(&mut self, now: Time, reason: FailReason) -> Result<(), InputError> {
        let _ = now;
        match self.phase {
            Phase::Connecting if !self.connect_in_flight() => Err(InputError::NotConnecting),
            Phase::Connecting => {
                self.fail(reason);
                Ok(())
            }
            Phase::Closed if !self.established => Ok(()),
            _ => Err(InputError::NotConnecting),
        }
    }

    /// The driver holds the slot of the host asked for by
    /// [`Transmit::QueueForHost`]: the connection may connect now. After a
    /// failure while queued (the slot was already given back) it is ignored.
    pub fn handle_host_slot(&mut self, now: Time) -> Result<(), InputError> {
        let _ = now;
        let queued = self.host_slot == HostSlot::Queued
            && !self.transmits.iter().any(|t| matches!(t, Transmit::QueueForHost(_)));
        match self.phase {
            Phase::Connecting if queued => {
                self.host_slot = HostSlot::Held;
                self.push_connect();
                Ok(())
            }
            Phase::Closed if !self.established && self.host_slot == HostSlot::Released => Ok(()),
            _ => Err(InputError::NotConnecting),
        }
    }

    /// A complete data message arrived (text already checked to be UTF-8).
    pub fn handle_message(&mut self, now: Time, data: M) -> Result<(), InputError> {
        let _ = now;
        self.require_opened()?;
        if let Some(k) = self.keep_alive.as_mut() {
            k.heard_message();
        }
        // Data after the peer's Close is ignored (RFC 6455 §5.5.1); data
        // that arrives once readyState left OPEN would be dropped by the
        // task anyway (it can never return to OPEN), so it is not queued.
        if self.phase == Phase::Established && self.close_received.is_none() && self.ready_state <= ReadyState::Open {
            self.queued_bytes = self.queued_bytes.saturating_add(data.byte_len() as u64);
            self.queued_messages += 1;
            self.tasks.push_back(Task::Message(data));
        }
        Ok(())
    }

    /// A frame of any kind arrived (a pong, a ping, a data frame...): only
    /// keep-alive reads it (a sign of life). A driver with keep-alive on
    /// reports it for every frame, or once per batch of frames read.
    pub fn handle_received(&mut self, now: Time) -> Result<(), InputError> {
        self.require_opened()?;
        if let Some(k) = self.keep_alive.as_mut() {
            k.heard(now);
        }
        Ok(())
    }

    /// A Close frame arrived; `payload` is its raw application data.
    pub fn handle_close_frame(&mut self, now: Time, payload: &[u8]) -> Result<(), InputError> {
        self.require_opened()?;
        if self.phase != Phase::Established || self.close_received.is_some() {
            return Ok(());
        }
        let received = match parse_close_payload(payload) {
            Ok(r) => r,
            Err(bad) => {
                self.fail(FailReason::BadClose(bad));
                return Ok(());
            }
        };
        if !self.close_sent {
            // Reply, echoing code and reason (RFC 6455 §5.5.1; as Chromium does).
            let reply = match &received {
                ReceivedClose::NoStatus => None,
                ReceivedClose::Frame(f) => Some(f.clone()),
            };
            self.close_sent = true;
            self.transmits.push_back(Transmit::Close(reply));
            self.tasks.push_back(Task::SetClosing);
        }
        self.close_received = Some(received);
        // Now wait for the server to close TCP (RFC 6455 §7.1.1), bounded.
        self.arm_closing_timer(now);
        Ok(())
    }

    /// The server broke the protocol (see [`FailReason`] for which code is sent).
    pub fn handle_protocol_error(&mut self, now: Time, reason: FailReason) -> Result<(), InputError> {
        let _ = now;
        self.require_opened()?;
        if self.phase == Phase::Established && self.close_received.is_none() {
            self.fail(reason);
        }
        Ok(())
    }

    /// The transport closed (EOF, or an error the driver does not report
    /// with [`Self::handle_transport_error`]), for any reason.
    pub fn handle_transport_closed(&mut self, now: Time) -> Result<(), InputError> {
        self.transport_ended(now, None)
    }

    /// Reading or writing the established connection's transport failed
    /// with `error` (a reset, the user's stream's own error...). The same
    /// as [`Self::handle_transport_closed`], except that a failure before
    /// the server's Close frame keeps the error:
    /// [`FailReason::TransportBroken`] instead of [`FailReason::TransportLost`].
    pub fn handle_transport_error(&mut self, now: Time, error: TransportError) -> Result<(), InputError> {
        self.transport_ended(now, Some(error))
    }

    fn transport_ended(&mut self, now: Time, error: Option<TransportError>) -> Result<(), InputError> {
        let _ = now;
        match self.phase {
            Phase::Closed => {}
            Phase::Connecting => {
                if !self.connect_in_flight() {
                    return Err(InputError::NotConnecting);
                }
                let why = match &error {
                    Some(e) => alloc::format!("the connection failed during the handshake: {}", e.cause()),
                    None => "connection closed during the handshake".into(),
                };
                self.fail(FailReason::Handshake(why.into()));
            }
            Phase::Established => match &self.close_received {
                Some(received) => {
                    let close = Self::clean_close_event(received);
                    self.finish(None, close);
                }
                None => {
                    // Nothing can be sent any more: no Close frame, no CloseTransport.
                    self.phase = Phase::Closed;
                    self.fail(error.map_or(FailReason::TransportLost, FailReason::TransportBroken));
                }
            },
        }
        Ok(())
    }

    /// The driver stopped reading (`true`) because the peer does not read
    /// what we send: our replies to its pings could not be written, and it
    /// pauses reading rather than queue more; or it reads again (`false`).
    /// Only keep-alive reads it: a keep-alive failure while stalled is
    /// [`FailReason::KeepAliveStalled`] (the server kept sending but did
    /// not read), not [`FailReason::KeepAliveTimeout`] (silence). A driver
    /// that stalls should also report progress of its writes during the
    /// stall with [`Self::handle_received`]: a peer that reads is alive
    /// (see [`crate::keepalive`]).
    pub fn handle_read_stalled(&mut self, now: Time, stalled: bool) -> Result<(), InputError> {
        let _ = now;
        self.require_opened()?;
        self.read_stalled = stalled;
        Ok(())
    }

    /// The driver's I/O stopped for good (its task panicked or was dropped)
    /// in any phase: fail the WebSocket connection (error, then close 1006)
    /// with nothing more transmitted, since nobody is left to transmit it.
    /// A connection that already received the server's Close frame closes
    /// as if TCP had closed; a closed one is left as it is. Never refused:
    /// the driver can die at any moment.
    pub fn handle_driver_stopped(&mut self, now: Time, why: String) {
        let _ = now;
        match self.phase {
            Phase::Closed => {}
            Phase::Established if self.close_received.is_some() => {
                let close = Self::clean_close_event(self.close_received.as_ref().expect("just checked"));
                self.finish(None, close);
            }
            Phase::Connecting | Phase::Established => {
                // Nothing can be sent any more: no Close frame, no
                // CloseTransport, no Connect left for a driver to take.
                self.transmits.retain(|t| !matches!(t, Transmit::Connect { .. }));
                self.phase = Phase::Closed;
                self.fail(FailReason::DriverStopped(why));
            }
        }
    }

    /// `bytes` of transmitted message payload were handed to the OS.
    pub fn handle_written(&mut self, bytes: u64) -> Result<(), InputError> {
        if bytes > self.unwritten {
            return Err(InputError::WrittenTooMuch {
                reported: bytes,
                unwritten: self.unwritten,
            });
        }
        self.unwritten -= bytes;
        self.written_since_turn = self.written_since_turn.saturating_add(bytes);
        Ok(())
    }

    /// The user's event loop reached step 1 without taking an event (for
    /// instance a task waited for the buffer to drain): `bufferedAmount`
    /// catches up with what was written. [`poll_event`](Self::poll_event)
    /// does the same, whether or not an event was there.
    pub fn handle_turn(&mut self) {
        self.written_since_turn = 0;
    }

    /// The time is now `now`: fire whichever timers are due.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.phase == Phase::Connecting && self.connect_deadline.is_some_and(|d| now >= d) {
            self.fail(FailReason::ConnectTimeout);
        }
        if self.phase == Phase::Established && self.closing_deadline.is_some_and(|d| now >= d) {
            // We give up waiting: the peer did not close TCP (or never
            // answered our Close). Not a "fail": no error event.
            let close = match &self.close_received {
                Some(received) => Self::clean_close_event(received),
                None => CloseEvent {
                    code: 1006,
                    reason: String::new(),
                    was_clean: false,
                },
            };
            self.transmits.push_back(Transmit::CloseTransport);
            self.finish(None, close);
        }
        self.keep_alive_timeout(now);
    }

    // ----- outputs ----------------------------------------------------

    /// The next thing to do on the network.
    pub fn poll_transmit(&mut self) -> Option<Transmit<M>> {
        self.transmits.pop_front()
    }

    /// The next event, running queued tasks in order. `readyState`,
    /// `protocol` and `extensions` change here, as the spec's tasks do.
    /// Asking is an event-loop turn: `bufferedAmount` catches up here too.
    pub fn poll_event(&mut self) -> Option<Event<M>> {
        self.written_since_turn = 0;
        while let Some(task) = self.tasks.pop_front() {
            match task {
                Task::Open { protocol, extensions } => {
                    // close() already moved on: no going back to OPEN.
                    if self.ready_state == ReadyState::Connecting {
                        self.ready_state = ReadyState::Open;
                        self.protocol = protocol;
                        self.extensions = extensions;
                        return Some(Event::Open);
                    }
                }
                Task::Message(data) => {
                    self.queued_bytes = self.queued_bytes.saturating_sub(data.byte_len() as u64);
                    self.queued_messages -= 1;
                    if self.ready_state == ReadyState::Open {
                        let binary_type = (!data.is_text()).then_some(self.binary_type);
                        return Some(Event::Message { data, binary_type });
                    }
                }
                Task::SetClosing => {
                    if self.ready_state == ReadyState::Open {
                        self.ready_state = ReadyState::Closing;
                    }
                }
                Task::Closed { error, close } => {
                    self.ready_state = ReadyState::Closed;
                    match error {
                        Some(reason) => {
                            self.tasks.push_front(Task::CloseEvent(close));
                            return Some(Event::Error(reason));
                        }
                        None => return Some(Event::Close(close)),
                    }
                }
                Task::CloseEvent(close) => return Some(Event::Close(close)),
            }
        }
        None
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Time> {
        match self.phase {
            Phase::Connecting => self.connect_deadline,
            Phase::Established => match self.live_keep_alive() {
                Some(k) => Some(self.closing_deadline.map_or(k.deadline(), |c| c.min(k.deadline()))),
                None => self.closing_deadline,
            },
            Phase::Closed => None,
        }
    }

    /// Whether nothing more can ever happen: the close event was delivered
    /// and there is nothing left to transmit. A driver may stop then.
    pub fn is_finished(&self) -> bool {
        self.ready_state == ReadyState::Closed && self.tasks.is_empty() && self.transmits.is_empty()
    }

    /// Bytes transmitted to the driver and not yet reported written (the
    /// judge proposes `handle_written` amounts from it).
    pub(crate) fn unwritten_bytes(&self) -> u64 {
        self.unwritten
    }

    /// Bytes counted by `send()` once the closing handshake had started.
    pub(crate) fn discarded_bytes(&self) -> u64 {
        self.discarded
    }

    /// Whether we sent (asked the driver to send) a Close frame.
    pub(crate) fn close_frame_sent(&self) -> bool {
        self.close_sent
    }

    /// Whether a Close frame was received (the judge proposes one only before).
    pub(crate) fn close_frame_received(&self) -> bool {
        self.close_received.is_some()
    }

    /// Whether events are waiting to be delivered.
    pub fn has_pending_events(&self) -> bool {
        !self.tasks.is_empty()
    }

    /// Bytes of received messages waiting to be delivered. A driver stops
    /// reading from the network while this is high, so that a user who does
    /// not take events makes the peer wait instead of growing memory.
    pub fn queued_message_bytes(&self) -> u64 {
        self.queued_bytes
    }

    /// How many received messages wait to be delivered. With
    /// [`Connection::queued_message_bytes`], it lets a driver bound the
    /// memory of many tiny messages too (each costs more than its bytes).
    pub fn queued_message_count(&self) -> u64 {
        self.queued_messages
    }

    // ----- internals --------------------------------------------------

    fn closing_handshake_started(&self) -> bool {
        self.close_sent || self.close_received.is_some()
    }

    /// The `Connect` transmit has not been taken by the driver yet.
    fn outstanding_connect(&self) -> bool {
        self.transmits.iter().any(|t| matches!(t, Transmit::Connect { .. }))
    }

    /// The driver took `Connect`: it is connecting (or has connected).
    fn connect_in_flight(&self) -> bool {
        matches!(self.host_slot, HostSlot::Held | HostSlot::Released | HostSlot::None) && !self.outstanding_connect()
    }

    fn push_connect(&mut self) {
        self.transmits.push_back(Transmit::Connect {
            url: Box::new(self.url.clone()),
            protocols: self.requested_protocols.clone(),
        });
    }

    /// Leaves the host's queue or frees its slot, once: a request the
    /// driver never took is withdrawn, anything else is given back.
    fn release_host(&mut self) {
        match self.host_slot {
            HostSlot::Queued if self.transmits.iter().any(|t| matches!(t, Transmit::QueueForHost(_))) => {
                self.transmits.retain(|t| !matches!(t, Transmit::QueueForHost(_)));
            }
            HostSlot::Queued | HostSlot::Held => self.transmits.push_back(Transmit::ReleaseHost),
            HostSlot::None | HostSlot::Released => return,
        }
        self.host_slot = HostSlot::Released;
    }

    fn require_opened(&self) -> Result<(), InputError> {
        if self.phase == Phase::Connecting {
            return Err(InputError::NotOpen);
        }
        Ok(())
    }

    /// The keep-alive timer while it runs: established, closing handshake
    /// not started.
    fn live_keep_alive(&self) -> Option<&KeepAliveTimer> {
        let running = self.phase == Phase::Established && !self.closing_handshake_started();
        self.keep_alive.as_ref().filter(|_| running)
    }

    fn keep_alive_timeout(&mut self, now: Time) {
        if self.live_keep_alive().is_none() {
            return;
        }
        let waiting_messages = self.queued_messages > 0;
        let Some(k) = self.keep_alive.as_mut() else {
            return;
        };
        if waiting_messages && now >= k.deadline() {
            // Received messages still wait for the user: the driver may have
            // stopped reading because of them (backpressure), so silence
            // proves nothing; count it as heard and wait another interval.
            k.heard(now);
        }
        match k.on_timeout(now) {
            KeepAliveDue::Ping => self.transmits.push_back(Transmit::Ping(Vec::new())),
            KeepAliveDue::Fail if self.read_stalled => self.fail(FailReason::KeepAliveStalled),
            KeepAliveDue::Fail => self.fail(FailReason::KeepAliveTimeout),
            KeepAliveDue::Nothing => {}
        }
    }

    fn arm_closing_timer(&mut self, now: Time) {
        self.closing_deadline = self.config.closing_timeout.map(|d| now.saturating_add(d));
    }

    fn unoffered_extension(&self, extensions: &str) -> Option<String> {
        let mut seen: Vec<&str> = Vec::new();
        for ext in extensions.split(',') {
            let name = ext.split(';').next().unwrap_or("").trim();
            // RFC 7230 §7: empty list elements are ignored.
            if name.is_empty() {
                continue;
            }
            let offered = self
                .config
                .offered_extensions
                .iter()
                .any(|o| crate::handshake::offer_name(o).eq_ignore_ascii_case(name));
            if !offered || seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                return Some(name.to_string());
            }
            seen.push(name);
        }
        None
    }

    fn clean_close_event(received: &ReceivedClose) -> CloseEvent {
        match received {
            ReceivedClose::NoStatus => CloseEvent {
                code: 1005,
                reason: String::new(),
                was_clean: true,
            },
            ReceivedClose::Frame(f) => CloseEvent {
                code: f.code,
                reason: f.reason.clone(),
                was_clean: true,
            },
        }
    }

    /// RFC 6455 §7.1.7 "Fail the WebSocket Connection": send a Close frame
    /// with the reason's code if the connection is up and we have not sent
    /// one, drop the transport, and queue error + close(1006).
    fn fail(&mut self, reason: FailReason) {
        if self.close_queued {
            return;
        }
        if self.phase == Phase::Established && !self.close_sent {
            if let Some(code) = reason.close_code() {
                self.close_sent = true;
                self.transmits.push_back(Transmit::Close(Some(crate::CloseFrame {
                    code,
                    reason: String::new(),
                })));
            }
        }
        // A connection still queued for its host has no transport to close.
        let queued = self.host_slot == HostSlot::Queued;
        // Before CloseTransport, which stays the last transmit.
        self.release_host();
        if self.outstanding_connect() {
            // The driver never started connecting: it never will.
            self.transmits.retain(|t| !matches!(t, Transmit::Connect { .. }));
        } else if self.phase != Phase::Closed && !matches!(reason, FailReason::BadPort(_)) && !queued {
            self.transmits.push_back(Transmit::CloseTransport);
        }
        let close = CloseEvent {
            code: 1006,
            reason: String::new(),
            was_clean: false,
        };
        self.finish(Some(reason), close);
    }

    /// "The WebSocket connection is closed": queue the close task, once.
    fn finish(&mut self, error: Option<FailReason>, close: CloseEvent) {
        if self.close_queued {
            return;
        }
        self.close_queued = true;
        self.release_host();
        self.phase = Phase::Closed;
        self.connect_deadline = None;
        self.closing_deadline = None;
        self.tasks.push_back(Task::Closed { error, close });
    }
}
