//! The incremental judge (`judge::Watch`), which the wasm32 build of wsapi
//! runs beside the browser's WebSocket: fed one observation at a time, it
//! allows every generated model session the whole-trace judge allows, and
//! refuses every mutation the whole-trace judge refuses.

mod judge_support;

use judge_support::*;
use wsapi_model::judge::{judge, Observation, ObservedEvent, Trace, Verdict, Watch};
use wsapi_model::CloseEvent;

/// Feeds a one-socket trace to a `Watch`: its verdict (`None`: allowed).
/// An event observed with the readyState read in its handler.
fn event(event: ObservedEvent, ready_state: u16) -> Observation {
    Observation::Event {
        event,
        ready_state: Some(ready_state),
        class: None,
    }
}

fn watch(t: &Trace) -> Option<Verdict> {
    let mut entries = t.entries.iter();
    let Some(Observation::Construct {
        url,
        protocols,
        threw: None,
    }) = entries.next().map(|e| &e.obs)
    else {
        panic!("a trace starts with a constructor that returned");
    };
    let protocols = protocols.clone().unwrap_or_default();
    let mut w = match Watch::new(url, &protocols, config()) {
        Ok(w) => w,
        Err(r) => return Some(Verdict::NotAllowed(r)),
    };
    for e in entries {
        if let Some(v) = w.observe(e.obs.clone()) {
            assert_eq!(w.verdict(), Some(&v));
            return Some(v);
        }
    }
    w.finish()
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn random_act(r: &mut Rng) -> Act {
    let payloads: [&[u8]; 4] = [&[], &[0x03, 0xE8], &[0x0F, 0xA1, b'h', b'i'], &[0x03, 0xED]];
    match r.below(22) {
        0..=2 => Act::Send(r.below(2) == 0, r.below(20) as usize),
        3 => Act::Close([None, Some(1000), Some(4000), Some(999)][r.below(4) as usize], None),
        4 => Act::SetBinaryType(r.below(2) == 0),
        5..=7 => Act::Wait,
        8 | 9 => Act::HostSlot,
        10 | 11 => Act::Open(r.below(2) == 0),
        12..=14 => Act::Message(r.below(2) == 0, r.below(20) as usize),
        15 => Act::CloseFrame(payloads[r.below(4) as usize].to_vec()),
        16 => Act::ProtocolError,
        17 => Act::TransportClosed,
        18 => Act::WrittenAll,
        19 => Act::Timeout,
        20 => Act::TakeOne,
        _ => Act::Turn,
    }
}

/// 120 generated sessions: the watch allows each one the judge allows, and
/// refuses every mutation the judge refuses (none slips through because it
/// judges a prefix at a time).
#[test]
fn the_watch_agrees_with_the_judge() {
    let mut r = Rng(0x2545_F491_4F6C_DD1D);
    let mut refused = 0;
    for case in 0..120 {
        let mut acts = vec![Act::HostSlot, Act::Open(case % 3 == 0), Act::Wait];
        let len = r.below(30) as usize;
        acts.extend((0..len).map(|_| random_act(&mut r)));
        let trace = trace_of(&session(&acts));
        assert!(judge(&trace).is_allowed(), "case {case}");
        assert_eq!(watch(&trace), None, "case {case} {acts:?}");
        for (what, mutated, _) in mutations(&trace) {
            if matches!(judge(&mutated), Verdict::NotAllowed(_)) {
                match watch(&mutated) {
                    Some(Verdict::NotAllowed(_)) => refused += 1,
                    other => panic!("case {case} {acts:?}: {what}: the watch said {other:?}"),
                }
            }
        }
    }
    assert!(refused > 400, "{refused}");
}

/// A divergence is reported once, two events after it or at the end, and
/// nothing is judged after it.
#[test]
fn a_divergence_is_reported_once_with_the_next_event() {
    let mut w = Watch::new("ws://example.com/", &[], config()).unwrap();
    assert_eq!(w.observe(Observation::Yield), None);
    assert_eq!(w.observe(event(ObservedEvent::Open, 1)), None);
    // readyState CONNECTING after open: no server can explain it.
    let bad = Observation::Snapshot(wsapi_model::judge::Snapshot {
        ready_state: Some(0),
        ..Default::default()
    });
    assert_eq!(w.observe(bad), None, "judged with the next event");
    let closed = CloseEvent {
        code: 1000,
        reason: String::new(),
        was_clean: true,
    };
    assert_eq!(
        w.observe(event(ObservedEvent::Close(closed), 3)),
        None,
        "judged two events later"
    );
    let Some(Verdict::NotAllowed(r)) = w.finish() else {
        panic!("refused at the end");
    };
    assert_eq!((r.at, r.rule.id), (4, "ready-state"), "{r}");
    assert_eq!(w.finish(), None, "once");
    assert!(w.verdict().is_some());
    assert_eq!(w.observations(), 5);
}

/// A constructor the standard refuses is refused by `Watch::new`.
#[test]
fn a_constructor_the_standard_refuses() {
    let r = Watch::new("ftp://example.com/", &[], config()).unwrap_err();
    assert_eq!(r.rule.id, "constructor");
}

/// Memory stays flat: a long echo session keeps no journal.
#[test]
fn a_long_session_is_watched_in_constant_space() {
    let mut w = Watch::new("ws://example.com/", &[], config()).unwrap();
    assert_eq!(w.observe(Observation::Yield), None);
    assert_eq!(w.observe(event(ObservedEvent::Open, 1)), None);
    for _ in 0..3_000 {
        assert_eq!(w.observe(Observation::WaitDone { buffered_at_most: None }), None);
        let sent = Observation::Send {
            text: true,
            len: 5,
            threw: None,
        };
        assert_eq!(w.observe(sent), None);
        assert_eq!(w.observe(Observation::Yield), None);
        let msg = ObservedEvent::Message(wsapi_model::judge::ObservedMessage {
            text: true,
            binary_type: None,
        });
        assert_eq!(w.observe(event(msg, 1)), None);
        // What the wasm build reads in each listener.
        let snapshot = Observation::Snapshot(wsapi_model::judge::Snapshot {
            ready_state: Some(1),
            buffered_amount: Some(0),
            ..Default::default()
        });
        assert_eq!(w.observe(snapshot), None);
    }
    assert_eq!(w.finish(), None);
    assert!(format!("{w:?}").contains("pending: 0"));
}
