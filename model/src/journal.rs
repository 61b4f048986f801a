//! Inputs as values, and a journal of everything a connection was told and
//! gave out, so that a driver's session can be recorded and replayed.
//!
//! A driver that records every call it makes on its [`Connection`] as a
//! [`Step`] lets anyone check, offline, that what its users saw is what the
//! model says for the inputs that really arrived: replay the steps on a
//! fresh connection with [`replay`] and compare. The property tests of
//! `wsapi-props` do exactly that with the async client.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::close_code::CloseError;
use crate::connection::{Config, Connection, InputError, PingError, SendError, Time};
use crate::constructor::ConstructError;
use crate::event::{BinaryType, Event, FailReason, Payload, Transmit};
use crate::handshake::{HandshakeFailure, Response};
use crate::transport_error::TransportError;

/// One call on a [`Connection`], as a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Input<M> {
    /// `send(data)`.
    Send(M),
    /// `close(code, reason)`.
    Close {
        /// The code argument.
        code: Option<u16>,
        /// The reason argument.
        reason: Option<String>,
    },
    /// `binaryType = ...`.
    SetBinaryType(BinaryType),
    /// [`Connection::ping`] (ours, not the standard's API).
    Ping(Vec<u8>),
    /// [`Connection::handle_open`].
    Open {
        /// `Sec-WebSocket-Protocol` of the response.
        protocol: Option<String>,
        /// `Sec-WebSocket-Extensions` of the response.
        extensions: Option<String>,
    },
    /// [`Connection::handle_host_slot`].
    HostSlot,
    /// [`Connection::handle_response`].
    Response {
        /// The `Sec-WebSocket-Key` that was sent.
        key: String,
        /// The response head (boxed: inputs are moved once per message).
        response: Box<Response>,
    },
    /// [`Connection::handle_connect_failed`].
    ConnectFailed(HandshakeFailure),
    /// [`Connection::handle_transport_failed`].
    TransportFailed(TransportError),
    /// [`Connection::handle_message`].
    Message(M),
    /// [`Connection::handle_close_frame`] (raw payload).
    CloseFrame(Vec<u8>),
    /// [`Connection::handle_protocol_error`].
    ProtocolError(FailReason),
    /// [`Connection::handle_transport_closed`].
    TransportClosed,
    /// [`Connection::handle_transport_error`].
    TransportError(TransportError),
    /// [`Connection::handle_read_stalled`].
    ReadStalled(bool),
    /// [`Connection::handle_written`].
    Written(u64),
    /// [`Connection::handle_driver_stopped`].
    DriverStopped(String),
    /// [`Connection::handle_timeout`].
    Timeout,
    /// [`Connection::handle_turn`]: an event-loop turn with no event taken.
    Turn,
    /// [`Connection::handle_received`]: a frame of any kind arrived.
    Received,
}

impl<M> Input<M> {
    /// Whether handling this input reads its `now`: only those that arm or
    /// fire a timer do (`close()`, a received Close frame, a timeout, and
    /// for keep-alive the handshake's success and a frame reported). For
    /// every other input the time is not used, so a driver may pass the
    /// last time it read instead of reading the clock on each message;
    /// times must still never go backwards.
    ///
    /// ```
    /// use wsapi_model::{Data, Input};
    /// assert!(!Input::<Data>::Send(Data::Text("hi".into())).reads_clock());
    /// assert!(Input::<Data>::Timeout.reads_clock());
    /// ```
    pub fn reads_clock(&self) -> bool {
        matches!(
            self,
            Input::Open { .. } | Input::Close { .. } | Input::CloseFrame(_) | Input::Timeout | Input::Received
        )
    }
}

/// Why an [`Input`] was refused (what the corresponding method returned).
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// `send` threw.
    #[error(transparent)]
    Send(SendError),
    /// `close` threw.
    #[error(transparent)]
    Close(CloseError),
    /// `ping` refused (ours, not the standard's API).
    #[error(transparent)]
    Ping(PingError),
    /// The driver's input was impossible.
    #[error(transparent)]
    Input(InputError),
}

