//! Opening the byte stream a connection runs over, before TLS and the HTTP
//! upgrade: TCP through the connection's [`Runtime`].
//!
//! Kept apart from `transport` (TLS and the opening handshake) so that
//! other ways of getting a stream plug in here without touching the
//! handshake.

use std::sync::Arc;

use crate::runtime::{BoxedStream, Runtime};

/// How a connection gets its byte stream.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    pub runtime: Arc<dyn Runtime>,
}

impl Connector {
    /// Opens the stream to `host:port` (`host` without IPv6 brackets).
    /// The error is the text of [`wsapi_model::FailReason::Handshake`].
    pub async fn open(&self, host: &str, port: u16) -> Result<BoxedStream, String> {
        self.runtime
            .connect_tcp(host.to_string(), port)
            .await
            .map_err(|e| format!("TCP connect to {host}:{port} failed: {e}"))
    }
}
