//! The judge: could the standard have produced this trace?
//!
//! Given what a client — any client: wsapi, a browser, a Node library — was
//! observed to do (its API calls with their results, attribute snapshots
//! and events, in the order its script saw them) and, where known, what the
//! server saw, [`judge`] decides whether **some** server behaviour and
//! timing (messages, Close frames with their codes, protocol errors,
//! transport loss, handshake responses, timers firing, bytes written, event
//! loop turns) makes the model produce exactly those observations.
//!
//! * **Allowed**: one explanation per socket, a [`journal`](crate::journal)
//!   of [`Step`]s that [`replay`](crate::replay)s on a fresh [`Connection`].
//! * **Not allowed**: the first observation that no explanation reaches,
//!   what the model would have allowed there, and the [`Rule`] (the
//!   `spec-notes/` entry and its source).
//!
//! ## The search, and why it stays small
//!
//! The model is deterministic: the only freedom is in the *hidden inputs*
//! (what the network and the timers did) between two observations. The
//! judge keeps the set of model states consistent with the observations so
//! far (the *frontier*) and, before each observation, closes it under at
//! most [`Bounds::depth`] hidden inputs, each drawn from a short list
//! derived from the trace itself: the next observed message (messages are
//! delivered in order), the Close frames whose codes the trace shows, one
//! invalid Close frame, a protocol error, the end of the transport, the
//! handshake answers the trace or the server's log show, a timer firing,
//! bytes written (all of them, one message's, or exactly what the next
//! observed `bufferedAmount` needs) and, while the script awaits, an event
//! loop turn. States are deduplicated (the model's state is a value), the
//! closure visits at most [`Bounds::states_per_gap`] states and the
//! frontier keeps at most [`Bounds::frontier`]. So the work per
//! observation is bounded by a constant and a trace of `n` observations
//! costs `O(n)`; if a bound cuts the search, the verdict says so
//! ([`Verdict::Undecided`]) instead of guessing.
//!
//! ## Memory
//!
//! The explanations are persistent lists (shared tails, freed as soon as no
//! frontier state uses them), so the judge holds at most
//! `Bounds::states_per_gap` model states at a time, plus, per live state,
//! its journal: at most `frontier × (observations + hidden inputs so far)`
//! steps in the worst case, each of bounded size (a message is a kind, a
//! length and an index, never its bytes). The input itself is the only
//! other allocation.
//!
//! Sockets are judged independently (a trace may construct several): the
//! host gate that couples them (one CONNECTING per host) is itself a
//! hidden input here.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::time::Duration;

use crate::close_code::CloseFrame;
use crate::connection::{Config, Connection, Phase, Time};
use crate::event::{BinaryType, CloseEvent, Event, FailReason, Payload, ReadyState, Transmit};
use crate::handshake::HandshakeFailure;
use crate::journal::{Input, Step};

// ----- the observations ---------------------------------------------------

/// A message as the judge's model carries it: its kind, its length and
/// which message it is (never its bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Msg {
    /// A text message (else binary).
    pub text: bool,
    /// Its length in bytes (UTF-8 for text).
    pub len: u64,
    /// Which message: the index of the observed message event it becomes
    /// for a received message, [`Msg::SENT`] plus the index of the `send()`
    /// for a sent one.
    pub id: u32,
}

impl Msg {
    /// Ids of sent messages start here.
    pub const SENT: u32 = 1 << 31;
}

impl Payload for Msg {
    fn is_text(&self) -> bool {
        self.text
    }
    fn byte_len(&self) -> usize {
        usize::try_from(self.len).unwrap_or(usize::MAX)
    }
}

/// A received message as the client showed it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObservedMessage {
    /// A text message (else binary).
    pub text: bool,
    /// For binary: `binaryType` at delivery (an `ArrayBuffer` or a `Blob`).
    pub binary_type: Option<BinaryType>,
}

/// An event the client dispatched.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ObservedEvent {
    /// `open`.
    Open,
    /// `message`.
    Message(ObservedMessage),
    /// `error` (its cause is not observable across clients).
    Error,
    /// `close`.
    Close(CloseEvent),
}

/// Attribute values read together; `None` fields were not read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Snapshot {
    /// `readyState`.
    pub ready_state: Option<u16>,
    /// `bufferedAmount`.
    pub buffered_amount: Option<u64>,
    /// `protocol`.
    pub protocol: Option<String>,
    /// `extensions`.
    pub extensions: Option<String>,
    /// `binaryType`.
    pub binary_type: Option<String>,
    /// `url`.
    pub url: Option<String>,
}

/// One thing the client was seen to do, in the order its script saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Observation {
    /// `new WebSocket(url, protocols)`; `threw` names the DOMException.
    /// `protocols: None`: not known (the server's log may tell).
    Construct {
        /// The URL argument.
        url: String,
        /// The protocols argument, if known.
        protocols: Option<Vec<String>>,
        /// The exception's name, if it threw.
        threw: Option<String>,
    },
    /// `send(data)` with data of this kind and byte length.
    Send {
        /// Text (else binary).
        text: bool,
        /// Bytes (UTF-8 for text).
        len: u64,
        /// The exception's name, if it threw.
        threw: Option<String>,
    },
    /// `close(code, reason)` after WebIDL conversion (`None`: missing).
    Close {
        /// The code argument.
        code: Option<u16>,
        /// The reason argument.
        reason: Option<String>,
        /// The exception's name, if it threw.
        threw: Option<String>,
    },
    /// `binaryType = value`, and the value read back.
    SetBinaryType {
        /// The value assigned.
        value: String,
        /// The value read back, if recorded.
        now: Option<String>,
    },
    /// Attributes read.
    Snapshot(Snapshot),
    /// The script started to await: the event loop runs (events may be
    /// dispatched, `bufferedAmount` catches up) until [`Observation::WaitDone`].
    Yield,
    /// An event, with `readyState` at dispatch and the event's class
    /// (`Event`, `MessageEvent`, `CloseEvent`...) where recorded.
    Event {
        /// The event.
        event: ObservedEvent,
        /// `readyState` read in the listener.
        ready_state: Option<u16>,
        /// The event object's class.
        class: Option<String>,
    },
    /// The await returned; `buffered_at_most`: it waited for
    /// `bufferedAmount <= n` and that held.
    WaitDone {
        /// The bound the wait saw hold.
        buffered_at_most: Option<u64>,
    },
}

/// One observation of one socket, and where it is in the input (a line or
/// an entry number, for messages).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// Which socket (sockets are numbered from 1 in construction order).
    pub socket: u32,
    /// Where it is in the input.
    pub at: usize,
    /// What was observed.
    pub obs: Observation,
}

/// A message the server received from the client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerMessage {
    /// Text (else binary).
    pub text: bool,
    /// Its byte length, if known.
    pub len: Option<u64>,
}

/// What the server saw of one socket's connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ServerView {
    /// The subprotocols the client's request offered.
    pub offered_protocols: Option<Vec<String>>,
    /// The extension offers of the client's request.
    pub offered_extensions: Option<Vec<String>>,
    /// The server accepted, selecting this protocol and these extensions.
    pub accepted: Option<(Option<String>, Option<String>)>,
    /// The server refused the handshake.
    pub rejected: bool,
    /// Messages the server received, in order.
    pub received: Vec<ServerMessage>,
    /// The client's Close frame as the server got it (`Some(None)`: no body).
    pub close_received: Option<Option<CloseFrame>>,
    /// The Close frame the server sent, as a raw payload (`Some(None)`: it
    /// sent none; `None`: not known).
    pub close_sent: Option<Option<Vec<u8>>>,
    /// The server's Close frame answered the client's (it was sent after
    /// the client's arrived).
    pub close_was_reply: bool,
    /// Whether the server wrote raw frames of its own (`Some(false)`: it
    /// sent only well-formed frames, so no protocol error came from it).
    pub raw_frames: Option<bool>,
}

/// Everything known about one run of a client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trace {
    /// The observations, in order.
    pub entries: Vec<Entry>,
    /// What the server saw, per socket (index `socket - 1`), where known.
    pub server: Vec<Option<ServerView>>,
}

// ----- rules --------------------------------------------------------------

/// A rule of the standard, as `spec-notes/` states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rule {
    /// A short stable name.
    pub id: &'static str,
    /// The `spec-notes/` entry.
    pub note: &'static str,
    /// Where the standard says it.
    pub source: &'static str,
    /// The rule in one sentence.
    pub text: &'static str,
}

