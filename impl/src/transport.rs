//! Opening a connection: TCP, TLS for `wss:`, the HTTP upgrade.
//!
//! TLS is rustls through `futures-rustls`, applied to our own TCP stream:
//! async-tungstenite's rustls features only plug TLS into its per-runtime
//! `connect_async` modules, which this crate does not use (the `async_std`
//! one is deprecated, and the driver needs its own stream anyway to put the
//! [`Wire`] filter under tungstenite).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::WebSocketStream;
use futures::io::{AsyncRead, AsyncWrite};
use futures_rustls::rustls;
use url::Url;

use crate::runtime::{connect_tcp, TcpStream};
use crate::wire::{Wire, WireConfig, WireHandle};

/// What `Sec-WebSocket-Extensions` offers when compression is on (the same
/// offer Chromium makes). We inflate what the server compresses and never
/// compress ourselves, which RFC 7692 allows.
pub(crate) const DEFLATE_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// Connection options taken from the builder.
#[derive(Debug, Clone)]
pub(crate) struct TransportOptions {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub deflate: bool,
    pub max_message_size: Option<usize>,
    pub max_frame_size: Option<usize>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// The byte stream under the WebSocket: plain TCP or TLS over TCP.
pub(crate) enum MaybeTls {
    Plain(TcpStream),
    Tls(Box<futures_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for MaybeTls {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_close(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}

/// The tungstenite stream of a connection.
pub(crate) type WsStream = WebSocketStream<Wire<MaybeTls>>;

/// An open connection and what the handshake said.
pub(crate) struct Connected {
    pub ws: WsStream,
    pub wire: WireHandle,
    pub protocol: Option<String>,
    pub extensions: Option<String>,
}

/// The default TLS configuration: the Mozilla roots shipped in `webpki-roots`.
pub(crate) fn default_tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    tls_config_with_roots(roots)
}

/// A TLS configuration trusting exactly `roots`.
pub(crate) fn tls_config_with_roots(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Opens TCP (and TLS), runs the opening handshake, and returns the stream.
/// Every failure is a string for [`wsapi_model::FailReason::Handshake`].
pub(crate) async fn connect(url: Url, protocols: Vec<String>, opts: TransportOptions) -> Result<Connected, String> {
    let host = url.host_str().ok_or("the URL has no host")?.to_string();
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    // url keeps IPv6 literals in brackets; sockets want them bare.
    let tcp_host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let tcp = connect_tcp(&tcp_host, port)
        .await
        .map_err(|e| format!("TCP connect to {host}:{port} failed: {e}"))?;
    let stream = if url.scheme() == "wss" {
        let config = opts.tls.clone().unwrap_or_else(default_tls_config);
        let name = rustls::pki_types::ServerName::try_from(tcp_host.clone())
            .map_err(|e| format!("{host} is not a valid TLS server name: {e}"))?;
        let tls = futures_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {host} failed: {e}"))?;
        MaybeTls::Tls(Box::new(tls))
    } else {
        MaybeTls::Plain(tcp)
    };
    let wire_config = WireConfig {
        max_message_size: opts.max_message_size,
        max_frame_size: opts.max_frame_size,
    };
    let (wire_stream, wire) = Wire::new(stream, wire_config);

    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("bad request: {e}"))?;
    let headers = request.headers_mut();
    for (name, value) in &opts.headers {
        headers.append(name.clone(), value.clone());
    }
    if !protocols.is_empty() {
        let value = HeaderValue::from_str(&protocols.join(", ")).map_err(|e| e.to_string())?;
        headers.insert("sec-websocket-protocol", value);
    }
    if opts.deflate {
        headers.insert("sec-websocket-extensions", HeaderValue::from_static(DEFLATE_OFFER));
    }
    // tungstenite zero-fills its read buffer up to this size before every
    // read; the Wire filter hands it at most READ_CHUNK bytes per read, so a
    // larger buffer only costs memset time and, once touched, resident
    // memory on every idle connection.
    let config = WebSocketConfig::default()
        .read_buffer_size(crate::wire::READ_CHUNK)
        .max_message_size(opts.max_message_size)
        // Never unbounded: tungstenite reserves a frame's announced length on
        // its header alone; the Wire filter refuses or splits longer frames.
        .max_frame_size(Some(wire_config.passed_frame_limit()));
    let (ws, response) = async_tungstenite::client_async_with_config(request, wire_stream, Some(config))
        .await
        .map_err(|e| match e {
            async_tungstenite::tungstenite::Error::Http(resp) => {
                format!("the server refused the upgrade with HTTP status {}", resp.status())
            }
            other => format!("opening handshake failed: {other}"),
        })?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let protocol = header("sec-websocket-protocol");
    let extensions = header("sec-websocket-extensions");
    wire.set_extensions(extensions.as_deref())
        .map_err(|e| format!("unusable Sec-WebSocket-Extensions: {e}"))?;
    Ok(Connected {
        ws,
        wire,
        protocol,
        extensions,
    })
}
