//! One test per rule of the API, each citing where the rule comes from.
//! "WHATWG" is the WebSocket Standard (websockets.spec.whatwg.org); WPT
//! paths are under `websockets/` in web-platform-tests.

use std::time::Duration;
use wsapi_model::{
    BadClose, CloseError, CloseEvent, CloseFrame, Config, Connection, ConstructError, Data, Event, FailReason,
    InputError, Phase, ReadyState, SendError, Transmit,
};

const T0: Duration = Duration::ZERO;

fn text(s: &str) -> Data {
    Data::Text(s.into())
}

fn new(url: &str) -> Connection<Data> {
    Connection::new(url, &[] as &[&str], Config::default(), T0).unwrap()
}

/// A connection whose Connect was taken and whose handshake succeeded (open not yet delivered).
fn established() -> Connection<Data> {
    let mut ws = new("ws://example.com/");
    assert!(matches!(ws.poll_transmit(), Some(Transmit::QueueForHost(_))));
    ws.handle_host_slot(T0).unwrap();
    assert!(matches!(ws.poll_transmit(), Some(Transmit::Connect { .. })));
    ws.handle_open(T0, None, None).unwrap();
    ws
}

/// An OPEN connection (open delivered).
fn open() -> Connection<Data> {
    let mut ws = established();
    assert_eq!(ws.poll_event(), Some(Event::Open));
    ws
}

fn drain_events(ws: &mut Connection<Data>) -> Vec<(Event<Data>, ReadyState)> {
    let mut out = Vec::new();
    while let Some(e) = ws.poll_event() {
        out.push((e, ws.ready_state()));
    }
    out
}

/// Every transmit, as a driver whose process has no other connection
/// carries them out: the host's slot is granted at once, and the host-gate
/// transmits are left out (the tests of `host_gate` look at them).
fn drain_transmits(ws: &mut Connection<Data>) -> Vec<Transmit<Data>> {
    let mut out = Vec::new();
    while let Some(t) = ws.poll_transmit() {
        match t {
            Transmit::QueueForHost(_) => ws.handle_host_slot(T0).unwrap(),
            Transmit::ReleaseHost => {}
            t => out.push(t),
        }
    }
    out
}

fn close_event(code: u16, reason: &str, was_clean: bool) -> Event<Data> {
    Event::Close(CloseEvent {
        code,
        reason: reason.into(),
        was_clean,
    })
}

fn text_message(s: &str) -> Event<Data> {
    Event::Message {
        data: text(s),
        binary_type: None,
    }
}

fn abnormal() -> Event<Data> {
    close_event(1006, "", false)
}

// ---- constructor ----------------------------------------------------

// WHATWG constructor steps 1-6; WPT Create-invalid-urls, Create-protocols-repeated.
#[test]
fn constructor_throws_syntax_errors() {
    let cfg = Config::default;
    assert!(matches!(
        Connection::<Data>::new("ftp://h/", &[] as &[&str], cfg(), T0),
        Err(ConstructError::UnsupportedScheme { .. })
    ));
    assert!(matches!(
        Connection::<Data>::new("ws://h/#", &[] as &[&str], cfg(), T0),
        Err(ConstructError::Fragment)
    ));
    assert!(matches!(
        Connection::<Data>::new("ws://h/", &["a", "A"], cfg(), T0),
        Err(ConstructError::DuplicateProtocol(_))
    ));
    let ws = Connection::<Data>::new("http://h/x/../y", &["chat"], cfg(), T0).unwrap();
    assert_eq!(ws.url().as_str(), "ws://h/y");
    assert_eq!(ws.ready_state(), ReadyState::Connecting);
    assert_eq!(ws.requested_protocols(), ["chat"]);
}

// Fetch "bad port" + WHATWG "establish a WebSocket connection": a blocked port fails
// asynchronously (no exception), and nothing is ever sent (WPT Create-blocked-port.any.js).
#[test]
fn blocked_port_fails_without_network() {
    let mut ws = new("ws://example.com:25/");
    assert_eq!(ws.ready_state(), ReadyState::Connecting);
    assert_eq!(drain_transmits(&mut ws), vec![]);
    assert_eq!(
        drain_events(&mut ws),
        vec![
            (Event::Error(FailReason::BadPort(25)), ReadyState::Closed),
            (abnormal(), ReadyState::Closed)
        ]
    );
    let mut ws0 = new("ws://example.com:0/");
    assert_eq!(ws0.poll_event(), Some(Event::Error(FailReason::BadPort(0))));
}

// ---- readyState and open --------------------------------------------

// WHATWG "feedback from the protocol": readyState becomes OPEN, and protocol/extensions are set,
// in the task that fires open, not before.
#[test]
fn open_changes_state_when_delivered() {
    let mut ws = Connection::<Data>::new("ws://h/", &["chat"], Config::default(), T0).unwrap();
    drain_transmits(&mut ws);
    ws.handle_open(T0, Some("chat"), None).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Connecting);
    assert_eq!(ws.protocol(), "");
    assert_eq!(ws.poll_event(), Some(Event::Open));
    assert_eq!((ws.ready_state(), ws.protocol()), (ReadyState::Open, "chat"));
}

