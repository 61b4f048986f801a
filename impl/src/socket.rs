//! [`WebSocket`], the owning handle, and its [`WebSocketBuilder`].

use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures_rustls::rustls;
use http::{HeaderName, HeaderValue};
use wsapi_model::{Config, Connection, ConstructError};

use crate::connector::{one_stream, ConnectFn, Connector};
use crate::control::{ControlFrame, ControlObserver};
use crate::dispatch::{run_dispatcher, HandlerPanic, PanicHook};
use crate::driver::{Driver, DriverOptions};
use crate::event::{CloseEvent, Event, FailReason, MessageEvent};
use crate::handle::WebSocketHandle;
use crate::proxy::Proxy;
use crate::redact;
use crate::runtime::{default_runtime, AsyncStream, BoxFuture, BoxedStream, Runtime};
use crate::shared::{Handlers, Pass, Shared};
use crate::sink::MessageSink;
use crate::transport::{default_roots, tls_config_with_client_auth, tls_config_with_roots, TransportOptions};

/// A WebSocket connection with the browser API's semantics.
///
/// Created with [`WebSocket::new`] (or [`WebSocket::builder`]), it connects
/// in the background on the async runtime. Its attributes and methods are
/// those of [`WebSocketHandle`] (it dereferences to one). Events come as a
/// [`Stream`] (or [`WebSocketHandle::next_event`]), or to handlers.
///
/// Dropping it closes the connection (a Close frame with no status, as the
/// standard says for a garbage-collected WebSocket; a connection still
/// CONNECTING is abandoned), and its background task ends.
///
/// ```no_run
/// # wsapi::runtime::block_on(async {
/// use wsapi::{Event, WebSocket};
/// let ws = WebSocket::new("ws://127.0.0.1:9001/", &["chat"])?;
/// while let Some(event) = ws.next_event().await {
///     match event {
///         Event::Open => ws.send("hello")?,
///         Event::Message(m) => println!("got {:?}", m.data),
///         Event::Close(c) => println!("closed {} {:?} clean={}", c.code, c.reason, c.was_clean),
///         Event::Error(why) => println!("failed: {why}"),
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(()) });
/// ```
pub struct WebSocket {
    handle: WebSocketHandle,
}

impl WebSocket {
    /// `new WebSocket(url, protocols)` with default options. `protocols`
    /// may be `&[]`; for owned strings use [`WebSocket::builder`] and
    /// [`WebSocketBuilder::protocols`], which takes any `&[impl AsRef<str>]`.
    pub fn new(url: &str, protocols: &[&str]) -> Result<WebSocket, ConstructError> {
        WebSocketBuilder::new(url)
            .protocols(protocols)
            .connect()
            .map_err(|e| match e {
                BuildError::Construct(c) => c,
                BuildError::InvalidHeader(_) | BuildError::HandshakeHeader { .. } => {
                    unreachable!("no headers were given")
                }
                BuildError::InvalidProxy(_) => unreachable!("no proxy was given"),
                BuildError::ClientCertificate(_) => unreachable!("no client certificate was given"),
            })
    }

    /// A builder for options beyond the standard's (headers, timeouts, limits, TLS).
    pub fn builder(url: &str) -> WebSocketBuilder {
        WebSocketBuilder::new(url)
    }

    /// A non-owning handle (for other tasks; it does not keep the connection open).
    pub fn handle(&self) -> WebSocketHandle {
        self.handle.clone()
    }

    /// A [`futures::Sink`] of messages with backpressure: it waits while
    /// `bufferedAmount` is over `high_water_mark` bytes.
    pub fn sink(&self, high_water_mark: u64) -> MessageSink {
        MessageSink::new(self.handle.clone(), high_water_mark)
    }
}

impl Deref for WebSocket {
    type Target = WebSocketHandle;
    fn deref(&self) -> &WebSocketHandle {
        &self.handle
    }
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.handle.fmt(f)
    }
}

