//! The decoder, byte by byte: every rule of RFC 6455 §5 a client checks,
//! the limits, UTF-8 and permessage-deflate, at every split of the input.

use flate2::{Compress, Compression, FlushCompress};

use super::*;

const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// An unmasked frame with first byte `b0` (FIN, RSV bits, opcode).
fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![b0];
    match payload.len() {
        n @ 0..=125 => f.push(n as u8),
        n @ 126..=0xffff => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

/// A header announcing `len` bytes in the 64-bit form.
fn header64(b0: u8, len: u64) -> Vec<u8> {
    let mut f = vec![b0, 127];
    f.extend_from_slice(&len.to_be_bytes());
    f
}

/// Feeds `bytes` in pieces of `step` as the driver does (unused bytes are
/// given again with the next piece); a budget pause is resumed at once.
fn decode_in_steps(decoder: &mut Decoder, bytes: &[u8], step: usize, budget: u64) -> Vec<Inbound> {
    let mut out = Vec::new();
    let mut buffered = Vec::new();
    let mut rest = bytes;
    loop {
        let (used, pause) = decoder.decode(&buffered, &mut { budget }, 64, &mut out);
        buffered.drain(..used);
        match pause {
            Pause::Stopped => return out,
            Pause::Budget => continue,
            Pause::NeedInput if rest.is_empty() => return out,
            Pause::NeedInput => {}
        }
        let n = rest.len().min(step);
        buffered.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
    }
}

fn plain() -> Decoder {
    Decoder::new(Limits::default(), None)
}

fn deflating(server_no_context_takeover: bool) -> Decoder {
    let params = DeflateParams {
        server_no_context_takeover,
        ..DeflateParams::default()
    };
    Decoder::new(Limits::default(), Some(params))
}

fn decode_all(decoder: &mut Decoder, bytes: &[u8]) -> Vec<Inbound> {
    decode_in_steps(decoder, bytes, bytes.len().max(1), u64::MAX)
}

fn text(s: &str) -> Inbound {
    Inbound::Message(s.into())
}

fn protocol_failure(items: &[Inbound]) -> String {
    match items.last() {
        Some(Inbound::Fail(FailReason::Protocol(why))) => why.clone(),
        other => panic!("expected a protocol failure, got {other:?}"),
    }
}

/// Compresses one message as a permessage-deflate sender does.
fn deflate(c: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 1024);
    c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    assert!(out.ends_with(&TAIL));
    out.truncate(out.len() - 4);
    out
}

fn compressor() -> Compress {
    Compress::new(Compression::default(), false)
}

fn sample_frames() -> Vec<u8> {
    let mut bytes = frame(0x81, b"hello");
    bytes.extend(frame(0x02, b"bin"));
    bytes.extend(frame(0x89, b"ping"));
    bytes.extend(frame(0x80, b"ary"));
    bytes.extend(frame(0x8a, b""));
    bytes.extend(frame(0x01, "κό".as_bytes()));
    bytes.extend(frame(0x80, "σμε".as_bytes()));
    bytes.extend(frame(0x82, &vec![7; 70_000]));
    bytes.extend(frame(0x88, &[0x03, 0xf6, b'b', b'y', b'e']));
    bytes
}

#[test]
fn frames_decode_the_same_at_every_split_and_budget() {
    let bytes = sample_frames();
    let expected = vec![
        text("hello"),
        Inbound::Ping(Bytes::from_static(b"ping")),
        Inbound::Message(b"binary"[..].into()),
        Inbound::Pong(Bytes::new()),
        text("κόσμε"),
        Inbound::Message(vec![7; 70_000].into()),
        // 1014 is a valid code tungstenite would have replaced: raw here.
        Inbound::Close(vec![0x03, 0xf6, b'b', b'y', b'e']),
    ];
    for step in [1, 2, 3, 5, 13, 100, 4096, bytes.len()] {
        for budget in [1, 100, u64::MAX] {
            let items = decode_in_steps(&mut plain(), &bytes, step, budget);
            assert_eq!(items, expected, "step {step}, budget {budget}");
        }
    }
}