macro_rules! rule {
    ($name:ident, $id:expr, $note:expr, $source:expr, $text:expr) => {
        #[doc = $text]
        pub const $name: Rule = Rule {
            id: $id,
            note: $note,
            source: $source,
            text: $text,
        };
    };
}

/// The rules a refusal names.
pub mod rules {
    use super::Rule;
    rule!(
        CONSTRUCTOR,
        "constructor",
        "constructor.md",
        "WHATWG `new WebSocket()` steps 1-9 (https://websockets.spec.whatwg.org/#dom-websocket-websocket)",
        "the constructor throws SyntaxError exactly for a bad URL, scheme, fragment or protocol list"
    );
    rule!(
        URL,
        "url",
        "constructor.md",
        "WHATWG `url` getter; URL Standard serialization",
        "url is the parsed URL, serialized"
    );
    rule!(
        SEND,
        "send",
        "send-and-buffered-amount.md",
        "WHATWG `send()` step 1 (https://websockets.spec.whatwg.org/#dom-websocket-send)",
        "send() throws InvalidStateError while CONNECTING, and only then"
    );
    rule!(
        SENT_DATA,
        "sent-data",
        "send-and-buffered-amount.md",
        "WHATWG `send()`: data is sent only while established and the closing handshake has not started; RFC 6455 §5.6",
        "the server receives exactly the messages send() transmitted, in order"
    );
    rule!(BUFFERED, "buffered-amount", "send-and-buffered-amount.md", "WHATWG `bufferedAmount` getter and `send()` (\"increase the bufferedAmount attribute\", \"as of the last time the event loop reached step 1\")", "bufferedAmount grows with every send(), also in CLOSING and CLOSED, and falls only at an event-loop turn as bytes are written");
    rule!(CLOSE_ARGS, "close-arguments", "close-arguments.md", "WHATWG `close()` steps 1-2 (https://websockets.spec.whatwg.org/#dom-websocket-close); WebIDL §3.2.2 (an explicit undefined optional argument is missing)", "close() throws InvalidAccessError for a code other than 1000 or 3000-4999 and SyntaxError for a reason over 123 bytes, before looking at the state; a missing code is no code");
    rule!(CLOSE_FRAME_SENT, "close-frame-sent", "close-arguments.md", "WHATWG \"close the WebSocket\" step 3; RFC 6455 §5.5.1, §7.1.2", "close(code, reason) sends a Close frame with that code and reason (a reason without a code: 1000; neither: no body); a reply echoes the peer's code");
    rule!(READY_STATE, "ready-state", "events-and-ordering.md", "WHATWG \"Feedback from the protocol\" and \"close the WebSocket\" (https://websockets.spec.whatwg.org/#feedback-from-the-protocol)", "readyState changes in the tasks that fire the events, and to CLOSING synchronously in close()");
    rule!(
        ATTRIBUTES,
        "protocol-extensions",
        "events-and-ordering.md",
        "WHATWG `protocol` / `extensions` getters; RFC 6455 §4.1",
        "protocol and extensions are \"\" until open, then what the server selected, and keep their values after close"
    );
    rule!(BINARY_TYPE, "binary-type", "events-and-ordering.md", "WHATWG `binaryType`; WebIDL enumerations (an invalid value is ignored)", "binaryType is \"blob\" or \"arraybuffer\"; assigning anything else is ignored; it is read when a message is delivered");
    rule!(TASKS, "events-are-tasks", "events-and-ordering.md", "WHATWG: every event is fired from a queued task (\"queue a task\"), never inside a method call", "events are dispatched only while the script yields to the event loop, never inside send(), close() or the constructor");
    rule!(
        EVENT_CLASS,
        "event-class",
        "events-and-ordering.md",
        "WHATWG \"fire an event named error\" (a plain Event), MessageEvent for message, CloseEvent for close",
        "open and error are plain Event objects, message a MessageEvent, close a CloseEvent"
    );
    rule!(EVENT_ORDER, "event-order", "events-and-ordering.md", "WHATWG \"Feedback from the protocol\" and \"When the WebSocket connection is closed\"", "open comes first (or never), messages follow in order, close comes once and last, error only right before close");
    rule!(MESSAGE_DROPPED, "message-dropped", "events-and-ordering.md", "WHATWG \"When a WebSocket message has been received\": \"If ready state is not OPEN, then return\"; RFC 6455 §5.5.1", "a message whose task runs when readyState is not OPEN is not delivered; data after the peer's Close is ignored");
    rule!(
        FAIL_ERROR,
        "fail-fires-error",
        "failures.md",
        "WHATWG \"When the WebSocket connection is closed\" step 2; RFC 6455 §7.1.7",
        "a failed connection fires error, then close 1006 wasClean false"
    );
    rule!(TRANSPORT_LOST, "transport-lost-fails", "failures.md", "RFC 6455 §7.2.1: \"If at any point the underlying transport layer connection is unexpectedly lost, the client MUST _Fail the WebSocket Connection_\"; WHATWG \"When the WebSocket connection is closed\" step 2", "a transport lost before the peer's Close frame fails the connection: error, then close 1006");
    rule!(
        NOT_A_FAILURE,
        "clean-close-no-error",
        "failures.md",
        "WHATWG \"When the WebSocket connection is closed\" step 2 (error only if the connection was failed)",
        "a completed closing handshake, a valid Close from the server, or our closing timeout fire close without error"
    );
    rule!(CLOSE_EVENT, "close-event", "closing-handshake-and-codes.md", "WHATWG \"When the WebSocket connection is closed\"; RFC 6455 §7.1.5, §7.1.6, §7.4.1", "close carries the received Close frame's code and reason (1005 with no code, 1006 if none arrived) and wasClean true only after a closing handshake");
    rule!(
        SERVER_VIEW,
        "server-view",
        "oracle.md",
        "RFC 6455 §4.1 (the client's request) and §5 (what is sent)",
        "what the server saw must be what the client sent"
    );
}

// ----- the verdict ----------------------------------------------------------

/// The model's explanation of one socket: replay `steps` on
/// `Connection::new(url, protocols, config, Duration::ZERO)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The socket.
    pub socket: u32,
    /// The constructor's URL (`None`: the constructor threw).
    pub url: Option<String>,
    /// The constructor's protocols (as the judge assumed them).
    pub protocols: Vec<String>,
    /// The configuration assumed (offered extensions, timers).
    pub config: Config,
    /// The journal: hidden inputs and observed calls, in order.
    pub steps: Vec<Step<Msg>>,
}

/// Why a trace is not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The socket.
    pub socket: u32,
    /// Where the observation is in the input.
    pub at: usize,
    /// The observation no explanation reaches.
    pub observed: String,
    /// What the model would have allowed there (a few alternatives).
    pub allowed: Vec<String>,
    /// The rule.
    pub rule: Rule,
    /// Where the simplest explanations (the server ends the connection
    /// only right before the error or close event that shows it) already
    /// fail, if earlier: usually the more telling observation and rule.
    pub simplest: Option<Box<Refused>>,
}

impl Refused {
    /// The refusal that names the rule best: the simplest explanations'
    /// if they fail earlier, else this one.
    pub fn telling(&self) -> &Refused {
        self.simplest.as_deref().unwrap_or(self)
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "entry {} (socket {}): observed {}; ",
            self.at, self.socket, self.observed
        )?;
        if self.allowed.is_empty() {
            write!(f, "the model allows nothing there")?;
        } else {
            write!(f, "the model allows {}", self.allowed.join(" or "))?;
        }
        write!(
            f,
            " [rule {}: {}; spec-notes/{}; {}]",
            self.rule.id, self.rule.text, self.rule.note, self.rule.source
        )
    }
}

/// The judge's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Some server behaviour and timing produce exactly this trace: one
    /// explanation per socket.
    Allowed(Vec<Explanation>),
    /// No server behaviour or timing does.
    NotAllowed(Box<Refused>),
    /// A bound of the search was reached before an explanation was found.
    Undecided {
        /// The socket.
        socket: u32,
        /// Where.
        at: usize,
        /// Which bound.
        bound: &'static str,
    },
}

impl Verdict {
    /// Whether the trace is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allowed(_))
    }
}

