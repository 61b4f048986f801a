//! The frame decoder fed arbitrary bytes (through
//! `wsapi::fuzzing::decode_inbound`, which feeds it as the driver does, so
//! the target survives a rewrite of its internals).
//!
//! Input: byte 0 picks the options (deflate or not, limits, read size,
//! budget), the rest is what the server sends after its 101 response.
//! Checked: no panic; the items do not depend on how the bytes were split
//! into reads nor on the budget (the same bytes decoded in one read with an
//! unlimited budget give the same items, and a failure at the same place;
//! only its reason may differ, see the comment below); at most one terminal item (Close
//! or a failure), and it is last; every message is within the limits and
//! every text message is UTF-8 (guaranteed by its type, so checked by
//! re-validating its bytes); control payloads at most 125 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsapi::fuzzing::{decode_inbound, DecodeOptions, Decoded};

fn options(selector: u8) -> DecodeOptions {
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
    DecodeOptions {
        extensions,
        max_message_size: limit((selector >> 2) & 0x3),
        max_frame_size: limit((selector >> 4) & 0x3),
        read_size: [1, 7, 512, 1 << 16][usize::from(selector >> 6)],
        budget: [1, 100, 5000, u64::MAX][usize::from(selector >> 6)],
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frames)) = data.split_first() else {
        return;
    };
    let options = options(selector);
    let out = decode_inbound(frames, &options);
    assert!(out.extensions.is_ok(), "{:?}", out.extensions);

    let whole = DecodeOptions {
        read_size: frames.len().max(1),
        budget: u64::MAX,
        ..options.clone()
    };
    // Which failure ends a compressed text message that is both corrupt (or
    // too big) and not UTF-8 depends on how far inflating got when each
    // fault showed (spec-notes/framing.md); where it fails, and everything
    // before, may not.
    let failure_kind = |items: &[Decoded]| -> Vec<Decoded> {
        let generic = |d: &Decoded| match d {
            Decoded::Fail(_) => Decoded::Fail(String::new()),
            other => other.clone(),
        };
        items.iter().map(generic).collect()
    };
    assert_eq!(
        failure_kind(&out.items),
        failure_kind(&decode_inbound(frames, &whole).items),
        "the split changed the items"
    );

    let terminal = |d: &Decoded| matches!(d, Decoded::Close(_) | Decoded::Fail(_));
    let terminals = out.items.iter().filter(|d| terminal(d)).count();
    assert!(terminals <= 1, "{:?}", out.items);
    if terminals == 1 {
        assert!(terminal(out.items.last().expect("one item")), "{:?}", out.items);
    }
    for item in &out.items {
        match item {
            Decoded::Message(m) => {
                assert!(options.max_message_size.is_none_or(|max| m.len() <= max));
                if m.is_text() {
                    assert!(std::str::from_utf8(m.as_bytes()).is_ok());
                }
            }
            Decoded::Ping(p) | Decoded::Pong(p) | Decoded::Close(p) => assert!(p.len() <= 125),
            Decoded::Fail(_) => {}
        }
    }
});