// RFC 6455 §4.1 (client steps 6 and 5 of the server response): a subprotocol or extension that was
// not offered fails the connection; subprotocols compare case-sensitively. Fetch "establish a
// WebSocket connection": protocols were offered and none was selected fails too.
#[test]
fn unrequested_protocol_or_extension_fails() {
    for (proto, ext) in [
        (Some("other"), None),
        (Some("Chat"), None),
        (None, None),
        (Some("chat"), Some("permessage-deflate")),
    ] {
        let mut ws = Connection::<Data>::new("ws://h/", &["chat"], Config::default(), T0).unwrap();
        drain_transmits(&mut ws);
        ws.handle_open(T0, proto, ext).unwrap();
        assert_eq!(drain_transmits(&mut ws), vec![Transmit::CloseTransport]);
        let events = drain_events(&mut ws);
        assert!(matches!(events[0].0, Event::Error(_)), "{proto:?} {ext:?}");
        assert_eq!(events[1].0, abnormal());
        assert_eq!(ws.protocol(), "");
    }
    let cfg = Config {
        offered_extensions: vec!["permessage-deflate".into()],
        ..Config::default()
    };
    let mut ws = Connection::<Data>::new("ws://h/", &[] as &[&str], cfg, T0).unwrap();
    drain_transmits(&mut ws);
    ws.handle_open(T0, None, Some("permessage-deflate; server_max_window_bits=12"))
        .unwrap();
    assert_eq!(ws.poll_event(), Some(Event::Open));
    assert_eq!(ws.extensions(), "permessage-deflate; server_max_window_bits=12");
}

// WHATWG: if the establish algorithm fails, fail the connection: error then close 1006, no open
// (WPT Create-on-worker-shutdown / the oracle's rejected-handshake).
#[test]
fn handshake_failure() {
    let mut ws = new("ws://h/");
    drain_transmits(&mut ws);
    ws.handle_connect_failed(T0, "HTTP 403").unwrap();
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::CloseTransport]);
    assert_eq!(
        drain_events(&mut ws),
        vec![
            (
                Event::Error(FailReason::Handshake("HTTP 403".into())),
                ReadyState::Closed
            ),
            (abnormal(), ReadyState::Closed)
        ]
    );
}

// A connect timeout is a handshake failure (no spec value; our Config).
#[test]
fn connect_timeout() {
    let cfg = Config {
        connect_timeout: Some(Duration::from_secs(5)),
        ..Config::default()
    };
    let mut ws = Connection::<Data>::new("ws://h/", &[] as &[&str], cfg, Duration::from_secs(10)).unwrap();
    drain_transmits(&mut ws);
    assert_eq!(ws.poll_timeout(), Some(Duration::from_secs(15)));
    ws.handle_timeout(Duration::from_secs(14));
    assert!(ws.poll_event().is_none());
    ws.handle_timeout(Duration::from_secs(15));
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::CloseTransport]);
    assert_eq!(ws.poll_event(), Some(Event::Error(FailReason::ConnectTimeout)));
    assert_eq!(ws.poll_timeout(), None);
}

// ---- send and bufferedAmount ------------------------------------------

// WHATWG send() step 1: InvalidStateError while CONNECTING, even after the handshake completed
// but before open was delivered (WPT Send-before-open.any.js).
#[test]
fn send_while_connecting_throws() {
    let mut ws = new("ws://h/");
    assert_eq!(ws.send(text("x")), Err(SendError::InvalidState));
    let mut ws = established();
    assert_eq!(ws.send(text("x")), Err(SendError::InvalidState));
    assert_eq!(ws.buffered_amount(), 0);
}

// WHATWG send(): bufferedAmount grows by the UTF-8 length and shrinks only as bytes are written
// (WPT bufferedAmount-*.any.js), as of the last event-loop turn (a turn here: `handle_turn`).
#[test]
fn buffered_amount_counts_utf8_and_drains_on_write() {
    let mut ws = open();
    ws.send(text("héllo 🌍")).unwrap();
    ws.send(Data::Binary(vec![0; 3])).unwrap();
    assert_eq!(ws.buffered_amount(), 14);
    assert_eq!(drain_transmits(&mut ws).len(), 2);
    ws.handle_written(11).unwrap();
    assert_eq!(ws.unsent_amount(), 3);
    ws.handle_turn();
    assert_eq!(ws.buffered_amount(), 3);
    assert_eq!(
        ws.handle_written(4),
        Err(InputError::WrittenTooMuch {
            reported: 4,
            unwritten: 3
        })
    );
    ws.handle_written(3).unwrap();
    ws.handle_turn();
    assert_eq!(ws.buffered_amount(), 0);
}

// WHATWG bufferedAmount getter: "the number of bytes of application data ... that have been queued
// using send() but that, as of the last time the event loop reached step 1, had not yet been
// transmitted to the network". Within one task a script never sees it fall: twenty sends in a row
// give their full sum however fast the bytes leave; it falls at the next turn (taking or asking for
// an event, or handle_turn), to the unsent count.
#[test]
fn buffered_amount_falls_only_at_an_event_loop_turn() {
    let mut ws = open();
    let mut expected = 0;
    for i in 0..20u64 {
        ws.send(Data::Binary(vec![0; 10])).unwrap();
        expected += 10;
        assert_eq!(ws.buffered_amount(), expected);
        // The driver writes as fast as it can, between the script's statements.
        assert_eq!(drain_transmits(&mut ws).len(), 1);
        ws.handle_written(10).unwrap();
        assert_eq!(ws.buffered_amount(), expected, "send {i}: no turn, no fall");
        assert_eq!(ws.unsent_amount(), 0);
    }
    // Asking for an event is a turn, whether or not one is there.
    assert_eq!(ws.poll_event(), None);
    assert_eq!(ws.buffered_amount(), 0);
    // A turn counts only what was written before it.
    ws.send(text("abc")).unwrap();
    drain_transmits(&mut ws);
    ws.handle_written(1).unwrap();
    ws.handle_turn();
    ws.handle_written(2).unwrap();
    assert_eq!(ws.buffered_amount(), 2);
    ws.handle_turn();
    assert_eq!(ws.buffered_amount(), 0);
}