/// Bounds of the search (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Most hidden inputs between two observations.
    pub depth: usize,
    /// Most states visited between two observations.
    pub states_per_gap: usize,
    /// Most states kept after an observation.
    pub frontier: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            depth: 6,
            states_per_gap: 2048,
            frontier: 256,
        }
    }
}

/// Judges a trace with the default [`Bounds`].
pub fn judge(trace: &Trace) -> Verdict {
    judge_with(trace, Bounds::default())
}

/// Judges a trace: [`Verdict::Allowed`] with one explanation per socket, or
/// the first observation (by position in the input) no explanation reaches.
pub fn judge_with(trace: &Trace, bounds: Bounds) -> Verdict {
    let mut sockets: Vec<u32> = trace.entries.iter().map(|e| e.socket).collect();
    sockets.sort_unstable();
    sockets.dedup();
    let mut explanations = Vec::new();
    let mut worst: Option<Verdict> = None;
    for socket in sockets {
        let entries: Vec<&Entry> = trace.entries.iter().filter(|e| e.socket == socket).collect();
        let server = usize::try_from(socket)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .and_then(|i| trace.server.get(i))
            .and_then(Option::as_ref);
        // The simplest explanations first: an explanation found there is
        // one, and most traces have one. Only a refusal needs the full
        // search (which may still explain the trace).
        let simplest = judge_socket(socket, &entries, server, bounds, true);
        let full = match simplest {
            Ok(e) => Ok(e),
            Err(simple) => match judge_socket(socket, &entries, server, bounds, false) {
                Ok(e) => Ok(e),
                Err(mut v) => {
                    if let (Verdict::NotAllowed(r), Verdict::NotAllowed(s)) = (&mut v, simple) {
                        if s.at < r.at {
                            r.simplest = Some(s);
                        }
                    }
                    Err(v)
                }
            },
        };
        match full {
            Ok(e) => explanations.push(e),
            Err(v) => {
                let at = |v: &Verdict| match v {
                    Verdict::NotAllowed(r) => r.at,
                    Verdict::Undecided { at, .. } => *at,
                    Verdict::Allowed(_) => usize::MAX,
                };
                if worst.as_ref().is_none_or(|w| at(&v) < at(w)) {
                    worst = Some(v);
                }
            }
        }
    }
    worst.unwrap_or(Verdict::Allowed(explanations))
}

// ----- the search -----------------------------------------------------------

/// A journal as a persistent list: states share their history.
struct Link {
    step: Step<Msg>,
    prev: Option<Rc<Link>>,
}

impl Drop for Link {
    // Iterative, so that a long journal does not overflow the stack.
    fn drop(&mut self) {
        let mut next = self.prev.take();
        while let Some(rc) = next {
            match Rc::try_unwrap(rc) {
                Ok(mut link) => next = link.prev.take(),
                Err(_) => break,
            }
        }
    }
}

#[derive(Clone)]
struct Node {
    conn: Connection<Msg>,
    now: Time,
    /// Observed message events already fed as inputs.
    fed: usize,
    /// Messages transmitted so far.
    sent: usize,
    /// `send()` calls so far.
    sends: u32,
    /// The script awaits: the event loop runs.
    waiting: bool,
    /// An error event was delivered and its close event not yet: both
    /// fire in one task, nothing can come between them.
    in_close_task: bool,
    journal: Option<Rc<Link>>,
}

impl Node {
    /// The search's first node: a constructed connection at time 0, nothing
    /// observed yet.
    fn start(conn: Connection<Msg>) -> Node {
        Node {
            conn,
            now: Duration::ZERO,
            fed: 0,
            sent: 0,
            sends: 0,
            waiting: false,
            in_close_task: false,
            journal: None,
        }
    }

    fn key(&self) -> u64 {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        self.conn.hash(&mut h);
        self.now.hash(&mut h);
        self.fed.hash(&mut h);
        self.sent.hash(&mut h);
        self.sends.hash(&mut h);
        self.waiting.hash(&mut h);
        self.in_close_task.hash(&mut h);
        h.finish()
    }

    fn same(&self, other: &Node) -> bool {
        self.now == other.now
            && self.fed == other.fed
            && self.sent == other.sent
            && self.sends == other.sends
            && self.waiting == other.waiting
            && self.in_close_task == other.in_close_task
            && self.conn == other.conn
    }

    fn push(&mut self, step: Step<Msg>) {
        let prev = self.journal.take();
        self.journal = Some(Rc::new(Link { step, prev }));
    }

    fn steps(&self) -> Vec<Step<Msg>> {
        let mut out = Vec::new();
        let mut cur = self.journal.as_ref();
        while let Some(link) = cur {
            out.push(link.step.clone());
            cur = link.prev.as_ref();
        }
        out.reverse();
        out
    }
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A set of nodes without duplicates, with a cap.
struct NodeSet {
    nodes: Vec<(u64, Node)>,
    cap: usize,
    overflowed: bool,
}

impl NodeSet {
    fn new(cap: usize) -> Self {
        NodeSet {
            nodes: Vec::new(),
            cap,
            overflowed: false,
        }
    }

