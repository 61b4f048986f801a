//! The async client against misbehaving servers (issue: every protocol
//! error the model names fails with the code it names; nothing hangs).

use std::time::Duration;

use wsapi::runtime::block_on;
use wsapi::{Event, FailReason, ReadyState, WebSocket};
use wsapi_model::HandshakeFailure;
use wsapi_props::server::{Action, Handshake, Log, ProtocolChoice, Received, Script, Server};

/// Runs `script` and returns the client's events (with readyState after
/// each) and the server's log. The client offers `protocols`, uses a 300 ms
/// closing timeout and a 16 KiB message limit.
fn run(script: Script, protocols: &[&str], client: impl FnOnce(&WebSocket)) -> (Vec<(Event, ReadyState)>, Log) {
    let server = Server::start(vec![script]).expect("server");
    let ws = WebSocket::builder(&format!("{}/hostile", server.base()))
        .protocols(protocols)
        .closing_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_secs(5))
        .max_message_size(Some(16 * 1024))
        .connect()
        .expect("valid URL");
    client(&ws);
    let events = block_on(async {
        let mut out = Vec::new();
        let limit = wsapi::runtime::sleep(Duration::from_secs(15));
        let collect = async {
            while let Some(e) = ws.next_event().await {
                out.push((e, ws.ready_state()));
            }
        };
        match futures::future::select(Box::pin(collect), limit).await {
            futures::future::Either::Left(_) => {}
            futures::future::Either::Right(_) => panic!("no close event within 15 s"),
        }
        out
    });
    drop(ws);
    let log = server.next_log().expect("the server thread ended");
    (events, log)
}

fn kinds(events: &[(Event, ReadyState)]) -> Vec<&'static str> {
    events.iter().map(|(e, _)| e.type_name()).collect()
}

fn close_of(events: &[(Event, ReadyState)]) -> (u16, String, bool) {
    match events.last() {
        Some((Event::Close(c), ReadyState::Closed)) => (c.code, c.reason.clone(), c.was_clean),
        other => panic!("last event is not close: {other:?} in {events:?}"),
    }
}

fn error_of(events: &[(Event, ReadyState)]) -> FailReason {
    match events.iter().find(|(e, _)| matches!(e, Event::Error(_))) {
        Some((Event::Error(r), ReadyState::Closed)) => r.clone(),
        other => panic!("no error event seen with readyState CLOSED: {other:?} in {events:?}"),
    }
}

fn server_got_close(log: &Log) -> Option<(u16, String)> {
    log.received.iter().find_map(|r| match r {
        Received::Close(c) => c.clone(),
        _ => None,
    })
}

/// Sends `bytes` raw after the handshake; expects error + close 1006 and the
/// server to receive a Close with `code`.
fn fails_with(bytes: Vec<u8>, code: u16) -> FailReason {
    let (events, log) = run(Script::accept(vec![Action::Raw(bytes)]), &[], |_| {});
    assert_eq!(kinds(&events), ["open", "error", "close"], "{events:?}");
    assert_eq!(close_of(&events), (1006, String::new(), false));
    assert_eq!(server_got_close(&log).map(|c| c.0), Some(code), "{log:?}");
    error_of(&events)
}

#[test]
fn invalid_utf8_text_fails_with_1007() {
    assert_eq!(fails_with(vec![0x81, 0x02, 0xc3, 0x28], 1007), FailReason::InvalidUtf8);
}

#[test]
fn reserved_opcode_fails_with_1002() {
    assert!(matches!(fails_with(vec![0x83, 0x00], 1002), FailReason::Protocol(_)));
}

#[test]
fn masked_server_frame_fails_with_1002() {
    assert!(matches!(
        fails_with(vec![0x81, 0x81, 1, 2, 3, 4, b'a' ^ 1], 1002),
        FailReason::Protocol(_)
    ));
}

#[test]
fn fragmented_ping_fails_with_1002() {
    assert!(matches!(fails_with(vec![0x09, 0x00], 1002), FailReason::Protocol(_)));
}

#[test]
fn reserved_bits_fail_with_1002() {
    // RSV2 set: no extension defines it.
    assert!(matches!(
        fails_with(vec![0xa1, 0x01, b'a'], 1002),
        FailReason::Protocol(_)
    ));
}