#[test]
fn decoding_stops_after_a_close_frame() {
    let mut bytes = frame(0x88, &[0x03, 0xe8]);
    bytes.extend(frame(0x81, b"after"));
    let mut decoder = plain();
    let mut out = Vec::new();
    assert!(!decoder.is_stopped());
    let (used, pause) = decoder.decode(&bytes[..4], &mut 0, 64, &mut out);
    assert_eq!(
        (used, pause, out.len()),
        (0, Pause::Budget, 0),
        "a spent budget decodes nothing"
    );
    let (used, pause) = decoder.decode(&bytes, &mut { u64::MAX }, 64, &mut out);
    assert_eq!((used, pause), (4, Pause::Stopped));
    assert_eq!(out, vec![Inbound::Close(vec![0x03, 0xe8])]);
    assert!(decoder.is_stopped());
}

#[test]
fn the_budget_pauses_between_frames_and_counts_overhead() {
    let mut bytes = Vec::new();
    for _ in 0..10 {
        bytes.extend(frame(0x82, b""));
    }
    let mut decoder = plain();
    let mut out = Vec::new();
    // Empty messages cost their overhead: 3 × 64 reaches 150.
    let mut budget = 150;
    let (used, pause) = decoder.decode(&bytes, &mut budget, 64, &mut out);
    assert_eq!((out.len(), used, pause), (3, 6, Pause::Budget));
    assert!(!decoder.is_stopped());
    // A message costs its bytes too: 100 + 64 reaches 150 at once.
    let big = frame(0x82, &[0; 100]);
    let mut out = Vec::new();
    let (used, pause) = plain().decode(&[big.clone(), big].concat(), &mut 150, 64, &mut out);
    assert_eq!((out.len(), used, pause), (1, 102, Pause::Budget));
    assert_eq!(cost(&out[0], 64), 164);
    assert_eq!(cost(&Inbound::Pong(Bytes::new()), 64), 64);
}

#[test]
fn violations_of_rfc_6455_section_5_fail_the_connection() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("masked", vec![0x81, 0x81, 1, 2, 3, 4, b'x']),
        ("reserved bit", frame(0xa1, b"x")),
        ("reserved bit", frame(0x91, b"x")),
        ("opcode", frame(0x83, b"x")),
        ("opcode", frame(0x8b, b"x")),
        ("fragmented control", frame(0x09, b"x")),
        ("over 125", frame(0x89, &[0; 126])),
        ("RSV1 is set on a control", frame(0xc9, b"")),
        ("continuation frame without", frame(0x80, b"x")),
        ("new message started", [frame(0x01, b"a"), frame(0x81, b"b")].concat()),
        ("not negotiated", frame(0xc1, b"x")),
        ("top bit", header64(0x82, 1 << 63)),
        ("shortest form", [&[0x82, 126, 0, 125][..], &[0; 125]].concat()),
        ("shortest form", header64(0x82, 0xffff)),
    ];
    for (why, bytes) in cases {
        for step in [1, bytes.len()] {
            let items = decode_in_steps(&mut plain(), &bytes, step, u64::MAX);
            let got = protocol_failure(&items);
            assert!(
                got.contains(why) || (why == "opcode" && got.to_lowercase().contains("opcode")),
                "{why}: {got}"
            );
        }
    }
    // The message state is checked before the limits: a stray continuation
    // is a protocol error (1002) whatever its size.
    let limited = Limits {
        max_message_size: None,
        max_frame_size: Some(10),
    };
    let items = decode_all(&mut Decoder::new(limited, None), &frame(0x80, &[0; 20]));
    assert!(protocol_failure(&items).contains("continuation"));
    let mut d = deflating(false);
    let bytes = [frame(0x41, b"x"), frame(0xc0, b"y")].concat();
    assert!(protocol_failure(&decode_all(&mut d, &bytes)).contains("continuation"));
}

