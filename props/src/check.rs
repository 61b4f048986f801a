//! Checking a client session against the model.
//!
//! A session is run with the journal on (`WebSocketBuilder::record_journal`):
//! every input the model was given, every event and transmit it gave out, in
//! the order it saw them. The checks here then hold the session to three
//! independent witnesses:
//!
//! 1. **the model**: replaying the journal on a fresh `Connection` gives the
//!    same results, events and transmits (the model accepts the interleaving
//!    that really happened), and every attribute the test read equals the
//!    replayed model's at that point;
//! 2. **the test's own observations**: the events it took, the results of
//!    its `send`/`close` calls;
//! 3. **the server's ground truth**: what it sent must be what the journal
//!    says arrived, and what it received must be what the model transmitted.
//!
//! ## Faulted sessions
//!
//! The fault-injection suite (`tests/faults.rs`) checks sessions whose
//! stream was cut, delayed or split by a proxy (`crate::chaos`), or whose
//! client had system calls failed (libfiu). It uses this same check, not a
//! weaker one, because every comparison with the server's log above is
//! already one of prefixes: what arrived is a prefix of what the server
//! sent, what the server received is a prefix of what the model
//! transmitted, a Close is compared only if it arrived. A fault that cuts
//! the stream shortens what one side sees and never changes it (the proxy
//! never alters a byte; a failed call sends nothing), so these hold under
//! faults exactly as they do without them, and the replay and the
//! observations are not weakened at all. What a cut adds is an end the
//! server did not script; the model judges that like any transport end.
//! Two checks make sure a fault that *changes* bytes would not pass as a
//! cut: a protocol error must be explained by the script
//! (`check_protocol_errors`), and the opening handshake must be the same on
//! both sides (`check_handshake`): breaking the proxy to drop one byte
//! silently is caught by them.

use std::time::Duration;

use wsapi::Message;
use wsapi_model::{Config, Connection, Event, Input, ReadyState, Refusal, Step, Transmit};

use crate::server::{Action, Log, Received};

/// Something the test saw, and where in the journal it saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// An event taken from the client, with the attributes read just after.
    Event {
        /// The event, as the model's type.
        event: Event<Message>,
        /// Attributes read right after taking it.
        attrs: Attrs,
        /// Journal length right after.
        at: usize,
    },
    /// Attributes read at some point.
    Attrs {
        /// The values.
        attrs: Attrs,
        /// Journal length when read.
        at: usize,
    },
}

/// The observable attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attrs {
    /// `readyState`.
    pub ready_state: ReadyState,
    /// `bufferedAmount`.
    pub buffered_amount: u64,
    /// `protocol`.
    pub protocol: String,
    /// `extensions`.
    pub extensions: String,
}

impl Attrs {
    /// Reads them from the client at one instant, with the journal length
    /// at that instant.
    pub fn of(ws: &wsapi::WebSocketHandle) -> (Attrs, usize) {
        let s = ws.snapshot();
        let attrs = Attrs {
            ready_state: s.ready_state,
            buffered_amount: s.buffered_amount,
            protocol: s.protocol,
            extensions: s.extensions,
        };
        (attrs, s.journal_len)
    }

    fn of_model(m: &Connection<Message>) -> Attrs {
        Attrs {
            ready_state: m.ready_state(),
            buffered_amount: m.buffered_amount(),
            protocol: m.protocol().to_string(),
            extensions: m.extensions().to_string(),
        }
    }
}

/// An API call the test made and what it returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The call, as an input.
    pub input: Input<Message>,
    /// What it returned.
    pub result: Result<(), Refusal>,
}

/// Everything needed to check one session.
pub struct Session<'a> {
    /// The URL given to the constructor.
    pub url: &'a str,
    /// The protocols given to the constructor.
    pub protocols: &'a [String],
    /// The model configuration the client used.
    pub config: Config,
    /// The client's journal.
    pub journal: &'a [Step<Message>],
    /// The test's observations, in order.
    pub observations: &'a [Observation],
    /// The API calls the test made, in order.
    pub calls: &'a [Call],
    /// The server's actions (what it sent).
    pub script: &'a [Action],
    /// What the server received.
    pub log: &'a Log,
    /// Whether the test took events until the close event.
    pub ran_to_close: bool,
}

