//! The model's check of the opening handshake's response
//! (`wsapi_model::handshake::check_response`) fed arbitrary response heads.
//!
//! Byte 0 chooses the offer (subprotocols none / `chat` / `chat, superchat`;
//! permessage-deflate offered or not); the rest is the raw head, parsed
//! with httparse as the clients do. The check must never panic, and when it
//! accepts, what it accepted must follow RFC 6455 §4.1: status 101, one
//! `Sec-WebSocket-Accept` with the value for the key, a selected
//! subprotocol that was offered (none when none was), only offered
//! extensions, deflate parameters only with permessage-deflate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsapi_model::handshake::{accept_key, check_response, Offer, Response};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fuzz_target!(|data: &[u8]| {
    let Some((&choice, head)) = data.split_first() else {
        return;
    };
    let protocols: Vec<String> = match choice % 3 {
        0 => vec![],
        1 => vec!["chat".into()],
        _ => vec!["chat".into(), "superchat".into()],
    };
    let extensions: Vec<String> = if choice & 0x80 != 0 {
        vec!["permessage-deflate; client_max_window_bits".into()]
    } else {
        vec![]
    };
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut fields);
    let Ok(httparse::Status::Complete(end)) = parsed.parse(head) else {
        return;
    };
    let status = parsed.code.unwrap_or(0);
    let response = Response::new(status, parsed.headers.iter().map(|h| (h.name, h.value)), &head[end..]);
    let offer = Offer {
        key: KEY,
        protocols: &protocols,
        extensions: &extensions,
    };
    let Ok(accepted) = check_response(&response, &offer) else {
        return;
    };
    assert_eq!(status, 101, "accepted a non-101 response");
    let accepts: Vec<&[u8]> = response
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|(_, v)| v.as_slice())
        .collect();
    let want = accept_key(KEY);
    assert_eq!(accepts.len(), 1, "accepted with {} Accept fields", accepts.len());
    assert_eq!(
        accepts[0].trim_ascii(),
        want.as_bytes(),
        "accepted a wrong Accept value"
    );
    if let Some(p) = &accepted.protocol {
        assert!(protocols.contains(p), "accepted the unoffered subprotocol {p:?}");
    }
    if protocols.is_empty() {
        assert_eq!(
            accepted.protocol, None,
            "a subprotocol selected though none was offered"
        );
    }
    if extensions.is_empty() {
        assert!(accepted.deflate.is_none(), "deflate accepted though not offered");
        assert!(
            accepted.extensions.as_deref().unwrap_or("").trim().is_empty(),
            "extensions accepted though none were offered: {:?}",
            accepted.extensions
        );
    }
});
