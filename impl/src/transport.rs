//! Opening a connection: TCP, TLS for `wss:`, the HTTP upgrade (written and
//! read by [`crate::handshake`], judged by the model).
//!
//! TLS is rustls through `futures-rustls`, applied to our own TCP stream:
//! async-tungstenite's rustls features only plug TLS into its per-runtime
//! `connect_async` modules, which this crate does not use (the `async_std`
//! one is deprecated, and the driver frames the bytes itself, see
//! [`crate::frame`]).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};
use futures_rustls::rustls;
use http::{HeaderName, HeaderValue};
use url::Url;
use wsapi_model::handshake::Response;
use wsapi_model::{TransportError, TransportLayer};

use crate::connect_failure::ConnectFailure;
use crate::connector::Connector;
use crate::handshake::{client_handshake, Handshaken, Request};
use crate::runtime::BoxedStream;

/// What `Sec-WebSocket-Extensions` offers when compression is on (the same
/// offer Chromium makes): the server may limit our window, and we then send
/// uncompressed (see [`crate::frame::compress`]).
pub(crate) const DEFLATE_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// Connection options taken from the builder.
#[derive(Debug, Clone)]
pub(crate) struct TransportOptions {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub deflate: bool,
    pub max_message_size: Option<usize>,
    pub max_frame_size: Option<usize>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub connector: Connector,
}

/// The byte stream under the WebSocket: plain, or TLS over it.
pub(crate) enum MaybeTls {
    Plain(BoxedStream),
    Tls(Box<futures_rustls::client::TlsStream<BoxedStream>>),
}

/// How many times in a row an `Interrupted` error (EINTR) is retried
/// before it is taken for the stream's failure.
const MAX_INTERRUPTS: usize = 64;