#[test]
fn control_frames_of_exactly_125_bytes_are_accepted() {
    // RFC 6455 §5.5: "All control frames MUST have a payload length of 125
    // bytes or less"; 125 is the boundary (126 is refused above).
    let payload = [7u8; 125];
    let close = [&[0x03, 0xe8][..], &[b'r'; 123]].concat();
    let bytes = [frame(0x89, &payload), frame(0x8a, &payload), frame(0x88, &close)].concat();
    for step in [1, bytes.len()] {
        let items = decode_in_steps(&mut plain(), &bytes, step, u64::MAX);
        assert!(
            matches!(&items[..], [Inbound::Ping(p), Inbound::Pong(q), Inbound::Close(c)]
                if p[..] == payload[..] && q[..] == payload[..] && c[..] == close[..]),
            "{items:?}"
        );
    }
}

#[test]
fn limits_are_applied_on_the_header_before_any_payload() {
    let limited = |message, frame| {
        Decoder::new(
            Limits {
                max_message_size: message,
                max_frame_size: frame,
            },
            None,
        )
    };
    // Only the header arrives: the verdict cannot wait for the payload.
    for (message, frame_limit) in [(Some(1000), None), (None, Some(1000)), (Some(1000), Some(1 << 20))] {
        let items = decode_all(&mut limited(message, frame_limit), &header64(0x82, 1 << 40));
        assert_eq!(items, vec![Inbound::Fail(FailReason::MessageTooBig)]);
    }
    // The message limit counts every fragment.
    let bytes = [frame(0x02, &[1; 600]), frame(0x80, &[2; 600])].concat();
    let items = decode_all(&mut limited(Some(1000), None), &bytes);
    assert_eq!(items, vec![Inbound::Fail(FailReason::MessageTooBig)]);
    let items = decode_all(&mut limited(Some(1200), Some(600)), &bytes);
    assert_eq!(
        items,
        vec![Inbound::Message([vec![1; 600], vec![2; 600]].concat().into())]
    );
    // Control frames over 125 bytes are refused on the header too.
    let items = decode_all(&mut plain(), &[0x89, 126, 0x01, 0x00]);
    assert!(protocol_failure(&items).contains("125"));
}

#[test]
fn an_unlimited_huge_frame_costs_only_the_bytes_that_arrive() {
    let mut decoder = plain();
    let mut bytes = header64(0x82, 1 << 40);
    bytes.extend([9; 1000]);
    assert_eq!(decode_all(&mut decoder, &bytes), vec![]);
    let message = decoder.message.as_ref().expect("a message in progress");
    assert_eq!(message.buf.len(), 1000);
    assert!(message.buf.capacity() <= MAX_RESERVE, "{}", message.buf.capacity());
}

#[test]
fn invalid_utf8_fails_when_it_arrives_not_when_the_message_ends() {
    // Autobahn 6.4.1: the first fragment ends in a code point over
    // U+10FFFF; the message never ends, the failure must still come.
    let mut bytes = "κόσμε".as_bytes().to_vec();
    bytes.extend([0xf4, 0x90, 0x80, 0x80]);
    let items = decode_all(&mut plain(), &frame(0x01, &bytes));
    assert_eq!(items, vec![Inbound::Fail(FailReason::InvalidUtf8)]);
    // Inside one frame that has not ended either.
    let mut partial = frame(0x81, &bytes);
    partial.truncate(partial.len() - 2);
    assert_eq!(
        decode_in_steps(&mut plain(), &partial, 1, u64::MAX),
        vec![Inbound::Fail(FailReason::InvalidUtf8)]
    );
    // A character cut at the end of the message.
    let items = decode_all(&mut plain(), &frame(0x81, &[b'a', 0xe2, 0x82]));
    assert_eq!(items, vec![Inbound::Fail(FailReason::InvalidUtf8)]);
    // Binary messages are not text.
    let items = decode_all(&mut plain(), &frame(0x82, &[0xff]));
    assert_eq!(items, vec![Inbound::Message(vec![0xff].into())]);
}