impl Stream for WebSocket {
    type Item = Event;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.handle.poll_next_event(cx)
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        let mut inner = self.handle.shared.lock();
        inner.abandoned = true;
        let _ = inner.input(wsapi_model::Input::Close {
            code: None,
            reason: None,
        });
        while inner.poll_event().is_some() {}
        if let Some(w) = inner.dispatcher_waker.take() {
            w.wake();
        }
        inner.wake_event_readers();
        // Dropped outside the lock: a handler may own things whose drop
        // takes it. A running handler's set is dropped by the dispatcher.
        let handlers = inner.handlers.take();
        drop(inner);
        drop(handlers);
        // The Close frame is written through, as after close().
        crate::driver::drive(&self.handle.shared, Pass::Write);
    }
}

/// Why [`WebSocketBuilder::connect`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// What the constructor throws (`SyntaxError`).
    #[error(transparent)]
    Construct(#[from] ConstructError),
    /// A header given to [`WebSocketBuilder::header`] is not valid HTTP.
    /// It holds the name, cut at its first character that is not allowed
    /// (never the value: it may be a credential).
    #[error("request header {0:?} is not valid HTTP (a token name, a value of visible ASCII, spaces and tabs); fix or remove it")]
    InvalidHeader(String),
    /// A header given to [`WebSocketBuilder::header`] is one the opening
    /// handshake writes itself (`Host`, `Upgrade`, `Connection`,
    /// `Sec-WebSocket-Key`, `-Version`, `-Extensions`, `-Protocol`):
    /// sending it too would put two in the request (an HTTP/1.1 server
    /// answers 400 to two `Host` fields). `use_instead` says what sets it.
    #[error(
        "request header {name:?} is written by the opening handshake itself and would be sent twice; {use_instead}"
    )]
    HandshakeHeader {
        /// The header's name as given.
        name: String,
        /// What to do instead (the builder method that sets it, or none).
        use_instead: &'static str,
    },
    /// The client certificate given to
    /// [`WebSocketBuilder::client_certificate`] is unusable (a key rustls
    /// cannot load, or one that does not match the certificate), or was
    /// given together with [`WebSocketBuilder::tls_config`].
    #[error("client certificate: {0}")]
    ClientCertificate(String),
    /// The proxy URL (given, or from the environment) is unusable. The
    /// text shows the URL with its password replaced by `***`.
    #[error("invalid proxy: {0}")]
    InvalidProxy(String),
}

/// For a header the opening handshake writes itself, what sets it instead
/// (`None`: the user may send it).
fn handshake_header(name: &str) -> Option<&'static str> {
    const OWNED: &[(&str, &str)] = &[
        (
            "host",
            "it is the URL's host and port; to reach another address under this name, keep the name in the URL and open the connection with .connector(..) or .stream(..)",
        ),
        ("upgrade", "remove it (always \"websocket\")"),
        ("connection", "remove it (always \"Upgrade\")"),
        ("sec-websocket-key", "remove it (a fresh random key per connection)"),
        ("sec-websocket-version", "remove it (always 13)"),
        (
            "sec-websocket-extensions",
            "use .deflate(..) (permessage-deflate is the only extension offered)",
        ),
        ("sec-websocket-protocol", "use .protocols(..)"),
    ];
    let name = name.trim();
    OWNED
        .iter()
        .find(|(owned, _)| owned.eq_ignore_ascii_case(name))
        .map(|(_, instead)| *instead)
}

/// Messages shorter than this are sent uncompressed by default
/// ([`WebSocketBuilder::compress_outgoing`]).
pub const DEFAULT_COMPRESS_MIN_SIZE: usize = 64;

/// Received messages (bytes, plus 64 per message) that may wait for the
/// application before reading pauses, by default
/// ([`WebSocketBuilder::max_queued_bytes`]). 1 MiB keeps a fast server's
/// burst from piling up in memory (a browser holds less: Chromium's network
/// service stops reading once 131,000 bytes wait in its pipe to the page)
/// while still covering many reads, so a reader that takes events steadily
/// never meets it. It was 16 MiB; the peak memory of a client echoing
/// 1 GiB of 1 MiB messages fell from 28 to 7.5 MiB when it shrank, and the
/// throughput did not fall (`impl/BENCHMARKS.md`).
pub(crate) const DEFAULT_MAX_QUEUED_BYTES: u64 = 1 << 20;