    /// Adds `n` unless an equal state is there; `true` if added.
    fn insert(&mut self, n: Node) -> bool {
        let k = n.key();
        if self.nodes.iter().any(|(k2, m)| *k2 == k && m.same(&n)) {
            return false;
        }
        if self.nodes.len() >= self.cap {
            self.overflowed = true;
            return false;
        }
        self.nodes.push((k, n));
        true
    }
}

/// Why one state could not take an observation: what it allowed instead,
/// and the rule; `rank` orders reasons by how close the state came.
struct Miss {
    allowed: String,
    rule: Rule,
    rank: u8,
}

/// What a plan gathers from the entries before a window: the messages seen
/// (a state's `fed` counts from the trace's start), and the Close payloads,
/// protocols and extensions to propose.
#[derive(Clone)]
struct Carry {
    /// The messages from the `messages_base`-th on (a watch forgets those
    /// every state has been fed).
    messages: Vec<Msg>,
    messages_base: usize,
    close_payloads: Vec<Vec<u8>>,
    protocols: Vec<Option<String>>,
    extensions: Vec<Option<String>>,
}

impl Default for Carry {
    fn default() -> Self {
        Carry {
            messages: Vec::new(),
            messages_base: 0,
            close_payloads: vec![Vec::new(), vec![0x03, 0xED]],
            protocols: vec![None],
            extensions: vec![None],
        }
    }
}

impl Carry {
    /// Takes in `entries`; `message(k, index)`: entry `k` is the `index`-th
    /// message event of the trace.
    fn absorb(&mut self, entries: &[&Entry], mut message: impl FnMut(usize, usize)) {
        for (k, e) in entries.iter().enumerate() {
            match &e.obs {
                Observation::Event {
                    event: ObservedEvent::Message(m),
                    ..
                } => {
                    let index = self.messages_base + self.messages.len();
                    let id = u32::try_from(index).unwrap_or(u32::MAX);
                    message(k, index);
                    self.messages.push(Msg {
                        text: m.text,
                        len: 0,
                        id,
                    });
                }
                Observation::Event {
                    event: ObservedEvent::Close(c),
                    ..
                } if c.was_clean && c.code != 1005 && c.code != 1006 => {
                    let mut p = c.code.to_be_bytes().to_vec();
                    p.extend_from_slice(c.reason.as_bytes());
                    if p.len() <= 125 && !self.close_payloads.contains(&p) {
                        self.close_payloads.push(p);
                    }
                }
                Observation::Snapshot(s) => {
                    if let Some(p) = s.protocol.as_ref().filter(|p| !p.is_empty()) {
                        if !self.protocols.contains(&Some(p.clone())) {
                            self.protocols.push(Some(p.clone()));
                        }
                    }
                    if let Some(x) = s.extensions.as_ref().filter(|x| !x.is_empty()) {
                        if !self.extensions.contains(&Some(x.clone())) {
                            self.extensions.push(Some(x.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// What the trace tells about one socket, for proposing hidden inputs.
struct Plan<'a> {
    /// The observed messages from the `messages_base`-th on.
    messages: Vec<Msg>,
    messages_base: usize,
    opens: Vec<(Option<String>, Option<String>)>,
    close_payloads: Vec<Vec<u8>>,
    fail_reasons: Vec<FailReason>,
    server: Option<&'a ServerView>,
    /// Per entry index: which observed message event it is.
    message_index: Vec<Option<usize>>,
    /// Per entry index: the message index of the next event observed at or
    /// after it, if that event is a message.
    next_event_message: Vec<Option<usize>>,
    /// Per entry index: whether a close event is observed at or after it.
    close_later: Vec<bool>,
    /// Per entry index: whether it is an event.
    event_next: Vec<bool>,
    /// Per entry index: whether it is an error or close event.
    ending_next: Vec<bool>,
    /// Per entry index: how many events are observed from it on before
    /// the next error or close event.
    events_to_end: Vec<usize>,
    /// Try endings only right before an error or close event (the
    /// simplest explanations).
    simplest: bool,
    /// Per entry index: whether readyState 2 or 3 is observed at or after
    /// it and before the next event.
    closing_soon: Vec<bool>,
    /// Per entry index: the next exact bufferedAmount observed, less the
    /// bytes sent before it, if any.
    next_buffered: Vec<Option<u64>>,
}

fn judge_socket(
    socket: u32,
    entries: &[&Entry],
    server: Option<&ServerView>,
    bounds: Bounds,
    simplest: bool,
) -> Result<Explanation, Verdict> {
    let Some(first) = entries.first() else {
        return Err(Verdict::Undecided {
            socket,
            at: 0,
            bound: "a socket with no observations",
        });
    };
    let Observation::Construct { url, protocols, threw } = &first.obs else {
        return Err(refuse(
            socket,
            first,
            vec![String::from("the constructor first")],
            rules::EVENT_ORDER,
        ));
    };
    let mut plan = Plan::new(entries, server);
    plan.simplest = simplest;
    let protocols: Vec<String> = match (protocols, server.and_then(|s| s.offered_protocols.as_ref())) {
        (Some(p), _) | (None, Some(p)) => p.clone(),
        (None, None) => plan.observed_protocol().into_iter().collect(),
    };
    // Without the server's answer, it may have selected any offered protocol.
    if server.and_then(|s| s.accepted.as_ref()).is_none() && !server.is_some_and(|s| s.rejected) {
        let extensions: Vec<Option<String>> = plan.opens.iter().map(|(_, x)| x.clone()).collect();
        for p in &protocols {
            for x in &extensions {
                let open = (Some(p.clone()), x.clone());
                if !plan.opens.contains(&open) {
                    plan.opens.push(open);
                }
            }
        }
    }
    let config = Config {
        offered_extensions: match server.and_then(|s| s.offered_extensions.as_ref()) {
            Some(offers) => offers.clone(),
            None => plan.observed_extension_names(),
        },
        ..Config::default()
    };
    let conn = match Connection::<Msg>::new(url, &protocols, config.clone(), Duration::ZERO) {
        Ok(c) => c,
        Err(e) => {
            if threw.as_deref() == Some(e.dom_exception()) && entries.len() == 1 {
                return Ok(Explanation {
                    socket,
                    url: None,
                    protocols,
                    config,
                    steps: Vec::new(),
                });
            }
            let allowed = vec![format!("new WebSocket() throws {}", e.dom_exception())];
            return Err(refuse(socket, first, allowed, rules::CONSTRUCTOR));
        }
    };
    if let Some(name) = threw {
        return Err(refuse(
            socket,
            first,
            vec![format!("new WebSocket() returns (not {name})")],
            rules::CONSTRUCTOR,
        ));
    }
    let mut start = Node::start(conn);
    if let Err(m) = drain(&mut start, &plan, false) {
        return Err(refuse(socket, first, vec![m.allowed], m.rule));
    }
    let mut frontier = vec![start];
    let mut lossy = false;
    for (i, entry) in entries.iter().enumerate().skip(1) {
        frontier = advance(frontier, &plan, i, entry, socket, bounds, &mut lossy)?;
    }
    match plan.finish(&frontier) {
        Ok(node) => Ok(Explanation {
            socket,
            url: Some(url.clone()),
            protocols,
            config,
            steps: node.steps(),
        }),
        Err(m) => {
            let last = entries.last().copied().unwrap_or(first);
            Err(refuse(socket, last, vec![m.allowed], m.rule))
        }
    }
}

/// Takes the frontier through entry `i` (`entry`) of the plan: the states
/// that some hidden inputs and then the observation lead to, or why none.
fn advance(
    frontier: Vec<Node>,
    plan: &Plan<'_>,
    i: usize,
    entry: &Entry,
    socket: u32,
    bounds: Bounds,
    lossy: &mut bool,
) -> Result<Vec<Node>, Verdict> {
    let (closure, cut) = plan.closure(frontier, i, bounds);
    let mut next = NodeSet::new(bounds.frontier);
    let mut best: Option<Miss> = None;
    for node in closure {
        match apply(node, &entry.obs, plan, i) {
            Ok(n) => {
                next.insert(n);
            }
            Err(m) => {
                // The closest miss; between failures, the general rule
                // when the transport's loss is not the only cause.
                let better = best.as_ref().is_none_or(|b| {
                    m.rank > b.rank
                        || (m.rank == b.rank && b.rule == rules::TRANSPORT_LOST && m.rule == rules::FAIL_ERROR)
                });
                if better {
                    best = Some(m);
                }
            }
        }
    }
    if next.nodes.is_empty() {
        if cut || *lossy {
            return Err(Verdict::Undecided {
                socket,
                at: entry.at,
                bound: if cut {
                    "states per gap (Bounds::states_per_gap)"
                } else {
                    "frontier (Bounds::frontier)"
                },
            });
        }
        let m = best.unwrap_or(Miss {
            allowed: String::from("nothing"),
            rule: rules::EVENT_ORDER,
            rank: 0,
        });
        return Err(refuse(socket, entry, vec![m.allowed], m.rule));
    }
    // Some states were dropped: an explanation found later is still
    // one, a refusal would not be proof.
    *lossy |= next.overflowed || cut;
    Ok(next.nodes.into_iter().map(|(_, n)| n).collect())
}

fn refuse(socket: u32, entry: &Entry, allowed: Vec<String>, rule: Rule) -> Verdict {
    Verdict::NotAllowed(Box::new(Refused {
        socket,
        at: entry.at,
        observed: describe(&entry.obs),
        allowed,
        rule,
        simplest: None,
    }))
}

// ----- watching a live client ---------------------------------------------

/// The judge, incrementally: it watches one socket's observations **as they
/// happen** and says as soon as one is not allowed, in constant work and
/// memory per observation (the explanation is not kept).
///
/// It is what the wasm32 build of `wsapi` runs beside the browser's own
/// `WebSocket`: every call, event and attribute the program sees is
/// observed, and a divergence from the standard is reported without
/// changing anything the program receives.
///
/// An event is judged once the **next event** was observed, and the other
/// observations once the two events after them were (or all at
/// [`Watch::finish`]): the judge proposes an ending of the connection (a
/// Close frame, the transport's loss) up to one event before the event that
/// shows it, and a write from the next `bufferedAmount` seen, so it must
/// look that far ahead. A divergence is therefore reported at the latest two
/// events after it, or at the end. Pass the attributes read
/// in an event's listener (a [`Observation::Snapshot`] right after its
/// [`Observation::Event`]) before the next event: the handshake's protocol
/// and extensions are proposed from them.
///
/// ```
/// use wsapi_model::judge::{Observation, ObservedEvent, Watch};
/// use wsapi_model::{CloseEvent, Config};
/// let mut w = Watch::new("ws://example.com/", &[], Config::default()).unwrap();
/// let event = |event, ready_state| Observation::Event { event, ready_state: Some(ready_state), class: None };
/// assert!(w.observe(Observation::Yield).is_none());
/// assert!(w.observe(event(ObservedEvent::Open, 1)).is_none());
/// // A close event claiming a clean close with a code no Close frame can carry:
/// let bad = CloseEvent { code: 1006, reason: String::new(), was_clean: true };
/// assert!(w.observe(event(ObservedEvent::Close(bad), 3)).is_none()); // judged with the next event...
/// let refused = w.finish().expect("...or at the end");
/// assert!(!refused.is_allowed());
/// assert!(w.verdict().is_some());
/// ```
pub struct Watch {
    socket: u32,
    bounds: Bounds,
    /// Offered protocols: any of them may have been selected.
    protocols: Vec<String>,
    /// The observations not judged yet.
    pending: Vec<Entry>,
    /// What the judged observations gave the plan.
    carry: Carry,
    /// The states consistent with everything judged.
    frontier: Vec<Node>,
    lossy: bool,
    /// How many observations were given (numbers the entries).
    seen: usize,
    /// The first refusal (or undecided search); nothing is judged after it.
    verdict: Option<Verdict>,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("observations", &self.seen)
            .field("pending", &self.pending.len())
            .field("states", &self.frontier.len())
            .field("verdict", &self.verdict)
            .finish()
    }
}

impl Watch {
    /// Starts watching a socket whose constructor returned, for `url` and
    /// `protocols`; `config.offered_extensions` names the extensions the
    /// client offers (a browser: `permessage-deflate`). The default
    /// [`Bounds`]. `Err`: the standard's constructor throws for these
    /// arguments (the refusal names the rule).
    pub fn new(url: &str, protocols: &[String], config: Config) -> Result<Watch, Box<Refused>> {
        Watch::with_bounds(url, protocols, config, Bounds::default())
    }

    /// [`Watch::new`] with other bounds for the search.
    pub fn with_bounds(url: &str, protocols: &[String], config: Config, bounds: Bounds) -> Result<Watch, Box<Refused>> {
        let socket = 1;
        let construct = Entry {
            socket,
            at: 1,
            obs: Observation::Construct {
                url: url.to_string(),
                protocols: Some(protocols.to_vec()),
                threw: None,
            },
        };
        let conn = match Connection::<Msg>::new(url, protocols, config, Duration::ZERO) {
            Ok(c) => c,
            Err(e) => {
                let allowed = vec![format!("new WebSocket() throws {}", e.dom_exception())];
                return match refuse(socket, &construct, allowed, rules::CONSTRUCTOR) {
                    Verdict::NotAllowed(r) => Err(r),
                    _ => unreachable!("refuse() refuses"),
                };
            }
        };
        Ok(Watch {
            socket,
            bounds,
            protocols: protocols.to_vec(),
            pending: Vec::new(),
            carry: Carry::default(),
            frontier: vec![Node::start(conn)],
            lossy: false,
            seen: 1,
            verdict: None,
        })
    }

    /// Observes the next thing the client did. `Some` once, when this
    /// observation lets the judge conclude that an earlier one (or this
    /// one) is not allowed, or that its search reached a bound; after
    /// that nothing more is judged.
    pub fn observe(&mut self, obs: Observation) -> Option<Verdict> {
        if self.verdict.is_some() {
            return None;
        }
        self.seen += 1;
        let is_event = matches!(obs, Observation::Event { .. });
        self.pending.push(Entry {
            socket: self.socket,
            at: self.seen,
            obs,
        });
        if !is_event {
            return None;
        }
        // Judge up to the event before this one: this one is its lookahead.
        let last = self.pending.len() - 1;
        let previous = self.pending[..last]
            .iter()
            .rposition(|e| matches!(e.obs, Observation::Event { .. }))?;
        self.judge_through(previous + 1)
    }

    /// Judges everything observed so far (the session ended, or the caller
    /// wants a verdict now); `Some` as for [`Watch::observe`].
    pub fn finish(&mut self) -> Option<Verdict> {
        if self.verdict.is_some() {
            return None;
        }
        self.judge_through(self.pending.len())
    }

    /// The refusal (or undecided search) found, if any.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }

    /// How many observations were given, the constructor included.
    pub fn observations(&self) -> usize {
        self.seen
    }

    /// Judges the first `n` pending entries, with all pending ones as the
    /// plan's window (its lookahead).
    fn judge_through(&mut self, n: usize) -> Option<Verdict> {
        if n == 0 {
            return None;
        }
        let window: Vec<&Entry> = self.pending.iter().collect();
        let mut plan = Plan::continuing(&window, None, self.carry.clone());
        // Without the server's answer, it may have selected any offered
        // protocol (as `judge_socket` does).
        let extensions: Vec<Option<String>> = plan.opens.iter().map(|(_, x)| x.clone()).collect();
        for p in &self.protocols {
            for x in &extensions {
                let open = (Some(p.clone()), x.clone());
                if !plan.opens.contains(&open) {
                    plan.opens.push(open);
                }
            }
        }
        let mut frontier = core::mem::take(&mut self.frontier);
        for (i, entry) in window.iter().enumerate().take(n) {
            match advance(frontier, &plan, i, entry, self.socket, self.bounds, &mut self.lossy) {
                Ok(next) => frontier = next,
                Err(v) => {
                    self.verdict = Some(v.clone());
                    self.pending.clear();
                    return Some(v);
                }
            }
        }
        // Only the states matter from here on: their journals would grow
        // with the session.
        for node in &mut frontier {
            node.journal = None;
        }
        self.frontier = frontier;
        let judged: Vec<Entry> = self.pending.drain(..n).collect();
        let judged: Vec<&Entry> = judged.iter().collect();
        self.carry.absorb(&judged, |_, _| {});
        // Messages every state was fed are never proposed again.
        if let Some(fed) = self.frontier.iter().map(|n| n.fed).min() {
            let done = fed
                .saturating_sub(self.carry.messages_base)
                .min(self.carry.messages.len());
            self.carry.messages.drain(..done);
            self.carry.messages_base += done;
        }
        None
    }
}

/// One line for an observation.
pub fn describe(obs: &Observation) -> String {
    match obs {
        Observation::Construct { url, threw, .. } => match threw {
            Some(t) => format!("new WebSocket({url:?}) threw {t}"),
            None => format!("new WebSocket({url:?})"),
        },
        Observation::Send { text, len, threw } => {
            let kind = if *text { "text" } else { "binary" };
            match threw {
                Some(t) => format!("send({kind}, {len} bytes) threw {t}"),
                None => format!("send({kind}, {len} bytes) returned"),
            }
        }
        Observation::Close { code, reason, threw } => {
            let call = format!("close({code:?}, {reason:?})");
            match threw {
                Some(t) => format!("{call} threw {t}"),
                None => format!("{call} returned"),
            }
        }
        Observation::SetBinaryType { value, now } => format!("binaryType = {value:?} read back {now:?}"),
        Observation::Snapshot(s) => format!("{s:?}"),
        Observation::Yield => String::from("the script awaits"),
        Observation::Event {
            event,
            ready_state,
            class,
        } => format!(
            "event {} (readyState {ready_state:?}, class {class:?})",
            describe_event(event)
        ),
        Observation::WaitDone { buffered_at_most } => match buffered_at_most {
            Some(n) => format!("bufferedAmount <= {n} at the end of a wait"),
            None => String::from("a wait ended"),
        },
    }
}

fn describe_event(e: &ObservedEvent) -> String {
    match e {
        ObservedEvent::Open => String::from("open"),
        ObservedEvent::Message(m) => match (m.text, m.binary_type) {
            (true, _) => String::from("message (text)"),
            (false, b) => format!("message ({})", b.map_or("binary", BinaryType::as_str)),
        },
        ObservedEvent::Error => String::from("error"),
        ObservedEvent::Close(c) => format!("close {} {:?} wasClean {}", c.code, c.reason, c.was_clean),
    }
}

fn describe_model_event(e: &Event<Msg>) -> String {
    match e {
        Event::Open => String::from("open"),
        Event::Message { data, binary_type } => match (data.text, binary_type) {
            (true, _) => String::from("message (text)"),
            (false, b) => format!("message ({})", b.map_or("binary", |b| b.as_str())),
        },
        Event::Error(FailReason::TransportLost) => String::from("error (the transport was lost)"),
        Event::Error(_) => String::from("error"),
        Event::Close(c) => format!("close {} {:?} wasClean {}", c.code, c.reason, c.was_clean),
    }
}

impl<'a> Plan<'a> {
    fn new(entries: &[&Entry], server: Option<&'a ServerView>) -> Self {
        Plan::continuing(entries, server, Carry::default())
    }

    /// The plan for `entries`, which follow earlier ones whose messages,
    /// Close payloads, protocols and extensions `carry` holds (a
    /// [`Watch`] judges a trace as it grows, a window at a time).
    fn continuing(entries: &[&Entry], server: Option<&'a ServerView>, carry: Carry) -> Self {
        let n = entries.len();
        let mut message_index = vec![None; n];
        let mut close_later = vec![false; n + 1];
        let mut closing_soon = vec![false; n + 1];
        let mut event_next = vec![false; n + 1];
        let mut next_buffered = vec![None; n + 1];
        for (i, e) in entries.iter().enumerate().rev() {
            close_later[i] = close_later[i + 1];
            closing_soon[i] = closing_soon[i + 1];
            next_buffered[i] = next_buffered[i + 1];
            match &e.obs {
                Observation::Event { event, .. } => {
                    if matches!(event, ObservedEvent::Close(_)) {
                        close_later[i] = true;
                    }
                    event_next[i] = true;
                    closing_soon[i] = false;
                }
                Observation::Snapshot(s) => {
                    if s.ready_state.is_some_and(|r| r >= 2) {
                        closing_soon[i] = true;
                    }
                    if let Some(b) = s.buffered_amount {
                        next_buffered[i] = Some(b);
                    }
                }
                // What the next observed bufferedAmount will be, less the
                // bytes of the sends before it (each adds its length, sent
                // or not): what it is now, as far as writes go.
                Observation::Send { len, threw: None, .. } => {
                    next_buffered[i] = next_buffered[i].map(|b| b.saturating_sub(*len));
                }
                _ => {}
            }
        }
        let mut carry = carry;
        carry.absorb(entries, |k, index| {
            if let Some(slot) = message_index.get_mut(k) {
                *slot = Some(index);
            }
        });
        let Carry {
            messages,
            messages_base,
            mut close_payloads,
            protocols,
            extensions,
        } = carry;
        let mut opens = Vec::new();
        match server.and_then(|s| s.accepted.clone()) {
            Some(accepted) => opens.push(accepted),
            None if server.is_some_and(|s| s.rejected) => {}
            None => {
                for p in &protocols {
                    for x in &extensions {
                        opens.push((p.clone(), x.clone()));
                    }
                }
            }
        }
        match server.and_then(|s| s.close_sent.as_ref()) {
            Some(None) => close_payloads.clear(),
            Some(Some(p)) => close_payloads = vec![p.clone()],
            None => {}
        }
        let mut fail_reasons = vec![FailReason::Protocol(String::new())];
        if server.and_then(|s| s.raw_frames) == Some(false) {
            fail_reasons.clear();
        }
        if let Some(Some(f)) = server.and_then(|s| s.close_received.as_ref()) {
            if f.code == 1007 {
                fail_reasons.push(FailReason::InvalidUtf8);
            }
            if f.code == 1009 {
                fail_reasons.push(FailReason::MessageTooBig);
            }
        }
        Plan {
            messages,
            messages_base,
            opens,
            close_payloads,
            fail_reasons,
            server,
            next_event_message: {
                let mut v = vec![None; n + 1];
                for i in (0..n).rev() {
                    v[i] = match &entries[i].obs {
                        Observation::Event { .. } => message_index[i],
                        _ => v[i + 1],
                    };
                }
                v
            },
            message_index,
            ending_next: entries
                .iter()
                .map(|e| {
                    matches!(
                        e.obs,
                        Observation::Event {
                            event: ObservedEvent::Error | ObservedEvent::Close(_),
                            ..
                        }
                    )
                })
                .chain(core::iter::once(false))
                .collect(),
            events_to_end: {
                let mut v: Vec<usize> = vec![0; n + 1];
                for i in (0..n).rev() {
                    v[i] = match &entries[i].obs {
                        Observation::Event {
                            event: ObservedEvent::Error | ObservedEvent::Close(_),
                            ..
                        } => 0,
                        Observation::Event { .. } => v[i + 1].saturating_add(1),
                        _ => v[i + 1],
                    };
                }
                v
            },
            simplest: false,
            close_later,
            event_next,
            closing_soon,
            next_buffered,
        }
    }

    fn observed_protocol(&self) -> Option<String> {
        self.opens.iter().find_map(|(p, _)| p.clone())
    }

    fn observed_extension_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (_, x) in &self.opens {
            for ext in x.iter().flat_map(|x| x.split(',')) {
                let name = ext.split(';').next().unwrap_or("").trim();
                if !name.is_empty() && !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
        }
        names
    }

    /// The hidden inputs worth trying in `node` before entry `i`.
    fn candidates(&self, node: &Node, i: usize) -> Vec<Input<Msg>> {
        let c = &node.conn;
        // Inputs that end the connection (or start its closing handshake)
        // are tried only right before the observation that shows them: an
        // event, or a readyState of CLOSING seen before the next event.
        // Earlier, they would change nothing a later observation can tell
        // (their tasks run at the same turn with the same readyState).
        // In the full search, also one event earlier: after an ending only
        // tasks already queued can still fire, and messages are fed one
        // per gap, so at most the next event can come before the ending's.
        // (The full search tries everything the simplest one does.) A
        // Close frame may also explain a CLOSING seen with no event.
        let ends = self.ending_next[i]
            || (!self.simplest && self.close_later[i] && self.event_next[i] && self.events_to_end[i] <= 1);
        let closing = ends || self.closing_soon[i];
        let mut out = Vec::new();
        match c.phase() {
            Phase::Connecting => {
                out.push(Input::HostSlot);
                for (p, x) in &self.opens {
                    out.push(Input::Open {
                        protocol: p.clone(),
                        extensions: x.clone(),
                    });
                }
                if ends {
                    out.push(Input::ConnectFailed(HandshakeFailure::NoResponse(String::new())));
                }
            }
            Phase::Established => {
                // A message is fed only right before the event that shows
                // it: feeding it earlier changes nothing observable (its
                // task runs at the same turn, with the same readyState).
                if self.next_event_message[i] == Some(node.fed) {
                    if let Some(m) = node
                        .fed
                        .checked_sub(self.messages_base)
                        .and_then(|k| self.messages.get(k))
                    {
                        out.push(Input::Message(*m));
                    }
                }
                // The plainest ending first: explanations list it.
                if ends {
                    out.push(Input::TransportClosed);
                }
                let reply_ok = !self.server.is_some_and(|s| s.close_was_reply) || c.close_frame_sent();
                if !c.close_frame_received() && reply_ok && closing {
                    for p in &self.close_payloads {
                        out.push(Input::CloseFrame(p.clone()));
                    }
                }
                if ends {
                    for r in &self.fail_reasons {
                        out.push(Input::ProtocolError(r.clone()));
                    }
                }
            }
            Phase::Closed => {}
        }
        if ends && c.poll_timeout().is_some() {
            out.push(Input::Timeout);
        }
        // Bytes written show only at a turn, and turns happen only while
        // the script awaits.
        let unwritten = c.unwritten_bytes();
        if unwritten > 0 && node.waiting {
            out.push(Input::Written(unwritten));
            if let Some(target) = self.next_buffered[i] {
                let need = target
                    .checked_sub(c.discarded_bytes())
                    .and_then(|keep| unwritten.checked_sub(keep));
                if let Some(n) = need.filter(|n| *n > 0 && *n < unwritten) {
                    out.push(Input::Written(n));
                }
            }
        }
        if node.waiting {
            out.push(Input::Turn);
        }
        out
    }

    /// Every state reachable from `frontier` with at most `depth` hidden
    /// inputs (and, while waiting, event-loop turns that deliver nothing).
    fn closure(&self, frontier: Vec<Node>, i: usize, bounds: Bounds) -> (Vec<Node>, bool) {
        let mut seen = NodeSet::new(bounds.states_per_gap);
        let mut layer = Vec::new();
        for n in frontier {
            if seen.insert(n.clone()) {
                layer.push(n);
            }
        }
        for _ in 0..bounds.depth {
            let mut next_layer = Vec::new();
            for node in &layer {
                for input in self.candidates(node, i) {
                    let mut n = node.clone();
                    let now = match input {
                        Input::Timeout => n.conn.poll_timeout().map_or(n.now, |t| t.max(n.now)),
                        _ => n.now,
                    };
                    n.now = now;
                    let result = n.conn.handle_input(now, input.clone());
                    if result.is_err() {
                        continue;
                    }
                    if matches!(input, Input::Message(_)) {
                        n.fed += 1;
                    }
                    n.push(Step::Input { now, input, result });
                    if drain(&mut n, self, false).is_err() {
                        continue;
                    }
                    if seen.insert(n.clone()) {
                        next_layer.push(n);
                    }
                }
                // An event-loop turn that runs tasks delivering no event.
                if node.waiting && node.conn.has_pending_events() {
                    let mut n = node.clone();
                    if n.conn.poll_event().is_none() {
                        n.push(Step::Event(None));
                        if seen.insert(n.clone()) {
                            next_layer.push(n);
                        }
                    }
                }
            }
            if next_layer.is_empty() {
                break;
            }
            layer = next_layer;
        }
        let cut = seen.overflowed;
        (seen.nodes.into_iter().map(|(_, n)| n).collect(), cut)
    }

    /// The end of the trace: what the server saw must have been sent.
    fn finish(&self, frontier: &[Node]) -> Result<Node, Miss> {
        let mut miss = None;
        for node in frontier {
            match self.server {
                Some(s)
                    if s.close_received.is_some()
                        && !node.conn.close_frame_sent()
                        && node.conn.ready_state() == ReadyState::Closed =>
                {
                    miss = Some(Miss {
                        allowed: String::from("no Close frame from the client, but the server received one"),
                        rule: rules::CLOSE_FRAME_SENT,
                        rank: 1,
                    });
                }
                Some(s) if s.received.len() > node.sent => {
                    miss = Some(Miss {
                        allowed: format!(
                            "{} messages transmitted, but the server received {}",
                            node.sent,
                            s.received.len()
                        ),
                        rule: rules::SENT_DATA,
                        rank: 1,
                    });
                }
                _ => return Ok(node.clone()),
            }
        }
        Err(miss.unwrap_or(Miss {
            allowed: String::from("nothing"),
            rule: rules::EVENT_ORDER,
            rank: 0,
        }))
    }
}

/// Takes the transmits, checking them against what the server saw.
/// `api_close`: the input was `close()` (its Close frame must carry the
/// arguments exactly; a reply or a failure's frame only its code).
fn drain(node: &mut Node, plan: &Plan<'_>, api_close: bool) -> Result<(), Miss> {
    while let Some(t) = node.conn.poll_transmit() {
        if let Some(server) = plan.server {
            match &t {
                Transmit::Message(m) => {
                    if let Some(got) = server.received.get(node.sent) {
                        if got.text != m.text || got.len.is_some_and(|l| l != m.len) {
                            return Err(Miss {
                                allowed: format!(
                                    "the server to receive a {} message of {} bytes",
                                    if m.text { "text" } else { "binary" },
                                    m.len
                                ),
                                rule: rules::SENT_DATA,
                                rank: 3,
                            });
                        }
                    }
                }
                Transmit::Close(frame) => {
                    if let Some(got) = &server.close_received {
                        let same = match (frame, got) {
                            (None, None) => true,
                            (Some(a), Some(b)) => a.code == b.code && (!api_close || a.reason == b.reason),
                            _ => false,
                        };
                        if !same {
                            return Err(Miss {
                                allowed: format!("the server to receive the Close frame {}", describe_frame(frame)),
                                rule: rules::CLOSE_FRAME_SENT,
                                rank: 3,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        if matches!(t, Transmit::Message(_)) {
            node.sent += 1;
        }
        node.push(Step::Transmit(Some(t)));
    }
    Ok(())
}

fn describe_frame(frame: &Option<CloseFrame>) -> String {
    match frame {
        None => String::from("with no body"),
        Some(f) => format!("{} {:?}", f.code, f.reason),
    }
}

fn threw_matches(expected: Option<&'static str>, observed: &Option<String>) -> bool {
    expected == observed.as_deref()
}

fn result_text(threw: Option<&str>) -> String {
    match threw {
        Some(t) => format!("it throws {t}"),
        None => String::from("it returns"),
    }
}

/// Applies one observation to one state.
fn apply(mut node: Node, obs: &Observation, plan: &Plan<'_>, i: usize) -> Result<Node, Miss> {
    // The script's await cannot return between them (a listener may still
    // read attributes or call methods).
    if node.in_close_task && matches!(obs, Observation::WaitDone { .. } | Observation::Yield) {
        return Err(Miss {
            allowed: String::from("the close event right after error, in the same task"),
            rule: rules::EVENT_ORDER,
            rank: 4,
        });
    }
    let now = node.now;
    match obs {
        Observation::Construct { .. } => Err(Miss {
            allowed: String::from("one constructor per socket"),
            rule: rules::EVENT_ORDER,
            rank: 0,
        }),
        Observation::Send { text, len, threw } => {
            let m = Msg {
                text: *text,
                len: *len,
                id: Msg::SENT | node.sends,
            };
            node.sends = node.sends.saturating_add(1);
            let input = Input::Send(m);
            let result = node.conn.handle_input(now, input.clone());
            let expected = match &result {
                Err(crate::Refusal::Send(e)) => Some(e.dom_exception()),
                _ => None,
            };
            if !threw_matches(expected, threw) {
                return Err(Miss {
                    allowed: format!("send() where {}", result_text(expected)),
                    rule: rules::SEND,
                    rank: 3,
                });
            }
            node.push(Step::Input { now, input, result });
            drain(&mut node, plan, false)?;
            Ok(node)
        }
        Observation::Close { code, reason, threw } => {
            let input = Input::Close {
                code: *code,
                reason: reason.clone(),
            };
            let result = node.conn.handle_input(now, input.clone());
            let expected = match &result {
                Err(crate::Refusal::Close(e)) => Some(e.dom_exception()),
                _ => None,
            };
            if !threw_matches(expected, threw) {
                return Err(Miss {
                    allowed: format!("close({code:?}, {reason:?}) where {}", result_text(expected)),
                    rule: rules::CLOSE_ARGS,
                    rank: 3,
                });
            }
            node.push(Step::Input { now, input, result });
            drain(&mut node, plan, true)?;
            Ok(node)
        }
        Observation::SetBinaryType { value, now: read } => {
            if let Some(b) = BinaryType::parse(value) {
                let input = Input::SetBinaryType(b);
                let result = node.conn.handle_input(now, input.clone());
                node.push(Step::Input { now, input, result });
            }
            let model = node.conn.binary_type().as_str();
            if read.as_deref().is_some_and(|r| r != model) {
                return Err(Miss {
                    allowed: format!("binaryType reads {model:?}"),
                    rule: rules::BINARY_TYPE,
                    rank: 3,
                });
            }
            Ok(node)
        }
        Observation::Snapshot(s) => {
            check_snapshot(&node.conn, s)?;
            Ok(node)
        }
        Observation::Yield => {
            node.waiting = true;
            Ok(node)
        }
        Observation::WaitDone { buffered_at_most } => {
            if let Some(max) = buffered_at_most {
                let b = node.conn.buffered_amount();
                if b > *max {
                    return Err(Miss {
                        allowed: format!("bufferedAmount {b}"),
                        rule: rules::BUFFERED,
                        rank: 2,
                    });
                }
            }
            node.waiting = false;
            Ok(node)
        }
        Observation::Event {
            event,
            ready_state,
            class,
        } => {
            if !node.waiting {
                return Err(Miss {
                    allowed: String::from("no event until the script awaits"),
                    rule: rules::TASKS,
                    rank: 4,
                });
            }
            let got = node.conn.poll_event();
            let Some(got) = got else {
                return Err(Miss {
                    allowed: String::from("no event here"),
                    rule: match event {
                        ObservedEvent::Message(_) => rules::MESSAGE_DROPPED,
                        _ => rules::EVENT_ORDER,
                    },
                    rank: 1,
                });
            };
            let model_rs = node.conn.ready_state().as_u16();
            if node.in_close_task && !matches!(event, ObservedEvent::Close(_)) {
                return Err(Miss {
                    allowed: format!("{} right after error, in the same task", describe_model_event(&got)),
                    rule: rules::EVENT_ORDER,
                    rank: 4,
                });
            }
            match_event(&got, event, plan.message_index.get(i).copied().flatten())?;
            if let Some(rs) = ready_state {
                if *rs != model_rs {
                    return Err(Miss {
                        allowed: format!("{} with readyState {model_rs}", describe_model_event(&got)),
                        rule: rules::READY_STATE,
                        rank: 5,
                    });
                }
            }
            if let Some(class) = class {
                let expected = match got {
                    Event::Open | Event::Error(_) => "Event",
                    Event::Message { .. } => "MessageEvent",
                    Event::Close(_) => "CloseEvent",
                };
                if class != expected {
                    return Err(Miss {
                        allowed: format!("{} as {expected}", describe_model_event(&got)),
                        rule: rules::EVENT_CLASS,
                        rank: 5,
                    });
                }
            }
            node.in_close_task = matches!(got, Event::Error(_));
            node.push(Step::Event(Some(got)));
            Ok(node)
        }
    }
}

fn match_event(got: &Event<Msg>, want: &ObservedEvent, index: Option<usize>) -> Result<(), Miss> {
    let miss = |rule: Rule, rank: u8| Miss {
        allowed: describe_model_event(got),
        rule,
        rank,
    };
    match (got, want) {
        (Event::Open, ObservedEvent::Open) | (Event::Error(_), ObservedEvent::Error) => Ok(()),
        (Event::Message { data, binary_type }, ObservedEvent::Message(m)) => {
            if data.text != m.text || index.is_none_or(|k| usize::try_from(data.id).ok() != Some(k)) {
                return Err(miss(rules::MESSAGE_DROPPED, 2));
            }
            if !m.text && *binary_type != m.binary_type {
                return Err(miss(rules::BINARY_TYPE, 3));
            }
            Ok(())
        }
        (Event::Close(c), ObservedEvent::Close(w)) => {
            if c == w {
                Ok(())
            } else if w.code == 1006 && !w.was_clean && c.was_clean {
                // An abnormal closure seen where the model closes cleanly:
                // the failure (and its error event) is the likelier miss.
                Err(miss(rules::CLOSE_EVENT, 2))
            } else {
                // The same event with other fields: the closest miss.
                Err(miss(rules::CLOSE_EVENT, 4))
            }
        }
        (Event::Error(FailReason::TransportLost), ObservedEvent::Close(_)) => Err(miss(rules::TRANSPORT_LOST, 3)),
        (Event::Error(_), ObservedEvent::Close(_)) => Err(miss(rules::FAIL_ERROR, 3)),
        (Event::Close(_), ObservedEvent::Error) => Err(miss(rules::NOT_A_FAILURE, 2)),
        (Event::Close(_) | Event::Error(_), ObservedEvent::Message(_)) => Err(miss(rules::MESSAGE_DROPPED, 2)),
        _ => Err(miss(rules::EVENT_ORDER, 1)),
    }
}

fn check_snapshot(conn: &Connection<Msg>, s: &Snapshot) -> Result<(), Miss> {
    let miss = |allowed: String, rule: Rule| Miss { allowed, rule, rank: 2 };
    let rs = conn.ready_state();
    if let Some(r) = s.ready_state {
        if r != rs.as_u16() {
            return Err(miss(format!("readyState {}", rs.as_u16()), rules::READY_STATE));
        }
    }
    if let Some(b) = s.buffered_amount {
        if b != conn.buffered_amount() {
            return Err(miss(
                format!("bufferedAmount {}", conn.buffered_amount()),
                rules::BUFFERED,
            ));
        }
    }
    if let Some(p) = &s.protocol {
        if p != conn.protocol() {
            return Err(miss(format!("protocol {:?}", conn.protocol()), rules::ATTRIBUTES));
        }
    }
    if let Some(x) = &s.extensions {
        if x != conn.extensions() {
            return Err(miss(format!("extensions {:?}", conn.extensions()), rules::ATTRIBUTES));
        }
    }
    if let Some(b) = &s.binary_type {
        if b != conn.binary_type().as_str() {
            return Err(miss(
                format!("binaryType {:?}", conn.binary_type().as_str()),
                rules::BINARY_TYPE,
            ));
        }
    }
    if let Some(u) = &s.url {
        if u != conn.url().as_str() {
            return Err(miss(format!("url {:?}", conn.url().as_str()), rules::URL));
        }
    }
    Ok(())
}

/// The trace a client driven by `steps` shows: the session is replayed on
/// a fresh connection and every API call, every delivered event (with
/// `readyState` at dispatch and the standard's event class) and, after each
/// of them, a snapshot of every attribute is recorded, as the oracle's
/// runners record them. Runs of delivered events and driver turns are
/// waits (`Yield` ... `WaitDone`). Driver-only inputs and transmits are
/// hidden. Every such trace must be allowed; the property tests of
/// `wsapi-props` check it, and that mutating it makes it refused.
///
/// # Errors
///
/// The constructor's, if it throws.
pub fn observe<M: Payload + Clone>(
    url: &str,
    protocols: &[String],
    config: &Config,
    steps: &[Step<M>],
) -> Result<Trace, crate::ConstructError> {
    let mut conn = Connection::<M>::new(url, protocols, config.clone(), Duration::ZERO)?;
    let mut entries = Vec::new();
    let mut waiting = false;
    let mut in_close_task = false;
    let push = |entries: &mut Vec<Entry>, obs: Observation| {
        let at = entries.len() + 1;
        entries.push(Entry { socket: 1, at, obs });
    };
    push(
        &mut entries,
        Observation::Construct {
            url: url.to_string(),
            protocols: Some(protocols.to_vec()),
            threw: None,
        },
    );
    let snapshot = |conn: &Connection<M>| {
        Observation::Snapshot(Snapshot {
            ready_state: Some(conn.ready_state().as_u16()),
            buffered_amount: Some(conn.buffered_amount()),
            protocol: Some(conn.protocol().to_string()),
            extensions: Some(conn.extensions().to_string()),
            binary_type: Some(conn.binary_type().as_str().to_string()),
            url: Some(conn.url().as_str().to_string()),
        })
    };
    push(&mut entries, snapshot(&conn));
    for step in steps {
        match step {
            Step::Input { now, input, .. } => {
                let result = conn.handle_input(*now, input.clone());
                let threw = match &result {
                    Err(crate::Refusal::Send(e)) => Some(e.dom_exception().to_string()),
                    Err(crate::Refusal::Close(e)) => Some(e.dom_exception().to_string()),
                    _ => None,
                };
                let obs = match input {
                    Input::Send(m) => Observation::Send {
                        text: m.is_text(),
                        len: m.byte_len() as u64,
                        threw,
                    },
                    Input::Close { code, reason } => Observation::Close {
                        code: *code,
                        reason: reason.clone(),
                        threw,
                    },
                    Input::SetBinaryType(b) => Observation::SetBinaryType {
                        value: b.as_str().to_string(),
                        now: Some(conn.binary_type().as_str().to_string()),
                    },
                    // Ours, not the standard's API: the trace format has no
                    // ping, and it changes nothing a script observes.
                    Input::Ping(_) => continue,
                    Input::Turn if in_close_task => continue,
                    Input::Turn => {
                        // The user awaited (a drain): a turn the script sees.
                        if !waiting {
                            push(&mut entries, Observation::Yield);
                        }
                        push(&mut entries, Observation::WaitDone { buffered_at_most: None });
                        waiting = false;
                        push(&mut entries, snapshot(&conn));
                        continue;
                    }
                    _ => continue,
                };
                // Between error and close (one task) a call is made inside
                // the error listener: the await has not returned.
                if waiting && !in_close_task {
                    push(&mut entries, Observation::WaitDone { buffered_at_most: None });
                    waiting = false;
                }
                push(&mut entries, obs);
                push(&mut entries, snapshot(&conn));
            }
            Step::Event(_) => {
                // Asking for an event is a turn, delivered or not.
                let got = conn.poll_event();
                if !waiting {
                    push(&mut entries, Observation::Yield);
                    waiting = true;
                }
                let Some(e) = got else { continue };
                in_close_task = matches!(e, Event::Error(_));
                let (event, class) = match e {
                    Event::Open => (ObservedEvent::Open, "Event"),
                    Event::Message { data, binary_type } => (
                        ObservedEvent::Message(ObservedMessage {
                            text: data.is_text(),
                            binary_type: if data.is_text() { None } else { binary_type },
                        }),
                        "MessageEvent",
                    ),
                    Event::Error(_) => (ObservedEvent::Error, "Event"),
                    Event::Close(c) => (ObservedEvent::Close(c), "CloseEvent"),
                };
                push(
                    &mut entries,
                    Observation::Event {
                        event,
                        ready_state: Some(conn.ready_state().as_u16()),
                        class: Some(class.to_string()),
                    },
                );
                push(&mut entries, snapshot(&conn));
            }
            Step::Transmit(_) => {
                let _ = conn.poll_transmit();
            }
        }
    }
    if waiting {
        push(&mut entries, Observation::WaitDone { buffered_at_most: None });
    }
    push(&mut entries, snapshot(&conn));
    Ok(Trace {
        entries,
        server: Vec::new(),
    })
}