#[test]
fn compressed_messages_are_inflated_with_the_window_kept() {
    let mut c = compressor();
    let body = "a message that repeats a message that repeats ".repeat(20);
    let first = deflate(&mut c, body.as_bytes());
    let second = deflate(&mut c, body.as_bytes());
    let (a, b) = second.split_at(second.len() / 2);
    let mut bytes = frame(0xc1, &first);
    bytes.extend(frame(0x41, a));
    bytes.extend(frame(0x89, b"p"));
    bytes.extend(frame(0x80, b));
    bytes.extend(frame(0x82, b"plain"));
    for step in [1, 7, bytes.len()] {
        let items = decode_in_steps(&mut deflating(false), &bytes, step, u64::MAX);
        assert_eq!(
            items,
            vec![
                text(&body),
                Inbound::Ping(Bytes::from_static(b"p")),
                text(&body),
                Inbound::Message(b"plain"[..].into()),
            ]
        );
    }
}

#[test]
fn server_no_context_takeover_resets_the_window_per_message() {
    let body = b"abcabcabcabcabcabcabc";
    let mut bytes = Vec::new();
    for _ in 0..3 {
        bytes.extend(frame(0xc2, &deflate(&mut compressor(), body)));
    }
    let items = decode_all(&mut deflating(true), &bytes);
    assert_eq!(items, vec![Inbound::Message(body[..].into()); 3]);
}

#[test]
fn with_server_no_context_takeover_a_reference_to_an_earlier_message_fails() {
    // The second message is compressed with the first's window kept, which
    // the server promised not to do: it refers to bytes the inflater has
    // forgotten (RFC 7692 §7.1.1.1). miniz_oxide inflated those as zeros;
    // zlib, as in browsers, refuses them.
    let body = b"abcdefghijklmnopqrstuvwxyz0123456789".repeat(4);
    let mut c = compressor();
    let (first, second) = (deflate(&mut c, &body), deflate(&mut c, &body));
    let bytes = [frame(0xc2, &first), frame(0xc2, &second)].concat();
    let items = decode_all(&mut deflating(true), &bytes);
    assert_eq!(items[0], Inbound::Message(body[..].into()));
    assert!(protocol_failure(&items[1..]).contains("compressed"), "{items:?}");
    // With the window kept by agreement the same bytes are two messages.
    let kept = decode_all(&mut deflating(false), &bytes);
    assert_eq!(kept, vec![Inbound::Message(body[..].into()); 2]);
}

#[test]
fn a_deflate_stream_ended_with_bfinal_is_followed_by_a_new_one() {
    let mut c = compressor();
    let mut first = Vec::with_capacity(256);
    c.compress_vec(b"one", &mut first, FlushCompress::Finish).unwrap();
    let second = deflate(&mut compressor(), b"two");
    let bytes = [frame(0xc1, &first), frame(0xc1, &second)].concat();
    assert_eq!(
        decode_all(&mut deflating(false), &bytes),
        vec![text("one"), text("two")]
    );
    // After the stream's end, a new stream whose first message inflates to
    // nothing: its bytes were used, so its tail must still be fed, or the
    // next message is read from the middle of a block.
    let mut c = compressor();
    let (empty, next) = (deflate(&mut c, b""), deflate(&mut c, b"three"));
    let bytes = [frame(0xc1, &first), frame(0xc1, &empty), frame(0xc1, &next)].concat();
    for step in [1, bytes.len()] {
        assert_eq!(
            decode_in_steps(&mut deflating(false), &bytes, step, u64::MAX),
            vec![text("one"), text(""), text("three")]
        );
    }
}

