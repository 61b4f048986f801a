//! Entry points for the fuzz targets in `props/fuzz/`: not part of the API
//! (hidden, no stability promise).
//!
//! The frame decoder is crate-private; [`decode_inbound`] runs it over
//! bytes in memory, "bytes in, items out", exactly as the driver does (the
//! same read-buffer discipline, the same budget pauses), so that a fuzz
//! target needs nothing of its internals and keeps working when they change.

use crate::frame::decode::{Decoder, Inbound, Pause};
use crate::frame::Limits;
use crate::Message;

/// How the decoder is set up and fed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// The server's `Sec-WebSocket-Extensions` value, if any.
    pub extensions: Option<String>,
    /// `max_message_size`.
    pub max_message_size: Option<usize>,
    /// `max_frame_size`.
    pub max_frame_size: Option<usize>,
    /// Bytes the socket returns per read (at least 1).
    pub read_size: usize,
    /// The decoding budget per call (at least 1): small values make the
    /// decoder pause often, as when the user is slow to take events.
    pub budget: u64,
}

/// What the decoder made of the bytes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A whole message.
    Message(Message),
    /// A ping and its payload.
    Ping(Vec<u8>),
    /// A pong and its payload.
    Pong(Vec<u8>),
    /// A Close frame's raw payload.
    Close(Vec<u8>),
    /// The failure that ended decoding.
    Fail(String),
}

/// Everything [`decode_inbound`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeRun {
    /// The items, in order.
    pub items: Vec<Decoded>,
    /// `Err` if the extensions were refused (nothing was decoded then).
    pub extensions: Result<(), String>,
}

/// The per-item overhead the driver charges against the budget.
pub const EVENT_OVERHEAD: u64 = crate::shared::QUEUED_EVENT_OVERHEAD;

/// Decodes `frames` (what the server sends after its 101) the way the
/// driver does: reads of at most `read_size` bytes appended to a buffer,
/// the decoder run after each, unused bytes kept for the next; a budget
/// pause is resumed at once (the user took the events).
pub fn decode_inbound(frames: &[u8], options: &DecodeOptions) -> DecodeRun {
    let deflate = match negotiated_deflate(options.extensions.as_deref()) {
        Ok(deflate) => deflate,
        Err(why) => {
            return DecodeRun {
                items: Vec::new(),
                extensions: Err(why),
            }
        }
    };
    let limits = Limits {
        max_message_size: options.max_message_size,
        max_frame_size: options.max_frame_size,
    };
    let mut decoder = Decoder::new(limits, deflate);
    let mut buffered = Vec::new();
    let mut out = Vec::new();
    let mut rest = frames;
    let budget = options.budget.max(1);
    loop {
        let (used, pause) = decoder.decode(&buffered, &mut { budget }, EVENT_OVERHEAD, &mut out);
        buffered.drain(..used);
        match pause {
            Pause::Stopped => break,
            Pause::Budget => continue,
            Pause::NeedInput => {}
        }
        if rest.is_empty() {
            break;
        }
        let n = rest.len().min(options.read_size.max(1));
        buffered.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
    }
    let items = out
        .into_iter()
        .map(|item| match item {
            Inbound::Message(m) => Decoded::Message(m),
            Inbound::Ping(p) => Decoded::Ping(p.to_vec()),
            Inbound::Pong(p) => Decoded::Pong(p.to_vec()),
            Inbound::Close(p) => Decoded::Close(p),
            Inbound::Fail(why) => Decoded::Fail(why.to_string()),
        })
        .collect();
    DecodeRun {
        items,
        extensions: Ok(()),
    }
}

/// What the model makes of a 101 whose `Sec-WebSocket-Extensions` is
/// `extensions`, after our usual offer: the deflate parameters to set, or
/// why the response fails the connection.
fn negotiated_deflate(extensions: Option<&str>) -> Result<Option<wsapi_model::handshake::DeflateParams>, String> {
    use wsapi_model::handshake::{accept_key, check_response, Offer, Response};
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let accept = accept_key(key);
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("Upgrade", b"websocket"),
        ("Connection", b"Upgrade"),
        ("Sec-WebSocket-Accept", accept.as_bytes()),
    ];
    if let Some(value) = extensions {
        headers.push(("Sec-WebSocket-Extensions", value.as_bytes()));
    }
    let offer = Offer {
        key,
        protocols: &[],
        extensions: &[crate::transport::DEFLATE_OFFER.to_string()],
    };
    check_response(&Response::new(101, headers, &[]), &offer)
        .map(|accepted| accepted.deflate)
        .map_err(|why| why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_frame_a_ping_and_a_close_frame_in_any_reads() {
        let mut frames = vec![0x81, 0x02, b'h', b'i', 0x89, 0x01, b'p'];
        frames.extend([0x88, 0x02, 0x03, 0xe8, 0x81, 0x00]);
        for read_size in 1..frames.len() {
            let out = decode_inbound(
                &frames,
                &DecodeOptions {
                    read_size,
                    budget: 1,
                    ..DecodeOptions::default()
                },
            );
            assert_eq!(
                out.items,
                vec![
                    Decoded::Message("hi".into()),
                    Decoded::Ping(b"p".to_vec()),
                    Decoded::Close(vec![0x03, 0xe8]),
                ],
                "read size {read_size}"
            );
        }
    }
}
