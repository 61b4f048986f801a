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
//! - `driver`: the connection's I/O around the model (connects, writes what
//!   the model transmits, reads and feeds what arrives to the model, fires
//!   its timers), and who drives it when (below). `shared` holds the model,
//!   the I/O and the router of wake-ups; `deadlines` the timers of every
//!   connection on one thread.
//! - [`control`]: pings and pongs, **ours, not the browser's API**:
//!   [`WebSocketHandle::ping`] and [`WebSocketBuilder::on_control_frame`],
//!   which shows them without changing any event.
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
//! ## Who drives the connection, and when
//! The browser API needs pongs, the closing handshake, timers and handler
//! dispatch to go on while the user does not poll, so every connection has
//! a task of its own on the runtime. But that task drives the connection
//! only when nobody else does. The connection's I/O sits behind a lock that
//! whoever needs progress takes (without waiting: a party that finds it
//! taken leaves a request the holder carries out before it lets go):
//!
//! - a task waiting in [`WebSocketHandle::next_event`],
//!   [`WebSocketHandle::next_events`], [`WebSocketHandle::buffered_at_most`]
//!   or on a [`MessageSink`] drives it itself: it reads, decodes, feeds the
//!   model and takes its event, or writes, with no other thread woken. The
//!   I/O's wake-ups go to that task while it waits;
//! - [`WebSocketHandle::send`] writes its message through at once when it
//!   is the first since the last wait, and leaves the rest of a burst to the
//!   next pass, which writes them together, except that a long burst's
//!   sender writes it itself every 64 KiB; `close()` writes through;
//! - the connection's own task is woken only when the I/O or a timer is
//!   ready and no task waits on the socket (or a wait ended without using a
//!   wake-up it was given).
//!
//! Raw polls (`poll_next_event`, the [`futures::Stream`], `try_next_event`)
//! drive the connection too when nothing is ready, but leave its next
//! wake-up to the connection's task: a poll cannot tell whether it will be
//! polled again, and a wake-up given to a task that stopped polling would
//! stall the socket. Why this is correct, and its proof obligations, are in
//! the `driver` module's docs; `impl/BENCHMARKS.md` has the figures.
//!
//! ## The data path, in the files that carry it
//! Sending: `send()` (`handle.rs`) gives the message to the model
//! (`Input::Send`: the state check and `bufferedAmount`) under the model's
//! lock, then asks for a write pass (`driver::drive`). The pass
//! (`driver.rs`, `Driver::step_model`) takes the model's
//! `Transmit::Message`s and hands them to the `Encoder` (`frame/encode.rs`),
//! which masks them into one write buffer; `Conn::poll_write` (`conn.rs`)
//! writes it, and `Input::Written` lowers `bufferedAmount` by the messages
//! whose last byte left. The payloads of small messages written go back to
//! the model's lock and are dropped by the sender's next `send()`, on its
//! own thread (`Encoder::take_spent` says why).
//!
//! Receiving: a pass reads into one buffer (`frame/read_buffer.rs`, 4 KiB
//! growing to 64 KiB while reads fill it), the `Decoder` (`frame/decode.rs`)
//! turns it into messages (small ones sharing 32 KiB chunks, no allocation
//! each), and `Driver::poll_read` gives the batch to the model under one
//! lock (`Input::Message`: the event queue). Reading pauses while the queue
//! holds `max_queued_bytes` (1 MiB by default) and resumes at half of it.
//! `next_event()` takes events from the model (`Inner::take_event`: here
//! `readyState` changes); when none is ready it drives the pass itself.

