//! Pings and pongs: sending a ping ([`crate::WebSocketHandle::ping`]) and
//! watching the control frames go by
//! ([`crate::WebSocketBuilder::on_control_frame`]).
//!
//! **Ours, not the browser's.** The WHATWG API has neither: a browser
//! answers pings itself and never shows them to a script. Both are for
//! diagnostics (`wsapi --show-ping`, `/ping` in the CLI) and for programs
//! that measure round trips; nothing about events, `readyState` or
//! `bufferedAmount` changes with them. The rule (when a ping may be sent,
//! its 125-byte limit) is the model's: [`wsapi_model::Connection::ping`];
//! see also `spec-notes/keep-alive.md`.
//!
//! # Why a callback, and where it runs
//!
//! Control frames are seen by the driver, inside a pass over the
//! connection's I/O, on whichever task drives the connection at that moment
//! (see the crate docs, "Who drives the connection"). A queue the user
//! drains would need a wake-up and a task of its own to be read while the
//! user waits for something else, which is what a terminal program showing
//! pings does; a plain callback needs nothing. So the observer is a
//! `Fn(&ControlFrame) + Send + Sync` called right there, with these
//! guarantees and duties:
//!
//! - it runs with **no lock of the model held** (frames are collected
//!   during the pass and handed over after the model was fed), so it may
//!   call the socket's methods: `send`, `ping`, `close` and the attributes
//!   never wait for the I/O (a call made while the I/O is being driven
//!   leaves its write to the current pass);
//! - it runs **on the driving task, holding the I/O**: the connection makes
//!   no progress until it returns, so it must be quick and must never block
//!   waiting for the socket (`block_on(ws.next_event())` inside it would
//!   wait for itself);
//! - frames are reported in the order they arrived (received) or were
//!   handed to the frame layer (sent), received ones after the messages
//!   decoded with them were given to the model;
//! - a panic in it is caught and reported on stderr; the connection carries on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tungstenite::Bytes;

pub use wsapi_model::MAX_PING_PAYLOAD;

use crate::panic_message::panic_message;

/// A control frame, as an observer given to
/// [`crate::WebSocketBuilder::on_control_frame`] sees it (ours, not the
/// browser's API: see the [module docs](self)). Close frames are not here:
/// they are the close event's business.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlFrame {
    /// The server sent a Ping with this payload; wsapi answers it with a
    /// Pong itself, as a browser does.
    PingReceived(Bytes),
    /// The server sent a Pong with this payload: the answer to one of our
    /// pings (it echoes the payload), or an unsolicited one (a heartbeat).
    PongReceived(Bytes),
    /// We sent a Ping with this payload: one asked for with
    /// [`crate::WebSocketHandle::ping`], or keep-alive's (empty). Reported
    /// when it is handed to the frame layer, which writes it after
    /// everything sent before it.
    PingSent(Bytes),
}

/// The observer given to the builder, kept in the driver's options.
#[derive(Clone)]
pub(crate) struct ControlObserver(pub Arc<dyn Fn(&ControlFrame) + Send + Sync>);

impl std::fmt::Debug for ControlObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControlObserver")
    }
}

impl ControlObserver {
    /// Hands `frames` to the observer, in order, emptying it. The caller
    /// holds no lock of the model (see the module docs).
    pub(crate) fn deliver(&self, frames: &mut Vec<ControlFrame>) {
        for frame in frames.drain(..) {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (self.0)(&frame))) {
                eprintln!(
                    "wsapi: the control-frame observer panicked ({}); the connection carries on",
                    panic_message(payload.as_ref())
                );
            }
        }
    }
}