#[test]
fn corrupt_and_bomb_compressed_data_fail_within_the_limit() {
    let items = decode_all(&mut deflating(false), &frame(0xc1, &[0xff; 20]));
    assert!(protocol_failure(&items).contains("compressed"));
    // 8 MiB of zeros compress to a few KiB; the limit is 1 MiB.
    let zeros = vec![0; 8 << 20];
    let bomb = deflate(&mut compressor(), &zeros);
    assert!(bomb.len() < 64 * 1024);
    let limits = Limits {
        max_message_size: Some(1 << 20),
        max_frame_size: None,
    };
    let mut decoder = Decoder::new(limits, Some(DeflateParams::default()));
    let items = decode_all(&mut decoder, &frame(0xc2, &bomb));
    assert_eq!(items, vec![Inbound::Fail(FailReason::MessageTooBig)]);
    // Inflated text is checked for UTF-8 as well.
    let items = decode_all(
        &mut deflating(false),
        &frame(0xc1, &deflate(&mut compressor(), &[0xff])),
    );
    assert_eq!(items, vec![Inbound::Fail(FailReason::InvalidUtf8)]);
}

#[test]
fn hostile_input_never_panics_and_ends_with_at_most_one_terminal_item() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..2000 {
        let len = (next() % 300) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Make well-formed-looking headers common.
        if round % 2 == 0 && !bytes.is_empty() {
            bytes[0] = [0x81, 0x82, 0x01, 0x80, 0xc1, 0x89, 0x88][round % 7];
        }
        if bytes.len() > 1 && round % 3 == 0 {
            bytes[1] &= 0x7f;
        }
        let limits = Limits {
            max_message_size: (round % 4 == 0).then_some(100),
            max_frame_size: (round % 5 == 0).then_some(50),
        };
        let deflate = (round % 2 == 1).then(DeflateParams::default);
        let mut decoder = Decoder::new(limits, deflate);
        let items = decode_in_steps(&mut decoder, &bytes, 1 + round % 9, 1 + (round as u64 % 200));
        let terminal = items
            .iter()
            .filter(|i| matches!(i, Inbound::Close(_) | Inbound::Fail(_)))
            .count();
        assert!(terminal <= 1, "{items:?}");
        if terminal == 1 {
            assert!(matches!(items.last(), Some(Inbound::Close(_) | Inbound::Fail(_))));
        }
    }
}

