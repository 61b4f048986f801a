//! Entry points for the fuzz targets in `props/fuzz/`: not part of the API
//! (hidden, no stability promise).
//!
//! The inbound frame filter is crate-private; [`filter_inbound`] runs it
//! over bytes in memory, "bytes in, bytes and events out", so that a fuzz
//! target needs nothing of its internals. When the filter is replaced by
//! another frame layer, this function is re-pointed at that layer and the
//! target keeps working.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::AsyncRead;
use futures::task::noop_waker;

use crate::wire::{Wire, WireConfig, WireEvent};

/// The HTTP response head put before the fuzzed bytes (the filter passes
/// it through first).
pub const RESPONSE_HEAD: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

/// The longest frame the filter ever hands to tungstenite when no frame
/// limit is set (longer ones are split).
pub const MAX_PASSED_FRAME: usize = crate::wire::MAX_PASSED_FRAME;

/// How the filter is set up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterOptions {
    /// The server's `Sec-WebSocket-Extensions` value, if any.
    pub extensions: Option<String>,
    /// `max_message_size`.
    pub max_message_size: Option<usize>,
    /// `max_frame_size`.
    pub max_frame_size: Option<usize>,
    /// Bytes the inner stream returns per read (at least 1).
    pub read_size: usize,
}

/// What the filter reports besides the bytes it passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterEvent {
    /// A Close frame's raw payload.
    Close(Vec<u8>),
    /// A framing error the filter found.
    ProtocolError(String),
    /// A message or frame over the limits (1009).
    MessageTooBig,
    /// The input ended.
    Eof,
}

/// What came out of the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filtered {
    /// Everything handed to tungstenite: [`RESPONSE_HEAD`], then frames.
    pub passed: Vec<u8>,
    /// The events, in order.
    pub events: Vec<FilterEvent>,
    /// `Err` if the extensions were refused (nothing was read then).
    pub extensions: Result<(), String>,
}

/// An in-memory stream: `data` in reads of at most `read_size`, then EOF.
struct Chunks {
    data: VecDeque<u8>,
    read_size: usize,
}

impl AsyncRead for Chunks {
    fn poll_read(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = this.data.len().min(buf.len()).min(this.read_size.max(1));
        for (slot, byte) in buf.iter_mut().zip(this.data.drain(..n)) {
            *slot = byte;
        }
        Poll::Ready(Ok(n))
    }
}

/// Runs the inbound filter over [`RESPONSE_HEAD`] followed by `frames`, as
/// tungstenite would read it (into 16 KiB buffers), until the filter has nothing
/// more to give.
pub fn filter_inbound(frames: &[u8], options: &FilterOptions) -> Filtered {
    let data = RESPONSE_HEAD.iter().chain(frames).copied().collect();
    let config = WireConfig {
        max_message_size: options.max_message_size,
        max_frame_size: options.max_frame_size,
    };
    let stream = Chunks {
        data,
        read_size: options.read_size,
    };
    let (mut wire, handle) = Wire::new(stream, config);
    let extensions = negotiated_deflate(options.extensions.as_deref()).map(|deflate| handle.set_deflate(deflate));
    let mut passed = Vec::new();
    if extensions.is_ok() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut buf = vec![0; crate::wire::READ_CHUNK];
        // The stream never returns Pending, so Pending means the filter is
        // done (after a Close frame or an error); Ok(0) is EOF.
        while let Poll::Ready(Ok(n @ 1..)) = Pin::new(&mut wire).poll_read(&mut cx, &mut buf) {
            passed.extend_from_slice(&buf[..n]);
        }
    }
    let events = std::iter::from_fn(|| handle.poll_event())
        .map(|event| match event {
            WireEvent::Close(payload) => FilterEvent::Close(payload),
            WireEvent::ProtocolError(why) => FilterEvent::ProtocolError(why),
            WireEvent::MessageTooBig => FilterEvent::MessageTooBig,
            WireEvent::Eof => FilterEvent::Eof,
        })
        .collect();
    Filtered {
        passed,
        events,
        extensions,
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
    fn a_text_frame_and_a_close_frame() {
        let mut frames = vec![0x81, 0x02, b'h', b'i'];
        frames.extend([0x88, 0x02, 0x03, 0xe8]);
        let out = filter_inbound(
            &frames,
            &FilterOptions {
                read_size: 3,
                ..FilterOptions::default()
            },
        );
        assert_eq!(out.passed, [RESPONSE_HEAD, &[0x81, 0x02, b'h', b'i']].concat());
        assert_eq!(out.events, vec![FilterEvent::Close(vec![0x03, 0xe8]), FilterEvent::Eof]);
    }
}
