//! Opening the byte stream a connection runs over, before TLS and the HTTP
//! upgrade: TCP through the connection's [`Runtime`], a tunnel through an
//! HTTP proxy (`proxy`), or the user's own connector ([`crate::WebSocketBuilder::connector`],
//! [`crate::WebSocketBuilder::stream`]).
//!
//! Kept apart from `transport` (TLS and the opening handshake) so that
//! other ways of getting a stream plug in here without touching the
//! handshake. Whatever opens the stream runs inside the connection's
//! connect future, so the model's connect timeout covers it.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};

use url::Url;

use wsapi_model::{TransportError, TransportLayer};

use crate::connect_failure::ConnectFailure;
use crate::proxy::Proxy;
use crate::runtime::{BoxFuture, BoxedStream, Runtime};

/// A user's connector: given the URL, opens the stream to its server.
pub(crate) type ConnectFn = dyn Fn(&Url) -> BoxFuture<io::Result<BoxedStream>> + Send + Sync;

/// How a connection gets its byte stream.
#[derive(Clone)]
pub(crate) struct Connector {
    pub runtime: Arc<dyn Runtime>,
    /// The user's connector instead of TCP.
    pub custom: Option<Arc<ConnectFn>>,
    /// The user said their stream already is secure: no TLS on top for `wss:`.
    pub already_secure: bool,
    /// Tunnel through this HTTP proxy (when there is no user connector).
    pub proxy: Option<Proxy>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("runtime", &self.runtime)
            .field("custom", &self.custom.as_ref().map(|_| "user connector"))
            .field("already_secure", &self.already_secure)
            .field("proxy", &self.proxy)
            .finish()
    }
}

impl Connector {
    /// Opens the stream for `url` to `host:port` (`host` without IPv6
    /// brackets). Every failure is the transport's (TCP, the user's
    /// connector, or the proxy's refusal), with `host:port` as its target.
    pub async fn open(&self, url: &Url, host: &str, port: u16) -> Result<BoxedStream, ConnectFailure> {
        let target = || format!("{host}:{port}");
        let tcp = |e: io::Error| ConnectFailure::Transport(TransportError::new(TransportLayer::Tcp, target(), e));
        match &self.custom {
            Some(connect) => crate::guarded::connect(connect(url))
                .await
                .map_err(|e| tcp(io::Error::new(e.kind(), format!("the connector failed: {e}")))),
            None if self.proxy.is_some() => {
                let proxy = self.proxy.as_ref().expect("checked");
                proxy.tunnel(self.runtime.as_ref(), host, port).await.map_err(|why| {
                    // The proxy's layer, not TCP's: the advice for a refused
                    // or unreachable server would point at the wrong machine.
                    ConnectFailure::Transport(TransportError::new(TransportLayer::Proxy, target(), why))
                })
            }
            None => self.runtime.connect_tcp(host.to_string(), port).await.map_err(tcp),
        }
    }

    /// Whether TLS must be added on the stream for `url`.
    pub fn needs_tls(&self, url: &Url) -> bool {
        url.scheme() == "wss" && !self.already_secure
    }
}

/// A connector that hands out one already-connected stream, once.
pub(crate) fn one_stream(stream: BoxedStream) -> Arc<ConnectFn> {
    let slot = Mutex::new(Some(stream));
    Arc::new(move |_url: &Url| {
        let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        Box::pin(
            async move { taken.ok_or_else(|| io::Error::other("the stream given to the builder was already used")) },
        )
    })
}