#[test]
fn oversized_message_fails_with_1009() {
    let (events, log) = run(Script::accept(vec![Action::Binary(vec![7; 20 * 1024])]), &[], |_| {});
    assert_eq!(kinds(&events), ["open", "error", "close"]);
    assert_eq!(error_of(&events), FailReason::MessageTooBig);
    assert_eq!(server_got_close(&log).map(|c| c.0), Some(1009));
}

#[test]
fn invalid_close_codes_fail_with_1002() {
    for payload in [
        vec![0x03, 0xed],
        vec![0x03, 0xee],
        vec![0x03, 0xe7],
        vec![0x0b, 0xb7],
        vec![0x13, 0x88],
        vec![3],
    ] {
        let (events, log) = run(Script::accept(vec![Action::CloseRaw(payload.clone())]), &[], |_| {});
        assert_eq!(kinds(&events), ["open", "error", "close"], "{payload:?}");
        assert!(matches!(error_of(&events), FailReason::BadClose(_)));
        assert_eq!(server_got_close(&log).map(|c| c.0), Some(1002), "{payload:?}");
    }
}

#[test]
fn close_reason_not_utf8_fails_with_1007() {
    let (events, log) = run(
        Script::accept(vec![Action::CloseRaw(vec![0x03, 0xe8, 0xff, 0xfe])]),
        &[],
        |_| {},
    );
    assert_eq!(kinds(&events), ["open", "error", "close"]);
    assert_eq!(server_got_close(&log).map(|c| c.0), Some(1007));
}

#[test]
fn valid_close_codes_are_echoed_even_those_tungstenite_rejects() {
    for code in [1000u16, 1001, 1003, 1011, 1012, 1013, 1014, 3000, 4999] {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice("bye é".as_bytes());
        let (events, log) = run(Script::accept(vec![Action::CloseRaw(payload)]), &[], |_| {});
        assert_eq!(kinds(&events), ["open", "close"], "{code}");
        assert_eq!(close_of(&events), (code, "bye é".to_string(), true));
        assert_eq!(
            server_got_close(&log),
            Some((code, "bye é".to_string())),
            "echo of {code}"
        );
    }
}

#[test]
fn empty_close_is_1005_and_echoed_empty() {
    let (events, log) = run(Script::accept(vec![Action::CloseRaw(vec![])]), &[], |_| {});
    assert_eq!(close_of(&events), (1005, String::new(), true));
    assert!(log.received.contains(&Received::Close(None)), "{log:?}");
}

#[test]
fn data_after_the_servers_close_is_ignored() {
    let script = Script::accept(vec![
        Action::Text("before".into()),
        Action::CloseRaw(vec![0x03, 0xe8]),
        Action::Text("after".into()),
        Action::Raw(vec![0x83, 0x00]),
    ]);
    let (events, _) = run(script, &[], |_| {});
    assert_eq!(kinds(&events), ["open", "message", "close"]);
    assert_eq!(close_of(&events), (1000, String::new(), true));
}

#[test]
fn server_drop_and_reset_fail_the_connection() {
    for action in [Action::DropTcp, Action::ResetTcp] {
        let (events, _) = run(
            Script::accept(vec![Action::Text("x".into()), action.clone()]),
            &[],
            |_| {},
        );
        // RFC 6455 §7.2.1 (Chromium fires no error here: spec-notes/failures.md).
        assert_eq!(kinds(&events), ["open", "message", "error", "close"], "{action:?}");
        assert_eq!(error_of(&events), FailReason::TransportLost);
        assert_eq!(close_of(&events), (1006, String::new(), false));
    }
}

#[test]
fn a_peer_that_never_answers_our_close_is_cut_off() {
    let script = Script {
        actions: vec![
            Action::AwaitClose { reply: false },
            Action::Sleep(Duration::from_secs(3)),
        ],
        ..Script::accept(vec![])
    };
    let (events, log) = run(script, &[], |ws| {
        block_on(async {
            assert_eq!(ws.next_event().await, Some(Event::Open));
        });
        ws.close(Some(1000), Some("bye")).unwrap();
    });
    // Our closing timeout (300 ms) fires before the server's 3 s: no error.
    assert_eq!(kinds(&events), ["close"]);
    assert_eq!(close_of(&events), (1006, String::new(), false));
    assert_eq!(server_got_close(&log), Some((1000, "bye".into())));
}