/// Checks a session; `Err` says what was wrong.
pub fn check(s: &Session<'_>) -> Result<(), String> {
    // The driver stops early only if its task ends abnormally (a panic of
    // ours, a dropped runtime); these sessions do neither, so a replay that
    // agrees would still hide a bug.
    if let Some(stop) = s.journal.iter().find(|st| {
        matches!(
            st,
            Step::Input {
                input: Input::DriverStopped(_),
                ..
            }
        )
    }) {
        return Err(format!("the driver stopped abnormally: {stop:?}"));
    }
    let replayed = replay_with_checkpoints(s)?;
    check_calls(s)?;
    check_events(s)?;
    check_network_inputs(s)?;
    check_protocol_errors(s)?;
    check_handshake(s)?;
    check_server_received(s, &replayed)?;
    check_close_echo(s, &replayed)?;
    check_all_written(s)?;
    check_buffered_amount(s)?;
    Ok(())
}

/// (1) Replays the journal step by step, comparing each step and the
/// attributes at every observation point.
fn replay_with_checkpoints(s: &Session<'_>) -> Result<Vec<Transmit<Message>>, String> {
    let mut model = Connection::<Message>::new(s.url, s.protocols, s.config.clone(), Duration::ZERO)
        .map_err(|e| format!("the constructor threw on replay: {e}"))?;
    let mut checkpoints: Vec<(usize, &Attrs)> = s
        .observations
        .iter()
        .map(|o| match o {
            Observation::Event { attrs, at, .. } | Observation::Attrs { attrs, at } => (*at, attrs),
        })
        .collect();
    checkpoints.sort_by_key(|(at, _)| *at);
    let mut next = 0;
    let mut transmitted = Vec::new();
    // bufferedAmount by its definition, independently of the model: bytes
    // accepted by send() minus bytes the driver reported written as of the
    // last event-loop turn (an event taken or asked for, or a Turn input).
    let (mut accepted, mut written, mut written_at_turn) = (0u64, 0u64, 0u64);
    for (i, step) in s.journal.iter().enumerate() {
        while next < checkpoints.len() && checkpoints[next].0 == i {
            let want = Attrs::of_model(&model);
            if &want != checkpoints[next].1 {
                return Err(format!(
                    "attributes read after step {i}: saw {:?}, model says {want:?}",
                    checkpoints[next].1
                ));
            }
            if want.buffered_amount != accepted - written_at_turn {
                return Err(format!(
                    "bufferedAmount {} after step {i}, but {accepted} bytes were accepted and \
                     {written_at_turn} written as of the last turn",
                    want.buffered_amount
                ));
            }
            next += 1;
        }
        match step {
            Step::Input {
                input: Input::Send(m),
                result: Ok(()),
                ..
            } => accepted += m.len() as u64,
            Step::Input {
                input: Input::Written(n),
                ..
            } => written += n,
            Step::Event(_) | Step::Input { input: Input::Turn, .. } => written_at_turn = written,
            _ => {}
        }
        let replayed = match step {
            Step::Input { now, input, .. } => Step::Input {
                now: *now,
                input: input.clone(),
                result: model.handle_input(*now, input.clone()),
            },
            Step::Event(_) => Step::Event(model.poll_event()),
            Step::Transmit(_) => {
                let t = model.poll_transmit();
                if let Some(t) = &t {
                    transmitted.push(t.clone());
                }
                Step::Transmit(t)
            }
        };
        if &replayed != step {
            return Err(format!(
                "replay diverged at step {i}: recorded {step:?}, model did {replayed:?}"
            ));
        }
        if let Step::Input {
            input,
            result: Err(Refusal::Input(e)),
            ..
        } = step
        {
            return Err(format!(
                "the driver fed an impossible input at step {i}: {input:?} -> {e}"
            ));
        }
    }
    while next < checkpoints.len() {
        let want = Attrs::of_model(&model);
        if &want != checkpoints[next].1 {
            return Err(format!(
                "attributes read at the end: saw {:?}, model says {want:?}",
                checkpoints[next].1
            ));
        }
        next += 1;
    }
    Ok(transmitted)
}

/// (2) The API calls in the journal are the test's, with the results it saw.
fn check_calls(s: &Session<'_>) -> Result<(), String> {
    let journaled: Vec<(&Input<Message>, &Result<(), Refusal>)> = s
        .journal
        .iter()
        .filter_map(|st| match st {
            Step::Input { input, result, .. }
                if matches!(
                    input,
                    Input::Send(_) | Input::Close { .. } | Input::SetBinaryType(_) | Input::Ping(_)
                ) =>
            {
                Some((input, result))
            }
            _ => None,
        })
        .collect();
    // The socket's Drop adds one close() after the test's calls.
    if journaled.len() < s.calls.len() || journaled.len() > s.calls.len() + 1 {
        return Err(format!(
            "{} API calls made, {} in the journal",
            s.calls.len(),
            journaled.len()
        ));
    }
    for (call, (input, result)) in s.calls.iter().zip(&journaled) {
        if &call.input != *input || &call.result != *result {
            return Err(format!(
                "call {:?} -> {:?}, journal says {input:?} -> {result:?}",
                call.input, call.result
            ));
        }
    }
    Ok(())
}

