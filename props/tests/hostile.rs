//! The async client against misbehaving servers (issue: every protocol
//! error the model names fails with the code it names; nothing hangs).

use std::time::Duration;

use wsapi::runtime::block_on;
use wsapi::{Event, FailReason, ReadyState, WebSocket, WebSocketBuilder};
use wsapi_model::HandshakeFailure;
use wsapi_props::server::{Action, Handshake, Log, ProtocolChoice, Received, Script, Server};

/// Runs `script` and returns the client's events (with readyState after
/// each) and the server's log. The client offers `protocols`, uses a 300 ms
/// closing timeout and a 16 KiB message limit.
fn run(script: Script, protocols: &[&str], client: impl FnOnce(&WebSocket)) -> (Vec<(Event, ReadyState)>, Log) {
    run_with(script, |b| b.protocols(protocols), client)
}

/// [`run`] with the builder adjusted by `configure` after the defaults.
fn run_with(
    script: Script,
    configure: impl FnOnce(WebSocketBuilder) -> WebSocketBuilder,
    client: impl FnOnce(&WebSocket),
) -> (Vec<(Event, ReadyState)>, Log) {
    let server = Server::start(vec![script]).expect("server");
    let builder = WebSocket::builder(&format!("{}/hostile", server.base()))
        .closing_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_secs(5))
        .max_message_size(Some(16 * 1024));
    let ws = configure(builder).connect().expect("valid URL");
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
        // A reset is an error of the transport, and its kind is kept.
        match (&action, error_of(&events)) {
            (Action::DropTcp, FailReason::TransportLost) => {}
            (Action::ResetTcp, FailReason::TransportBroken(e)) => {
                assert_eq!(e.io_error_kind(), Some(std::io::ErrorKind::ConnectionReset), "{e}")
            }
            other => panic!("{other:?}"),
        }
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

/// A 64-bit frame header announcing `len` bytes, with no payload after it.
fn huge_header(b0: u8, len: u64) -> Vec<u8> {
    let mut h = vec![b0, 127];
    h.extend_from_slice(&len.to_be_bytes());
    h
}

/// Issue 12: with `max_frame_size(None)` a header announcing 1 TiB aborted
/// the process and one announcing 2^63-1 panicked in tungstenite. Now the
/// message limit refuses both on the header: 1009, nothing allocated.
#[test]
fn huge_frame_header_without_a_frame_limit_fails_with_1009() {
    for len in [1u64 << 40, (1 << 63) - 1] {
        let script = Script::accept(vec![Action::Raw(huge_header(0x82, len))]);
        let (events, log) = run_with(script, |b| b.max_frame_size(None), |_| {});
        assert_eq!(kinds(&events), ["open", "error", "close"], "{len}: {events:?}");
        assert_eq!(error_of(&events), FailReason::MessageTooBig, "{len}");
        assert_eq!(server_got_close(&log).map(|c| c.0), Some(1009), "{len}: {log:?}");
    }
}

/// With no limit at all the frame is allowed, so it is read as it arrives:
/// the server announcing 2^63-1 bytes and then dropping TCP ends the
/// connection as any lost transport does (and the process lives).
#[test]
fn huge_frame_header_without_any_limit_costs_only_what_arrives() {
    for len in [1u64 << 40, (1 << 63) - 1] {
        let mut raw = huge_header(0x81, len);
        raw.extend_from_slice(b"some text that never ends");
        let script = Script::accept(vec![Action::Raw(raw), Action::DropTcp]);
        let (events, _) = run_with(script, |b| b.max_frame_size(None).max_message_size(None), |_| {});
        assert_eq!(kinds(&events), ["open", "error", "close"], "{len}: {events:?}");
        assert_eq!(error_of(&events), FailReason::TransportLost, "{len}");
        assert_eq!(close_of(&events), (1006, String::new(), false));
    }
}

/// A ping announcing more than 125 bytes is refused on its header (1002).
#[test]
fn huge_ping_header_fails_with_1002() {
    assert!(matches!(
        fails_with(huge_header(0x89, 1 << 40), 1002),
        FailReason::Protocol(_)
    ));
}

/// Issue 12: a server that pings and never reads grew tungstenite's write
/// buffer by a pong per ping (1 M pings: 126 MiB). Reading now pauses once
/// 256 KiB of pongs wait to be written, so the flood stalls after what the
/// kernel buffers hold plus that bound: far less than it tried to send.
#[test]
fn a_ping_flood_from_a_peer_that_never_reads_stalls() {
    const PINGS: u64 = 1_000_000; // 131 MB of 125-byte pings
    let (url, server) = wsapi_props::raw::serve_one(|tcp| {
        let flood = wsapi_props::raw::ping_flood(&tcp, PINGS, 125, Duration::from_secs(2));
        drop(tcp); // unread pongs: the close is a reset
        flood
    })
    .expect("server");
    let ws = WebSocket::new(&url, &[] as &[&str]).expect("valid URL");
    let kinds: Vec<&str> = block_on(async {
        let mut out = Vec::new();
        while let Some(e) = ws.next_event().await {
            out.push(e.type_name());
        }
        out
    });
    let flood = server.join().expect("server thread").expect("upgrade").expect("flood");
    assert!(flood.stalled, "every ping was read: {flood:?}");
    // What the kernel buffers hold (our receive buffer autotunes up to
    // tcp_rmem's 32 MiB at most, our send buffer to tcp_wmem's 4 MiB, the
    // server's receive buffer stays small as it never reads) plus 256 KiB of
    // pongs: at most about 280,000 pings; 67,000 when measured.
    assert!(flood.pings_written < PINGS / 2, "{flood:?}");
    assert_eq!(kinds.first(), Some(&"open"));
    assert_eq!(kinds.last(), Some(&"close"));
}

