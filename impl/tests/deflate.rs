//! permessage-deflate on the wire, against a loopback server that inflates
//! with its own zlib (flate2, not the client's code): what the client
//! compresses is what it sent, a message that does not compress goes out
//! uncompressed (RSV1 clear), a large one in several frames, and under
//! context takeover the messages after an uncompressed one still inflate
//! (RFC 7692 §7.2.3: the window is shared across compressed messages only).

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use flate2::{Decompress, FlushDecompress};
use support::with_limit;
use wsapi::runtime::block_on;
use wsapi::{Event, Message, WebSocket};

/// Reads one frame: (FIN, RSV1, opcode, unmasked payload).
fn read_frame(tcp: &mut TcpStream) -> std::io::Result<(bool, bool, u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head)?;
    let mut len = u64::from(head[1] & 0x7f);
    if len == 126 {
        let mut b = [0u8; 2];
        tcp.read_exact(&mut b)?;
        len = u64::from(u16::from_be_bytes(b));
    } else if len == 127 {
        let mut b = [0u8; 8];
        tcp.read_exact(&mut b)?;
        len = u64::from_be_bytes(b);
    }
    let mut mask = [0u8; 4];
    tcp.read_exact(&mut mask)?;
    let mut payload = vec![0u8; len as usize];
    tcp.read_exact(&mut payload)?;
    payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= mask[i % 4]);
    Ok((head[0] & 0x80 != 0, head[0] & 0x40 != 0, head[0] & 0x0f, payload))
}

/// Writes one unmasked binary frame.
fn write_binary(tcp: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let mut frame = vec![0x82];
    if payload.len() < 126 {
        frame.push(payload.len() as u8);
    } else if payload.len() <= 0xffff {
        frame.push(126);
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    } else {
        frame.push(127);
        frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    }
    frame.extend_from_slice(payload);
    tcp.write_all(&frame)
}

/// Accepts one connection with permessage-deflate (context takeover both
/// ways) and answers each message with one binary message: a byte (1 if it
/// came compressed), a byte with its frame count, then what it inflated to.
fn inflating_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || -> std::io::Result<()> {
        let (mut tcp, _) = listener.accept()?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut byte)?;
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let key = head
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-key"))
            })
            .map(|(_, v)| v.trim().to_string())
            .unwrap();
        let accept = async_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        write!(
            tcp,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        )?;
        let mut inflater = Decompress::new(false);
        loop {
            let (mut fin, rsv1, opcode, mut payload) = read_frame(&mut tcp)?;
            if opcode == 0x8 {
                tcp.write_all(&[0x88, 0x02, 0x03, 0xe8])?;
                return Ok(());
            }
            let mut frames = 1u8;
            while !fin {
                let (f, _, _, more) = read_frame(&mut tcp)?;
                fin = f;
                frames += 1;
                payload.extend_from_slice(&more);
            }
            let data = if rsv1 {
                payload.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
                let mut out = Vec::with_capacity(payload.len() * 4 + 1024);
                let start_in = inflater.total_in();
                loop {
                    let used = (inflater.total_in() - start_in) as usize;
                    if used == payload.len() {
                        break;
                    }
                    if out.len() == out.capacity() {
                        out.reserve(out.capacity());
                    }
                    inflater
                        .decompress_vec(&payload[used..], &mut out, FlushDecompress::Sync)
                        .map_err(std::io::Error::other)?;
                }
                out
            } else {
                payload
            };
            let mut reply = vec![u8::from(rsv1), frames];
            reply.extend_from_slice(&data);
            write_binary(&mut tcp, &reply)?;
        }
    });
    url
}

/// `len` incompressible bytes (xorshift from `seed`).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn what_compresses_is_compressed_what_does_not_is_sent_as_it_is_and_everything_inflates() {
    let text = "words that repeat, words that repeat, and repeat again; "
        .repeat(50)
        .into_bytes();
    let large = "a large message that compresses, piece by piece; "
        .repeat(20_000)
        .into_bytes();
    // (message, sent compressed, more than one frame)
    let messages: Vec<(Vec<u8>, bool, bool)> = vec![
        (text.clone(), true, false),
        (noise(10_000, 1), false, false),
        (text.clone(), true, false),
        (noise(400_000, 2), false, false),
        (large.clone(), true, true),
        (noise(100, 3), false, false),
        (text.clone(), true, false),
    ];
    block_on(async {
        let ws = WebSocket::new(&inflating_server(), &[]).unwrap();
        assert_eq!(ws.next_event().await, Some(Event::Open));
        assert_eq!(ws.extensions(), "permessage-deflate");
        for (i, (data, compressed, fragmented)) in messages.iter().enumerate() {
            ws.send(Message::from(data.clone())).unwrap();
            let reply = with_limit(ws.next_event()).await;
            let Some(Event::Message(m)) = reply else {
                panic!("message {i}: {reply:?}")
            };
            let Message::Binary(reply) = m.data else {
                panic!("message {i}")
            };
            assert_eq!(reply[0] == 1, *compressed, "message {i}: compressed?");
            assert_eq!(reply[1] > 1, *fragmented, "message {i}: {} frames", reply[1]);
            assert!(&reply[2..] == data.as_slice(), "message {i} inflated to something else");
        }
        ws.close(Some(1000), None).unwrap();
        let events = support::events_until_close(&ws).await;
        assert!(
            matches!(events.last(), Some(Event::Close(c)) if c.was_clean),
            "{events:?}"
        );
    });
}
