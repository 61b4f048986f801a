//! Generated model sessions and their mutations, shared by the judge's
//! tests in `wsapi-model` (deterministic, fast: what cargo-mutants runs)
//! and in `wsapi-props` (proptest).
#![allow(dead_code)]

use std::time::Duration;

use wsapi_model::judge::{judge, observe, Observation, ObservedEvent, ObservedMessage, Snapshot, Trace, Verdict};
use wsapi_model::{replay, BinaryType, Config, Connection, Data, FailReason, Input, Step};

pub const URL: &str = "ws://example.com/chat";

/// One thing that happens in a generated session.
#[derive(Debug, Clone)]
pub enum Act {
    Send(bool, usize),
    Close(Option<u16>, Option<String>),
    SetBinaryType(bool),
    /// The script awaits: events are taken until none is left.
    Wait,
    /// One event is taken (a Rust stream user; between error and close
    /// the next call runs "inside the error listener").
    TakeOne,
    /// An event-loop turn with no event taken (a drain wait).
    Turn,
    HostSlot,
    Open(bool),
    ConnectFailed,
    Message(bool, usize),
    CloseFrame(Vec<u8>),
    ProtocolError,
    TransportClosed,
    WrittenAll,
    WrittenSome(u64),
    Timeout,
}

pub fn config() -> Config {
    Config {
        offered_extensions: vec!["permessage-deflate".into()],
        ..Config::default()
    }
}

pub fn protocols() -> Vec<String> {
    vec!["chat".into()]
}

/// Runs the acts on a fresh connection; the journal of every call.
pub fn session(acts: &[Act]) -> Vec<Step<Data>> {
    let mut conn = Connection::<Data>::new(URL, &protocols(), config(), Duration::ZERO).unwrap();
    let mut steps = Vec::new();
    let mut now = Duration::ZERO;
    let mut unwritten: u64 = 0;
    let drain = |conn: &mut Connection<Data>, steps: &mut Vec<Step<Data>>, unwritten: &mut u64| {
        while let Some(t) = conn.poll_transmit() {
            if let wsapi_model::Transmit::Message(m) = &t {
                *unwritten += wsapi_model::Payload::byte_len(m) as u64;
            }
            steps.push(Step::Transmit(Some(t)));
        }
    };
    drain(&mut conn, &mut steps, &mut unwritten);
    for a in acts {
        if let Act::TakeOne = a {
            let e = conn.poll_event();
            steps.push(Step::Event(e));
            continue;
        }
        if let Act::Wait = a {
            loop {
                let e = conn.poll_event();
                let done = e.is_none();
                steps.push(Step::Event(e));
                if done {
                    break;
                }
            }
            continue;
        }
        let input = match a {
            Act::Send(t, n) => Input::Send(if *t {
                Data::Text("x".repeat(*n))
            } else {
                Data::Binary(vec![1; *n])
            }),
            Act::Close(c, r) => Input::Close {
                code: *c,
                reason: r.clone(),
            },
            Act::SetBinaryType(a) => Input::SetBinaryType(if *a { BinaryType::ArrayBuffer } else { BinaryType::Blob }),
            Act::Wait | Act::TakeOne => unreachable!(),
            Act::Turn => Input::Turn,
            Act::HostSlot => Input::HostSlot,
            Act::Open(p) => Input::Open {
                protocol: Some("chat".into()),
                extensions: p.then(|| "permessage-deflate".to_string()),
            },
            Act::ConnectFailed => Input::ConnectFailed("refused".into()),
            Act::Message(t, n) => Input::Message(if *t {
                Data::Text("y".repeat(*n))
            } else {
                Data::Binary(vec![2; *n])
            }),
            Act::CloseFrame(p) => Input::CloseFrame(p.clone()),
            Act::ProtocolError => Input::ProtocolError(FailReason::InvalidUtf8),
            Act::TransportClosed => Input::TransportClosed,
            Act::WrittenAll => Input::Written(unwritten),
            Act::WrittenSome(n) => Input::Written(*n),
            Act::Timeout => {
                if let Some(t) = conn.poll_timeout() {
                    now = now.max(t);
                }
                Input::Timeout
            }
        };
        let result = conn.handle_input(now, input.clone());
        if let (Ok(()), Input::Written(n)) = (&result, &input) {
            unwritten -= n;
        }
        // Impossible driver inputs are not part of any session.
        if matches!(result, Err(wsapi_model::Refusal::Input(_))) {
            continue;
        }
        steps.push(Step::Input { now, input, result });
        drain(&mut conn, &mut steps, &mut unwritten);
    }
    // The script's last wait.
    loop {
        let e = conn.poll_event();
        let done = e.is_none();
        steps.push(Step::Event(e));
        if done {
            break;
        }
    }
    steps
}