#![warn(missing_docs)]
// docs.rs builds with every feature and `--cfg docsrs`: each feature-gated
// item then says which feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The native build: the I/O driver, the frame layer, TLS and the runtimes.
// None of it is compiled for wasm32, where the browser's own WebSocket does
// that work (`wasm`, and spec-notes/wasm.md for every difference).
#[cfg(not(target_arch = "wasm32"))]
mod conn;
#[cfg(not(target_arch = "wasm32"))]
mod connect_failure;
#[cfg(not(target_arch = "wasm32"))]
mod connector;
#[cfg(not(target_arch = "wasm32"))]
pub mod control;
#[cfg(not(target_arch = "wasm32"))]
mod deadlines;
#[cfg(not(target_arch = "wasm32"))]
mod dispatch;
#[cfg(not(target_arch = "wasm32"))]
mod driver;
mod event;
#[cfg(not(target_arch = "wasm32"))]
mod frame;
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(not(target_arch = "wasm32"))]
mod guarded;
#[cfg(not(target_arch = "wasm32"))]
pub mod handle;
#[cfg(not(target_arch = "wasm32"))]
mod handler_threads;
#[cfg(not(target_arch = "wasm32"))]
mod handshake;
#[cfg(not(target_arch = "wasm32"))]
mod host_gate;
mod message;
#[cfg(not(target_arch = "wasm32"))]
mod panic_message;
#[cfg(not(target_arch = "wasm32"))]
mod proxy;
#[cfg(not(target_arch = "wasm32"))]
mod proxy_error;
#[cfg(not(target_arch = "wasm32"))]
pub mod reconnect;
#[cfg(not(target_arch = "wasm32"))]
mod redact;
#[cfg(not(target_arch = "wasm32"))]
pub mod runtime;
#[cfg(not(target_arch = "wasm32"))]
mod shared;
#[cfg(not(target_arch = "wasm32"))]
mod sink;
mod snapshot;
#[cfg(not(target_arch = "wasm32"))]
pub mod socket;
#[cfg(not(target_arch = "wasm32"))]
mod socks;
#[cfg(not(target_arch = "wasm32"))]
mod transport;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

/// Shared buffers (`bytes::Bytes`, the same type as tungstenite's on native).
#[cfg(target_arch = "wasm32")]
pub use bytes::Bytes;
#[cfg(not(target_arch = "wasm32"))]
pub use dispatch::HandlerPanic;
pub use event::{BinaryType, CloseEvent, Event, FailReason, MessageEvent};
/// The TLS library, for [`WebSocketBuilder::tls_config`] and for reading a
/// [`TransportError::cause`] of a TLS failure (`rustls::Error`).
#[cfg(not(target_arch = "wasm32"))]
pub use futures_rustls::rustls;
#[cfg(not(target_arch = "wasm32"))]
pub use handle::{HandlerError, WebSocketHandle};
pub use message::Message;
#[cfg(not(target_arch = "wasm32"))]
pub use proxy_error::ProxyError;
#[cfg(not(target_arch = "wasm32"))]
pub use sink::MessageSink;
pub use snapshot::Snapshot;
#[cfg(not(target_arch = "wasm32"))]
pub use socket::{BuildError, WebSocket, WebSocketBuilder};
#[cfg(not(target_arch = "wasm32"))]
pub use transport::crypto_provider;
#[cfg(not(target_arch = "wasm32"))]
pub use tungstenite::{Bytes, Utf8Bytes};
#[cfg(target_arch = "wasm32")]
pub use wasm::{
    divergences, BuildError, Divergence, HandlerError, MessageSink, Utf8Bytes, WebSocket, WebSocketBuilder,
    WebSocketHandle,
};
#[cfg(not(target_arch = "wasm32"))]
pub use wsapi_model::reconnect::{ReconnectPolicy, StopReason};
/// `ping()`'s refusal (ours, not the browser's API: see [`control`]).
#[cfg(not(target_arch = "wasm32"))]
pub use wsapi_model::PingError;
pub use wsapi_model::{CloseError, ConstructError, ReadyState, SendError, TransportError, TransportLayer, Url};

#[cfg(not(target_arch = "wasm32"))]
/// How many connection tasks are running in this process: each socket's
/// driver, and in handler mode its dispatcher. The driver ends once its
/// connection is closed, the dispatcher once the close event was delivered
/// (or the socket dropped); a test uses this to check nothing leaks.
pub fn live_connections() -> usize {
    shared::LIVE_DRIVERS.load(std::sync::atomic::Ordering::SeqCst)
}