// WHATWG send(): once the closing handshake started nothing is sent, but bufferedAmount still grows
// and never resets (the oracle's send-after-close: 3, 13, 18; undici stays at 0).
#[test]
fn send_after_close_grows_buffered_amount() {
    let mut ws = open();
    ws.close(T0, None, None).unwrap();
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Close(None)]);
    ws.send(text("abc")).unwrap();
    ws.send(Data::Binary(vec![0; 10])).unwrap();
    assert_eq!(ws.buffered_amount(), 13);
    assert_eq!(drain_transmits(&mut ws), vec![]);
    ws.handle_close_frame(T0, &[]).unwrap();
    ws.handle_transport_closed(T0).unwrap();
    assert_eq!(
        drain_events(&mut ws),
        vec![(close_event(1005, "", true), ReadyState::Closed)]
    );
    ws.send(text("hello")).unwrap();
    assert_eq!(ws.buffered_amount(), 18);
}

// WHATWG send(): "established and the closing handshake has not yet started": after the peer's
// Close arrived, even with readyState still OPEN, nothing is sent.
#[test]
fn send_after_peer_close_is_not_sent() {
    let mut ws = open();
    ws.handle_close_frame(T0, &[0x03, 0xe8]).unwrap();
    assert_eq!(
        drain_transmits(&mut ws),
        vec![Transmit::Close(Some(CloseFrame {
            code: 1000,
            reason: "".into()
        }))]
    );
    assert_eq!(ws.ready_state(), ReadyState::Open);
    ws.send(text("late")).unwrap();
    assert_eq!(drain_transmits(&mut ws), vec![]);
    assert_eq!(ws.buffered_amount(), 4);
}

// Bytes queued before close() are still sent before the Close frame, and still drain.
#[test]
fn data_queued_before_close_goes_first() {
    let mut ws = open();
    ws.send(text("x")).unwrap();
    ws.close(T0, Some(1000), None).unwrap();
    assert_eq!(
        drain_transmits(&mut ws),
        vec![
            Transmit::Message(text("x")),
            Transmit::Close(Some(CloseFrame {
                code: 1000,
                reason: "".into()
            }))
        ]
    );
    ws.handle_written(1).unwrap();
    assert_eq!(ws.buffered_amount(), 1, "until the next event-loop turn");
    ws.handle_turn();
    assert_eq!(ws.buffered_amount(), 0);
}

// WHATWG send(): "flag the WebSocket as full and then close the WebSocket connection"; the close
// event follows an error event ("closed after being flagged as full").
#[test]
fn full_buffer_closes() {
    let cfg = Config {
        max_buffered_amount: Some(4),
        ..Config::default()
    };
    let mut ws = Connection::<Data>::new("ws://h/", &[] as &[&str], cfg, T0).unwrap();
    drain_transmits(&mut ws);
    ws.handle_open(T0, None, None).unwrap();
    ws.poll_event();
    ws.send(text("abcd")).unwrap();
    ws.send(text("e")).unwrap();
    assert_eq!(ws.buffered_amount(), 5);
    assert_eq!(
        drain_transmits(&mut ws),
        vec![Transmit::Message(text("abcd")), Transmit::CloseTransport]
    );
    assert_eq!(drain_events(&mut ws)[0].0, Event::Error(FailReason::BufferFull));
}

// ---- close() ----------------------------------------------------------

// WHATWG close() steps 1-2 run before the state check: bad arguments throw in every state
// (the oracle's close-twice: close(999) throws while CLOSING and after CLOSED).
#[test]
fn close_arguments_checked_in_every_state() {
    let mut ws = new("ws://h/");
    assert_eq!(ws.close(T0, Some(999), None), Err(CloseError::InvalidAccess(999)));
    let mut ws = open();
    assert_eq!(ws.close(T0, Some(1001), None), Err(CloseError::InvalidAccess(1001)));
    assert_eq!(ws.ready_state(), ReadyState::Open);
    ws.close(T0, Some(3001), Some("first")).unwrap();
    assert_eq!(ws.close(T0, Some(999), None), Err(CloseError::InvalidAccess(999)));
    assert_eq!(
        ws.close(T0, Some(1000), Some(&"a".repeat(124))),
        Err(CloseError::Syntax(124))
    );
    // second valid close() is a no-op: only one Close frame
    ws.close(T0, Some(3002), Some("second")).unwrap();
    assert_eq!(
        drain_transmits(&mut ws),
        vec![Transmit::Close(Some(CloseFrame {
            code: 3001,
            reason: "first".into()
        }))]
    );
}

// WHATWG close() step 3.3: reason without code sends 1000 (today's spec; Chromium throws, see
// spec-notes/close-arguments.md); no arguments sends an empty Close frame.
#[test]
fn close_frame_bodies() {
    let mut ws = open();
    ws.close(T0, None, Some("why")).unwrap();
    assert_eq!(
        drain_transmits(&mut ws),
        vec![Transmit::Close(Some(CloseFrame {
            code: 1000,
            reason: "why".into()
        }))]
    );
    let mut ws = open();
    ws.close(T0, None, None).unwrap();
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Close(None)]);
}