/// Options for a [`WebSocket`]; [`WebSocketBuilder::connect`] creates it.
///
/// ```no_run
/// use std::time::Duration;
/// let ws = wsapi::WebSocket::builder("wss://example.com/feed")
///     .protocols(&["v2.feed"])
///     .header("Authorization", "Bearer abc")
///     .connect_timeout(Duration::from_secs(5))
///     .max_message_size(Some(1 << 20))
///     .connect()?;
/// # Ok::<(), wsapi::BuildError>(())
/// ```
pub struct WebSocketBuilder {
    url: String,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    config: Config,
    deflate: bool,
    compress_min_size: Option<usize>,
    max_message_size: Option<usize>,
    max_frame_size: Option<usize>,
    max_queued_bytes: u64,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Roots from `root_certificates`/`native_roots` (`None`: webpki's).
    roots: Option<rustls::RootCertStore>,
    client_certificate: Option<ClientCertificate>,
    journal: bool,
    handlers: Option<Handlers>,
    panic_hook: Option<PanicHook>,
    control_observer: Option<ControlObserver>,
    runtime: Option<Arc<dyn Runtime>>,
    connector: Option<UserConnector>,
    already_secure: bool,
    proxy: Option<String>,
    proxy_from_env: bool,
}

/// Secrets hidden: the URL's password and credential headers' values.
impl std::fmt::Debug for WebSocketBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketBuilder")
            .field("url", &redact::url_str(&self.url))
            .field("protocols", &self.protocols)
            .field("headers", &redact::Headers(&self.headers))
            .field("config", &self.config)
            .field("deflate", &self.deflate)
            .field("compress_min_size", &self.compress_min_size)
            .field("max_message_size", &self.max_message_size)
            .field("max_frame_size", &self.max_frame_size)
            .field("max_queued_bytes", &self.max_queued_bytes)
            .field("tls", &self.tls.is_some())
            .field("roots", &self.roots.as_ref().map(rustls::RootCertStore::len))
            .field("client_certificate", &self.client_certificate.is_some())
            .field("journal", &self.journal)
            .field("handlers", &self.handlers)
            .field("control_observer", &self.control_observer.is_some())
            .field("runtime", &self.runtime.is_some())
            .field("connector", &self.connector)
            .field("already_secure", &self.already_secure)
            .field("proxy", &self.proxy.as_deref().map(redact::url_str))
            .field("proxy_from_env", &self.proxy_from_env)
            .finish()
    }
}

/// A client certificate chain and its key, shared by clones of the builder.
#[derive(Clone)]
struct ClientCertificate(
    Arc<(
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    )>,
);

/// The user's connector, kept in the (`Clone`, `Debug`) builder.
#[derive(Clone)]
struct UserConnector(Arc<ConnectFn>);

impl std::fmt::Debug for UserConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserConnector")
    }
}

impl WebSocketBuilder {
    /// Starts a builder for `url`.
    pub fn new(url: &str) -> Self {
        WebSocketBuilder {
            url: url.to_string(),
            protocols: Vec::new(),
            headers: Vec::new(),
            config: Config::default(),
            deflate: true,
            compress_min_size: Some(DEFAULT_COMPRESS_MIN_SIZE),
            max_message_size: Some(64 << 20),
            max_frame_size: Some(16 << 20),
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
            tls: None,
            roots: None,
            client_certificate: None,
            journal: false,
            handlers: None,
            panic_hook: None,
            control_observer: None,
            runtime: None,
            connector: None,
            already_secure: false,
            proxy: None,
            proxy_from_env: false,
        }
    }

    /// Subprotocols to offer (`Sec-WebSocket-Protocol`).
    pub fn protocols<S: AsRef<str>>(mut self, protocols: &[S]) -> Self {
        self.protocols = protocols.iter().map(|p| p.as_ref().to_string()).collect();
        self
    }

