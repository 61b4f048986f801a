//! The judge on hostile input: arbitrary trace files (the oracle's JSON
//! format, read by the CLI's parser, with an optional server log after a
//! NUL byte) and arbitrary typed observation lists built from the bytes.
//!
//! Checked: no panic; the parser fails with a typed error naming a line;
//! every explanation the judge gives replays on a fresh connection; the
//! judge's work stays within its bounds (libFuzzer's `-rss_limit_mb` and
//! `-timeout` of `.ci/fuzz.sh` catch a search that does not).
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wsapi_model::judge::{
    judge, Entry, Observation, ObservedEvent, ObservedMessage, ServerView, Snapshot, Trace, Verdict,
};
use wsapi_model::{replay, BinaryType, CloseEvent};

#[path = "../../../impl/cli/src/trace.rs"]
#[allow(dead_code)]
mod trace;

fn check(t: &Trace) {
    if let Verdict::Allowed(explanations) = judge(t) {
        for e in explanations {
            if let Some(url) = e.url {
                let r = replay(&url, &e.protocols, e.config, Duration::ZERO, &e.steps).expect("constructs");
                assert!(r.is_ok(), "an explanation does not replay: {r:?}");
            }
        }
    }
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
}

const URLS: [&str; 4] = ["ws://h/", "ws://h:1/", "wss://h/x", "ftp://h/"];
const STATES: [Option<u16>; 6] = [None, Some(0), Some(1), Some(2), Some(3), Some(9)];

fn typed(data: &[u8]) -> Trace {
    let mut b = Bytes(data);
    let mut entries = Vec::new();
    let mut server = Vec::new();
    while let Some(op) = b.next() {
        let socket = u32::from(op >> 6);
        let x = b.next().unwrap_or(0);
        let obs = match op % 12 {
            0 => Observation::Construct {
                url: URLS[usize::from(x % 4)].into(),
                protocols: (x & 4 != 0).then(|| vec!["chat".into()]),
                threw: (x & 8 != 0).then(|| "SyntaxError".into()),
            },
            1 => Observation::Send {
                text: x & 1 == 0,
                len: u64::from(x >> 1),
                threw: (x & 128 != 0).then(|| "InvalidStateError".into()),
            },
            2 => Observation::Close {
                code: [None, Some(1000), Some(3000), Some(999)][usize::from(x % 4)],
                reason: (x & 4 != 0).then(|| "r".repeat(usize::from(x >> 3) * 5)),
                threw: (x & 128 != 0).then(|| "InvalidAccessError".into()),
            },
            3 => Observation::SetBinaryType {
                value: ["blob", "arraybuffer", "foo"][usize::from(x % 3)].into(),
                now: (x & 4 != 0).then(|| "blob".into()),
            },
            4 => Observation::Snapshot(Snapshot {
                ready_state: STATES[usize::from(x % 6)],
                buffered_amount: (x & 8 != 0).then_some(u64::from(x >> 4)),
                protocol: (x & 16 != 0).then(String::new),
                ..Snapshot::default()
            }),
            5 | 6 => Observation::Yield,
            7 | 8 => Observation::WaitDone {
                buffered_at_most: (x & 1 != 0).then_some(u64::from(x >> 1)),
            },
            9 => Observation::Event {
                event: match x % 5 {
                    0 => ObservedEvent::Open,
                    1 => ObservedEvent::Error,
                    2 => ObservedEvent::Message(ObservedMessage {
                        text: x & 8 != 0,
                        binary_type: (x & 16 != 0).then_some(BinaryType::ArrayBuffer),
                    }),
                    _ => ObservedEvent::Close(CloseEvent {
                        code: [1000, 1005, 1006, 4000][usize::from(x >> 3) % 4],
                        reason: String::new(),
                        was_clean: x & 64 != 0,
                    }),
                },
                ready_state: STATES[usize::from(x >> 5) % 6],
                class: None,
            },
            10 => {
                server.push(Some(ServerView {
                    close_sent: (x & 1 != 0).then_some(None),
                    raw_frames: Some(x & 2 != 0),
                    close_was_reply: x & 4 != 0,
                    ..ServerView::default()
                }));
                continue;
            }
            _ => Observation::Event {
                event: ObservedEvent::Message(ObservedMessage {
                    text: true,
                    binary_type: None,
                }),
                ready_state: Some(1),
                class: Some("MessageEvent".into()),
            },
        };
        let at = entries.len() + 1;
        entries.push(Entry { socket, at, obs });
    }
    Trace { entries, server }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    if sel & 1 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else { return };
        let (t, log) = match text.split_once('\0') {
            Some((t, l)) => (t, Some(l)),
            None => (text, None),
        };
        match trace::parse(t, log) {
            Ok(file) => check(&file.trace),
            Err(e) => assert!(e.line >= 1, "{e}"),
        }
    } else {
        check(&typed(rest));
    }
});