// WHATWG close() "not yet established": fail the connection and set CLOSING; error and close 1006
// come later, never synchronously (oracle close-during-connecting; undici deviates, D2).
#[test]
fn close_while_connecting_fails_later() {
    let mut ws = new("ws://h/");
    drain_transmits(&mut ws);
    ws.close(T0, Some(4000), Some("early")).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Closing);
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::CloseTransport]);
    // the handshake completes just after: no going back to OPEN, no open event
    ws.handle_open(T0, None, None).unwrap();
    assert_eq!(
        drain_events(&mut ws),
        vec![
            (Event::Error(FailReason::ClosedWhileConnecting), ReadyState::Closed),
            (abnormal(), ReadyState::Closed)
        ]
    );
}

// close() before the driver even started connecting: nothing touches the network.
#[test]
fn close_before_connect_taken_cancels_connect() {
    let mut ws = new("ws://h/");
    ws.close(T0, None, None).unwrap();
    assert_eq!(drain_transmits(&mut ws), vec![]);
    assert_eq!(drain_events(&mut ws).len(), 2);
}

// Established on the wire but open not yet delivered: the spec's close() branch is "closing
// handshake not started" (wire state), readyState becomes CLOSING, and the open task then does
// nothing (no going back to OPEN).
#[test]
fn close_after_handshake_before_open_delivered() {
    let mut ws = established();
    ws.close(T0, Some(1000), None).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Closing);
    assert_eq!(
        drain_transmits(&mut ws),
        vec![Transmit::Close(Some(CloseFrame {
            code: 1000,
            reason: "".into()
        }))]
    );
    ws.handle_close_frame(T0, &[0x03, 0xe8]).unwrap();
    ws.handle_transport_closed(T0).unwrap();
    assert_eq!(
        drain_events(&mut ws),
        vec![(close_event(1000, "", true), ReadyState::Closed)]
    );
}

// ---- closing handshake ------------------------------------------------

// RFC 6455 §5.5.1, §7.1.5-6: a server Close is echoed (code and reason, as Chromium does); the close
// event reports the server's code after TCP closes, wasClean true; readyState CLOSING in between.
#[test]
fn server_initiated_close() {
    let mut ws = open();
    ws.handle_close_frame(T0, &[0x0f, 0xa1, b'b', b'y', b'e']).unwrap();
    assert_eq!(
        drain_transmits(&mut ws),
        vec![Transmit::Close(Some(CloseFrame {
            code: 4001,
            reason: "bye".into()
        }))]
    );
    assert_eq!(drain_events(&mut ws), vec![]);
    assert_eq!(ws.ready_state(), ReadyState::Closing);
    ws.handle_transport_closed(T0).unwrap();
    assert_eq!(
        drain_events(&mut ws),
        vec![(close_event(4001, "bye", true), ReadyState::Closed)]
    );
}

// RFC 6455 §7.1.5: a Close with no body gives code 1005 (WPT Close-1000-reason? / oracle server-close-nocode).
#[test]
fn server_close_without_code() {
    let mut ws = open();
    ws.handle_close_frame(T0, &[]).unwrap();
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Close(None)]);
    ws.handle_transport_closed(T0).unwrap();
    assert_eq!(
        drain_events(&mut ws),
        vec![(close_event(1005, "", true), ReadyState::Closed)]
    );
}

// Both Close frames cross: the close event reports the code received (RFC 6455 §7.1.5).
#[test]
fn crossing_close_frames() {
    let mut ws = open();
    ws.close(T0, Some(3000), None).unwrap();
    ws.handle_close_frame(T0, &[0x0f, 0xa0]).unwrap();
    assert_eq!(
        drain_transmits(&mut ws),
        vec![Transmit::Close(Some(CloseFrame {
            code: 3000,
            reason: "".into()
        }))]
    );
    ws.handle_transport_closed(T0).unwrap();
    assert_eq!(
        drain_events(&mut ws),
        vec![(close_event(4000, "", true), ReadyState::Closed)]
    );
}

// RFC 6455 §7.4, §5.5.1: invalid Close frames fail the connection with 1002 (1007 for a bad reason).
#[test]
fn invalid_close_frames_fail() {
    let cases: [(&[u8], BadClose, u16); 4] = [
        (&[0x03, 0xed], BadClose::InvalidCode(1005), 1002),
        (&[0x03], BadClose::OneByte, 1002),
        (&[0x03, 0xe8, 0xff], BadClose::InvalidUtf8, 1007),
        (&[0x0b, 0xb7], BadClose::InvalidCode(2999), 1002),
    ];
    for (payload, bad, code) in cases {
        let mut ws = open();
        ws.handle_close_frame(T0, payload).unwrap();
        assert_eq!(
            drain_transmits(&mut ws),
            vec![
                Transmit::Close(Some(CloseFrame {
                    code,
                    reason: "".into()
                })),
                Transmit::CloseTransport
            ]
        );
        assert_eq!(
            drain_events(&mut ws),
            vec![
                (Event::Error(FailReason::BadClose(bad)), ReadyState::Closed),
                (abnormal(), ReadyState::Closed)
            ]
        );
    }
    // 1014 is valid (IANA "Bad Gateway"), though tungstenite rejects it
    let mut ws = open();
    ws.handle_close_frame(T0, &[0x03, 0xf6]).unwrap();
    ws.handle_transport_closed(T0).unwrap();
    assert_eq!(
        drain_events(&mut ws),
        vec![(close_event(1014, "", true), ReadyState::Closed)]
    );
}