    /// An extra request header (Authorization, Origin, Cookie, ...).
    ///
    /// Headers the opening handshake writes itself are refused by
    /// [`Self::connect`] with [`BuildError::HandshakeHeader`], which names
    /// what sets them: subprotocols with [`Self::protocols`], extensions
    /// with [`Self::deflate`], `Host` from the URL.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Fail the connection if the handshake takes longer (default 30 s; `None`: never).
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.connect_timeout = timeout.into();
        self
    }

    /// How long to wait for the server to end the closing handshake (default 2 s).
    pub fn closing_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.closing_timeout = timeout.into();
        self
    }

    /// Largest message accepted (default 64 MiB); a larger one fails the connection with 1009.
    pub fn max_message_size(mut self, max: Option<usize>) -> Self {
        self.max_message_size = max;
        self
    }

    /// Largest frame accepted (default 16 MiB).
    pub fn max_frame_size(mut self, max: Option<usize>) -> Self {
        self.max_frame_size = max;
        self
    }

    /// Close the connection (error, then close 1006) if unsent data would
    /// exceed this many bytes (the spec's "full" buffer; default: no limit).
    pub fn max_buffered_amount(mut self, max: Option<u64>) -> Self {
        self.config.max_buffered_amount = max;
        self
    }

    /// Keep-alive, an extension beyond the browser API (off by default):
    /// after `interval` with nothing received, send a ping; if nothing
    /// arrives within `timeout` after it, fail the connection (an error
    /// event with [`crate::FailReason::KeepAliveTimeout`], then close 1006).
    /// A half-open peer is detected within `interval + timeout`. A server
    /// that keeps sending pings but reads nothing we send (reading pauses
    /// once our pongs cannot be written) fails with
    /// [`crate::FailReason::KeepAliveStalled`] instead; while our writes
    /// progress, the server counts as alive.
    pub fn keep_alive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.config.keep_alive = Some(wsapi_model::KeepAlive { interval, timeout });
        self
    }

    /// Stop reading from the network while this many received bytes wait
    /// to be taken as events, each message counting 64 bytes more (default
    /// 1 MiB; a browser holds less). A message already begun is
    /// always read whole, so any size up to `max_message_size` arrives; the
    /// bound only stops new frames from being read while the application
    /// is behind, and TCP then slows the server.
    pub fn max_queued_bytes(mut self, max: u64) -> Self {
        self.max_queued_bytes = max.max(1);
        self
    }

    /// Offer `permessage-deflate` (default on, as browsers do).
    pub fn deflate(mut self, on: bool) -> Self {
        self.deflate = on;
        self
    }

    /// Once `permessage-deflate` is negotiated, compress the messages we
    /// send of at least `min_size` bytes (default 64: shorter ones rarely
    /// shrink); `None` sends everything uncompressed, which RFC 7692
    /// allows. Browsers compress every message. A message whose
    /// compressed form would not be smaller (judged on its first 128 KiB)
    /// is sent uncompressed too, and a compressed message leaves in frames
    /// of 128 KiB of input each, so compressing never holds a second copy
    /// of it. Received messages are inflated either way. The server may forbid the window size we
    /// compress with (`client_max_window_bits` below 15); we then send
    /// uncompressed.
    pub fn compress_outgoing(mut self, min_size: Option<usize>) -> Self {
        self.compress_min_size = min_size;
        self
    }

    /// Use this rustls configuration for `wss:` (default: webpki roots).
    /// It replaces [`Self::root_certificates`] given before (the last of
    /// the two wins); with it, give a client certificate in the
    /// configuration itself, not with [`Self::client_certificate`].
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self.roots = None;
        self
    }

    /// Trust exactly these root certificates (DER) for `wss:`.
    pub fn root_certificates(mut self, roots: impl IntoIterator<Item = Vec<u8>>) -> Result<Self, rustls::Error> {
        let mut store = rustls::RootCertStore::empty();
        for der in roots {
            store.add(rustls::pki_types::CertificateDer::from(der))?;
        }
        self.roots = Some(store);
        self.tls = None;
        Ok(self)
    }

    /// Present this client certificate for `wss:` when the server asks
    /// for one (mutual TLS): `chain` is the certificate first, then any
    /// intermediates; `key` its private key (PKCS#8, PKCS#1 or SEC1; the
    /// `PemObject` trait of [`rustls::pki_types`] reads them from PEM).
    /// The roots stay those of [`Self::root_certificates`] (or the
    /// defaults). [`Self::connect`] fails with
    /// [`BuildError::ClientCertificate`] if the key is unusable or does not
    /// match, or if [`Self::tls_config`] was given too.
    ///
    /// ```no_run
    /// use wsapi::rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    /// let chain = CertificateDer::pem_file_iter("client.pem")?.collect::<Result<Vec<_>, _>>()?;
    /// let key = PrivateKeyDer::from_pem_file("client.key")?;
    /// let ws = wsapi::WebSocket::builder("wss://internal.example/feed")
    ///     .client_certificate(chain, key)
    ///     .connect()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client_certificate(
        mut self,
        chain: Vec<rustls::pki_types::CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Self {
        self.client_certificate = Some(ClientCertificate(Arc::new((chain, key))));
        self
    }

    fn handler(mut self, f: impl FnOnce(&mut Handlers)) -> Self {
        f(self.handlers.get_or_insert_with(Handlers::default));
        self
    }

    /// `onopen`. A socket built with any `on_*` handler delivers every
    /// event to its handlers, from the first one on (an event with no
    /// handler is dropped, as in a browser with no listener), instead of to
    /// the event stream. Handlers run one at a time, in event order, on the
    /// handler threads of wsapi's own (so a slow handler never stalls the
    /// connection itself), and are dropped once the close event was
    /// delivered. Inside a handler, the socket's `on_*` methods replace
    /// handlers as `ws.onmessage = f` does.
    ///
    /// ```no_run
    /// # wsapi::runtime::block_on(async {
    /// let ws = wsapi::WebSocket::builder("ws://127.0.0.1:9001/")
    ///     .on_open(|ws| ws.send("hello").unwrap())
    ///     .on_message(|ws, m| {
    ///         println!("{:?}", m.data);
    ///         ws.close(None, None).unwrap();
    ///     })
    ///     .on_close(|_, c| println!("closed {}", c.code))
    ///     .connect()?;
    /// ws.next_event().await; // None once the close event was delivered
    /// # Ok::<(), wsapi::BuildError>(()) });
    /// ```
    pub fn on_open(self, mut f: impl FnMut(&WebSocketHandle) + Send + 'static) -> Self {
        self.handler(|h| h.open = Some(Box::new(move |ws, ()| f(ws))))
    }

    /// `onmessage` (see [`Self::on_open`]).
    pub fn on_message(self, f: impl FnMut(&WebSocketHandle, MessageEvent) + Send + 'static) -> Self {
        self.handler(|h| h.message = Some(Box::new(f)))
    }

    /// `onerror` (see [`Self::on_open`]).
    pub fn on_error(self, f: impl FnMut(&WebSocketHandle, FailReason) + Send + 'static) -> Self {
        self.handler(|h| h.error = Some(Box::new(f)))
    }

    /// `onclose` (see [`Self::on_open`]).
    pub fn on_close(self, f: impl FnMut(&WebSocketHandle, CloseEvent) + Send + 'static) -> Self {
        self.handler(|h| h.close = Some(Box::new(f)))
    }

    /// Called with every panic of an `on_*` handler, instead of the default
    /// report (a line on stderr). The panic is caught either way: the
    /// handler stays set and the connection carries on, as a browser's does
    /// after a listener throws.
    pub fn on_handler_panic(mut self, hook: impl Fn(&HandlerPanic) + Send + Sync + 'static) -> Self {
        self.panic_hook = Some(PanicHook(Arc::new(hook)));
        self
    }

    /// Calls `observer` with every Ping and Pong frame received and every
    /// Ping sent (ours, not the browser's API, which never shows control
    /// frames; events are unchanged). It runs on the task driving the
    /// connection, with no lock of the model held, so it may call the
    /// socket, but must be quick and never wait for the socket: see
    /// [`crate::control`] for why a callback and what it may do.
    ///
    /// ```no_run
    /// use wsapi::control::ControlFrame;
    /// let ws = wsapi::WebSocket::builder("ws://127.0.0.1:9001/")
    ///     .on_control_frame(|frame| match frame {
    ///         ControlFrame::PongReceived(payload) => eprintln!("pong {payload:?}"),
    ///         other => eprintln!("{other:?}"),
    ///     })
    ///     .connect()?;
    /// # Ok::<(), wsapi::BuildError>(())
    /// ```
    pub fn on_control_frame(mut self, observer: impl Fn(&ControlFrame) + Send + Sync + 'static) -> Self {
        self.control_observer = Some(ControlObserver(Arc::new(observer)));
        self
    }

    /// Record every input, event and transmit of the model, for
    /// [`WebSocketHandle::journal`] (tests and debugging; costs a copy of
    /// every message).
    pub fn record_journal(mut self, on: bool) -> Self {
        self.journal = on;
        self
    }

    /// Run the connection on this runtime (default:
    /// [`crate::runtime::default_runtime`] when `connect` is called).
    pub fn runtime(mut self, runtime: Arc<dyn Runtime>) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Open the connection's byte stream with `connect` instead of TCP (a
    /// Unix socket, a tunnel, a custom transport...). It gets the URL and
    /// runs inside the connect timeout; an error fails the connection like a
    /// refused TCP connect. For `wss:` TLS is still added on the stream,
    /// unless [`Self::already_secure`] says otherwise.
    ///
    /// ```no_run
    /// use wsapi::runtime::connect_tcp;
    /// let ws = wsapi::WebSocket::builder("ws://service.internal/feed")
    ///     .connector(|_url| Box::pin(async { connect_tcp("10.0.0.7", 8080).await }))
    ///     .connect()?;
    /// # Ok::<(), wsapi::BuildError>(())
    /// ```
    pub fn connector<F>(mut self, connect: F) -> Self
    where
        F: Fn(&crate::Url) -> BoxFuture<std::io::Result<BoxedStream>> + Send + Sync + 'static,
    {
        self.connector = Some(UserConnector(Arc::new(connect)));
        self
    }

    /// Run the connection over this already-connected stream instead of
    /// opening TCP (see [`Self::connector`]; the URL still names the host
    /// and path of the handshake). The stream is used once: a builder
    /// cloned after this call shares it, and the second connection made
    /// from it fails.
    pub fn stream(mut self, stream: impl AsyncStream) -> Self {
        self.connector = Some(UserConnector(one_stream(Box::new(stream))));
        self
    }

    /// [`Self::stream`] for a stream with tokio's I/O traits
    /// (`tokio::io::AsyncRead + AsyncWrite`): a `tokio::net::TcpStream`,
    /// `UnixStream`, a `tokio-rustls` stream... (feature `tokio-runtime`).
    /// [`Self::stream`] takes the `futures` traits; this wraps the stream
    /// in `tokio-util`'s compat layer, as [`crate::runtime::tokio_io`] does
    /// for a [`Self::connector`].
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let unix = tokio::net::UnixStream::connect("/run/feed.sock").await?;
    /// let ws = wsapi::WebSocket::builder("ws://localhost/feed")
    ///     .tokio_stream(unix)
    ///     .connect()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tokio-runtime")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio-runtime")))]
    pub fn tokio_stream<S>(self, stream: S) -> Self
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        self.stream(crate::runtime::tokio_io(stream))
    }

    /// The stream from [`Self::connector`] or [`Self::stream`] already is
    /// secure (TLS done by the user, a local socket...): do not add TLS on
    /// it for `wss:` (default `false`).
    pub fn already_secure(mut self, secure: bool) -> Self {
        self.already_secure = secure;
        self
    }

    /// Connect through this proxy, for `ws:` and `wss:` (TLS and the
    /// handshake then run through it): an HTTP proxy with CONNECT,
    /// `http://[user:password@]host[:port]` (user and password sent as
    /// Basic credentials), or a SOCKS5 proxy, `socks5://...` (the server's
    /// name resolved here, as curl) or `socks5h://...` (resolved by the
    /// proxy), with user and password as RFC 1929 says; port 1080 by
    /// default, as curl. A refused
    /// CONNECT (407, 403...) or an unreachable proxy fails the connection
    /// (error, close 1006) with a [`crate::TransportError`] of layer
    /// [`crate::TransportLayer::Proxy`], whose cause is a
    /// [`crate::ProxyError`] naming the proxy, with the HTTP status or the
    /// I/O error kind; the connect timeout covers the proxy too. Ignored with [`Self::connector`].
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = Some(url.to_string());
        self
    }

    /// Take the proxy from the environment as curl does (default off):
    /// `https_proxy`/`HTTPS_PROXY` for `wss:`, `http_proxy` for `ws:`
    /// (lower case only, as curl), else `all_proxy`/`ALL_PROXY`; hosts in
    /// `no_proxy`/`NO_PROXY` (names and their subdomains, IP addresses
    /// exactly or as CIDR ranges such as `10.0.0.0/8`, or `*` alone) are
    /// reached directly. [`Self::proxy`] wins over the environment.
    pub fn proxy_from_env(mut self, on: bool) -> Self {
        self.proxy_from_env = on;
        self
    }

    /// The model configuration this builder will use.
    pub fn model_config(&self) -> Config {
        let mut config = self.config.clone();
        if self.deflate {
            config.offered_extensions = vec![crate::transport::DEFLATE_OFFER.to_string()];
        }
        config
    }

    /// Trust the operating system's certificate store for `wss:` (feature
    /// `native-roots`). Fails if no certificate could be loaded.
    #[cfg(feature = "native-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "native-roots")))]
    pub fn native_roots(mut self) -> Result<Self, rustls::Error> {
        let loaded = rustls_native_certs::load_native_certs();
        let mut store = rustls::RootCertStore::empty();
        let (added, _ignored) = store.add_parsable_certificates(loaded.certs);
        if added == 0 {
            return Err(rustls::Error::General(format!(
                "no usable certificate in the system store ({} errors)",
                loaded.errors.len()
            )));
        }
        self.roots = Some(store);
        self.tls = None;
        Ok(self)
    }

    /// The rustls configuration for `wss:` (`None`: the default, made when
    /// needed).
    fn tls(&self) -> Result<Option<Arc<rustls::ClientConfig>>, BuildError> {
        match (&self.tls, &self.client_certificate) {
            (Some(_), Some(_)) => Err(BuildError::ClientCertificate(
                "given with tls_config(..), whose configuration decides alone; put the certificate in it (with_client_auth_cert), or use root_certificates(..) instead".into(),
            )),
            (Some(config), None) => Ok(Some(config.clone())),
            // Without a crypto provider, a wss: connection fails when it
            // connects (with what to enable); ws: needs none.
            (None, None) => Ok(self.roots.clone().and_then(|roots| tls_config_with_roots(roots).ok())),
            (None, Some(ClientCertificate(cert))) => {
                let roots = self.roots.clone().unwrap_or_else(default_roots);
                let (chain, key) = &**cert;
                if crate::transport::crypto_provider().is_none() {
                    return Ok(None);
                }
                tls_config_with_client_auth(roots, chain.clone(), key.clone_key())
                    .map(Some)
                    .map_err(|e| BuildError::ClientCertificate(format!("{e}; check that the key is the certificate's, in PKCS#8, PKCS#1 or SEC1")))
            }
        }
    }

    /// Validates, creates the [`WebSocket`] and starts connecting in the background.
    pub fn connect(self) -> Result<WebSocket, BuildError> {
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            if let Some(use_instead) = handshake_header(name) {
                return Err(BuildError::HandshakeHeader {
                    name: redact::header_name(name),
                    use_instead,
                });
            }
            let invalid = || BuildError::InvalidHeader(redact::header_name(name));
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
            let v = HeaderValue::from_str(value).map_err(|_| invalid())?;
            headers.push((n, v));
        }
        let config = self.model_config();
        let model = Connection::new(&self.url, &self.protocols, config, Duration::ZERO)?;
        let tls = self.tls()?;
        let handler_mode = self.handlers.is_some();
        let proxy = match (&self.proxy, self.proxy_from_env) {
            (Some(text), _) => Some(Proxy::parse(text).map_err(BuildError::InvalidProxy)?),
            (None, true) => {
                Proxy::from_env(model.url(), |name| std::env::var(name).ok()).map_err(BuildError::InvalidProxy)?
            }
            (None, false) => None,
        };
        let runtime = self.runtime.unwrap_or_else(default_runtime);
        let shared = Shared::new(model, self.journal, self.handlers);
        let opts = DriverOptions {
            transport: TransportOptions {
                headers,
                deflate: self.deflate,
                max_message_size: self.max_message_size,
                max_frame_size: self.max_frame_size,
                tls,
                connector: Connector {
                    runtime: runtime.clone(),
                    custom: self.connector.map(|c| c.0),
                    already_secure: self.already_secure,
                    proxy,
                },
            },
            max_queued_bytes: self.max_queued_bytes,
            compress_min_size: self.compress_min_size,
            control_observer: self.control_observer,
        };
        let epoch = shared.lock().epoch();
        *shared.io.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(Driver::new(opts, epoch)));
        runtime.spawn(Box::pin(crate::driver::run(shared.clone())));
        if handler_mode {
            runtime.spawn(Box::pin(run_dispatcher(shared.clone(), self.panic_hook)));
        }
        Ok(WebSocket {
            handle: WebSocketHandle::from_shared(shared),
        })
    }
}