/// (2) The events the test took are the journal's, in order, and the end is right.
fn check_events(s: &Session<'_>) -> Result<(), String> {
    let delivered: Vec<&Event<Message>> = s
        .journal
        .iter()
        .filter_map(|st| match st {
            Step::Event(Some(e)) => Some(e),
            _ => None,
        })
        .collect();
    let seen: Vec<&Event<Message>> = s
        .observations
        .iter()
        .filter_map(|o| match o {
            Observation::Event { event, .. } => Some(event),
            _ => None,
        })
        .collect();
    if !delivered.starts_with(&seen) {
        return Err(format!("events seen {seen:?} are not the journal's {delivered:?}"));
    }
    let closes = seen.iter().filter(|e| matches!(e, Event::Close(_))).count();
    if closes > 1 {
        return Err(format!("{closes} close events"));
    }
    if s.ran_to_close && !matches!(seen.last(), Some(Event::Close(_))) {
        return Err(format!("ran to the end but the last event is {:?}", seen.last()));
    }
    Ok(())
}

/// What the server's script sent, as the data the client should receive.
fn sent_messages(script: &[Action]) -> (Vec<Message>, Option<Vec<u8>>) {
    let mut messages = Vec::new();
    for a in script {
        match a {
            Action::Text(t) => messages.push(Message::from(t.as_str())),
            Action::Binary(b) => messages.push(Message::from(b.clone())),
            Action::CloseRaw(p) => return (messages, Some(p.clone())),
            // After a raw (possibly invalid) frame nothing is predictable.
            Action::Raw(_) | Action::DropTcp | Action::ResetTcp => return (messages, None),
            _ => {}
        }
    }
    (messages, None)
}

/// (3) The network inputs in the journal are what the server sent.
fn check_network_inputs(s: &Session<'_>) -> Result<(), String> {
    let arrived: Vec<&Message> = s
        .journal
        .iter()
        .filter_map(|st| match st {
            Step::Input {
                input: Input::Message(m),
                ..
            } => Some(m),
            _ => None,
        })
        .collect();
    let (sent, close) = sent_messages(s.script);
    // Echoed messages interleave with scripted ones only with Echo: compare
    // the scripted messages as a subsequence then.
    let echoes = s.script.iter().any(|a| matches!(a, Action::Echo(_)));
    let scripted: Vec<&Message> = if echoes {
        arrived.iter().copied().filter(|m| sent.contains(m)).collect()
    } else {
        arrived.clone()
    };
    if !sent.iter().collect::<Vec<_>>().starts_with(&scripted) {
        return Err(format!(
            "messages that arrived {arrived:?} are not a prefix of those sent {sent:?}"
        ));
    }
    let close_inputs: Vec<&Vec<u8>> = s
        .journal
        .iter()
        .filter_map(|st| match st {
            Step::Input {
                input: Input::CloseFrame(p),
                ..
            } => Some(p),
            _ => None,
        })
        .collect();
    if close_inputs.len() > 1 {
        return Err(format!("{} Close frames reported", close_inputs.len()));
    }
    if let Some(got) = close_inputs.first() {
        match &s.log.close_sent {
            Some(sent) if *got == sent => {}
            Some(sent) => return Err(format!("Close payload {got:02x?} reported, server sent {sent:02x?}")),
            None if s.script.iter().any(|a| matches!(a, Action::Raw(_))) => {}
            None => {
                return Err(format!(
                    "a Close frame {got:02x?} was reported but the server sent none"
                ))
            }
        }
    }
    if let (Some(scripted), Some(sent)) = (&close, &s.log.close_sent) {
        if s.log.server_closed_first && scripted != sent {
            return Err(format!(
                "the server's log says it sent Close {sent:02x?}, its script says {scripted:02x?}"
            ));
        }
    }
    Ok(())
}