/// Polls `op` again while it fails with `ErrorKind::Interrupted`: a signal
/// that arrived during the call, which the `futures` I/O traits ask their
/// callers to retry (async-io and tokio pass EINTR up as it is). It failed
/// connections whose system calls were interrupted (found by injecting
/// EINTR with libfiu, `props/tests/faults.rs`). Bounded, so that a stream
/// that is interrupted on every call still ends.
fn retry_interrupted<T>(mut op: impl FnMut() -> Poll<io::Result<T>>) -> Poll<io::Result<T>> {
    for _ in 0..MAX_INTERRUPTS {
        match op() {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
    op()
}

impl AsyncRead for MaybeTls {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        retry_interrupted(|| match this {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        })
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        retry_interrupted(|| match this {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        })
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        retry_interrupted(|| match this {
            MaybeTls::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        })
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        retry_interrupted(|| match this {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        })
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        retry_interrupted(|| match this {
            MaybeTls::Plain(s) => Pin::new(s).poll_close(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
        })
    }
}

/// A connection whose handshake response was read, not yet judged: the
/// driver hands `response` to the model, and keeps `stream` only if the
/// model established the connection.
pub(crate) struct Connected {
    pub stream: MaybeTls,
    /// Bytes read past the response head: the first frames.
    pub leftover: Vec<u8>,
    /// The `Sec-WebSocket-Key` sent.
    pub key: String,
    pub response: Response,
}

/// A fresh `Sec-WebSocket-Key`: base64 of 16 random bytes (RFC 6455
/// §4.1). Ours rather than tungstenite's, whose `handshake` feature would
/// compile sha1, httparse and http for this one line.
fn generate_key() -> String {
    let nonce: [u8; 16] = rand::random();
    data_encoding::BASE64.encode(&nonce)
}

/// The default roots: the Mozilla roots shipped in `webpki-roots`.
pub(crate) fn default_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots
}

/// The rustls crypto provider wss: connections use: the one the program
/// installed as rustls's process default (`CryptoProvider::install_default`),
/// else aws-lc-rs (feature `aws-lc-rs`), else ring (feature `ring`, on by
/// default). `None`: none of them, and `wss:` connections fail (`ws:` needs
/// none). For building a `rustls::ClientConfig` by hand with the same
/// provider ([`crate::WebSocketBuilder::tls_config`]).
pub fn crypto_provider() -> Option<Arc<rustls::crypto::CryptoProvider>> {
    if let Some(installed) = rustls::crypto::CryptoProvider::get_default() {
        return Some(installed.clone());
    }
    #[cfg(feature = "aws-lc-rs")]
    return Some(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    // rustls 0.23.48 deprecated ring's provider (ring has no post-quantum
    // key exchange) to steer programs towards aws-lc-rs. Here the program
    // chose ring with our `ring` feature; `aws-lc-rs` is the way to
    // post-quantum. Without the allow, a fresh resolve warns in every
    // build of wsapi from its sources.
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    #[allow(deprecated)]
    return Some(Arc::new(rustls::crypto::ring::default_provider()));
    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    return None;
}

/// What a wss: connection fails with when there is no [`crypto_provider`].
fn no_provider() -> rustls::Error {
    rustls::Error::General(
        "no rustls crypto provider: enable wsapi's feature `ring` or `aws-lc-rs`, or install one with rustls's CryptoProvider::install_default before connecting".into(),
    )
}

/// The default TLS configuration: the [`default_roots`].
pub(crate) fn default_tls_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    tls_config_with_roots(default_roots())
}

/// The configuration builder with our [`crypto_provider`] and its safe
/// default protocol versions.
fn config_builder() -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>, rustls::Error> {
    let provider = crypto_provider().ok_or_else(no_provider)?;
    rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()
}

/// A TLS configuration trusting `roots` that presents `chain` (signed
/// with `key`) to a server asking for a client certificate.
pub(crate) fn tls_config_with_client_auth(
    roots: rustls::RootCertStore,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let config = config_builder()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// A TLS configuration trusting exactly `roots`.
pub(crate) fn tls_config_with_roots(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    Ok(Arc::new(
        config_builder()?.with_root_certificates(roots).with_no_client_auth(),
    ))
}

/// The TLS error inside an I/O error from futures-rustls, when there is
/// one (it wraps rustls errors as `InvalidData`), else the I/O error.
fn tls_failure(target: String, e: io::Error) -> ConnectFailure {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned();
    ConnectFailure::Transport(match tls {
        Some(tls) => TransportError::new(TransportLayer::Tls, target, tls),
        None => TransportError::new(TransportLayer::Tls, target, e),
    })
}

/// Opens TCP (and TLS), writes the opening handshake and reads the
/// response head (see [`crate::handshake`]); judging it is the model's.
pub(crate) async fn connect(
    url: Url,
    protocols: Vec<String>,
    opts: TransportOptions,
) -> Result<Connected, ConnectFailure> {
    let host = url.host_str().ok_or("the URL has no host")?.to_string();
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    // url keeps IPv6 literals in brackets; sockets want them bare.
    let tcp_host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let target = format!("{host}:{port}");
    let tcp = opts.connector.open(&url, &tcp_host, port).await?;
    let mut stream = if opts.connector.needs_tls(&url) {
        let config = match opts.tls.clone() {
            Some(config) => config,
            None => default_tls_config()
                .map_err(|e| ConnectFailure::Transport(TransportError::new(TransportLayer::Tls, target.clone(), e)))?,
        };
        let name = rustls::pki_types::ServerName::try_from(tcp_host.clone())
            .map_err(|e| ConnectFailure::Transport(TransportError::new(TransportLayer::Tls, target.clone(), e)))?;
        let tls = futures_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| tls_failure(target, e))?;
        MaybeTls::Tls(Box::new(tls))
    } else {
        MaybeTls::Plain(tcp)
    };
    let key = generate_key();
    let offers = opts.offered_extensions();
    let request = Request {
        key: &key,
        protocols: &protocols,
        extensions: &offers,
        headers: &opts.headers,
    };
    // `response` keeps what followed the head in its reads as the start of
    // a rejected response's body; for a 101 those bytes are the first frames.
    let Handshaken { response, leftover } = client_handshake(&mut stream, &url, &request).await?;
    Ok(Connected {
        stream,
        leftover,
        key,
        response,
    })
}

impl TransportOptions {
    /// The extension offers of the request: the model's `Config::offered_extensions`.
    pub(crate) fn offered_extensions(&self) -> Vec<String> {
        if self.deflate {
            vec![DEFLATE_OFFER.to_string()]
        } else {
            Vec::new()
        }
    }
}
