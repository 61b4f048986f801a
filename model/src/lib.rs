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
//! | inputs as values; recording and replaying a session | [`journal`] |
//!
//! ## Run loop (the driver contract)
//!
//! 1. Create the [`Connection`] with [`Connection::new`] (this is the
//!    constructor: it may throw a [`ConstructError`]).
//! 2. Drain [`Connection::poll_transmit`] and carry each [`Transmit`] out in
//!    order: `Connect` (then report [`Connection::handle_open`] or
//!    [`Connection::handle_connect_failed`]), `Message`, `Close`,
//!    `CloseTransport`.
//! 3. Report what the network did: [`Connection::handle_message`],
//!    [`Connection::handle_close_frame`] (the *raw* payload),
//!    [`Connection::handle_protocol_error`],
//!    [`Connection::handle_transport_closed`], and
//!    [`Connection::handle_written`] as message bytes reach the OS.
//! 4. Call [`Connection::handle_timeout`] when [`Connection::poll_timeout`]
//!    is reached.
//! 5. Deliver events from [`Connection::poll_event`] to the user. The
//!    observable `readyState` changes as events are taken out, so drain
//!    events where the user will see them, not ahead of time.
//!
//! After every input or API call, go back to 2. Inputs that cannot happen in
//! the reported state return an [`InputError`] and change nothing; the model
//! never panics on any sequence of calls.
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]

extern crate alloc;

pub mod close_code;
pub mod connection;
pub mod constructor;
pub mod event;
pub mod journal;

pub use close_code::{
    check_close_args, close_frame_for, is_api_close_code, is_valid_wire_close_code, parse_close_payload, BadClose,
    CloseError, CloseFrame, ReceivedClose, MAX_REASON_BYTES,
};
pub use connection::{Config, Connection, InputError, Phase, SendError, Time};
pub use constructor::{is_bad_port, parse_url, url_port_is_blocked, validate_protocols, ConstructError, BAD_PORTS};
pub use event::{BinaryType, CloseEvent, Data, Event, FailReason, Payload, ReadyState, Transmit};
pub use journal::{replay, Divergence, Input, Refusal, Step};
pub use url::Url;
