//! Exhaustive model check of [`Connection`] with `stateright`.
//!
//! # Bound
//!
//! Breadth-first search over **every sequence of at most 12 actions**
//! ([`MAX_ACTIONS`]) from two initial connections: `ws://example.com/`
//! offering no subprotocol, and `ws://example.com:25/` (a blocked port: the
//! constructor queues the failure and never asks to connect). An action is
//! one API call, one driver input, one transmit or one event taken, a timer,
//! or the peer going silent (the alphabet is [`Action`]; ~20 letters, about
//! half of them enabled in a given state). Config: the default timeouts
//! (connect 30 s, closing 2 s) and `max_buffered_amount = 3`, so that "flag
//! the WebSocket as full" is in the state space too (the host gate's
//! `QueueForHost` is granted and `Connect` taken in one step: a lone
//! connection's host is always free; two connections: `host_gate_check.rs`).
//! That is 530,864 distinct states checked (893,729 generated, counting the
//! unchecked successors of the last level; 4.0 million transitions), 49 s in
//! a debug build measured on a machine busy with other builds
//! (single-threaded, see `model_check`). `MODEL_CHECK_ACTIONS=n`
//! changes the bound (each extra action costs ~1.5x). Run with
//! `-- --nocapture` to see the numbers:
//!
//! ```text
//! cargo test -p wsapi-model --test model_check -- --nocapture
//! ```
//!
//! A second check, `model_check_keep_alive`, runs the same properties on
//! one connection with keep-alive on (an extension of ours, not the
//! standard's: `wsapi_model::keepalive`), a smaller API alphabet (one call
//! of each kind, and `ping()`, also ours), the peer's non-message frames ([`Action::Heard`]) and
//! [`P::KeepAliveSilent`]: once the peer is silent, a connection that is
//! not CLOSED always has a timer pending, and at most three fires (re-arm
//! from a late receipt, ping, fail) once no received message waits for the
//! user make it CLOSED (while one waits, keep-alive holds off:
//! backpressure may have paused reading). Bound 11
//! ([`MAX_ACTIONS_KEEP_ALIVE`]): 763,687 states checked (2,099,870
//! generated, 5.0 million transitions; a third of that before `ping()`
//! joined the alphabet), ~60 s in a debug build. A timer that keeps
//! re-arming instead of failing is caught by that property; one that
//! stops firing, by "timers fire only when due".
//!
//! # What is modelled
//!
//! The state is the [`Connection`] plus the driver's view of the network
//! (which transmits were taken, which outcome was reported, bytes in flight,
//! whether the peer went silent, the model time) and a ghost history (event
//! counters, the last event, the first valid Close frame the peer sent, and
//! one bit per step property broken by the step into the state). The ghost is kept
//! small (flags rather than logs) so that it splits few states; for the same
//! reason the peer's data messages alternate text and binary instead of being
//! chosen (see [`Action::Recv`]).
//!
//! Driver inputs are only enabled where a correct driver could produce them
//! (see [`WsModel::actions`]); each must then be accepted: an `InputError`
//! there is a model bug ("a correct driver's inputs are accepted"). API calls
//! are always enabled, with invalid arguments too.
//!
//! Time: the driver's clock only moves with [`Action::Timeout`], which jumps
//! exactly to the pending deadline (`poll_timeout`), so `now >= deadline` is
//! exercised at its boundary; [`Action::EarlyTimeout`] calls `handle_timeout`
//! before any deadline (or far in the future when none is pending), which
//! must change nothing.
//!
//! # How properties are checked
//!
//! Properties about a single step (what an event looked like when it was
//! delivered, how `readyState` or `bufferedAmount` moved, what a call
//! returned) are checked in `next_state`, which sets the property's bit in
//! `State::broken` of the state it produces (bits are not inherited); the
//! `always` property then fails in that state and stateright prints the path
//! ending with the offending step. Liveness ("a run that ends delivered exactly
//! one close event", "a silent peer's connection reaches CLOSED once the
//! timer fired") is expressed as `always` properties over *terminal* or
//! *quiescent* states rather than with `Property::eventually`: API calls are
//! always enabled, so no state is terminal in stateright's sense (it has no
//! successors), and stateright's `eventually` gives false negatives at DAG
//! joins and cycles (see its docs), which this state graph is full of.
//! "Terminal" is defined explicitly ([`State::terminal`]: nothing left to
//! transmit, no event waiting, no timer pending, the network side over).
//! `Property::sometimes` checks make sure the interesting cases are reached
//! within the bound, so that nothing passes vacuously.
//!
//! On a failure the check stops early and prints a short counterexample
//! path; `MODEL_CHECK_ALL_FAILURES=1` explores the whole bound and lists
//! every property that fails.
//!
//! "bufferedAmount never shrinks once not OPEN" allows exactly one kind of
//! decrease: the driver reporting (`handle_written`) bytes of messages that
//! were transmitted while OPEN. The WHATWG attribute counts bytes "not yet
//! transmitted to the network", and data queued before `close()` still goes
//! out ahead of the Close frame; what must never shrink is the part counted
//! for data sent once the closing handshake started, which is never sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use stateright::{Checker, HasDiscoveries, Model, Property};
use wsapi_model::{
    is_valid_wire_close_code, BinaryType, CloseError, Config, Connection, Data, Event, FailReason, KeepAlive,
    PingError, ReadyState, SendError, Transmit, MAX_REASON_BYTES,
};

/// The bound: every path of at most this many actions is explored.
const MAX_ACTIONS: usize = 12;