/// (3) The client saw a protocol error only if the server sent something
/// that calls for one: a hand-made frame (`Raw`), or, for a Close frame
/// the client must refuse, a `CloseRaw`. Everything else the scripted
/// server writes is valid, and a stream that is cut (a reset, a FIN, a
/// proxy's fault) ends: it never turns into an invalid frame. So a
/// protocol error otherwise means bytes were lost, changed or misparsed.
fn check_protocol_errors(s: &Session<'_>) -> Result<(), String> {
    let raw = s.script.iter().any(|a| matches!(a, Action::Raw(_)));
    let close_raw = s.script.iter().any(|a| matches!(a, Action::CloseRaw(_)));
    for st in s.journal {
        if let Step::Input {
            input: Input::ProtocolError(why),
            ..
        } = st
        {
            let explained = raw || (close_raw && matches!(why, wsapi_model::FailReason::BadClose(_)));
            if !explained {
                return Err(format!("protocol error {why:?}, but the server sent only valid frames"));
            }
        }
    }
    Ok(())
}

/// (3) The opening handshake as both sides saw it: the server got the key
/// and the protocols the client was given, and a response the client
/// read is, status and fields, the head the server wrote. (The model
/// judges the response; this holds the driver to reading it as sent.)
fn check_handshake(s: &Session<'_>) -> Result<(), String> {
    if s.log.key.is_some() && s.log.offered_protocols != s.protocols {
        return Err(format!(
            "the server was offered {:?}, the client was given {:?}",
            s.log.offered_protocols, s.protocols
        ));
    }
    let Some((key, response)) = s.journal.iter().find_map(|st| match st {
        Step::Input {
            input: Input::Response { key, response },
            ..
        } => Some((key, response)),
        _ => None,
    }) else {
        return Ok(());
    };
    if s.log.key.as_ref() != Some(key) {
        return Err(format!(
            "the client read a response to key {key:?}, the server received key {:?}",
            s.log.key
        ));
    }
    let Some(head) = &s.log.response else {
        return Err("the client read a response the server never wrote".into());
    };
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let status: Option<u16> = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok());
    let fields: Vec<(String, Vec<u8>)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_string(), v.trim().as_bytes().to_vec()))
        .collect();
    let read: Vec<(String, Vec<u8>)> = response
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.trim_ascii().to_vec()))
        .collect();
    if status != Some(response.status) || fields != read {
        return Err(format!(
            "the client read status {} and fields {read:?}, the server wrote {head:?}",
            response.status
        ));
    }
    Ok(())
}

/// (3) What the server received is what the model transmitted.
fn check_server_received(s: &Session<'_>, transmitted: &[Transmit<Message>]) -> Result<(), String> {
    let model_messages: Vec<Received> = transmitted
        .iter()
        .filter_map(|t| match t {
            Transmit::Message(Message::Text(t)) => Some(Received::Text(t.as_str().to_string())),
            Transmit::Message(Message::Binary(b)) => Some(Received::Binary(b.to_vec())),
            _ => None,
        })
        .collect();
    let server_messages: Vec<Received> = s
        .log
        .received
        .iter()
        .filter(|r| matches!(r, Received::Text(_) | Received::Binary(_)))
        .cloned()
        .collect();
    if !model_messages.starts_with(&server_messages) {
        return Err(format!(
            "server received {server_messages:?}, model transmitted {model_messages:?}"
        ));
    }
    if let Some(bad) = s.log.received.iter().find(|r| matches!(r, Received::Invalid(_))) {
        return Err(format!("the client sent an invalid frame: {bad:?}"));
    }
    let model_close = transmitted.iter().find_map(|t| match t {
        Transmit::Close(f) => Some(f.clone()),
        _ => None,
    });
    let server_close = s.log.received.iter().find_map(|r| match r {
        Received::Close(c) => Some(c.clone()),
        _ => None,
    });
    if let Some(got) = server_close {
        let Some(want) = model_close else {
            return Err(format!("the server got Close {got:?}, the model transmitted none"));
        };
        let want = want.map(|f| (f.code, f.reason));
        if got != want {
            return Err(format!("the server got Close {got:?}, the model transmitted {want:?}"));
        }
    }
    // Pings (ours: `ping()`): the server got at most those transmitted,
    // and none after our Close (RFC 6455 §5.5.1).
    let model_pings = transmitted.iter().filter(|t| matches!(t, Transmit::Ping(_))).count();
    let server_pings = s.log.received.iter().filter(|r| **r == Received::Control(9)).count();
    if server_pings > model_pings {
        return Err(format!(
            "the server got {server_pings} pings, the model transmitted {model_pings}"
        ));
    }
    let first_close = s.log.received.iter().position(|r| matches!(r, Received::Close(_)));
    let last_ping = s.log.received.iter().rposition(|r| *r == Received::Control(9));
    if let (Some(close), Some(ping)) = (first_close, last_ping) {
        if ping > close {
            return Err("the server got a ping after the client's Close frame".to_string());
        }
    }
    let closes = s
        .log
        .received
        .iter()
        .filter(|r| matches!(r, Received::Close(_)))
        .count();
    if closes > 1 {
        return Err(format!("the server got {closes} Close frames"));
    }
    Ok(())
}