// RFC 6455 §7.1.1: the client waits for the server to close TCP, bounded by our timeout. A peer
// that never answers our Close is cut off: 1006, not clean, and no error event (we closed it).
#[test]
fn closing_timeout_without_reply() {
    let mut ws = open();
    ws.close(Duration::from_secs(1), Some(1000), Some("bye")).unwrap();
    drain_transmits(&mut ws);
    assert_eq!(ws.poll_timeout(), Some(Duration::from_secs(3)));
    ws.handle_timeout(Duration::from_secs(3));
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::CloseTransport]);
    assert_eq!(drain_events(&mut ws), vec![(abnormal(), ReadyState::Closed)]);
    assert_eq!(ws.poll_timeout(), None);
}

// ... and a peer that sent its Close but never closes TCP: the handshake did complete, so clean.
#[test]
fn closing_timeout_after_handshake_is_clean() {
    let mut ws = open();
    ws.handle_close_frame(T0, &[0x03, 0xe8]).unwrap();
    drain_transmits(&mut ws);
    ws.handle_timeout(Duration::from_secs(2));
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::CloseTransport]);
    assert_eq!(
        drain_events(&mut ws),
        vec![(close_event(1000, "", true), ReadyState::Closed)]
    );
}

// ---- failures and events ----------------------------------------------

// RFC 6455 §7.2.1: transport lost without a closing handshake fails the connection: error, then
// close 1006 (Chromium fires no error here: spec-notes/failures.md).
#[test]
fn transport_lost_fails() {
    for closing in [false, true] {
        let mut ws = open();
        if closing {
            ws.close(T0, None, None).unwrap();
        }
        drain_transmits(&mut ws);
        ws.handle_transport_closed(T0).unwrap();
        assert_eq!(drain_transmits(&mut ws), vec![], "transport is gone: nothing to send");
        assert_eq!(
            drain_events(&mut ws),
            vec![
                (Event::Error(FailReason::TransportLost), ReadyState::Closed),
                (abnormal(), ReadyState::Closed)
            ]
        );
    }
}

// RFC 6455 §7.2.1 as above, with the transport's error kept (ours: which error broke it).
#[test]
fn a_transport_error_fails_with_its_cause_kept() {
    let reset = || {
        wsapi_model::TransportError::new(
            wsapi_model::TransportLayer::Tcp,
            "example.com:80",
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by the user's stream"),
        )
    };
    let mut ws = open();
    ws.handle_transport_error(T0, reset()).unwrap();
    assert_eq!(drain_transmits(&mut ws), vec![], "transport is gone: nothing to send");
    let events = drain_events(&mut ws);
    assert_eq!(events[1], (abnormal(), ReadyState::Closed));
    let Event::Error(why @ FailReason::TransportBroken(e)) = &events[0].0 else {
        panic!("{events:?}")
    };
    assert_eq!(e.io_error_kind(), Some(std::io::ErrorKind::ConnectionReset));
    assert_eq!(why.kind(), "transport_broken");
    assert!(why.to_string().contains("reset by the user's stream"), "{why}");
    // After the server's Close frame, an error is the end of the stream.
    let mut ws = open();
    ws.handle_close_frame(T0, &[0x03, 0xe8]).unwrap();
    ws.handle_transport_error(T0, reset()).unwrap();
    let events = drain_events(&mut ws);
    assert!(events.iter().all(|(e, _)| !matches!(e, Event::Error(_))), "{events:?}");
    assert!(matches!(events.last(), Some((Event::Close(c), _)) if c.was_clean && c.code == 1000));
}

// RFC 6455 §8.1 (1007), §7.4.1 (1009, 1002): protocol errors fail with the right code.
#[test]
fn protocol_errors_send_their_codes() {
    for (reason, code) in [
        (FailReason::InvalidUtf8, 1007),
        (FailReason::MessageTooBig, 1009),
        (FailReason::Protocol("reserved opcode".into()), 1002),
    ] {
        let mut ws = open();
        ws.handle_protocol_error(T0, reason.clone()).unwrap();
        assert_eq!(
            drain_transmits(&mut ws),
            vec![
                Transmit::Close(Some(CloseFrame {
                    code,
                    reason: "".into()
                })),
                Transmit::CloseTransport
            ]
        );
        assert_eq!(drain_events(&mut ws)[0].0, Event::Error(reason));
    }
}

// WHATWG "a WebSocket message has been received": messages queued before a failure are still
// delivered (readyState is OPEN when their task runs); the error event sees CLOSED.
#[test]
fn messages_before_failure_are_delivered() {
    let mut ws = open();
    ws.handle_message(T0, text("a")).unwrap();
    ws.handle_protocol_error(T0, FailReason::InvalidUtf8).unwrap();
    ws.handle_message(T0, text("after")).unwrap();
    let events = drain_events(&mut ws);
    assert_eq!(events[0], (text_message("a"), ReadyState::Open));
    assert_eq!(events[1], (Event::Error(FailReason::InvalidUtf8), ReadyState::Closed));
    assert_eq!(events[2], (abnormal(), ReadyState::Closed));
    assert_eq!(events.len(), 3);
}