/// The keep-alive check's bound: its timers make more distinct states per
/// level (11 is ~60 s in a debug build with `ping()` in the alphabet; 12
/// doubles it). The longest path its reachability checks need (connect,
/// open, silence, ping, fail, drain) is 10 actions.
const MAX_ACTIONS_KEEP_ALIVE: usize = 11;

/// States whose properties were checked (see `model_check`), per check
/// (indexed by `WsModel::keep_alive`: the two checks run in parallel).
static CHECKED: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

/// A time after every deadline the model can arm (connect 30 s, closing 2 s),
/// for the "early timeout" check when no timer is pending.
const FAR_FUTURE: Duration = Duration::from_secs(1_000_000);

// ----- property names ---------------------------------------------------

/// The `always` properties (one bit each in `State::broken`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum P {
    ClosedAbsorbing,
    NeverBackwards,
    OneClose,
    OpenFirst,
    NoMessageAfterClose,
    ErrorThenClose,
    BufferedNeverShrinks,
    SilentPeer,
    CloseCode,
    // Further invariants.
    ClosedAtEnd,
    CloseIsLast,
    OneOpen,
    NoErrorBeforeClean,
    PeerCode,
    BinaryType,
    ApiResults,
    InputsAccepted,
    Accounting,
    SendNotOpen,
    ReadyStateCause,
    TransmitOrder,
    TimersDue,
    NoHang,
    QueuedBytes,
    BufferedFallsAtTurns,
    KeepAliveSilent,
}

impl P {
    const fn name(self) -> &'static str {
        match self {
            P::ClosedAbsorbing => "closed is absorbing",
            P::NeverBackwards => "readyState never moves backwards",
            P::OneClose => "exactly one close event",
            P::OpenFirst => "open precedes any message",
            P::NoMessageAfterClose => "no message after close",
            P::ErrorThenClose => "error is always followed by close",
            P::BufferedNeverShrinks => "bufferedAmount never shrinks once not OPEN",
            P::SilentPeer => "silent peer reaches CLOSED once the timer fires",
            P::CloseCode => "close event code is 1005/1006 or a valid one",
            P::ClosedAtEnd => "error and close fire with readyState CLOSED",
            P::CloseIsLast => "close is the last event",
            P::OneOpen => "at most one open event, only after a successful handshake",
            P::NoErrorBeforeClean => "an error is never followed by a clean close",
            P::PeerCode => "a clean close reports the peer's code and reason",
            P::BinaryType => "binaryType is the one set when the message is delivered",
            P::ApiResults => "API results follow the rules",
            P::InputsAccepted => "a correct driver's inputs are accepted",
            P::Accounting => "bufferedAmount moves by bytes sent and bytes reported written",
            P::SendNotOpen => "send() once not OPEN only grows bufferedAmount",
            P::ReadyStateCause => "readyState changes only in poll_event and close()",
            P::TransmitOrder => "transmits follow the protocol",
            P::TimersDue => "timers fire only when due",
            P::NoHang => "a silent peer cannot leave a closing connection hanging",
            P::QueuedBytes => "queued_message_bytes tracks received, undelivered messages",
            P::BufferedFallsAtTurns => "bufferedAmount falls only at an event-loop turn, to the unsent count",
            P::KeepAliveSilent => "with keep-alive, a silent peer's connection reaches CLOSED",
        }
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

// ----- state and actions ----------------------------------------------------

/// Event kinds, for the ghost history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Ev {
    Open,
    Message,
    Error,
    Close,
}

/// `close()` arguments in the alphabet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum CloseArgs {
    /// `close()`
    Bare,
    /// `close(1000, "x")`
    NormalX,
    /// `close(undefined, "why")`
    ReasonOnly,
    /// `close(1001)`: not a code a script may send.
    BadCode,
    /// `close(1000, 124 bytes)`: reason too long.
    LongReason,
}

impl CloseArgs {
    fn args(self) -> (Option<u16>, Option<String>) {
        match self {
            CloseArgs::Bare => (None, None),
            CloseArgs::NormalX => (Some(1000), Some("x".into())),
            CloseArgs::ReasonOnly => (None, Some("why".into())),
            CloseArgs::BadCode => (Some(1001), None),
            CloseArgs::LongReason => (Some(1000), Some("a".repeat(MAX_REASON_BYTES + 1))),
        }
    }