#[test]
fn a_peer_that_sends_close_but_keeps_tcp_open_is_closed_cleanly() {
    let script = Script {
        actions: vec![
            Action::CloseRaw(vec![0x0f, 0xa0]),
            Action::Sleep(Duration::from_secs(2)),
        ],
        finish_reading: false,
        ..Script::accept(vec![])
    };
    let (events, _) = run(script, &[], |_| {});
    assert_eq!(kinds(&events), ["open", "close"]);
    assert_eq!(close_of(&events), (4000, String::new(), true));
}

#[test]
fn pings_are_answered() {
    let (events, log) = run(
        Script::accept(vec![
            Action::Ping(b"p".to_vec()),
            Action::Echo(1),
            Action::CloseRaw(vec![0x03, 0xe8]),
        ]),
        &[],
        |ws| {
            block_on(async {
                assert_eq!(ws.next_event().await, Some(Event::Open));
            });
            ws.send("after ping").unwrap();
        },
    );
    assert_eq!(kinds(&events), ["message", "close"]);
    assert!(log.received.contains(&Received::Control(0xA)), "pong received: {log:?}");
}

#[test]
fn handshake_failures() {
    let cases = [
        (Handshake::Reject(403), vec![]),
        (Handshake::BadAcceptKey, vec![]),
        (
            Handshake::Accept {
                protocol: ProtocolChoice::Named("other".into()),
                extensions: None,
            },
            vec!["chat"],
        ),
        (
            Handshake::Accept {
                protocol: ProtocolChoice::Named("Chat".into()),
                extensions: None,
            },
            vec!["chat"],
        ),
        (
            Handshake::Accept {
                protocol: ProtocolChoice::Named("chat".into()),
                extensions: None,
            },
            vec![],
        ),
        (
            Handshake::Accept {
                protocol: ProtocolChoice::None,
                extensions: None,
            },
            vec!["chat"],
        ),
        (
            Handshake::Accept {
                protocol: ProtocolChoice::FirstOffered,
                extensions: Some("x-unknown".into()),
            },
            vec![],
        ),
    ];
    let reasons = [
        HandshakeFailure::Rejected {
            status: 403,
            response: Box::default(),
        },
        HandshakeFailure::WrongAccept(String::new()),
        HandshakeFailure::ProtocolNotOffered("other".into()),
        HandshakeFailure::ProtocolNotOffered("Chat".into()),
        HandshakeFailure::ProtocolNotOffered("chat".into()),
        HandshakeFailure::ProtocolMissing,
        HandshakeFailure::ExtensionNotOffered("x-unknown".into()),
    ];
    for ((handshake, protocols), reason) in cases.into_iter().zip(reasons) {
        let script = Script {
            handshake: handshake.clone(),
            actions: vec![],
            finish_reading: true,
        };
        let (events, _) = run(script, &protocols, |_| {});
        assert_eq!(kinds(&events), ["error", "close"], "{handshake:?} {protocols:?}");
        assert_eq!(close_of(&events), (1006, String::new(), false));
        let FailReason::Handshake(got) = error_of(&events) else {
            panic!("not a handshake failure: {events:?}")
        };
        assert_eq!(
            std::mem::discriminant(&got),
            std::mem::discriminant(&reason),
            "{handshake:?}: {got:?}"
        );
    }
}

#[test]
fn messages_before_a_failure_are_delivered() {
    let script = Script::accept(vec![Action::Text("one".into()), Action::Raw(vec![0x81, 0x01, 0xff])]);
    let (events, _) = run(script, &[], |_| {});
    assert_eq!(kinds(&events), ["open", "message", "error", "close"]);
}

// ---- the opening handshake's response, judged by the model (RFC 6455 §4.1) ----

/// A 101 response head with these extra field lines (`{accept}`: the right
/// `Sec-WebSocket-Accept`, filled in by the server), then `after` in the
/// same write.
fn raw_101(fields: &str, after: &str) -> Handshake {
    Handshake::Raw(format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n{fields}\r\n{after}"
    ))
}

fn raw_script(handshake: Handshake, actions: Vec<Action>) -> Script {
    Script {
        handshake,
        actions,
        finish_reading: true,
    }
}