pub fn trace_of(steps: &[Step<Data>]) -> Trace {
    observe(URL, &protocols(), &config(), steps).unwrap()
}

/// The calls and events of a trace (what an explanation must show again).
pub fn calls_and_events(t: &Trace) -> Vec<Observation> {
    t.entries
        .iter()
        .filter(|e| {
            matches!(
                e.obs,
                Observation::Send { .. }
                    | Observation::Close { .. }
                    | Observation::SetBinaryType { .. }
                    | Observation::Event { .. }
            )
        })
        .map(|e| e.obs.clone())
        .collect()
}

pub fn check_allowed(trace: &Trace) -> Result<(), String> {
    match judge(trace) {
        Verdict::Allowed(explanations) => {
            if explanations.len() != 1 {
                return Err(format!("{} explanations", explanations.len()));
            }
            let e = &explanations[0];
            let url = e.url.clone().unwrap();
            // The explanation is a journal that replays...
            let replayed = replay(&url, &e.protocols, e.config.clone(), Duration::ZERO, &e.steps).unwrap();
            if let Err(d) = replayed {
                return Err(format!("the explanation does not replay: {d:?}"));
            }
            // ...and shows the same calls and events.
            let shown = observe(&url, &e.protocols, &e.config, &e.steps).unwrap();
            if calls_and_events(&shown) != calls_and_events(trace) {
                return Err("the explanation shows other calls or events".into());
            }
            Ok(())
        }
        other => Err(format!("refused a model session: {other:?}")),
    }
}