    fn expected(self) -> Result<(), CloseError> {
        match self {
            CloseArgs::BadCode => Err(CloseError::InvalidAccess(1001)),
            CloseArgs::LongReason => Err(CloseError::Syntax(MAX_REASON_BYTES + 1)),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Action {
    // The user (API).
    SendText,
    SendBinary,
    Close(CloseArgs),
    ToggleBinaryType,
    /// Deliver one event (`poll_event`).
    PollEvent,
    /// An event-loop turn with no event taken (`handle_turn`).
    Turn,
    // The driver and the network.
    /// Take one transmit (`poll_transmit`).
    PollTransmit,
    /// Report every byte in flight written (`handle_written`).
    Written,
    /// `handle_open` with no subprotocol (none was offered).
    OpenOk,
    /// `handle_open` with a subprotocol that was not offered.
    OpenUnofferedProtocol,
    ConnectFailed,
    /// A data message from the peer: the peer alternates text "a" and
    /// binary [1, 2] (the kinds are symmetric for the model; alternating
    /// keeps both without the 2^n orders of a two-letter alphabet).
    Recv,
    /// A Close frame with 1000 "bye".
    CloseFrameValid,
    /// A Close frame with an empty payload.
    CloseFrameEmpty,
    /// A Close frame with code 1005 (which must not be on the wire).
    CloseFrameInvalid,
    /// `handle_protocol_error(InvalidUtf8)`.
    ProtocolError,
    TransportClosed,
    /// The transport failed with an I/O error (a reset): as
    /// `TransportClosed`, with the error kept for the error event.
    TransportError,
    /// The driver's I/O task stopped (panicked, or dropped with its
    /// runtime): at any moment, once.
    DriverStopped,
    /// The pending deadline is reached: advance the time to it, `handle_timeout`.
    Timeout,
    /// `handle_timeout` before any deadline: must change nothing.
    EarlyTimeout,
    /// From now on the peer sends nothing and never closes the transport.
    PeerSilent,
    /// A frame of any kind arrived (`handle_received`, e.g. a pong); only
    /// in the keep-alive check.
    Heard,
    /// `ping(b"p")` (ours, not the standard's API); only in the keep-alive
    /// check, the one whose subject is pings.
    Ping,
}

const CLOSE_1000_BYE: [u8; 5] = [0x03, 0xe8, b'b', b'y', b'e'];
const CLOSE_1005: [u8; 2] = [0x03, 0xed];

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    /// The driver's clock.
    now: Duration,

    // The driver's view of the network.
    connect_taken: bool,
    /// `handle_open` or `handle_connect_failed` was reported.
    outcome_reported: bool,
    /// `handle_open` succeeded from the driver's point of view (no bad protocol).
    handshake_ok: bool,
    connect_failed_reported: bool,
    transport_closed_reported: bool,
    /// The driver's task stopped: it takes and reports nothing more.
    driver_stopped: bool,
    close_transport_taken: bool,
    close_frames_taken: u8,
    /// Message bytes taken from `poll_transmit` and not reported written yet.
    in_flight: u64,
    peer_silent: bool,
    /// The kind of the peer's next data message.
    peer_sends_binary: bool,
    /// The first valid Close frame reported: (code, reason).
    peer_close: Option<(u16, &'static str)>,
    /// Timers fired since the peer went silent with no message waiting for
    /// the user (keep-alive check only; at most 3).
    silent_timeouts: u8,

    // Ghost history.
    /// Some message bytes were reported written.
    wrote: bool,
    /// A keep-alive ping was taken.
    pinged: bool,
    /// The error event said `KeepAliveTimeout`.
    keep_alive_failed: bool,
    /// `close()` returned Ok, or the peer's (valid) Close frame was reported.
    closing_started: bool,
    /// `handle_timeout` fired a deadline after `closing_started`.
    timeout_after_closing: bool,
    opens: u8,
    message_delivered: bool,
    errors: u8,
    closes: u8,
    last_event: Option<Ev>,
    clean_close: bool,
    /// One bit per `P`: the property was broken by the step into this state.
    broken: u32,
    /// Last, so that the derived `PartialEq` compares the cheap fields first.
    conn: Connection<Data>,
}

impl State {
    fn new(conn: Connection<Data>) -> Self {
        State {
            conn,
            now: Duration::ZERO,
            connect_taken: false,
            outcome_reported: false,
            handshake_ok: false,
            connect_failed_reported: false,
            transport_closed_reported: false,
            driver_stopped: false,
            close_transport_taken: false,
            close_frames_taken: 0,
            in_flight: 0,
            peer_silent: false,
            peer_sends_binary: false,
            peer_close: None,
            silent_timeouts: 0,
            wrote: false,
            pinged: false,
            keep_alive_failed: false,
            closing_started: false,
            timeout_after_closing: false,
            opens: 0,
            message_delivered: false,
            errors: 0,
            closes: 0,
            last_event: None,
            clean_close: false,
            broken: 0,
        }
    }

    fn ok(&self, p: P) -> bool {
        self.broken & p.bit() == 0
    }

    fn fail(&mut self, p: P) {
        self.broken |= p.bit();
    }

    fn check(&mut self, cond: bool, p: P) {
        if !cond {
            self.fail(p);
        }
    }

    /// Whether the model has nothing left for the driver to transmit.
    fn transmits_drained(&self) -> bool {
        self.conn.clone().poll_transmit().is_none()
    }

    /// Whether the network side is over from the driver's point of view: it
    /// never had to connect (or the model withdrew `Connect`), the connect
    /// failed, the transport closed, or the model asked to close it.
    fn network_done(&self) -> bool {
        !self.connect_taken
            || self.connect_failed_reported
            || self.transport_closed_reported
            || self.close_transport_taken
    }

    /// Nothing more can happen apart from API calls: no transmit, no event,
    /// no timer, no network.
    fn terminal(&self) -> bool {
        self.network_done()
            && !self.conn.has_pending_events()
            && self.conn.poll_timeout().is_none()
            && self.transmits_drained()
    }

    /// The peer is silent, every transmit was taken and every event delivered.
    fn silent_and_drained(&self) -> bool {
        self.peer_silent && !self.conn.has_pending_events() && self.transmits_drained()
    }
}

fn transmits(conn: &Connection<Data>) -> Vec<Transmit<Data>> {
    let mut c = conn.clone();
    std::iter::from_fn(|| c.poll_transmit()).collect()
}

fn len(data: &Data) -> u64 {
    match data {
        Data::Text(s) => s.len() as u64,
        Data::Binary(b) => b.len() as u64,
    }
}

/// The model; `keep_alive`: check the connection with keep-alive on
/// (ours, not the standard's) instead of the browser configuration.
struct WsModel {
    keep_alive: bool,
}

/// `handle_timeout` before the pending deadline (or, with none pending, far
/// in the future) must change nothing.
fn early_timeout(s: &State) -> Option<State> {
    let (at, due) = match s.conn.poll_timeout() {
        Some(deadline) => (s.now, deadline <= s.now), // due: a deadline in the driver's past
        None => (s.now + FAR_FUTURE, false),
    };
    let mut conn = s.conn.clone();
    conn.handle_timeout(at);
    if !due && conn == s.conn {
        return None;
    }
    let mut n = s.clone();
    n.conn = conn;
    n.broken = P::TimersDue.bit();
    Some(n)
}

fn config() -> Config {
    Config {
        max_buffered_amount: Some(3),
        ..Config::default()
    }
}

/// Keep-alive's settings in its check: both differ from the other timers.
const KEEP_ALIVE: KeepAlive = KeepAlive {
    interval: Duration::from_secs(10),
    timeout: Duration::from_secs(5),
};

/// A fired timer could need this many more before a silent peer's
/// connection with keep-alive is CLOSED: re-arm from a late receipt, ping, fail.
const KEEP_ALIVE_FIRES: u8 = 3;

impl Model for WsModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        if self.keep_alive {
            let config = Config {
                keep_alive: Some(KEEP_ALIVE),
                ..config()
            };
            let conn = Connection::new("ws://example.com/", &[] as &[&str], config, Duration::ZERO).unwrap();
            return vec![State::new(conn)];
        }
        ["ws://example.com/", "ws://example.com:25/"]
            .into_iter()
            .map(|url| State::new(Connection::new(url, &[] as &[&str], config(), Duration::ZERO).unwrap()))
            .collect()
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        // The user may call the API at any time. The keep-alive check keeps
        // one call of each kind: its subject is the timers, and the full
        // alphabet is covered by the other check.
        if self.keep_alive {
            actions.extend([
                Action::SendText,
                Action::Close(CloseArgs::Bare),
                Action::PollEvent,
                Action::Ping,
            ]);
        } else {
            actions.extend([
                Action::SendText,
                Action::SendBinary,
                Action::Close(CloseArgs::Bare),
                Action::Close(CloseArgs::NormalX),
                Action::Close(CloseArgs::ReasonOnly),
                Action::Close(CloseArgs::BadCode),
                Action::Close(CloseArgs::LongReason),
                Action::ToggleBinaryType,
                Action::PollEvent,
            ]);
        }
        // A turn without an event changes something only after a write.
        if s.conn.buffered_amount() != s.conn.unsent_amount() {
            actions.push(Action::Turn);
        }
        // The driver drains transmits whenever it likes.
        if !s.driver_stopped {
            actions.push(Action::PollTransmit);
        }
        // Bytes reach the OS while the transport exists (also when the peer is
        // silent: that is local).
        if s.in_flight > 0 && !s.transport_closed_reported {
            actions.push(Action::Written);
        }
        let peer_may_act = !s.peer_silent && !s.transport_closed_reported;
        // The handshake's outcome: once, after Connect was taken (also after a
        // CloseTransport was taken: a handshake racing close() may complete).
        if s.connect_taken && !s.outcome_reported && peer_may_act {
            actions.extend([Action::OpenOk, Action::OpenUnofferedProtocol, Action::ConnectFailed]);
        }
        // Frames: after a successful handshake, while the transport is up.
        if s.handshake_ok && !s.close_transport_taken && peer_may_act {
            actions.extend([
                Action::Recv,
                Action::CloseFrameValid,
                Action::CloseFrameEmpty,
                Action::CloseFrameInvalid,
                Action::ProtocolError,
            ]);
            if self.keep_alive {
                actions.push(Action::Heard);
            }
        }
        // The transport can close (EOF, reset) once it was opened, once.
        if s.connect_taken && !s.connect_failed_reported && peer_may_act {
            actions.extend([Action::TransportClosed, Action::TransportError]);
        }
        if !s.driver_stopped {
            actions.push(Action::DriverStopped);
        }
        // Timers: when a deadline is pending; and too early, which must be a no-op.
        if s.conn.poll_timeout().is_some() {
            actions.push(Action::Timeout);
        }
        actions.push(Action::EarlyTimeout);
        if !s.peer_silent && s.connect_taken && !s.network_done() {
            actions.push(Action::PeerSilent);
        }
    }

    fn next_state(&self, s: &State, action: Action) -> Option<State> {
        // Cheap no-ops first, without cloning the state.
        match action {
            Action::EarlyTimeout => return early_timeout(s),
            Action::PollEvent if !s.conn.has_pending_events() && s.conn.buffered_amount() == s.conn.unsent_amount() => {
                return None
            }
            _ => {}
        }
        let mut n = s.clone();
        // The bits only describe this step: a counterexample path then ends
        // at the step that broke the property (stateright keeps the last
        // failing state it met as the discovery, so sticky bits would report
        // an arbitrary descendant instead).
        n.broken = 0;
        let before = s.conn.ready_state();
        let buffered_before = s.conn.unsent_amount();
        let visible_before = s.conn.buffered_amount();
        let queued_before = s.conn.queued_message_bytes();
        // Bytes by which `queued_message_bytes` may grow (a message received)
        // and must at least shrink (a message event delivered).
        let mut queued_grow = 0;
        let mut queued_shrink_min = 0;
        let mut ready_state_may_change = false;
        let mut written_now = 0;
        let mut sent_now = 0;
        let now = s.now;

        match action {
            Action::SendText | Action::SendBinary => {
                let data = match action {
                    Action::SendText => Data::Text("a".into()),
                    _ => Data::Binary(vec![1, 2]),
                };
                let bytes = len(&data);
                match n.conn.send(data) {
                    Err(SendError::InvalidState) => {
                        n.check(before == ReadyState::Connecting && n.conn == s.conn, P::ApiResults);
                        if n == *s {
                            return None;
                        }
                    }
                    Ok(()) => {
                        n.check(before != ReadyState::Connecting, P::ApiResults);
                        sent_now = bytes;
                        if before != ReadyState::Open {
                            // Dropped: counted in bufferedAmount, nothing else happens.
                            let same = transmits(&n.conn) == transmits(&s.conn)
                                && n.conn.has_pending_events() == s.conn.has_pending_events()
                                && n.conn.poll_timeout() == s.conn.poll_timeout()
                                && n.conn.phase() == s.conn.phase()
                                && n.conn.unsent_amount() == buffered_before + bytes;
                            n.check(same, P::SendNotOpen);
                        }
                    }
                }
            }
            Action::Close(args) => {
                let (code, reason) = args.args();
                let result = n.conn.close(now, code, reason.as_deref());
                n.check(result == args.expected(), P::ApiResults);
                if result.is_ok() {
                    ready_state_may_change = true;
                    n.closing_started = true;
                    let want = before.max(ReadyState::Closing);
                    n.check(n.conn.ready_state() == want, P::ApiResults);
                } else {
                    n.check(n.conn == s.conn, P::ApiResults);
                }
            }
            Action::Ping => {
                // Refused, changing nothing, exactly when not OPEN; while
                // OPEN a Ping may follow (checked where it is taken).
                match n.conn.ping(b"p".to_vec()) {
                    Err(PingError::InvalidState(seen)) => {
                        n.check(
                            before != ReadyState::Open && seen == before && n.conn == s.conn,
                            P::ApiResults,
                        );
                        if n == *s {
                            return None;
                        }
                    }
                    Err(PingError::PayloadTooLong(_)) => n.fail(P::ApiResults),
                    Ok(()) => n.check(before == ReadyState::Open, P::ApiResults),
                }
            }
            Action::ToggleBinaryType => {
                let bt = match s.conn.binary_type() {
                    BinaryType::Blob => BinaryType::ArrayBuffer,
                    BinaryType::ArrayBuffer => BinaryType::Blob,
                };
                n.conn.set_binary_type(bt);
                n.check(n.conn.binary_type() == bt, P::ApiResults);
            }
            Action::PollEvent => {
                ready_state_may_change = true;
                let event = n.conn.poll_event();
                let after = n.conn.ready_state();
                if let Some(event) = event {
                    let kind = match &event {
                        Event::Open => Ev::Open,
                        Event::Message { .. } => Ev::Message,
                        Event::Error(_) => Ev::Error,
                        Event::Close(_) => Ev::Close,
                    };
                    n.check(s.closes == 0, P::CloseIsLast);
                    if s.last_event == Some(Ev::Error) {
                        n.check(kind == Ev::Close, P::ErrorThenClose);
                    }
                    match event {
                        Event::Open => {
                            n.check(s.opens == 0 && s.handshake_ok && after == ReadyState::Open, P::OneOpen);
                            n.opens = n.opens.saturating_add(1);
                        }
                        Event::Message { data, binary_type } => {
                            queued_shrink_min = len(&data);
                            n.check(s.opens == 1, P::OpenFirst);
                            n.check(
                                s.closes == 0 && before == ReadyState::Open && after == ReadyState::Open,
                                P::NoMessageAfterClose,
                            );
                            let want = match data {
                                Data::Text(_) => None,
                                Data::Binary(_) => Some(n.conn.binary_type()),
                            };
                            n.check(binary_type == want, P::BinaryType);
                            n.message_delivered = true;
                        }
                        Event::Error(reason) => {
                            n.keep_alive_failed = reason == FailReason::KeepAliveTimeout;
                            n.check(after == ReadyState::Closed, P::ClosedAtEnd);
                            n.errors = n.errors.saturating_add(1);
                        }
                        Event::Close(close) => {
                            n.check(after == ReadyState::Closed, P::ClosedAtEnd);
                            n.check(s.closes == 0, P::OneClose);
                            let code_ok = matches!(close.code, 1005 | 1006) || is_valid_wire_close_code(close.code);
                            n.check(code_ok && (close.was_clean || close.code == 1006), P::CloseCode);
                            if s.errors > 0 {
                                n.check(!close.was_clean && close.code == 1006, P::NoErrorBeforeClean);
                            }
                            if close.was_clean {
                                let peer = s.peer_close.map(|(c, r)| (c, r.to_string()));
                                n.check(peer == Some((close.code, close.reason.clone())), P::PeerCode);
                            }
                            n.closes = n.closes.saturating_add(1);
                            n.clean_close = close.was_clean;
                        }
                    }
                    n.last_event = Some(kind);
                }
            }
            Action::Turn => n.conn.handle_turn(),
            Action::PollTransmit => {
                let t = n.conn.poll_transmit()?;
                n.check(!s.close_transport_taken, P::TransmitOrder);
                match t {
                    // The only connection of the process: its host's slot is
                    // free at once, and the driver takes `Connect` in the same
                    // step (so the bound covers as much as before the gate;
                    // two connections: `host_gate_check.rs`).
                    Transmit::QueueForHost(_) => {
                        n.check(!s.connect_taken, P::TransmitOrder);
                        let r = n.conn.handle_host_slot(now);
                        n.check(r.is_ok(), P::InputsAccepted);
                        let connect = n.conn.poll_transmit();
                        n.check(matches!(connect, Some(Transmit::Connect { .. })), P::TransmitOrder);
                        n.connect_taken = true;
                    }
                    Transmit::ReleaseHost => {}
                    Transmit::Connect { .. } => {
                        n.check(!s.connect_taken, P::TransmitOrder);
                        n.connect_taken = true;
                    }
                    _ if !s.connect_taken => n.fail(P::TransmitOrder),
                    Transmit::Message(m) => {
                        n.check(s.handshake_ok && s.close_frames_taken == 0, P::TransmitOrder);
                        n.in_flight += len(&m);
                    }
                    Transmit::Close(frame) => {
                        n.check(s.handshake_ok && s.close_frames_taken == 0, P::TransmitOrder);
                        if let Some(f) = frame {
                            n.check(
                                is_valid_wire_close_code(f.code) && f.reason.len() <= MAX_REASON_BYTES,
                                P::TransmitOrder,
                            );
                        }
                        n.close_frames_taken = n.close_frames_taken.saturating_add(1);
                    }
                    Transmit::CloseTransport => n.close_transport_taken = true,
                    Transmit::Ping(payload) => {
                        n.check(
                            self.keep_alive && s.handshake_ok && s.close_frames_taken == 0,
                            P::TransmitOrder,
                        );
                        // Keep-alive's has no payload; `Action::Ping`'s is "p".
                        n.pinged |= payload.is_empty();
                    }
                }
            }
            Action::Written => {
                let r = n.conn.handle_written(s.in_flight);
                n.check(r.is_ok(), P::InputsAccepted);
                if r.is_ok() {
                    written_now = s.in_flight;
                }
                n.wrote = true;
                n.in_flight = 0;
            }
            Action::OpenOk => {
                let r = n.conn.handle_open(now, None, None);
                n.check(r.is_ok(), P::InputsAccepted);
                n.outcome_reported = true;
                n.handshake_ok = true;
            }
            Action::OpenUnofferedProtocol => {
                let r = n.conn.handle_open(now, Some("chat"), None);
                n.check(r.is_ok(), P::InputsAccepted);
                n.outcome_reported = true;
            }
            Action::ConnectFailed => {
                let r = n.conn.handle_connect_failed(now, "connection refused");
                n.check(r.is_ok(), P::InputsAccepted);
                n.outcome_reported = true;
                n.connect_failed_reported = true;
            }
            Action::Recv => {
                let data = if s.peer_sends_binary {
                    Data::Binary(vec![1, 2])
                } else {
                    Data::Text("a".into())
                };
                queued_grow = len(&data);
                let r = n.conn.handle_message(now, data);
                n.check(r.is_ok(), P::InputsAccepted);
                n.peer_sends_binary = !s.peer_sends_binary;
            }
            Action::CloseFrameValid | Action::CloseFrameEmpty => {
                let (payload, ghost): (&[u8], _) = match action {
                    Action::CloseFrameValid => (&CLOSE_1000_BYE, (1000, "bye")),
                    _ => (&[], (1005, "")),
                };
                let r = n.conn.handle_close_frame(now, payload);
                n.check(r.is_ok(), P::InputsAccepted);
                n.peer_close = n.peer_close.or(Some(ghost));
                n.closing_started = true;
            }
            Action::CloseFrameInvalid => {
                let r = n.conn.handle_close_frame(now, &CLOSE_1005);
                n.check(r.is_ok(), P::InputsAccepted);
            }
            Action::ProtocolError => {
                let r = n.conn.handle_protocol_error(now, FailReason::InvalidUtf8);
                n.check(r.is_ok(), P::InputsAccepted);
            }
            Action::TransportClosed => {
                let r = n.conn.handle_transport_closed(now);
                n.check(r.is_ok(), P::InputsAccepted);
                n.transport_closed_reported = true;
            }
            Action::TransportError => {
                let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
                let e = wsapi_model::TransportError::new(wsapi_model::TransportLayer::Tcp, "h:80", reset);
                let r = n.conn.handle_transport_error(now, e);
                n.check(r.is_ok(), P::InputsAccepted);
                n.transport_closed_reported = true;
            }
            Action::DriverStopped => {
                n.conn.handle_driver_stopped(now, "gone".into());
                // Nothing more comes from the network or reaches it.
                n.driver_stopped = true;
                n.transport_closed_reported = true;
                n.peer_silent = true;
            }
            Action::Timeout => {
                let deadline = s.conn.poll_timeout()?;
                n.now = now.max(deadline);
                n.conn.handle_timeout(n.now);
                if s.closing_started {
                    n.timeout_after_closing = true;
                }
                // Fires while received messages wait for the user do not
                // count: keep-alive holds off then (backpressure).
                if self.keep_alive && s.peer_silent && s.conn.queued_message_bytes() == 0 {
                    n.silent_timeouts = (s.silent_timeouts + 1).min(KEEP_ALIVE_FIRES);
                }
            }
            Action::EarlyTimeout => unreachable!("handled above"),
            Action::PeerSilent => n.peer_silent = true,
            Action::Heard => {
                let r = n.conn.handle_received(now);
                n.check(r.is_ok(), P::InputsAccepted);
            }
        }

        // Checks on every step.
        let after = n.conn.ready_state();
        n.check(
            before != ReadyState::Closed || after == ReadyState::Closed,
            P::ClosedAbsorbing,
        );
        n.check(after >= before, P::NeverBackwards);
        n.check(after == before || ready_state_may_change, P::ReadyStateCause);
        let queued = n.conn.queued_message_bytes();
        let queued_ok = match action {
            Action::Recv => queued == queued_before || queued == queued_before + queued_grow,
            Action::PollEvent => queued <= queued_before && queued_before - queued >= queued_shrink_min,
            _ => queued == queued_before,
        };
        n.check(queued_ok, P::QueuedBytes);
        let buffered = n.conn.unsent_amount();
        n.check(buffered + written_now == buffered_before + sent_now, P::Accounting);
        // The visible value: WHATWG "as of the last time the event loop
        // reached step 1". It never falls between turns (it grows by what
        // send() accepts), and at a turn it catches up with the unsent count.
        let visible = n.conn.buffered_amount();
        let turn = matches!(action, Action::PollEvent | Action::Turn);
        let visible_ok = if turn {
            visible == buffered
        } else {
            visible == visible_before + sent_now
        };
        n.check(visible_ok && visible >= buffered, P::BufferedFallsAtTurns);
        // Once not OPEN, bufferedAmount only goes down by bytes that were
        // transmitted while OPEN and are now reported written (WHATWG: it
        // counts bytes "not yet transmitted to the network"; those sent after
        // the closing handshake started never are, so they stay for ever).
        if (before != ReadyState::Open || after != ReadyState::Open) && buffered < buffered_before {
            n.check(buffered_before - buffered == written_now, P::BufferedNeverShrinks);
        }

        // Only these can leave the state unchanged (a no-op is not a step).
        let may_be_no_op = matches!(
            action,
            Action::Close(_)
                | Action::CloseFrameValid
                | Action::CloseFrameEmpty
                | Action::CloseFrameInvalid
                | Action::ProtocolError
                | Action::Heard
                // Accepted while OPEN but dropped: the closing handshake started on the wire.
                | Action::Ping
        );
        if may_be_no_op && n == *s {
            return None;
        }
        Some(n)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always(P::ClosedAbsorbing.name(), |m: &WsModel, s: &State| {
                // Evaluated exactly once per checked state: count them.
                CHECKED[usize::from(m.keep_alive)].fetch_add(1, Ordering::Relaxed);
                s.ok(P::ClosedAbsorbing)
            }),
            Property::always(P::NeverBackwards.name(), |_, s: &State| s.ok(P::NeverBackwards)),
            // Never two; a run that ended delivered exactly one, last, with
            // readyState CLOSED and the connection finished.
            Property::always(P::OneClose.name(), |_, s: &State| {
                s.ok(P::OneClose)
                    && s.closes <= 1
                    && (!s.terminal()
                        || (s.closes == 1
                            && s.last_event == Some(Ev::Close)
                            && s.conn.ready_state() == ReadyState::Closed
                            && s.conn.is_finished()))
            }),
            Property::always(P::OpenFirst.name(), |_, s: &State| s.ok(P::OpenFirst)),
            Property::always(P::NoMessageAfterClose.name(), |_, s: &State| {
                s.ok(P::NoMessageAfterClose)
            }),
            // The event after an error is a close; and an error is never the
            // last event once the queue is empty (its close is queued with it).
            Property::always(P::ErrorThenClose.name(), |_, s: &State| {
                s.ok(P::ErrorThenClose) && (s.last_event != Some(Ev::Error) || s.conn.has_pending_events())
            }),
            Property::always(P::BufferedNeverShrinks.name(), |_, s: &State| {
                s.ok(P::BufferedNeverShrinks)
            }),
            // As an `always` over states: once the peer is silent, every
            // transmit was taken (so the CloseTransport the timer queues was
            // carried out), a deadline fired after the closing handshake
            // started and every event was delivered, readyState is CLOSED.
            Property::always(P::SilentPeer.name(), |_, s: &State| {
                !(s.timeout_after_closing && s.silent_and_drained()) || s.conn.ready_state() == ReadyState::Closed
            }),
            Property::always(P::CloseCode.name(), |_, s: &State| s.ok(P::CloseCode)),
            Property::always(P::ClosedAtEnd.name(), |_, s: &State| s.ok(P::ClosedAtEnd)),
            Property::always(P::CloseIsLast.name(), |_, s: &State| s.ok(P::CloseIsLast)),
            Property::always(P::OneOpen.name(), |_, s: &State| s.ok(P::OneOpen)),
            Property::always(P::NoErrorBeforeClean.name(), |_, s: &State| s.ok(P::NoErrorBeforeClean)),
            Property::always(P::PeerCode.name(), |_, s: &State| s.ok(P::PeerCode)),
            Property::always(P::BinaryType.name(), |_, s: &State| s.ok(P::BinaryType)),
            Property::always(P::ApiResults.name(), |_, s: &State| s.ok(P::ApiResults)),
            Property::always(P::InputsAccepted.name(), |_, s: &State| s.ok(P::InputsAccepted)),
            Property::always(P::Accounting.name(), |_, s: &State| {
                s.ok(P::Accounting) && s.conn.buffered_amount() >= s.in_flight
            }),
            Property::always(P::SendNotOpen.name(), |_, s: &State| s.ok(P::SendNotOpen)),
            Property::always(P::ReadyStateCause.name(), |_, s: &State| s.ok(P::ReadyStateCause)),
            Property::always(P::TransmitOrder.name(), |_, s: &State| s.ok(P::TransmitOrder)),
            Property::always(P::TimersDue.name(), |_, s: &State| s.ok(P::TimersDue)),
            // Stronger than P::SilentPeer: no need to assume the timer fired;
            // if close() was called or the peer's Close arrived, there must
            // be a timer (or the close task is already queued).
            Property::always(P::NoHang.name(), |_, s: &State| {
                s.ok(P::NoHang)
                    && (!(s.closing_started && s.silent_and_drained() && s.conn.poll_timeout().is_none())
                        || s.conn.ready_state() == ReadyState::Closed)
            }),
            // Per step (see `next_state`), and 0 once every event was delivered.
            Property::always(P::QueuedBytes.name(), |_, s: &State| {
                s.ok(P::QueuedBytes) && (s.conn.has_pending_events() || s.conn.queued_message_bytes() == 0)
            }),
            // Reachability: the check cannot pass vacuously.
            Property::always(P::BufferedFallsAtTurns.name(), |_, s: &State| {
                s.ok(P::BufferedFallsAtTurns)
            }),
            Property::sometimes("a clean close is reachable", |_, s: &State| s.clean_close),
            Property::sometimes("bufferedAmount waits for a turn after a write", |_, s: &State| {
                s.conn.buffered_amount() > s.conn.unsent_amount()
            }),
            Property::sometimes("a message is delivered", |_, s: &State| s.message_delivered),
            Property::sometimes("error then close is reachable", |_, s: &State| {
                s.errors == 1 && s.closes == 1
            }),
            Property::sometimes("the closing timer closes a silent peer's connection", |_, s: &State| {
                s.timeout_after_closing && s.silent_and_drained() && s.conn.ready_state() == ReadyState::Closed
            }),
            Property::sometimes(
                "bytes are still counted in bufferedAmount once CLOSED",
                |_, s: &State| s.conn.ready_state() == ReadyState::Closed && s.conn.buffered_amount() > s.in_flight,
            ),
            Property::sometimes("a run ends (terminal state)", |_, s: &State| {
                s.terminal() && s.closes == 1
            }),
            Property::sometimes("a message is written by the driver", |_, s: &State| s.wrote),
            // Keep-alive (its own check; trivially true in the other): a
            // silent peer never leaves an open connection without a timer,
            // and after at most KEEP_ALIVE_FIRES fires it is CLOSED.
            Property::always(P::KeepAliveSilent.name(), |m: &WsModel, s: &State| {
                let drained = s.silent_and_drained();
                !m.keep_alive
                    || !drained
                    || s.conn.ready_state() == ReadyState::Closed
                    || (s.conn.poll_timeout().is_some() && s.silent_timeouts < KEEP_ALIVE_FIRES)
            }),
            Property::sometimes("keep-alive pings (keep-alive check only)", |m: &WsModel, s: &State| {
                !m.keep_alive || s.pinged
            }),
            Property::sometimes(
                "keep-alive fails a silent peer's connection (keep-alive check only)",
                |m: &WsModel, s: &State| !m.keep_alive || (s.keep_alive_failed && s.silent_and_drained()),
            ),
        ]
    }
}

