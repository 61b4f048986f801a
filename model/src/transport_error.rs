//! Why the transport under the WebSocket (TCP, TLS) could not be set up,
//! with the driver's own error kept as a typed cause.
//!
//! The model is `no_std`, so it cannot name `std::io::Error` or a TLS
//! library's error type; it keeps whatever the driver saw as a
//! `dyn core::error::Error`, which a caller downcasts
//! ([`TransportError::cause`]) or, with the `std` feature, asks for its
//! [`std::io::ErrorKind`] ([`TransportError::io_error_kind`]).

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use core::error::Error;
use core::fmt;
use core::hash::{Hash, Hasher};

/// The layer that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportLayer {
    /// Resolving the host or opening the TCP connection.
    Tcp,
    /// The TLS handshake (`wss:`).
    Tls,
    /// The proxy on the way to the server: unreachable, refusing the
    /// tunnel, or not answering as a proxy. The server itself was not
    /// reached; the cause names the proxy.
    Proxy,
}

/// TCP or TLS failed while connecting: which layer, to where, and the
/// driver's error.
///
/// Equality and hashing compare the layer, the target and the cause's
/// text (a `dyn Error` has no equality of its own), so that a recorded
/// session replays equal.
#[derive(Clone)]
pub struct TransportError {
    layer: TransportLayer,
    target: String,
    cause: Arc<dyn Error + Send + Sync + 'static>,
}

impl TransportError {
    /// `layer` failed while connecting to `target` (`host:port`) with `cause`.
    pub fn new(layer: TransportLayer, target: impl Into<String>, cause: impl Error + Send + Sync + 'static) -> Self {
        TransportError {
            layer,
            target: target.into(),
            cause: Arc::new(cause),
        }
    }

    /// The layer that failed.
    pub fn layer(&self) -> TransportLayer {
        self.layer
    }

    /// Where the connection was going, as `host:port`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The driver's error: for `wsapi`, a `std::io::Error` for TCP, and a
    /// `rustls::Error` for TLS (or a `std::io::Error` if the connection
    /// broke during the TLS handshake). Downcast it with
    /// `cause().downcast_ref::<T>()`.
    pub fn cause(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.cause
    }

    /// The I/O error kind, if the cause is a `std::io::Error` or has one
    /// as its source, at any depth (`ConnectionRefused`, `TimedOut`,
    /// `HostUnreachable`...; a proxy that could not be reached keeps the
    /// kind of its TCP failure under the driver's proxy error).
    #[cfg(feature = "std")]
    pub fn io_error_kind(&self) -> Option<std::io::ErrorKind> {
        let mut next: Option<&(dyn Error + 'static)> = Some(&*self.cause);
        while let Some(e) = next {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                return Some(io.kind());
            }
            next = e.source();
        }
        None
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (target, cause) = (&self.target, &self.cause);
        match self.layer {
            TransportLayer::Tcp => write!(
                f,
                "TCP connection to {target} failed: {cause}; check the host and port, and that the server is running and reachable"
            ),
            TransportLayer::Tls => write!(
                f,
                "TLS handshake with {target} failed: {cause}; check the server's certificate and which roots are trusted"
            ),
            // The cause names the proxy and says what to do: the advice
            // depends on how it failed (unreachable, 407, 403...).
            TransportLayer::Proxy => write!(f, "connection to {target} through a proxy failed: {cause}"),
        }
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("layer", &self.layer)
            .field("target", &self.target)
            .field("cause", &self.cause)
            .finish()
    }
}

/// The cause's text is part of [`Display`](fmt::Display), so it is not
/// also a `source()` (C-GOOD-ERR: report it once); [`TransportError::cause`]
/// gives it typed.
impl Error for TransportError {}

impl PartialEq for TransportError {
    fn eq(&self, other: &Self) -> bool {
        self.layer == other.layer && self.target == other.target && self.cause.to_string() == other.cause.to_string()
    }
}

impl Eq for TransportError {}

impl Hash for TransportError {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.layer.hash(state);
        self.target.hash(state);
        self.cause.to_string().hash(state);
    }
}
