//! The opening handshake's response checks (`wsapi_model::handshake`), one
//! test per check, each citing its source: RFC 6455 §4.1 ("the client MUST
//! validate the server's response as follows"), §11.3 (each field at most
//! once), RFC 7230 §3.2.2 (field lines combined), RFC 7692 §7.1
//! (permessage-deflate parameters), WHATWG "establish a WebSocket connection".

use std::time::Duration;
use wsapi_model::handshake::{accept_key, check_response, DeflateParams, Offer, MAX_BODY_EXCERPT};
use wsapi_model::{Config, Connection, Data, Event, FailReason, HandshakeFailure, Response, Transmit};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const DEFLATE_OFFER: &str = "permessage-deflate; client_max_window_bits";

fn field(name: &str, value: &str) -> (String, Vec<u8>) {
    (name.to_string(), value.as_bytes().to_vec())
}

/// A valid 101 for [`KEY`] plus `extra` fields.
fn response(extra: &[(&str, &str)]) -> Response {
    let mut headers = vec![
        field("Upgrade", "websocket"),
        field("Connection", "Upgrade"),
        field("Sec-WebSocket-Accept", &accept_key(KEY)),
    ];
    headers.extend(extra.iter().map(|(n, v)| field(n, v)));
    Response {
        status: 101,
        headers,
        body: vec![],
    }
}

fn without(mut r: Response, name: &str) -> Response {
    r.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    r
}

fn check(
    r: &Response,
    protocols: &[&str],
    extensions: &[&str],
) -> Result<wsapi_model::handshake::Accepted, HandshakeFailure> {
    let protocols: Vec<String> = protocols.iter().map(|p| p.to_string()).collect();
    let extensions: Vec<String> = extensions.iter().map(|e| e.to_string()).collect();
    check_response(
        r,
        &Offer {
            key: KEY,
            protocols: &protocols,
            extensions: &extensions,
        },
    )
}