#[test]
fn model_check() {
    run_check(false);
}

/// The same properties with keep-alive on (ours, not the standard's; see
/// `wsapi_model::keepalive`), plus [`P::KeepAliveSilent`]: one initial
/// connection, and the peer may also send a frame that is not a message
/// ([`Action::Heard`], e.g. a pong).
#[test]
fn model_check_keep_alive() {
    run_check(true);
}

fn run_check(keep_alive: bool) {
    let label = if keep_alive {
        "model_check_keep_alive"
    } else {
        "model_check"
    };
    let start = Instant::now();
    // MODEL_CHECK_ACTIONS=n explores deeper (or shallower) than the default bound.
    let bound = std::env::var("MODEL_CHECK_ACTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if keep_alive {
            MAX_ACTIONS_KEEP_ALIVE
        } else {
            MAX_ACTIONS
        });
    // stateright counts an initial state as depth 1 and skips (does not
    // check) states at the target depth: `bound + 2` checks every state
    // reached by at most `bound` actions. Its unique state count also
    // includes their successors (generated, not checked), hence CHECKED.
    //
    // One thread: stateright's single-threaded BFS is strictly level by
    // level, so each state is first reached by a shortest path and the bound
    // is exact. With several threads the order is only roughly by level, a
    // state first reached by a longer path has its successors cut early, and
    // about 0.5% of the states within the bound were missed.
    //
    // By default the check stops after the block of states in which a
    // property first failed, so that the counterexample printed is among the
    // shortest; MODEL_CHECK_ALL_FAILURES=1 explores everything and lists
    // every property that fails.
    let finish_when = match std::env::var_os("MODEL_CHECK_ALL_FAILURES") {
        Some(_) => HasDiscoveries::All,
        None => HasDiscoveries::AnyFailures,
    };
    CHECKED[usize::from(keep_alive)].store(0, Ordering::Relaxed);
    let checker = WsModel { keep_alive }
        .checker()
        .threads(1)
        .target_max_depth(bound + 2)
        .finish_when(finish_when)
        .spawn_bfs()
        .join();
    let elapsed = start.elapsed();
    println!(
        "{label}: bound {bound} actions: {} states checked, {} unique states generated \
         (with the unchecked successors of the last level), {} transitions, {:.1?}",
        CHECKED[usize::from(keep_alive)].load(Ordering::Relaxed),
        checker.unique_state_count(),
        checker.state_count(),
        elapsed,
    );
    let names = |failure: bool| -> Vec<&str> {
        let properties = WsModel { keep_alive }.properties();
        let wanted = properties
            .iter()
            .filter(|p| p.expectation.discovery_is_failure() == failure);
        // A counterexample for `always`, no example for `sometimes`.
        wanted
            .filter(|p| checker.discovery(p.name).is_some() == failure)
            .map(|p| p.name)
            .collect()
    };
    let counterexamples = names(true);
    if !counterexamples.is_empty() {
        println!("{label}: counterexamples for: {counterexamples:?}");
    } else if !names(false).is_empty() {
        println!("{label}: never reached: {:?}", names(false));
    }
    checker.assert_properties();
}
