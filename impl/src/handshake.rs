//! The opening handshake, driven by the client itself (RFC 6455 §4.1).
//!
//! tungstenite's client handshake both rejects responses the RFC accepts
//! (`Connection: keep-alive, Upgrade`) and accepts responses it forbids (a
//! second `Sec-WebSocket-Accept`, a second `Sec-WebSocket-Protocol`, an
//! unoffered extension on a second `Sec-WebSocket-Extensions` line). So the
//! client writes the request itself, reads the response head with
//! `httparse`, and leaves every decision to the model
//! ([`wsapi_model::handshake::check_response`], through
//! `Connection::handle_response`).
//!
//! [`client_handshake`] works over any byte stream. Bytes read past the
//! head's end (frames the server sent with its 101) are returned as
//! `leftover` and become the start of the frame decoder's read buffer, so
//! none can be lost or read twice.

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use http::{HeaderName, HeaderValue};
use url::Url;
use wsapi_model::handshake::{request_head, HandshakeFailure, Offer, Response};

/// Largest response head read.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in a response head.
const MAX_HEADERS: usize = 128;
/// Bytes asked for per read.
const READ_SIZE: usize = 4096;

/// What goes into the request besides the URL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    /// `Sec-WebSocket-Key`: base64 of 16 random bytes.
    pub key: &'a str,
    pub protocols: &'a [String],
    /// Extension offers, as the model's `Config::offered_extensions`.
    pub extensions: &'a [String],
    /// The user's extra header fields, written after ours.
    pub headers: &'a [(HeaderName, HeaderValue)],
}

/// A response head read, and what followed it in the same reads.
#[derive(Debug)]
pub(crate) struct Handshaken {
    pub response: Response,
    /// Bytes read past the head.
    pub leftover: Vec<u8>,
}

/// Writes the request and reads the response head. Only transport
/// failures are reported here; the response is the model's to judge.
pub(crate) async fn client_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    url: &Url,
    request: &Request<'_>,
) -> Result<Handshaken, HandshakeFailure> {
    let offer = Offer {
        key: request.key,
        protocols: request.protocols,
        extensions: request.extensions,
    };
    let extra: Vec<(&str, &[u8])> = request
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    let head = request_head(url, &offer, &extra);
    stream
        .write_all(&head)
        .await
        .map_err(|e| format!("writing the opening handshake failed: {e}"))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("writing the opening handshake failed: {e}"))?;
    let mut buf = Vec::new();
    loop {
        if let Some(done) = parse_head(&buf)? {
            return Ok(done);
        }
        if buf.len() > MAX_HEAD {
            return Err(format!("the HTTP response head is over {MAX_HEAD} bytes").into());
        }
        let old = buf.len();
        buf.resize(old + READ_SIZE, 0);
        let n = stream
            .read(&mut buf[old..])
            .await
            .map_err(|e| format!("reading the handshake response failed: {e}"))?;
        buf.truncate(old + n);
        if n == 0 {
            return Err("the connection closed during the handshake".into());
        }
    }
}

/// Parses a complete response head from `buf` (`None`: not complete yet).
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<Handshaken>, HandshakeFailure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("malformed HTTP response: {e}").into()),
    };
    let leftover = buf[len..].to_vec();
    let fields = parsed.headers.iter().map(|h| (h.name, h.value));
    let response = Response::new(parsed.code.unwrap_or_default(), fields, &leftover);
    Ok(Some(Handshaken { response, leftover }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn the_request_carries_the_offers_and_the_users_fields() {
        let protocols = vec!["chat".to_string(), "v2".to_string()];
        let extensions = vec!["permessage-deflate; client_max_window_bits".to_string()];
        let headers = vec![(HeaderName::from_static("x-a"), HeaderValue::from_static("b"))];
        let request = Request {
            key: "k",
            protocols: &protocols,
            extensions: &extensions,
            headers: &headers,
        };
        let mut stream = Scripted {
            input: futures::io::Cursor::new(b"HTTP/1.1 101 OK\r\n\r\n".to_vec()),
            written: Vec::new(),
        };
        futures::executor::block_on(client_handshake(&mut stream, &url("ws://h:81/p"), &request)).unwrap();
        let head = String::from_utf8(stream.written).unwrap();
        assert!(head.starts_with("GET /p HTTP/1.1\r\nHost: h:81\r\n"), "{head}");
        for line in [
            "Sec-WebSocket-Key: k",
            "Sec-WebSocket-Protocol: chat, v2",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            "x-a: b",
        ] {
            assert!(head.contains(&format!("\r\n{line}\r\n")), "{line} in {head}");
        }
    }

    #[test]
    fn parse_head_keeps_every_field_line_and_what_follows() {
        let bytes = b"HTTP/1.1 101 OK\r\nSec-WebSocket-Protocol: a\r\nsec-websocket-protocol: b\r\n\r\n\x81\x01x";
        assert!(parse_head(&bytes[..20]).unwrap().is_none());
        let done = parse_head(bytes).unwrap().unwrap();
        assert_eq!(done.response.status, 101);
        assert_eq!(done.response.headers.len(), 2);
        assert_eq!(done.leftover, b"\x81\x01x");
        assert!(matches!(
            parse_head(b"SSH-2.0-x\r\n\r\n"),
            Err(HandshakeFailure::NoResponse(_))
        ));
    }

    #[test]
    fn a_rejected_response_keeps_a_bounded_body_excerpt() {
        let mut bytes = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5000\r\n\r\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 5000));
        let done = parse_head(&bytes).unwrap().unwrap();
        assert_eq!(done.response.status, 403);
        assert_eq!(done.response.body.len(), wsapi_model::handshake::MAX_BODY_EXCERPT);
    }

    /// Reads from a script, keeps what is written.
    struct Scripted {
        input: futures::io::Cursor<Vec<u8>>,
        written: Vec<u8>,
    }

    impl AsyncRead for Scripted {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::pin::Pin::new(&mut self.input).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Scripted {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.written.extend_from_slice(buf);
            std::task::Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn client_handshake_over_a_stream_stops_at_eof_and_at_the_bound() {
        let request = Request {
            key: "k",
            protocols: &[],
            extensions: &[],
            headers: &[],
        };
        let run = |input: Vec<u8>| {
            let mut stream = Scripted {
                input: futures::io::Cursor::new(input),
                written: Vec::new(),
            };
            let result = futures::executor::block_on(client_handshake(&mut stream, &url("ws://h/"), &request));
            assert!(stream.written.starts_with(b"GET / HTTP/1.1\r\n"));
            result
        };
        assert!(matches!(
            run(b"HTTP/1.1 101".to_vec()),
            Err(HandshakeFailure::NoResponse(_))
        ));
        let mut long = b"HTTP/1.1 101 OK\r\nX: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 2 * MAX_HEAD));
        let Err(HandshakeFailure::NoResponse(why)) = run(long) else {
            panic!("a head over the bound must fail")
        };
        assert!(why.contains("over"), "{why}");
        let done = run(b"HTTP/1.1 101 OK\r\n\r\nrest".to_vec()).unwrap();
        assert_eq!(done.leftover, b"rest");
    }
}