// WHATWG message task step 1: "If readyState is not OPEN, then return": messages delivered after
// close() are dropped (oracle message-while-closing).
#[test]
fn messages_after_close_call_are_dropped() {
    let mut ws = open();
    ws.handle_message(T0, text("queued")).unwrap();
    ws.close(T0, Some(1000), None).unwrap();
    ws.handle_message(T0, text("while closing")).unwrap();
    ws.handle_close_frame(T0, &[0x03, 0xe8]).unwrap();
    ws.handle_transport_closed(T0).unwrap();
    assert_eq!(
        drain_events(&mut ws),
        vec![(close_event(1000, "", true), ReadyState::Closed)]
    );
}

// Messages received before the server's Close are delivered, with readyState still OPEN; data after
// the server's Close is ignored (RFC 6455 §5.5.1).
#[test]
fn messages_before_server_close_delivered() {
    let mut ws = open();
    ws.handle_message(T0, text("a")).unwrap();
    ws.handle_close_frame(T0, &[]).unwrap();
    ws.handle_message(T0, text("after close")).unwrap();
    ws.handle_transport_closed(T0).unwrap();
    let events = drain_events(&mut ws);
    assert_eq!(events[0], (text_message("a"), ReadyState::Open));
    assert_eq!(events[1], (close_event(1005, "", true), ReadyState::Closed));
    assert_eq!(events.len(), 2);
}

// WHATWG message task step 2: binaryType is read when the message is delivered.
#[test]
fn binary_type_read_at_delivery() {
    let mut ws = open();
    ws.handle_message(T0, Data::Binary(vec![1])).unwrap();
    ws.set_binary_type(wsapi_model::BinaryType::ArrayBuffer);
    assert_eq!(
        ws.poll_event(),
        Some(Event::Message {
            data: Data::Binary(vec![1]),
            binary_type: Some(wsapi_model::BinaryType::ArrayBuffer)
        })
    );
}

// Exactly one close event, even when several endings race.
#[test]
fn one_close_event_when_endings_race() {
    let mut ws = open();
    ws.close(T0, None, None).unwrap();
    ws.handle_transport_closed(T0).unwrap();
    ws.handle_timeout(Duration::from_secs(100));
    ws.handle_protocol_error(T0, FailReason::InvalidUtf8).unwrap();
    let events = drain_events(&mut ws);
    assert_eq!(events.iter().filter(|(e, _)| matches!(e, Event::Close(_))).count(), 1);
    assert!(!ws.is_finished(), "the Close frame is still to be transmitted");
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Close(None)]);
    assert!(ws.is_finished());
    assert_eq!(ws.phase(), Phase::Closed);
}

// Driver misuse gives typed errors and changes nothing.
#[test]
fn driver_misuse_is_an_error() {
    let mut ws = new("ws://h/");
    assert_eq!(
        ws.handle_open(T0, None, None),
        Err(InputError::NotConnecting),
        "Connect not taken yet"
    );
    drain_transmits(&mut ws);
    assert_eq!(ws.handle_message(T0, text("x")), Err(InputError::NotOpen));
    assert_eq!(ws.handle_close_frame(T0, &[]), Err(InputError::NotOpen));
    ws.handle_open(T0, None, None).unwrap();
    assert_eq!(ws.handle_open(T0, None, None), Err(InputError::NotConnecting));
    assert_eq!(ws.handle_connect_failed(T0, "x"), Err(InputError::NotConnecting));
    assert_eq!(ws.poll_event(), Some(Event::Open));
}

// ---- guards found by cargo-mutants ------------------------------------

// Attribute getters and error names.
#[test]
fn getters_and_names() {
    let mut ws = open();
    assert_eq!(ws.binary_type(), wsapi_model::BinaryType::Blob);
    ws.set_binary_type(wsapi_model::BinaryType::ArrayBuffer);
    assert_eq!(ws.binary_type(), wsapi_model::BinaryType::ArrayBuffer);
    assert_eq!(ws.config().closing_timeout, Some(Duration::from_secs(2)));
    assert_eq!(SendError::InvalidState.dom_exception(), "InvalidStateError");
    assert!(!ws.has_pending_events());
    ws.handle_message(T0, text("x")).unwrap();
    assert!(ws.has_pending_events());
}

// WHATWG "close the WebSocket" step 1: close() once CLOSED does nothing (readyState stays CLOSED).
#[test]
fn close_after_closed_changes_nothing() {
    let mut ws = open();
    ws.handle_transport_closed(T0).unwrap();
    drain_events(&mut ws);
    assert_eq!(ws.ready_state(), ReadyState::Closed);
    ws.close(T0, Some(1000), None).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Closed);
    assert_eq!(drain_transmits(&mut ws), vec![]);
}

// WHATWG "close the WebSocket" step 4: the peer's Close arrived (its task not yet run):
// close() sets CLOSING and sends nothing more; likewise once the transport is gone.
#[test]
fn close_after_the_closing_handshake_started_sends_nothing() {
    let mut ws = open();
    ws.handle_close_frame(T0, &[0x03, 0xe8]).unwrap();
    drain_transmits(&mut ws);
    ws.close(T0, Some(3000), None).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Closing);
    assert_eq!(drain_transmits(&mut ws), vec![]);

    let mut ws = open();
    ws.handle_transport_closed(T0).unwrap();
    ws.close(T0, Some(3000), None).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Closing);
    assert_eq!(
        drain_transmits(&mut ws),
        vec![],
        "no Close frame on a transport that is gone"
    );
}