/// A mutation, and the rules that may name its refusal.
pub type Mutation = (&'static str, Trace, &'static [&'static str]);

pub fn events(t: &Trace) -> Vec<usize> {
    (0..t.entries.len())
        .filter(|&i| matches!(t.entries[i].obs, Observation::Event { .. }))
        .collect()
}

pub fn is_event(t: &Trace, i: usize, f: impl Fn(&ObservedEvent) -> bool) -> bool {
    matches!(&t.entries[i].obs, Observation::Event { event, .. } if f(event))
}

pub fn renumber(mut t: Trace) -> Trace {
    for (i, e) in t.entries.iter_mut().enumerate() {
        e.at = i + 1;
    }
    t
}

/// Every mutation that applies to `t` and that no server can explain.
pub fn mutations(t: &Trace) -> Vec<Mutation> {
    let mut out: Vec<Mutation> = Vec::new();
    let ev = events(t);
    let total_sent: u64 = t
        .entries
        .iter()
        .map(|e| match e.obs {
            Observation::Send { len, .. } => len,
            _ => 0,
        })
        .sum();
    // An event removed: the close event (a snapshot after it shows CLOSED).
    if let Some(&i) = ev
        .iter()
        .find(|&&i| is_event(t, i, |e| matches!(e, ObservedEvent::Close(_))))
    {
        let mut m = t.clone();
        m.entries.remove(i);
        out.push(("close event removed", renumber(m), &["ready-state", "event-order"]));
    }
    // An event duplicated: open, error or close (a message could have been
    // sent twice by the server).
    if let Some(&i) = ev
        .iter()
        .find(|&&i| is_event(t, i, |e| !matches!(e, ObservedEvent::Message(_))))
    {
        let mut m = t.clone();
        let dup = m.entries[i].clone();
        m.entries.insert(i + 1, dup);
        out.push((
            "event duplicated",
            renumber(m),
            &[
                "event-order",
                "ready-state",
                "close-event",
                "fail-fires-error",
                "transport-lost-fails",
                "message-dropped",
            ],
        ));
    }
    // Two events of different kinds reordered.
    for w in ev.windows(2) {
        let (a, b) = (w[0], w[1]);
        let kind = |i: usize| match &t.entries[i].obs {
            Observation::Event { event, .. } => core::mem::discriminant(event),
            _ => unreachable!(),
        };
        if b == a + 1 && kind(a) != kind(b) {
            let mut m = t.clone();
            m.entries.swap(a, b);
            out.push((
                "events reordered",
                renumber(m),
                &[
                    "event-order",
                    "ready-state",
                    "close-event",
                    "fail-fires-error",
                    "transport-lost-fails",
                    "message-dropped",
                    "clean-close-no-error",
                    "event-class",
                ],
            ));
            break;
        }
    }
    // An event's readyState changed.
    if let Some(&i) = ev.first() {
        let mut m = t.clone();
        if let Observation::Event { ready_state, .. } = &mut m.entries[i].obs {
            *ready_state = ready_state.map(|r| (r + 1) % 4);
        }
        out.push(("event readyState changed", m, &["ready-state"]));
    }
    // An event's class changed.
    if let Some(&i) = ev.first() {
        let mut m = t.clone();
        if let Observation::Event { class, .. } = &mut m.entries[i].obs {
            *class = Some("ErrorEvent".into());
        }
        out.push(("event class changed", m, &["event-class"]));
    }
    // A close code altered (1004 is never a close event's code).
    if let Some(&i) = ev
        .iter()
        .find(|&&i| is_event(t, i, |e| matches!(e, ObservedEvent::Close(_))))
    {
        let mut m = t.clone();
        if let Observation::Event {
            event: ObservedEvent::Close(c),
            ..
        } = &mut m.entries[i].obs
        {
            c.code = 1004;
        }
        out.push(("close code altered", m, &["close-event"]));
    }
    // Attributes changed: readyState back to CONNECTING after it left it;
    // bufferedAmount above everything ever sent.
    if let Some(i) = t
        .entries
        .iter()
        .position(|e| matches!(&e.obs, Observation::Snapshot(Snapshot { ready_state: Some(r), .. }) if *r > 0))
    {
        let mut m = t.clone();
        if let Observation::Snapshot(s) = &mut m.entries[i].obs {
            s.ready_state = Some(0);
        }
        out.push(("readyState changed", m, &["ready-state"]));
    }
    if let Some(i) = t
        .entries
        .iter()
        .position(|e| matches!(&e.obs, Observation::Snapshot(_)))
    {
        let mut m = t.clone();
        if let Observation::Snapshot(s) = &mut m.entries[i].obs {
            s.buffered_amount = Some(total_sent + 1);
        }
        out.push(("bufferedAmount changed", m, &["buffered-amount"]));
    }
    // A call's result flipped.
    for (i, e) in t.entries.iter().enumerate() {
        let mut m = t.clone();
        let flipped = |threw: &mut Option<String>, name: &str| {
            *threw = match threw {
                Some(_) => None,
                None => Some(name.to_string()),
            }
        };
        let rules: &'static [&'static str] = match &mut m.entries[i].obs {
            Observation::Send { threw, .. } => {
                flipped(threw, "InvalidStateError");
                &["send"]
            }
            Observation::Close { threw, .. } => {
                flipped(threw, "InvalidAccessError");
                &["close-arguments"]
            }
            _ => continue,
        };
        let name = if matches!(e.obs, Observation::Send { .. }) {
            "send() result flipped"
        } else {
            "close() result flipped"
        };
        out.push((name, m, rules));
    }
    // binaryType read back wrong.
    if let Some(i) = t
        .entries
        .iter()
        .position(|e| matches!(e.obs, Observation::SetBinaryType { .. }))
    {
        let mut m = t.clone();
        if let Observation::SetBinaryType { now, .. } = &mut m.entries[i].obs {
            *now = Some(
                if now.as_deref() == Some("blob") {
                    "arraybuffer"
                } else {
                    "blob"
                }
                .to_string(),
            );
        }
        out.push(("binaryType read back wrong", m, &["binary-type"]));
    }
    // A message seen with another binaryType.
    if let Some(i) = t.entries.iter().position(|e| {
        matches!(
            &e.obs,
            Observation::Event {
                event: ObservedEvent::Message(ObservedMessage { text: false, .. }),
                ..
            }
        )
    }) {
        let mut m = t.clone();
        if let Observation::Event {
            event: ObservedEvent::Message(msg),
            ..
        } = &mut m.entries[i].obs
        {
            msg.binary_type = Some(match msg.binary_type {
                Some(BinaryType::Blob) => BinaryType::ArrayBuffer,
                _ => BinaryType::Blob,
            });
        }
        out.push(("message binaryType changed", m, &["binary-type"]));
    }
    out
}

/// Every mutation of `trace` must be refused, by one of its rules.
pub fn check_mutations(trace: &Trace) -> Result<usize, String> {
    let all = mutations(trace);
    for (what, mutated, rules) in &all {
        match judge(mutated) {
            Verdict::NotAllowed(r) => {
                let t = r.telling();
                if !(rules.contains(&t.rule.id) || rules.contains(&r.rule.id)) {
                    return Err(format!(
                        "{what}: refused by rule {} ({t}), expected one of {rules:?}",
                        t.rule.id
                    ));
                }
            }
            other => return Err(format!("{what}: not refused: {other:?}")),
        }
    }
    Ok(all.len())
}