/// Keep-alive against a server that pings and never reads: once our pongs
/// cannot be written, reading pauses, and nothing can be heard. The
/// failure says what happened (the server kept sending and read nothing),
/// not that nothing arrived (it said that before). The server holds its
/// socket until the client closes it, so the only way out is keep-alive.
#[test]
fn keep_alive_against_a_ping_flood_that_never_reads_names_the_stall() {
    let (url, server) = wsapi_props::raw::serve_one(|tcp| {
        // Ends when the client's close makes the write fail.
        let _ = wsapi_props::raw::ping_flood(&tcp, u64::MAX / 1024, 125, Duration::from_secs(60));
    })
    .expect("server");
    let ws = WebSocketBuilder::new(&url)
        .keep_alive(Duration::from_millis(200), Duration::from_millis(200))
        .connect()
        .expect("valid URL");
    let events: Vec<Event> = block_on(async {
        let mut out = Vec::new();
        while let Some(e) = ws.next_event().await {
            out.push(e);
        }
        out
    });
    drop(ws);
    server.join().expect("server thread").expect("upgrade");
    assert!(
        matches!(&events[..], [Event::Open, Event::Error(FailReason::KeepAliveStalled), Event::Close(c)] if c.code == 1006),
        "{events:?}"
    );
}

/// How a test sends into a peer that stopped reading.
#[derive(Debug, Clone, Copy)]
enum Sending {
    Sink,
    BufferedAtMost,
}

/// Issue 12, hole 4: against a peer that stops reading, the Sink and
/// `buffered_at_most` keep `bufferedAmount` (and so memory) at the
/// high-water mark plus one message, whatever the message size. The peer
/// drops TCP after a second, which ends the test; the bound is checked at
/// every send made while the connection was still up.
#[test]
fn backpressure_holds_against_a_peer_that_stops_reading() {
    const HIGH_WATER: u64 = 1 << 20;
    for how in [Sending::Sink, Sending::BufferedAtMost] {
        for size in [1usize << 10, 64 << 10, 1 << 20] {
            let (url, server) = wsapi_props::raw::serve_one(|tcp| {
                std::thread::sleep(Duration::from_secs(1));
                drop(tcp);
            })
            .expect("server");
            let ws = WebSocket::new(&url, &[] as &[&str]).expect("valid URL");
            let accepted = block_on(async {
                use futures::SinkExt;
                assert_eq!(ws.next_event().await, Some(Event::Open));
                let mut sink = ws.sink(HIGH_WATER);
                let mut accepted = 0u64;
                while accepted < 64 << 20 {
                    let message = wsapi::Message::Binary(vec![7u8; size].into());
                    let sent = match how {
                        Sending::Sink => sink.send(message).await.is_ok(),
                        Sending::BufferedAtMost => {
                            ws.buffered_at_most(HIGH_WATER).await;
                            ws.send(message).is_ok()
                        }
                    };
                    // Once failed (the peer went away) sends are dropped and
                    // only counted, as the standard says: stop there.
                    if !sent || ws.try_next_event().is_some() {
                        break;
                    }
                    accepted += size as u64;
                    let buffered = ws.buffered_amount();
                    assert!(
                        buffered <= HIGH_WATER + size as u64,
                        "{how:?} {size}: bufferedAmount {buffered}"
                    );
                }
                accepted
            });
            assert!(
                accepted < 64 << 20,
                "{how:?} {size}: the peer read nothing, yet all was sent"
            );
            drop(ws);
            let _ = server.join();
        }
    }
}

/// Hole 4: `max_buffered_amount` fails the connection (error, close 1006)
/// as soon as more than the limit waits, so what is held stays near it.
#[test]
fn max_buffered_amount_fails_the_connection_against_a_peer_that_stops_reading() {
    const LIMIT: u64 = 1 << 20;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let (url, server) = wsapi_props::raw::serve_one(move |tcp| {
        let _ = stopped.recv();
        drop(tcp);
    })
    .expect("server");
    let ws = WebSocket::builder(&url)
        .max_buffered_amount(Some(LIMIT))
        .connect()
        .expect("valid URL");
    let (accepted, events) = block_on(async {
        assert_eq!(ws.next_event().await, Some(Event::Open));
        let mut accepted = 0u64;
        while accepted < 256 << 20 {
            ws.send(wsapi::Message::Binary(vec![7u8; 64 << 10].into())).unwrap();
            accepted += 64 << 10;
            if let Some(first) = ws.try_next_event() {
                let mut events = vec![first];
                while let Some(e) = ws.next_event().await {
                    events.push(e);
                }
                return (accepted, events);
            }
        }
        (accepted, Vec::new())
    });
    let _ = stop.send(());
    let _ = server.join();
    assert_eq!(
        events.first(),
        Some(&Event::Error(FailReason::BufferFull)),
        "{events:?}"
    );
    assert!(matches!(events.last(), Some(Event::Close(c)) if c.code == 1006 && !c.was_clean));
    // The limit plus what the kernel took (our send buffer autotunes up to
    // tcp_wmem's 4 MiB; the peer's receive buffer stays small as it never
    // reads) plus one message.
    assert!(accepted < 16 << 20, "accepted {accepted} bytes before failing");
}