// RFC 6455 §1.3 / §4.2.2: the accept value is base64(SHA-1(key + GUID)); the RFC's own example.
#[test]
fn accept_key_is_the_rfc_example() {
    assert_eq!(accept_key(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

// RFC 6455 §4.1 item 1: "If the status code received from the server is not 101, the client
// handles the response per HTTP procedures"; for the API that fails the connection. The
// failure keeps the status, the fields and at most MAX_BODY_EXCERPT bytes of body.
#[test]
fn status_other_than_101_is_rejected_with_its_details() {
    let mut r = response(&[("X-Why", "nope")]);
    r.status = 403;
    r.body = vec![b'x'; 3 * MAX_BODY_EXCERPT];
    let Err(HandshakeFailure::Rejected { status, response }) = check(&r, &[], &[]) else {
        panic!("accepted a 403")
    };
    assert_eq!((status, response.status), (403, 403));
    assert!(response.headers.contains(&field("X-Why", "nope")));
    assert_eq!(response.body.len(), MAX_BODY_EXCERPT);
    r.status = 200;
    assert!(matches!(
        check(&r, &[], &[]),
        Err(HandshakeFailure::Rejected { status: 200, .. })
    ));
}

// RFC 6455 §4.1 item 2: Upgrade missing, or holding a value that is not an ASCII
// case-insensitive match for "websocket", fails.
#[test]
fn upgrade_must_be_websocket() {
    assert!(check(&response(&[]), &[], &[]).is_ok());
    let mut r = without(response(&[]), "upgrade");
    assert_eq!(check(&r, &[], &[]), Err(HandshakeFailure::BadUpgrade(None)));
    r.headers.push(field("UPGRADE", "WebSocket"));
    assert!(check(&r, &[], &[]).is_ok(), "case-insensitive, name and value");
    for bad in ["h2c", "websocket, h2c", "", "web socket"] {
        let mut r = without(response(&[]), "upgrade");
        r.headers.push(field("Upgrade", bad));
        assert!(
            matches!(check(&r, &[], &[]), Err(HandshakeFailure::BadUpgrade(_))),
            "{bad:?}"
        );
    }
}

// RFC 6455 §4.1 item 3: Connection must contain the token "Upgrade" (ASCII
// case-insensitive); it is a token list (RFC 7230 §6.1), so `keep-alive, Upgrade` passes.
#[test]
fn connection_must_contain_the_upgrade_token() {
    for good in [
        "Upgrade",
        "upgrade",
        "keep-alive, Upgrade",
        "Upgrade,keep-alive",
        " , UPGRADE ",
    ] {
        let mut r = without(response(&[]), "connection");
        r.headers.push(field("Connection", good));
        assert!(check(&r, &[], &[]).is_ok(), "{good:?}");
    }
    // Over two field lines (RFC 7230 §3.2.2).
    let mut r = without(response(&[]), "connection");
    r.headers.push(field("Connection", "keep-alive"));
    r.headers.push(field("Connection", "Upgrade"));
    assert!(check(&r, &[], &[]).is_ok());
    for bad in ["keep-alive", "Upgraded", "close", ""] {
        let mut r = without(response(&[]), "connection");
        r.headers.push(field("Connection", bad));
        assert!(
            matches!(check(&r, &[], &[]), Err(HandshakeFailure::BadConnection(_))),
            "{bad:?}"
        );
    }
    let r = without(response(&[]), "connection");
    assert_eq!(check(&r, &[], &[]), Err(HandshakeFailure::BadConnection(None)));
}

// RFC 6455 §4.1 item 4: the accept value must be the one computed from our key.
#[test]
fn accept_must_match_the_key() {
    let mut r = without(response(&[]), "sec-websocket-accept");
    r.headers
        .push(field("Sec-WebSocket-Accept", &accept_key("another key")));
    assert!(matches!(check(&r, &[], &[]), Err(HandshakeFailure::WrongAccept(_))));
    let mut r = without(response(&[]), "sec-websocket-accept");
    r.headers
        .push(field("Sec-WebSocket-Accept", &format!(" {} ", accept_key(KEY))));
    assert!(check(&r, &[], &[]).is_ok(), "optional whitespace around the value");
}

// RFC 6455 §11.3.3: Sec-WebSocket-Accept "MUST NOT appear more than once in an HTTP
// response" — a second field fails even when the first is right; none fails too.
#[test]
fn accept_must_appear_exactly_once() {
    let r = response(&[("Sec-WebSocket-Accept", &accept_key(KEY))]);
    assert_eq!(check(&r, &[], &[]), Err(HandshakeFailure::AcceptCount(2)));
    let r = without(response(&[]), "sec-websocket-accept");
    assert_eq!(check(&r, &[], &[]), Err(HandshakeFailure::AcceptCount(0)));
}

// RFC 6455 §4.1 item 5 and RFC 7230 §3.2.2: every Sec-WebSocket-Extensions line is one
// list; an extension not offered fails, wherever it is.
#[test]
fn extensions_must_have_been_offered_on_every_line() {
    let r = response(&[("Sec-WebSocket-Extensions", "permessage-deflate")]);
    assert_eq!(
        check(&r, &[], &[]),
        Err(HandshakeFailure::ExtensionNotOffered("permessage-deflate".into()))
    );
    let ok = check(&r, &[], &[DEFLATE_OFFER]).unwrap();
    assert_eq!(ok.extensions.as_deref(), Some("permessage-deflate"));
    assert_eq!(ok.deflate, Some(DeflateParams::default()));
    let split = response(&[
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ("Sec-WebSocket-Extensions", "x-unknown"),
    ]);
    assert_eq!(
        check(&split, &[], &[DEFLATE_OFFER]),
        Err(HandshakeFailure::ExtensionNotOffered("x-unknown".into()))
    );
    // Empty list elements are not extensions (RFC 7230 §7).
    let empty = response(&[("Sec-WebSocket-Extensions", " , ")]);
    assert_eq!(check(&empty, &[], &[]).unwrap().extensions, None);
}

// RFC 6455 §9.1: one extension per offer; the same one accepted twice (on one line or two) fails.
#[test]
fn an_extension_accepted_twice_fails() {
    for r in [
        response(&[("Sec-WebSocket-Extensions", "permessage-deflate, permessage-deflate")]),
        response(&[
            ("Sec-WebSocket-Extensions", "permessage-deflate"),
            ("Sec-WebSocket-Extensions", "PerMessage-Deflate"),
        ]),
    ] {
        assert!(matches!(
            check(&r, &[], &[DEFLATE_OFFER]),
            Err(HandshakeFailure::ExtensionRepeated(_))
        ));
    }
}

// RFC 7692 §7.1: a response with an undefined parameter, an invalid value or a repeated
// parameter fails; client_max_window_bits only if offered (§7.1.2.2); the others may
// come unasked (§7.1.1.1, §7.1.1.2, §7.1.2.1); window bits are 8..=15 without leading
// zeros (§7.1.2.1), as a token or a quoted string (§7.1).
#[test]
fn permessage_deflate_parameters_are_checked() {
    let with = |value: &str, offer: &str| check(&response(&[("Sec-WebSocket-Extensions", value)]), &[], &[offer]);
    let accepted = with(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=\"12\"",
        DEFLATE_OFFER,
    )
    .unwrap();
    assert_eq!(
        accepted.deflate,
        Some(DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(10),
            client_max_window_bits: Some(12),
        })
    );
    for bad in [
        "permessage-deflate; foo=1",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits=+9",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=\"9",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
        "permessage-deflate;",
    ] {
        assert!(
            matches!(
                with(bad, DEFLATE_OFFER),
                Err(HandshakeFailure::BadExtensionParameter(_))
            ),
            "{bad}"
        );
    }
    // Not offered: the server may not answer client_max_window_bits.
    assert!(matches!(
        with("permessage-deflate; client_max_window_bits=10", "permessage-deflate"),
        Err(HandshakeFailure::BadExtensionParameter(_))
    ));
}

// RFC 6455 §11.3.4: Sec-WebSocket-Protocol "MUST NOT appear more than once in an HTTP
// response", and §4.1 item 6 names one subprotocol: two fields or a list fail.
#[test]
fn protocol_must_be_a_single_value() {
    let twice = response(&[("Sec-WebSocket-Protocol", "chat"), ("Sec-WebSocket-Protocol", "chat")]);
    assert_eq!(check(&twice, &["chat"], &[]), Err(HandshakeFailure::ProtocolRepeated));
    let list = response(&[("Sec-WebSocket-Protocol", "chat, v2")]);
    assert_eq!(
        check(&list, &["chat", "v2"], &[]),
        Err(HandshakeFailure::ProtocolRepeated)
    );
}

// RFC 6455 §4.1 item 6: a subprotocol not offered fails (compared exactly); WHATWG
// "establish a WebSocket connection": offered protocols and none selected fails.
#[test]
fn protocol_must_be_one_offered() {
    let chat = response(&[("Sec-WebSocket-Protocol", "chat")]);
    assert_eq!(check(&chat, &["chat"], &[]).unwrap().protocol.as_deref(), Some("chat"));
    assert_eq!(
        check(&chat, &[], &[]),
        Err(HandshakeFailure::ProtocolNotOffered("chat".into()))
    );
    assert_eq!(
        check(&chat, &["Chat"], &[]),
        Err(HandshakeFailure::ProtocolNotOffered("chat".into()))
    );
    assert_eq!(
        check(&response(&[]), &["chat"], &[]),
        Err(HandshakeFailure::ProtocolMissing)
    );
    let empty = response(&[("Sec-WebSocket-Protocol", "")]);
    assert_eq!(check(&empty, &["chat"], &[]), Err(HandshakeFailure::ProtocolMissing));
    assert_eq!(check(&response(&[]), &[], &[]).unwrap().protocol, None);
}

// Bytes that are not UTF-8 in a checked field never panic and fail the check.
#[test]
fn non_utf8_values_fail_their_check() {
    let mut r = without(response(&[]), "upgrade");
    r.headers.push(("Upgrade".into(), vec![0xff, 0xfe]));
    assert!(matches!(check(&r, &[], &[]), Err(HandshakeFailure::BadUpgrade(_))));
    let mut r = response(&[]);
    r.headers.push(("Sec-WebSocket-Extensions".into(), vec![0xc3, 0x28]));
    assert!(matches!(
        check(&r, &[], &[DEFLATE_OFFER]),
        Err(HandshakeFailure::ExtensionNotOffered(_))
    ));
}

// Through the connection: a good response opens it with the selected protocol and
// extensions; a bad one fails it (error, close 1006) with the typed reason.
#[test]
fn handle_response_opens_or_fails_the_connection() {
    let t0 = Duration::ZERO;
    let config = Config {
        offered_extensions: vec![DEFLATE_OFFER.into()],
        ..Config::default()
    };
    let connecting = || {
        let mut ws = Connection::<Data>::new("ws://h/", &["chat"], config.clone(), t0).unwrap();
        assert!(matches!(ws.poll_transmit(), Some(Transmit::QueueForHost(_))));
        ws.handle_host_slot(t0).unwrap();
        assert!(matches!(ws.poll_transmit(), Some(Transmit::Connect { .. })));
        ws
    };
    let mut ws = connecting();
    let good = response(&[
        ("Sec-WebSocket-Protocol", "chat"),
        (
            "Sec-WebSocket-Extensions",
            "permessage-deflate; server_no_context_takeover",
        ),
    ]);
    let accepted = ws.handle_response(t0, KEY, &good).unwrap().expect("opened");
    assert!(accepted.deflate.unwrap().server_no_context_takeover);
    assert_eq!(ws.poll_event(), Some(Event::Open));
    assert_eq!(
        (ws.protocol(), ws.extensions()),
        ("chat", "permessage-deflate; server_no_context_takeover")
    );

    let mut ws = connecting();
    let bad = response(&[("Sec-WebSocket-Protocol", "chat"), ("Sec-WebSocket-Protocol", "chat")]);
    assert_eq!(ws.handle_response(t0, KEY, &bad), Ok(None));
    assert_eq!(
        ws.poll_event(),
        Some(Event::Error(FailReason::Handshake(HandshakeFailure::ProtocolRepeated)))
    );
    assert!(matches!(ws.poll_event(), Some(Event::Close(c)) if c.code == 1006 && !c.was_clean));
    // The attempt is over: the host is given back before the transport is dropped.
    assert_eq!(ws.poll_transmit(), Some(Transmit::ReleaseHost));
    assert_eq!(ws.poll_transmit(), Some(Transmit::CloseTransport));
}