fn message_bytes(item: &Inbound) -> &[u8] {
    match item {
        Inbound::Message(Message::Text(t)) => t.as_bytes(),
        Inbound::Message(Message::Binary(b)) => b,
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn small_messages_share_one_allocation_densely_and_it_is_reused_once_they_are_dropped() {
    let mut decoder = plain();
    let mut bytes = Vec::new();
    for i in 0..20u8 {
        bytes.extend(frame(0x82, &[i; 100]));
        // Control frames and headers between them take no room in the chunk.
        bytes.extend(frame(0x89, b"ping"));
    }
    let messages: Vec<Inbound> = decode_in_steps(&mut decoder, &bytes, 7, u64::MAX)
        .into_iter()
        .filter(|i| matches!(i, Inbound::Message(_)))
        .collect();
    assert_eq!(messages.len(), 20);
    let first = message_bytes(&messages[0]).as_ptr();
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(message_bytes(m), &[i as u8; 100][..]);
        assert_eq!(
            m_ptr(m),
            first.wrapping_add(100 * i),
            "message {i} follows the one before"
        );
    }
    drop(messages);
    // Each dropped before the next: the chunk, once full, is reclaimed in
    // place, so all of them, over four chunks' worth, live in it.
    for i in 0..(4 * SMALL_CHUNK / 100) {
        let one = decode_in_steps(&mut decoder, &frame(0x81, &[b'a'; 100]), 64, u64::MAX);
        let offset = (m_ptr(&one[0]) as usize).wrapping_sub(first as usize);
        assert!(offset < SMALL_CHUNK, "message {i} is outside the first chunk");
    }
}

fn m_ptr(item: &Inbound) -> *const u8 {
    message_bytes(item).as_ptr()
}

#[test]
fn a_kept_small_message_keeps_its_bytes_when_the_next_ones_need_a_new_chunk() {
    let mut decoder = plain();
    let kept = decode_in_steps(&mut decoder, &frame(0x81, b"kept"), 3, u64::MAX);
    let mut bytes = Vec::new();
    for i in 0..(2 * SMALL_CHUNK / SMALL_MESSAGE) {
        bytes.extend(frame(0x82, &vec![i as u8; SMALL_MESSAGE]));
    }
    let later = decode_in_steps(&mut decoder, &bytes, 1000, u64::MAX);
    assert_eq!(message_bytes(&kept[0]), b"kept");
    for (i, m) in later.iter().enumerate() {
        assert_eq!(message_bytes(m), &vec![i as u8; SMALL_MESSAGE][..]);
    }
}

#[test]
fn fragmented_compressed_and_large_messages_do_not_use_the_shared_chunk() {
    let mut decoder = plain();
    let mut bytes = frame(0x01, b"frag");
    bytes.extend(frame(0x80, b"mented"));
    bytes.extend(frame(0x82, &vec![9; SMALL_MESSAGE + 1]));
    let out = decode_in_steps(&mut decoder, &bytes, 5, u64::MAX);
    assert_eq!(message_bytes(&out[0]), b"fragmented");
    assert_eq!(message_bytes(&out[1]), &vec![9; SMALL_MESSAGE + 1][..]);
    assert!(decoder.small.capacity() == 0, "never allocated");
}

#[test]
fn invalid_utf8_in_a_small_message_fails_and_leaves_the_chunk_empty() {
    let mut decoder = plain();
    let out = decode_in_steps(&mut decoder, &frame(0x81, &[b'a', 0xff, b'b']), 1, u64::MAX);
    assert_eq!(out, [Inbound::Fail(FailReason::InvalidUtf8)]);
    assert!(decoder.small.is_empty());
    let mut decoder = plain();
    // A character cut at the message's end.
    let out = decode_in_steps(&mut decoder, &frame(0x81, &[b'a', 0xc3]), 1, u64::MAX);
    assert_eq!(out, [Inbound::Fail(FailReason::InvalidUtf8)]);
}

#[test]
fn a_used_up_chunk_is_reused_once_its_messages_are_dropped_while_a_newer_one_is_in_use() {
    let per_chunk = SMALL_CHUNK / SMALL_MESSAGE;
    let batch = |decoder: &mut Decoder| {
        let mut bytes = Vec::new();
        for _ in 0..per_chunk {
            bytes.extend(frame(0x82, &[1; SMALL_MESSAGE]));
        }
        decode_in_steps(decoder, &bytes, 4096, u64::MAX)
    };
    let mut decoder = plain();
    let a = batch(&mut decoder);
    let a_start = m_ptr(&a[0]) as usize;
    let b = batch(&mut decoder);
    assert!(
        (m_ptr(&b[0]) as usize).wrapping_sub(a_start) >= SMALL_CHUNK,
        "a's messages are alive: b has a chunk of its own"
    );
    // `a`'s chunk, used up, is kept (its view points past its end).
    let keeps_a = |d: &Decoder| {
        d.spare_chunks
            .iter()
            .any(|c| c.as_ptr() as usize == a_start + SMALL_CHUNK)
    };
    assert!(keeps_a(&decoder), "the used-up chunk is kept");
    drop(a);
    let c = batch(&mut decoder);
    assert!(!keeps_a(&decoder), "taken back into use, not left to the allocator");
    let offset = (m_ptr(&c[0]) as usize).wrapping_sub(a_start);
    assert!(offset < SMALL_CHUNK, "c reuses a's chunk");
    assert_eq!(message_bytes(&b[per_chunk - 1]), &[1; SMALL_MESSAGE][..]);
}
