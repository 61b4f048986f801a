//! # wsapi: the browser `WebSocket` API for native Rust programs
//!
//! A client with the semantics of the [WHATWG WebSocket Standard]:
//! `readyState`, `bufferedAmount`, `send`, `close(code, reason)`,
//! `binaryType`, `protocol`, `extensions`, and the open / message / error /
//! close events in the order a browser fires them. Every rule lives in
//! [`wsapi_model`], a pure state machine; this crate is the I/O driver
//! around it, on `futures` (with tungstenite's frame types), with `async-std`
//! (default), `smol` (feature `smol-runtime`) or `tokio` (feature
//! `tokio-runtime`) underneath: see [`runtime`].
//!
//! [WHATWG WebSocket Standard]: https://websockets.spec.whatwg.org/
//!
//! ## Choosing the runtime
//! The default feature runs on async-std. On tokio, turn the defaults off
//! (otherwise async-std is compiled in too, unused inside a tokio runtime):
//!
//! ```toml
//! [dependencies]
//! wsapi = { version = "0.1", default-features = false, features = ["tokio-runtime", "ring"] }
//! ```
//!
//! Inside a tokio runtime every connection then runs on that runtime (see
//! [`runtime`]); nothing else changes in the code. On smol:
//! `default-features = false, features = ["smol-runtime", "ring"]`. `ring`
//! (or `aws-lc-rs`) is rustls's crypto provider for `wss:`; without either,
//! `wss:` uses the provider the program installed (see [`crypto_provider`]).
//!
//! | feature | what it adds |
//! |---|---|
//! | `async-std-runtime` (default) | `runtime::AsyncStdRuntime` |
//! | `smol-runtime` | `runtime::SmolRuntime` |
//! | `tokio-runtime` | `runtime::TokioRuntime`; inside a tokio runtime, connections use it |
//! | `ring` (default) | rustls's crypto provider for `wss:`: ring |
//! | `aws-lc-rs` | rustls's crypto provider for `wss:`: aws-lc-rs (wins over `ring`) |
//! | `native-roots` | `WebSocketBuilder::native_roots`: the operating system's certificates |
//!
//! The features are additive: several runtimes may be enabled at once.
//!
//! ```no_run
//! # wsapi::runtime::block_on(async {
//! use wsapi::{Event, WebSocket};
//! let ws = WebSocket::new("ws://127.0.0.1:9001/echo", &[])?;
//! while let Some(event) = ws.next_event().await {
//!     match event {
//!         Event::Open => ws.send("hello")?,
//!         Event::Message(m) => { println!("{:?}", m.data); ws.close(Some(1000), Some("done"))?; }
//!         Event::Error(why) => eprintln!("failed: {why}"),
//!         Event::Close(c) => println!("closed with {} (clean: {})", c.code, c.was_clean),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(()) });
//! ```
//!
//! ## Layout
//! - [`WebSocket`] / [`WebSocketHandle`]: the API ([`handle`], [`socket`]).
//! - `driver`: the connection's background task: connects, writes what the
//!   model transmits, reads and feeds what arrives to the model, fires its
//!   timers.
//! - `dispatch`: handler mode's dispatcher, which runs the `on_*` handlers
//!   off the connection's task (see [`WebSocketBuilder::on_open`]).
//! - `handshake`: writes the opening handshake and reads the response head
//!   (`httparse`); the model judges the response, tungstenite never sees it.
//! - `host_gate`: the process-wide queue that keeps one connection per host
//!   and port in CONNECTING (the rule is the model's `HostGate`).
//! - `frame`: the frame layer, sans-IO: decodes every received byte once
//!   (headers, fragments, control frames, raw Close payloads for the model,
//!   UTF-8, inflating, limits) and encodes what we send (masking,
//!   coalescing writes by size, compressing); `conn` moves its bytes.
//! - [`runtime`]: every runtime-specific call (spawn, TCP, timers), behind
//!   the [`runtime::Runtime`] trait.
//! - `connector`: opening the byte stream: TCP through the runtime, the
//!   user's stream or connector, or a tunnel through an HTTP proxy (`proxy`).
//!
//! ## Where to run the code that uses a socket
//! Each connection is a task of its own on the runtime: the browser API
//! needs pongs, the closing handshake and timers to go on while the user
//! does not poll. Every event the user awaits and every call the user makes
//! therefore hands work between that task and the user's. From a task
//! spawned on the runtime the hand-off is cheap; from `block_on` on a thread
//! of its own (`#[async_std::main]`'s or `#[tokio::main]`'s main function)
//! each one wakes a parked thread. When latency or the rate of new
//! connections matters, spawn the code that drives the socket: a loopback
//! round trip measured 40–45 µs from a task against 82 µs from `block_on`
//! (`impl/BENCHMARKS.md`).
#![warn(missing_docs)]
// docs.rs builds with every feature and `--cfg docsrs`: each feature-gated
// item then says which feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod conn;
mod connect_failure;
mod connector;
mod deadlines;
mod dispatch;
mod driver;
mod event;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod guarded;
pub mod handle;
mod handler_threads;
mod handshake;
mod host_gate;
mod message;
mod panic_message;
mod proxy;
mod proxy_error;
pub mod reconnect;
mod redact;
pub mod runtime;
mod shared;
mod sink;
pub mod socket;
mod socks;
mod transport;

pub use dispatch::HandlerPanic;
pub use event::{BinaryType, CloseEvent, Event, FailReason, MessageEvent};
/// The TLS library, for [`WebSocketBuilder::tls_config`] and for reading a
/// [`TransportError::cause`] of a TLS failure (`rustls::Error`).
pub use futures_rustls::rustls;
pub use handle::{HandlerError, Snapshot, WebSocketHandle};
pub use message::Message;
pub use proxy_error::ProxyError;
pub use sink::MessageSink;
pub use socket::{BuildError, WebSocket, WebSocketBuilder};
pub use transport::crypto_provider;
pub use tungstenite::{Bytes, Utf8Bytes};
pub use wsapi_model::reconnect::{ReconnectPolicy, StopReason};
pub use wsapi_model::{CloseError, ConstructError, ReadyState, SendError, TransportError, TransportLayer, Url};

/// How many connection tasks are running in this process: each socket's
/// driver, and in handler mode its dispatcher. The driver ends once its
/// connection is closed, the dispatcher once the close event was delivered
/// (or the socket dropped); a test uses this to check nothing leaks.
pub fn live_connections() -> usize {
    shared::LIVE_DRIVERS.load(std::sync::atomic::Ordering::SeqCst)
}