/// The handshake failure of a run that must fail before `open`.
fn handshake_failure(handshake: Handshake, protocols: &[&str]) -> HandshakeFailure {
    let (events, _) = run(raw_script(handshake, vec![]), protocols, |_| {});
    assert_eq!(kinds(&events), ["error", "close"], "{events:?}");
    assert_eq!(close_of(&events), (1006, String::new(), false));
    match error_of(&events) {
        FailReason::Handshake(why) => why,
        other => panic!("not a handshake failure: {other:?}"),
    }
}

// RFC 6455 §4.1: `Connection` must *contain* the token Upgrade (a token list,
// RFC 7230 §6.1); browsers accept `keep-alive, Upgrade` (tungstenite did not).
#[test]
fn connection_keep_alive_upgrade_is_accepted() {
    let handshake = raw_101(
        "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n",
        "",
    );
    let actions = vec![Action::Text("hi".into()), Action::CloseRaw(vec![0x03, 0xe8])];
    let (events, _) = run(raw_script(handshake, actions), &[], |_| {});
    assert_eq!(kinds(&events), ["open", "message", "close"], "{events:?}");
}

// Frames the server sends in the same write as its 101 are not lost: the
// client reads the head only up to its end. (The head is a string, and a
// final frame's first byte is not ASCII: the first fragment of "hi" rides
// with the head, the empty final fragment follows in a write of its own.)
#[test]
fn a_frame_in_the_same_write_as_the_101_is_delivered() {
    let handshake = raw_101(
        "Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n",
        "\x01\x02hi",
    );
    let actions = vec![Action::Raw(vec![0x80, 0x00]), Action::CloseRaw(vec![0x03, 0xe8])];
    let (events, _) = run(raw_script(handshake, actions), &[], |_| {});
    assert_eq!(kinds(&events), ["open", "message", "close"], "{events:?}");
    assert!(
        matches!(&events[1].0, Event::Message(m) if m.data == wsapi::Message::Text("hi".into())),
        "{events:?}"
    );
}

// RFC 6455 §11.3.3: Sec-WebSocket-Accept "MUST NOT appear more than once"; a
// second field fails even when the first holds the right value.
#[test]
fn accept_twice_fails_even_with_the_right_value_first() {
    let handshake = raw_101(
        "Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Accept: {accept}\r\n",
        "",
    );
    assert_eq!(handshake_failure(handshake, &[]), HandshakeFailure::AcceptCount(2));
}

// RFC 6455 §11.3.4: Sec-WebSocket-Protocol "MUST NOT appear more than once".
#[test]
fn protocol_twice_fails() {
    let handshake = raw_101(
        "Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n",
        "",
    );
    assert_eq!(
        handshake_failure(handshake, &["chat"]),
        HandshakeFailure::ProtocolRepeated
    );
}

// RFC 7230 §3.2.2: field lines of one name form one list, so an extension
// that was never offered on the second Sec-WebSocket-Extensions line fails
// the connection (RFC 6455 §4.1 item 5); it was ignored before.
#[test]
fn an_unoffered_extension_on_a_second_extensions_line_fails() {
    let handshake = raw_101(
        "Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\
         Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Extensions: x-unknown\r\n",
        "",
    );
    assert_eq!(
        handshake_failure(handshake, &[]),
        HandshakeFailure::ExtensionNotOffered("x-unknown".into())
    );
}

// RFC 6455 §4.1 item 1: a status other than 101 fails; the failure carries
// the status, the header fields and the start of the body that arrived.
#[test]
fn a_rejected_upgrade_carries_status_headers_and_body() {
    let handshake = Handshake::Raw("HTTP/1.1 403 Forbidden\r\nX-Why: nope\r\nContent-Length: 7\r\n\r\ngo away".into());
    let HandshakeFailure::Rejected { status, response } = handshake_failure(handshake, &[]) else {
        panic!("not a rejected upgrade")
    };
    assert_eq!(status, 403);
    let headers = &response.headers;
    assert!(
        headers.contains(&("X-Why".to_string(), b"nope".to_vec())),
        "{headers:?}"
    );
    // As much of the body as arrived with the head (one write: in practice all).
    assert!(b"go away".starts_with(&response.body), "{:?}", response.body);
}
