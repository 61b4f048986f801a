//! The inbound frame filter fed arbitrary bytes (through
//! `wsapi::fuzzing::filter_inbound`, so the target survives a rewrite of
//! the filter).
//!
//! Input: byte 0 picks the options (deflate or not, limits, read size),
//! the rest is what the server sends after its 101 response.
//! Checked: no panic; what reaches tungstenite is the response head then a
//! run of frames with no Close frame, and no well-formed data frame longer
//! than tungstenite's limit; at most one terminal event (Close, protocol
//! error, too big), nothing after it but EOF, EOF at most once and last.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsapi::fuzzing::{filter_inbound, FilterEvent, FilterOptions, MAX_PASSED_FRAME, RESPONSE_HEAD};

/// A frame header: (first byte, masked, payload length, header size).
fn header(bytes: &[u8]) -> Option<(u8, bool, u64, usize)> {
    let (b0, b1) = (*bytes.first()?, *bytes.get(1)?);
    let (len, extra) = match b1 & 0x7f {
        126 => (u64::from(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?)), 2),
        127 => (u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?), 8),
        n => (u64::from(n), 0),
    };
    let masked = b1 & 0x80 != 0;
    let size = 2 + extra + if masked { 4 } else { 0 };
    (bytes.len() >= size).then_some((b0, masked, len, size))
}

fn options(selector: u8) -> FilterOptions {
    let extensions = match selector & 0x3 {
        0 | 1 => None,
        2 => Some("permessage-deflate".to_string()),
        _ => Some("permessage-deflate; server_no_context_takeover".to_string()),
    };
    let limit = |bits: u8| match bits {
        0 => None,
        1 => Some(1 << 10),
        2 => Some(1 << 16),
        _ => Some(1 << 20),
    };
    FilterOptions {
        extensions,
        max_message_size: limit((selector >> 2) & 0x3),
        max_frame_size: limit((selector >> 4) & 0x3),
        read_size: [1, 7, 512, 1 << 16][usize::from(selector >> 6)],
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frames)) = data.split_first() else {
        return;
    };
    let options = options(selector);
    let out = filter_inbound(frames, &options);
    assert!(out.extensions.is_ok(), "{:?}", out.extensions);
    assert!(out.passed.starts_with(RESPONSE_HEAD), "the head must pass first");

    let limit = options
        .max_frame_size
        .map_or(MAX_PASSED_FRAME, |m| m.min(MAX_PASSED_FRAME)) as u64;
    let mut rest = &out.passed[RESPONSE_HEAD.len()..];
    while let Some((b0, masked, len, size)) = header(rest) {
        let opcode = b0 & 0x0f;
        assert_ne!(opcode, 0x8, "a Close frame reached tungstenite");
        let well_formed_data = !masked && b0 & 0x70 == 0 && opcode <= 0x2;
        assert!(
            !well_formed_data || len <= limit,
            "a {len}-byte frame reached tungstenite (limit {limit})"
        );
        let end = (size as u64).saturating_add(len);
        if end > rest.len() as u64 {
            break; // the input ended inside this frame
        }
        rest = &rest[end as usize..];
    }

    let terminal = |e: &FilterEvent| !matches!(e, FilterEvent::Eof);
    assert!(
        out.events.iter().filter(|e| terminal(e)).count() <= 1,
        "{:?}",
        out.events
    );
    assert!(
        out.events.iter().filter(|e| !terminal(e)).count() <= 1,
        "{:?}",
        out.events
    );
    if let Some(eof) = out.events.iter().position(|e| !terminal(e)) {
        assert_eq!(eof, out.events.len() - 1, "EOF must come last: {:?}", out.events);
    }
    if let Some(FilterEvent::Close(payload)) = out.events.first() {
        assert!(payload.len() <= 125);
    }
});
