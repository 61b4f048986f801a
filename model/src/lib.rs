//! # wsapi-model: the WebSocket API as a pure state machine
//!
//! This crate is the single source of truth for the rules of the browser
//! `WebSocket` API (the [WHATWG WebSocket Standard]) and the parts of
//! [RFC 6455] that a client's API exposes. It does no I/O, has no clock and
//! no async: a *driver* (the `wsapi` async client, a blocking client, a test)
//! owns the socket and the time, feeds what happened into a [`Connection`],
//! and carries out what it asks for.
//!
//! [WHATWG WebSocket Standard]: https://websockets.spec.whatwg.org/
//! [RFC 6455]: https://www.rfc-editor.org/rfc/rfc6455
//!
//! ## Why a state machine
//!
//! The API's subtle parts are orderings and races: `close()` during
//! CONNECTING racing the handshake, the peer's Close crossing ours,
//! `bufferedAmount` after the closing handshake started, messages queued
//! before a failure. Written as a transition function they can be unit
//! tested, exhaustively model checked (see `tests/model_check.rs`) and
//! reused by any number of drivers, which then cannot disagree with each
//! other. The shape follows `quinn-proto` and `str0m`: inputs in through
//! `handle_*` methods, outputs out through `poll_*` methods, time passed in
//! as a value.
//!
//! ## Where each rule lives
//!
//! | rule | module |
//! |---|---|
//! | constructor: URL, schemes, fragment, protocols, bad ports | [`constructor`] |
//! | close(): code and reason checks; received Close frames | [`close_code`] |
//! | readyState, send/close preconditions, bufferedAmount, events, timers | [`connection`] |
//! | events, transmits, failure reasons | [`event`] |
//! | the opening handshake's response checks (RFC 6455 §4.1) | [`handshake`] |
//! | one connection in CONNECTING per host and port | [`host_gate`] |
//! | inputs as values; recording and replaying a session | [`journal`] |
//! | could the standard have produced this trace of any client? | [`judge()`](judge()) |
//! | keep-alive and `ping()` (ours, not the standard's; keep-alive off by default) | [`keepalive`], [`Connection::ping`] |
//!
//! ## Run loop (the driver contract)
//!
//! A driver owns the transport and the clock. It must:
//!
//! 1. **Construct** with [`Connection::new`] (the constructor: it may throw a
//!    [`ConstructError`]); `now` is the driver's time, as a [`Time`] (a
//!    `Duration` since an epoch of the driver's choosing; it must not go
//!    backwards).
//! 2. **Drain transmits** with [`Connection::poll_transmit`] after every call
//!    on the connection (API call or input), and carry them out **in
//!    order**:
//!    - `QueueForHost(key)`: ask the process's [`HostGate`] for the slot of
//!      `key` (one connection in CONNECTING per host and port, see
//!      [`host_gate`]); once it holds it, report
//!      [`Connection::handle_host_slot`], after which `Connect` comes.
//!    - `ReleaseHost`: give that slot back (or leave the queue if it was
//!      never held); the connection left CONNECTING.
//!    - `Connect { url, protocols }`: open TCP (TLS for `wss`), send the
//!      opening handshake offering `protocols` (and the extensions of
//!      [`Config::offered_extensions`]) with a fresh random
//!      `Sec-WebSocket-Key`; read the response head and report it with
//!      [`Connection::handle_response`] (the model checks it: see
//!      [`handshake`]); or report [`Connection::handle_transport_failed`]
//!      (TCP or TLS failed; the error is kept as a typed cause) or
//!      [`Connection::handle_connect_failed`] (no response could be read).
//!      A `Connect` or `QueueForHost` not yet taken when
//!      the connection fails is withdrawn: a driver never has to undo it.
//!    - `Message(m)`: send it as one text or binary message; once its bytes
//!      are handed to the OS, report [`Connection::handle_written`] with its
//!      byte length (several at once is fine). This is what makes
//!      `bufferedAmount` drain.
//!    - `Close(frame)`: send a Close frame (`None`: empty body).
//!    - `CloseTransport`: close the transport (after writing what came before
//!      it, if the transport still takes it); nothing else will be asked.
//!    - `Ping(payload)`: send a Ping frame with that payload (empty for
//!      [`Config::keep_alive`]'s, the caller's for [`Connection::ping`]; both
//!      extensions of ours, see [`keepalive`]).
//! 3. **Report the network**, each as it happens, in the order it happened:
//!    complete data messages with [`Connection::handle_message`] (text already
//!    checked to be UTF-8), Close frames with [`Connection::handle_close_frame`]
//!    and their **raw** payload (the model validates it: do not let a
//!    library substitute codes), framing errors with
//!    [`Connection::handle_protocol_error`] (the [`FailReason`] decides the
//!    code sent), and the end of the transport with
//!    [`Connection::handle_transport_closed`] (EOF) or
//!    [`Connection::handle_transport_error`] (a reset or other I/O error,
//!    kept for the error event). Answer pings yourself. With keep-alive on,
//!    also report that frames arrived (any kind, pongs included) with
//!    [`Connection::handle_received`], at least once per batch read, and,
//!    if you stop reading because the peer does not read your pongs,
//!    [`Connection::handle_read_stalled`] (see [`keepalive`]).
//! 4. **Keep time**: whenever [`Connection::poll_timeout`] is `Some(t)` and
//!    the clock reaches `t`, call [`Connection::handle_timeout`]. Calling it
//!    early or twice is harmless. Only `close()`, a received Close frame, a
//!    timeout, and for keep-alive the handshake's success and
//!    `handle_received`, use their `now` ([`Input::reads_clock`]); a driver
//!    on a hot path may pass the last time it read to every other input.
//! 5. **Deliver events** from [`Connection::poll_event`] where the user sees
//!    them. `readyState`, `protocol` and `extensions` change as events are
//!    taken (as the spec's queued tasks change them), so take an event only
//!    when handing it to the user.
//! 6. **Mark event-loop turns.** `bufferedAmount` is the spec's value "as of
//!    the last time the event loop reached step 1": it grows with `send()`
//!    at once but falls (by what [`Connection::handle_written`] reported)
//!    only at a turn. [`Connection::poll_event`] is one (the user taking,
//!    or asking for, the next event; a handler dispatch); a driver that lets
//!    the user wait for the buffer to drain without taking events calls
//!    [`Connection::handle_turn`] when the wait ends. Backpressure and
//!    drain waits use [`Connection::unsent_amount`], the count as of now.
//!
//! **Misuse** (an input that cannot happen in the state the driver itself
//! reported, e.g. a message before `handle_open`, or more bytes written than
//! were transmitted) returns an [`InputError`] and changes nothing. Races
//! are not misuse: a handshake completing after `close()`, frames read after
//! the model asked to close the transport, a timeout after the end, are all
//! accepted and ignored as the spec says. No sequence of calls panics (the
//! exhaustive check in `tests/model_check.rs` and the property tests of
//! `wsapi-props` exercise this).
//!
//! A [`journal::Step`] log of every call lets a session be replayed and
//! checked offline ([`replay`]).
//!
//! ### A complete minimal driver
//!
//! The network here is a fake echo server in memory, so the example runs
//! anywhere; a real driver puts a socket where `Echo` is (the `wsapi` crate
//! does so with async-tungstenite, and `wsapi-blocking` with `std::net`).
//!
//! ```
//! use core::time::Duration;
//! use wsapi_model::{Config, Connection, Data, Event, ReadyState, Transmit};
//!
//! /// A peer that echoes messages and answers a Close, then closes TCP.
//! #[derive(Default)]
//! struct Echo { inbox: Vec<Data>, closing: Option<Vec<u8>>, tcp_open: bool }
//!
//! fn drive(ws: &mut Connection<Data>, net: &mut Echo, now: Duration) -> Vec<Event<Data>> {
//!     let mut events = Vec::new();
//!     loop {
//!         let mut progress = false;
//!         while let Some(t) = ws.poll_transmit() {
//!             progress = true;
//!             match t {
//!                 // The only connection of this process: its host is free.
//!                 Transmit::QueueForHost(_) => ws.handle_host_slot(now).unwrap(),
//!                 Transmit::ReleaseHost => {}
//!                 Transmit::Connect { .. } => {
//!                     net.tcp_open = true;
//!                     ws.handle_open(now, None, None).unwrap();
//!                 }
//!                 Transmit::Message(m) => {
//!                     let len = match &m { Data::Text(s) => s.len(), Data::Binary(b) => b.len() };
//!                     net.inbox.push(m);
//!                     ws.handle_written(len as u64).unwrap();
//!                 }
//!                 Transmit::Close(frame) => {
//!                     // The peer echoes our Close frame's payload.
//!                     let mut payload = Vec::new();
//!                     if let Some(f) = frame {
//!                         payload.extend_from_slice(&f.code.to_be_bytes());
//!                         payload.extend_from_slice(f.reason.as_bytes());
//!                     }
//!                     net.closing = Some(payload);
//!                 }
//!                 Transmit::CloseTransport => net.tcp_open = false,
//!                 Transmit::Ping(_) => {} // ping() or keep-alive only, both ours
//!             }
//!         }
//!         // What the network did: echoes, then the Close reply and the end of TCP.
//!         for m in net.inbox.drain(..) {
//!             progress = true;
//!             ws.handle_message(now, m).unwrap();
//!         }
//!         if let Some(payload) = net.closing.take() {
//!             progress = true;
//!             ws.handle_close_frame(now, &payload).unwrap();
//!             ws.handle_transport_closed(now).unwrap();
//!             net.tcp_open = false;
//!         }
//!         if ws.poll_timeout().is_some_and(|t| now >= t) {
//!             ws.handle_timeout(now);
//!         }
//!         while let Some(e) = ws.poll_event() {
//!             progress = true;
//!             events.push(e);
//!         }
//!         if !progress {
//!             return events;
//!         }
//!     }
//! }
//!
//! let t0 = Duration::ZERO;
//! let mut net = Echo::default();
//! let mut ws = Connection::new("ws://example.com/echo", &[] as &[&str], Config::default(), t0).unwrap();
//! assert_eq!(drive(&mut ws, &mut net, t0), vec![Event::Open]);
//! ws.send(Data::Text("hi".into())).unwrap();
//! assert_eq!(ws.buffered_amount(), 2);
//! let events = drive(&mut ws, &mut net, t0);
//! assert_eq!(ws.buffered_amount(), 0);
//! assert!(matches!(&events[..], [Event::Message { data: Data::Text(t), .. }] if t == "hi"));
//! ws.close(t0, Some(1000), Some("done")).unwrap();
//! assert_eq!(ws.ready_state(), ReadyState::Closing);
//! let events = drive(&mut ws, &mut net, t0);
//! assert!(matches!(&events[..], [Event::Close(c)] if c.code == 1000 && c.was_clean));
//! assert!(ws.is_finished() && !net.tcp_open);
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]