// Late handshake outcomes: accepted (ignored) after close() during CONNECTING, refused
// (driver misuse) once the connection had been established, or before Connect was taken.
#[test]
fn late_handshake_outcomes() {
    let mut ws = new("ws://h/");
    assert_eq!(
        ws.handle_connect_failed(T0, "x"),
        Err(InputError::NotConnecting),
        "Connect not taken"
    );
    drain_transmits(&mut ws);
    ws.close(T0, None, None).unwrap();
    assert_eq!(ws.handle_connect_failed(T0, "late"), Ok(()));
    assert_eq!(ws.handle_open(T0, None, None), Ok(()));

    let mut ws = open();
    ws.handle_transport_closed(T0).unwrap();
    assert_eq!(ws.handle_open(T0, None, None), Err(InputError::NotConnecting));
    assert_eq!(ws.handle_connect_failed(T0, "x"), Err(InputError::NotConnecting));
}

// RFC 6455 §5.5.1: after the peer's Close, data and protocol errors are ignored, a second Close
// changes nothing, and nothing is queued (no memory held for messages that cannot be delivered).
#[test]
fn nothing_counts_after_the_peers_close() {
    let mut ws = open();
    ws.handle_close_frame(T0, &[0x0f, 0xa1]).unwrap();
    ws.handle_message(T0, text("late")).unwrap();
    assert_eq!(ws.queued_message_bytes(), 0);
    ws.handle_protocol_error(T0, FailReason::InvalidUtf8).unwrap();
    ws.handle_close_frame(T0, &[0x0f, 0xa2]).unwrap();
    ws.handle_transport_closed(T0).unwrap();
    assert_eq!(
        drain_events(&mut ws),
        vec![(close_event(4001, "", true), ReadyState::Closed)]
    );

    // Once readyState left OPEN (close() called), received data is not kept either.
    let mut ws = open();
    ws.close(T0, None, None).unwrap();
    ws.handle_message(T0, text("late")).unwrap();
    assert_eq!(ws.queued_message_bytes(), 0);
}

// A timeout with no timer due changes nothing.
#[test]
fn early_timeouts_do_nothing() {
    let mut ws = open();
    assert_eq!(ws.poll_timeout(), None);
    ws.handle_timeout(Duration::from_secs(1_000_000));
    assert_eq!(ws.ready_state(), ReadyState::Open);
    assert_eq!(drain_transmits(&mut ws), vec![]);
    assert!(drain_events(&mut ws).is_empty());
}

// The IDL values (WHATWG: CONNECTING 0 ... CLOSED 3; binaryType "blob" / "arraybuffer").
#[test]
fn idl_values() {
    use wsapi_model::BinaryType;
    let states = [
        ReadyState::Connecting,
        ReadyState::Open,
        ReadyState::Closing,
        ReadyState::Closed,
    ];
    assert_eq!(states.map(ReadyState::as_u16), [0, 1, 2, 3]);
    assert_eq!(BinaryType::parse("blob"), Some(BinaryType::Blob));
    assert_eq!(BinaryType::parse("arraybuffer"), Some(BinaryType::ArrayBuffer));
    assert_eq!(BinaryType::parse("Blob"), None, "enum values are case-sensitive");
    assert_eq!(BinaryType::Blob.as_str(), "blob");
    assert_eq!(BinaryType::ArrayBuffer.as_str(), "arraybuffer");
}

// Extensions: only offered ones, each once (RFC 6455 §9.1).
#[test]
fn extension_names_must_be_offered_once() {
    let cfg = || Config {
        offered_extensions: vec!["permessage-deflate".into()],
        ..Config::default()
    };
    for (ext, ok) in [
        ("permessage-deflate", true),
        ("permessage-deflate; server_max_window_bits=12", true),
        ("", true),
        ("permessage-deflate, permessage-deflate", false),
        ("x-other", false),
        ("permessage-deflate, x-other", false),
        // RFC 7230 §7: empty list elements are ignored.
        ("permessage-deflate, ,", true),
    ] {
        let mut ws = Connection::<Data>::new("ws://h/", &[] as &[&str], cfg(), T0).unwrap();
        drain_transmits(&mut ws);
        ws.handle_open(T0, None, Some(ext)).unwrap();
        assert_eq!(ws.poll_event() == Some(Event::Open), ok, "{ext:?}");
    }
}

// The journal: inputs as values, and a replay that notices a different history.
#[test]
fn journal_replay_detects_divergence() {
    use wsapi_model::{replay, Input, Refusal, Step};
    let mut ws = new("ws://h/");
    assert_eq!(
        ws.handle_input(T0, Input::Send(text("x"))),
        Err(Refusal::Send(SendError::InvalidState))
    );
    assert_eq!(
        ws.handle_input(
            T0,
            Input::Close {
                code: Some(1),
                reason: None
            }
        ),
        Err(Refusal::Close(wsapi_model::CloseError::InvalidAccess(1)))
    );
    let good: Vec<Step<Data>> = vec![
        Step::Transmit(Some(Transmit::QueueForHost(wsapi_model::HostKey {
            host: "h".into(),
            port: 80,
        }))),
        Step::Input {
            now: T0,
            input: Input::HostSlot,
            result: Ok(()),
        },
        Step::Transmit(Some(Transmit::Connect {
            url: Box::new(ws.url().clone()),
            protocols: vec![],
        })),
        Step::Input {
            now: T0,
            input: Input::Open {
                protocol: None,
                extensions: None,
            },
            result: Ok(()),
        },
        Step::Event(Some(Event::Open)),
    ];
    let replayed = replay("ws://h/", &[] as &[&str], Config::default(), T0, &good)
        .unwrap()
        .unwrap();
    assert_eq!(replayed.ready_state(), ReadyState::Open);
    let mut bad = good.clone();
    bad[4] = Step::Event(None);
    let d = replay("ws://h/", &[] as &[&str], Config::default(), T0, &bad)
        .unwrap()
        .unwrap_err();
    assert_eq!((d.index, d.replayed), (4, Step::Event(Some(Event::Open))));
}