impl<M: Payload> Connection<M> {
    /// Applies one input at time `now` (the same as calling the method).
    pub fn handle_input(&mut self, now: Time, input: Input<M>) -> Result<(), Refusal> {
        match input {
            Input::Send(m) => self.send(m).map_err(Refusal::Send),
            Input::Close { code, reason } => self.close(now, code, reason.as_deref()).map_err(Refusal::Close),
            Input::SetBinaryType(b) => {
                self.set_binary_type(b);
                Ok(())
            }
            Input::Ping(payload) => self.ping(payload).map_err(Refusal::Ping),
            Input::Open { protocol, extensions } => self
                .handle_open(now, protocol.as_deref(), extensions.as_deref())
                .map_err(Refusal::Input),
            Input::HostSlot => self.handle_host_slot(now).map_err(Refusal::Input),
            Input::Response { key, response } => self
                .handle_response(now, &key, &response)
                .map(|_| ())
                .map_err(Refusal::Input),
            Input::ConnectFailed(why) => self.handle_connect_failed(now, why).map_err(Refusal::Input),
            Input::TransportFailed(e) => self.handle_transport_failed(now, e).map_err(Refusal::Input),
            Input::DriverStopped(why) => {
                self.handle_driver_stopped(now, why);
                Ok(())
            }
            Input::Message(m) => self.handle_message(now, m).map_err(Refusal::Input),
            Input::CloseFrame(p) => self.handle_close_frame(now, &p).map_err(Refusal::Input),
            Input::ProtocolError(r) => self.handle_protocol_error(now, r).map_err(Refusal::Input),
            Input::TransportClosed => self.handle_transport_closed(now).map_err(Refusal::Input),
            Input::TransportError(e) => self.handle_transport_error(now, e).map_err(Refusal::Input),
            Input::ReadStalled(stalled) => self.handle_read_stalled(now, stalled).map_err(Refusal::Input),
            Input::Written(n) => self.handle_written(n).map_err(Refusal::Input),
            Input::Timeout => {
                self.handle_timeout(now);
                Ok(())
            }
            Input::Turn => {
                self.handle_turn();
                Ok(())
            }
            Input::Received => self.handle_received(now).map_err(Refusal::Input),
        }
    }
}

/// One recorded step of a session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step<M> {
    /// An input at a time, and what it returned.
    Input {
        /// The time passed with it.
        now: Time,
        /// The input.
        input: Input<M>,
        /// What the call returned.
        result: Result<(), Refusal>,
    },
    /// A `poll_event` call and what it returned.
    Event(Option<Event<M>>),
    /// A `poll_transmit` call and what it returned.
    Transmit(Option<Transmit<M>>),
}

/// Where a replay parted from the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "replay parted from the record at step {index}: recorded {recorded:?}, replayed {replayed:?}; \
     the driver fed the model other inputs than it recorded, or the model changed"
)]
pub struct Divergence<M> {
    /// Index of the step.
    pub index: usize,
    /// The recorded step.
    pub recorded: Step<M>,
    /// What the fresh connection did instead.
    pub replayed: Step<M>,
}

/// Replays `steps` on a fresh connection built from the same constructor
/// arguments, and returns it, or the first step where it behaves otherwise.
pub fn replay<M: Payload + Clone + PartialEq, S: AsRef<str>>(
    url: &str,
    protocols: &[S],
    config: Config,
    start: Time,
    steps: &[Step<M>],
) -> Result<Result<Connection<M>, Divergence<M>>, ConstructError> {
    let mut conn = Connection::new(url, protocols, config, start)?;
    for (index, step) in steps.iter().enumerate() {
        let replayed = match step {
            Step::Input { now, input, .. } => Step::Input {
                now: *now,
                input: input.clone(),
                result: conn.handle_input(*now, input.clone()),
            },
            Step::Event(_) => Step::Event(conn.poll_event()),
            Step::Transmit(_) => Step::Transmit(conn.poll_transmit()),
        };
        if &replayed != step {
            return Ok(Err(Divergence {
                index,
                recorded: step.clone(),
                replayed,
            }));
        }
    }
    Ok(Ok(conn))
}