extern crate alloc;

pub mod close_code;
pub mod connection;
pub mod constructor;
pub mod event;
pub mod handshake;
pub mod host_gate;
pub mod journal;
pub mod judge;
pub mod transport_error;

#[cfg(all(test, feature = "std"))]
mod error_messages;
pub mod keepalive;
pub mod reconnect;

pub use close_code::{
    check_close_args, close_frame_for, is_api_close_code, is_valid_wire_close_code, parse_close_payload, BadClose,
    CloseError, CloseFrame, ReceivedClose, MAX_REASON_BYTES,
};
pub use connection::{Config, Connection, InputError, Phase, PingError, SendError, Time, MAX_PING_PAYLOAD};
pub use constructor::{is_bad_port, parse_url, url_port_is_blocked, validate_protocols, ConstructError, BAD_PORTS};
pub use event::{BinaryType, CloseEvent, Data, Event, FailReason, Payload, ReadyState, Transmit};
pub use handshake::{check_response, HandshakeFailure, Response};
pub use host_gate::{HostGate, HostKey, Ticket};
pub use journal::{replay, Divergence, Input, Refusal, Step};
pub use judge::{judge, Verdict};
pub use keepalive::KeepAlive;
pub use reconnect::{Decision, Reconnect, ReconnectPolicy, StopReason};
pub use transport_error::{TransportError, TransportLayer};
pub use url::Url;