// A failure after our Close was sent sends no second Close frame (RFC 6455 §5.5.1: one Close).
#[test]
fn failing_after_our_close_sends_no_second_close() {
    let mut ws = open();
    ws.close(T0, None, None).unwrap();
    ws.handle_protocol_error(T0, FailReason::InvalidUtf8).unwrap();
    assert_eq!(
        drain_transmits(&mut ws),
        vec![Transmit::Close(None), Transmit::CloseTransport]
    );
}

// The configuration given is the one kept; queued bytes count undelivered messages.
#[test]
fn config_and_queued_bytes() {
    let cfg = Config {
        closing_timeout: Some(Duration::from_secs(7)),
        ..Config::default()
    };
    let mut ws = Connection::<Data>::new("ws://h/", &[] as &[&str], cfg, T0).unwrap();
    assert_eq!(ws.config().closing_timeout, Some(Duration::from_secs(7)));
    drain_transmits(&mut ws);
    ws.handle_open(T0, None, None).unwrap();
    ws.poll_event();
    ws.handle_message(T0, text("abc")).unwrap();
    assert_eq!(ws.queued_message_bytes(), 3);
    ws.poll_event();
    assert_eq!(ws.queued_message_bytes(), 0);
}

/// `Input::reads_clock`: an input that says it ignores the time must give
/// the same connection at any two times; each one that says it reads the
/// time must make a difference in some state (else the flag is wrong).
#[test]
fn inputs_that_do_not_read_the_clock_ignore_it() {
    use wsapi_model::Input;
    let config = Config {
        closing_timeout: Some(Duration::from_secs(1)),
        connect_timeout: Some(Duration::from_secs(1)),
        ..Config::default()
    };
    let connecting = || {
        let mut ws = Connection::<Data>::new("ws://example.com/", &[] as &[&str], config.clone(), T0).unwrap();
        drain_transmits(&mut ws);
        ws
    };
    let opened = || {
        let mut ws = connecting();
        ws.handle_open(T0, None, None).unwrap();
        ws.poll_event();
        ws
    };
    let closing = || {
        let mut ws = opened();
        ws.close(T0, None, None).unwrap();
        ws
    };
    // Keep-alive (ours, off by default) reads the time of the handshake and of frames.
    let keep_alive = || {
        let config = Config {
            keep_alive: Some(wsapi_model::KeepAlive {
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
            }),
            ..config.clone()
        };
        let mut ws = Connection::<Data>::new("ws://example.com/", &[] as &[&str], config, T0).unwrap();
        drain_transmits(&mut ws);
        ws
    };
    let keep_alive_opened = || {
        let mut ws = keep_alive();
        ws.handle_open(T0, None, None).unwrap();
        ws.poll_event();
        ws
    };
    let states: Vec<Connection<Data>> = vec![connecting(), opened(), closing(), keep_alive(), keep_alive_opened()];
    let inputs: Vec<Input<Data>> = vec![
        Input::Send(text("abc")),
        Input::Close {
            code: None,
            reason: None,
        },
        Input::Close {
            code: Some(1000),
            reason: Some("r".into()),
        },
        Input::SetBinaryType(wsapi_model::BinaryType::ArrayBuffer),
        Input::Ping(b"p".to_vec()),
        Input::Open {
            protocol: None,
            extensions: None,
        },
        Input::ConnectFailed("refused".into()),
        Input::HostSlot,
        Input::Response {
            key: "k".into(),
            response: Box::default(),
        },
        Input::Message(text("m")),
        Input::CloseFrame(vec![0x03, 0xe8]),
        Input::ProtocolError(FailReason::InvalidUtf8),
        Input::TransportClosed,
        Input::TransportError(wsapi_model::TransportError::new(
            wsapi_model::TransportLayer::Tcp,
            "h:1",
            std::io::Error::other("x"),
        )),
        Input::ReadStalled(true),
        Input::Written(0),
        Input::DriverStopped("gone".into()),
        Input::Timeout,
        Input::Received,
    ];
    let (early, late) = (Duration::from_millis(10), Duration::from_secs(5));
    for input in inputs {
        let mut differs_somewhere = false;
        for state in &states {
            let (mut a, mut b) = (state.clone(), state.clone());
            let ra = a.handle_input(early, input.clone());
            let rb = b.handle_input(late, input.clone());
            assert_eq!(ra, rb, "{input:?}");
            differs_somewhere |= a != b;
            if !input.reads_clock() {
                assert_eq!(a, b, "{input:?} in {state:?} depends on the time");
            }
        }
        assert_eq!(differs_somewhere, input.reads_clock(), "{input:?}");
    }
}