/// bufferedAmount never decreases while readyState is not OPEN (among the
/// values the test read), and is 0 whenever everything sent was echoed.
fn check_buffered_amount(s: &Session<'_>) -> Result<(), String> {
    let mut last: Option<(ReadyState, u64)> = None;
    for o in s.observations {
        let a = match o {
            Observation::Event { attrs, .. } | Observation::Attrs { attrs, .. } => attrs,
        };
        if let Some((state, amount)) = last {
            if state >= ReadyState::Closing && a.buffered_amount < amount {
                // Bytes sent before close() may still drain; bytes counted after it never do.
                let sent_before_close = sent_while_open(s);
                if amount - a.buffered_amount > sent_before_close {
                    return Err(format!(
                        "bufferedAmount fell from {amount} to {} while {state:?}",
                        a.buffered_amount
                    ));
                }
            }
        }
        last = Some((a.ready_state, a.buffered_amount));
    }
    Ok(())
}

/// After a clean close in which the server read our Close, every
/// transmitted byte was written, so the driver must have said so.
fn check_all_written(s: &Session<'_>) -> Result<(), String> {
    let clean = s
        .observations
        .iter()
        .any(|o| matches!(o, Observation::Event { event: Event::Close(c), .. } if c.was_clean));
    // Only when the server read our Close: it followed all the data, so
    // every byte before it reached the socket (a server that resets TCP
    // right after its own Close may never read our reply or our data).
    let server_read_our_close = s.log.received.iter().any(|r| matches!(r, Received::Close(_)));
    if !clean || !server_read_our_close {
        return Ok(());
    }
    let written: u64 = s
        .journal
        .iter()
        .filter_map(|st| match st {
            Step::Input {
                input: Input::Written(n),
                ..
            } => Some(*n),
            _ => None,
        })
        .sum();
    let transmitted = sent_while_open(s);
    if written != transmitted {
        return Err(format!(
            "clean close, but {written} of {transmitted} transmitted bytes were reported written"
        ));
    }
    Ok(())
}

/// When the peer's valid Close arrived before we sent ours, ours echoes it
/// (RFC 6455 §5.5.1; code and reason, as Chromium does).
fn check_close_echo(s: &Session<'_>, transmitted: &[Transmit<Message>]) -> Result<(), String> {
    let first_close_in = s.journal.iter().position(|st| {
        matches!(
            st,
            Step::Input {
                input: Input::CloseFrame(_),
                ..
            }
        )
    });
    let first_close_out = s
        .journal
        .iter()
        .position(|st| matches!(st, Step::Transmit(Some(Transmit::Close(_)))));
    let (Some(i), Some(o)) = (first_close_in, first_close_out) else {
        return Ok(());
    };
    // Our Close was queued by the model when the peer's arrived (or before).
    let queued_before = s.journal[..i].iter().any(|st| {
        matches!(
            st,
            Step::Input {
                input: Input::Close { .. },
                result: Ok(()),
                ..
            }
        ) || matches!(
            st,
            Step::Input {
                input: Input::ProtocolError(_),
                ..
            }
        )
    });
    if o < i || queued_before {
        return Ok(());
    }
    let Step::Input {
        input: Input::CloseFrame(payload),
        ..
    } = &s.journal[i]
    else {
        unreachable!()
    };
    let valid = match payload.len() {
        0 => true,
        1 => false,
        n if n > 125 => false,
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) && std::str::from_utf8(&payload[2..]).is_ok()
        }
    };
    if !valid {
        return Ok(());
    }
    let reply = transmitted.iter().find_map(|t| match t {
        Transmit::Close(f) => Some(f.clone()),
        _ => None,
    });
    let echo = (payload.len() >= 2).then(|| wsapi_model::CloseFrame {
        code: u16::from_be_bytes([payload[0], payload[1]]),
        reason: String::from_utf8_lossy(&payload[2..]).into_owned(),
    });
    if reply != Some(echo.clone()) {
        return Err(format!(
            "the reply to Close {payload:02x?} was {reply:?}, not the echo {echo:?}"
        ));
    }
    Ok(())
}

fn sent_while_open(s: &Session<'_>) -> u64 {
    s.journal
        .iter()
        .filter_map(|st| match st {
            Step::Transmit(Some(Transmit::Message(m))) => Some(m.len() as u64),
            _ => None,
        })
        .sum()
}
