//! The model fed arbitrary sequences of inputs (API calls and driver
//! reports, impossible ones included), built by hand from the bytes.
//!
//! Checked after every input: no panic; readyState never goes back; events
//! come in the standard's order (open at most once and first, error at
//! most once and right before close, close exactly once and last);
//! `bufferedAmount` grows by exactly the length of an accepted `send`,
//! never falls between two event-loop turns (`poll_event`, `Turn`), and at a
//! turn falls to the unsent count; the host slot is granted as soon as it
//! is asked for. At the end the connection is driven to its end: the
//! close event must come.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wsapi_model::{
    BinaryType, Config, Connection, Data, Event, FailReason, Input, Payload as _, Phase, ReadyState, Transmit,
};

/// Reads the fuzz bytes as a sequence of small numbers.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken.to_vec()
    }
    fn text(&mut self, n: usize) -> String {
        String::from_utf8_lossy(&self.take(n)).into_owned()
    }
}

fn data(bytes: &mut Bytes, kind: u8) -> Data {
    let len = usize::from(bytes.next().unwrap_or(0) % 40);
    if kind & 1 == 0 {
        Data::Text(bytes.text(len))
    } else {
        Data::Binary(bytes.take(len))
    }
}

fn input(bytes: &mut Bytes) -> Option<Input<Data>> {
    let op = bytes.next()?;
    Some(match op % 20 {
        0 => Input::Send(data(bytes, op >> 4)),
        1 => {
            let code = match bytes.next()? % 4 {
                0 => None,
                1 => Some(1000),
                2 => Some(3000 + u16::from(bytes.next()?)),
                _ => Some(u16::from_be_bytes([bytes.next()?, bytes.next()?])),
            };
            let reason = (op & 0x10 != 0).then(|| {
                let n = usize::from(bytes.next().unwrap_or(0) % 130);
                bytes.text(n)
            });
            Input::Close { code, reason }
        }
        2 => Input::SetBinaryType(if op & 0x10 != 0 {
            BinaryType::Blob
        } else {
            BinaryType::ArrayBuffer
        }),
        3 => {
            let protocol = match op >> 4 & 3 {
                0 => None,
                1 => Some("chat".to_string()),
                _ => Some(bytes.text(6)),
            };
            let extensions = match op >> 6 {
                0 => None,
                1 => Some("permessage-deflate".to_string()),
                _ => Some(bytes.text(6)),
            };
            Input::Open { protocol, extensions }
        }
        4 => Input::ConnectFailed("refused".into()),
        5 | 6 => Input::Message(data(bytes, op >> 4)),
        7 => {
            let n = usize::from(bytes.next()? % 127);
            Input::CloseFrame(bytes.take(n))
        }
        8 => Input::ProtocolError(match op >> 4 & 3 {
            0 => FailReason::InvalidUtf8,
            1 => FailReason::MessageTooBig,
            _ => FailReason::Protocol("bad frame".to_string()),
        }),
        9 => Input::TransportClosed,
        10 => Input::Written(u64::from(bytes.next()?) * if op & 0x10 != 0 { 1000 } else { 1 }),
        11 => Input::HostSlot,
        12 => Input::Received,
        13 => Input::Turn,
        14 if op & 0x10 != 0 => Input::DriverStopped("the task ended".to_string()),
        15 => Input::TransportError(wsapi_model::TransportError::new(
            wsapi_model::TransportLayer::Tcp,
            "example.com:80",
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        )),
        16 => Input::ReadStalled(op & 0x10 != 0),
        // ping() (ours): up to 255 bytes, so over the 125-byte limit too.
        17 => {
            let n = usize::from(bytes.next()?);
            Input::Ping(bytes.take(n))
        }
        _ => Input::Timeout,
    })
}

/// Events seen so far, checked as they come.
#[derive(Default)]
struct Order {
    opened: bool,
    messages_or_open: usize,
    errored: bool,
    closed: bool,
    last_was_error: bool,
}

impl Order {
    fn see(&mut self, event: &Event<Data>) {
        assert!(!self.closed, "an event after close: {event:?}");
        match event {
            Event::Open => {
                assert!(
                    !self.opened && self.messages_or_open == 0 && !self.errored,
                    "open twice or late"
                );
                self.opened = true;
            }
            Event::Message { .. } => assert!(self.opened && !self.errored, "message before open or after error"),
            Event::Error(_) => {
                assert!(!self.errored, "two error events");
                self.errored = true;
            }
            Event::Close(_) => self.closed = true,
        }
        if !matches!(event, Event::Close(_)) {
            assert!(!self.last_was_error, "error not followed by close");
        }
        self.last_was_error = matches!(event, Event::Error(_));
        self.messages_or_open += 1;
    }
}

/// Takes every transmit (granting the host slot when asked, as a driver
/// whose gate is free does) and every event; checks the order and readyState.
fn drain(conn: &mut Connection<Data>, order: &mut Order, state: &mut ReadyState, now: Duration) {
    while let Some(t) = conn.poll_transmit() {
        if matches!(t, Transmit::QueueForHost(_)) {
            conn.handle_host_slot(now).expect("the slot was asked for");
        }
        if let Transmit::Ping(payload) = &t {
            assert!(payload.len() <= 125, "a control frame's payload is at most 125 bytes");
        }
    }
    while let Some(event) = conn.poll_event() {
        order.see(&event);
        let now = conn.ready_state();
        assert!(now >= *state, "readyState went from {state:?} to {now:?}");
        *state = now;
    }
    let now = conn.ready_state();
    assert!(now >= *state, "readyState went from {state:?} to {now:?}");
    *state = now;
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    let config = Config {
        max_buffered_amount: bytes.next().map(|b| u64::from(b) * 4).filter(|&m| m > 0),
        offered_extensions: vec!["permessage-deflate".to_string()],
        ..Config::default()
    };
    let Ok(mut conn) = Connection::<Data>::new("ws://example.com/", &["chat"], config, Duration::ZERO) else {
        panic!("a valid URL was refused");
    };
    let mut order = Order::default();
    let mut state = conn.ready_state();
    let mut now = Duration::ZERO;
    while let Some(input) = input(&mut bytes) {
        now += Duration::from_millis(u64::from(bytes.next().unwrap_or(0)) * 50);
        let before = conn.buffered_amount();
        let (sent, turn) = match &input {
            Input::Send(d) => (Some(d.byte_len()), false),
            Input::Turn => (None, true),
            _ => (None, false),
        };
        let result = conn.handle_input(now, input);
        let after = conn.buffered_amount();
        match sent {
            Some(len) if result.is_ok() => assert_eq!(after, before + len as u64, "send"),
            _ if turn => assert_eq!(after, conn.unsent_amount(), "a turn catches up"),
            _ => assert_eq!(after, before, "bufferedAmount fell between turns"),
        }
        assert!(after >= conn.unsent_amount(), "visible below unsent");
        drain(&mut conn, &mut order, &mut state, now);
    }
    // Drive the connection to its end: the close event must come.
    for _ in 0..4 {
        if conn.phase() == Phase::Closed {
            break;
        }
        let end = if conn.phase() == Phase::Connecting {
            Input::ConnectFailed("end".into())
        } else {
            Input::TransportClosed
        };
        now += Duration::from_secs(60);
        let _ = conn.handle_input(now, end);
        let _ = conn.handle_input(now, Input::Timeout);
        drain(&mut conn, &mut order, &mut state, now);
    }
    assert!(order.closed, "no close event at the end");
    assert_eq!(conn.ready_state(), ReadyState::Closed);
});
