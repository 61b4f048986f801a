//! The wasm32 build: the same API over the page's or worker's own
//! `WebSocket` (through `web-sys`), with the model watching it.
//!
//! On `wasm32-unknown-unknown` the browser opens the connection, frames the
//! bytes, runs TLS and decides every event; this module gives it the
//! native build's types and methods ([`WebSocket`], [`WebSocketHandle`],
//! [`WebSocketBuilder`], [`MessageSink`], the shared [`crate::Event`] and
//! [`crate::Message`]). Every difference from the native build is listed in
//! `spec-notes/wasm.md`; the main ones:
//!
//! * builder options a browser cannot honour (headers, timeouts, limits,
//!   keep-alive, proxies, `deflate(false)`, the journal) are refused by
//!   [`WebSocketBuilder::connect`] with [`BuildError::Unsupported`], which
//!   names the option and says why; the options whose types are native
//!   (TLS configuration, runtimes, connectors, own streams) do not exist;
//! * handlers need not be `Send` (nothing here crosses threads);
//! * binary messages always arrive as bytes: the browser's `binaryType` is
//!   kept at `"arraybuffer"` and [`WebSocketHandle::binary_type`] is ours,
//!   reported in [`crate::MessageEvent::binary_type`] as natively;
//! * an `error` event carries [`crate::FailReason::UserAgent`]: a browser
//!   does not tell the page why;
//! * [`WebSocketHandle::buffered_at_most`] polls `bufferedAmount` on a
//!   timer (a browser fires no event when it falls).
//!
//! ## The model watches the browser
//! Every call the program makes, every event the browser fires (with
//! `readyState` and the event's class) and every attribute read is
//! observed by a [`wsapi_model::judge::Watch`], which decides as the
//! session goes whether the standard allows it. A divergence (something
//! no server behaviour or timing explains) is counted ([`divergences`]),
//! kept ([`WebSocketHandle::divergence`]), given to the hook set with
//! [`WebSocketBuilder::on_divergence`] and, in debug builds, logged to the
//! console; it never changes what the program receives. After a
//! divergence that socket is no longer judged (no model state explains
//! what it did). A divergence is reported at the latest two events after
//! it, or at the close event.

mod socket;
mod watcher;

pub use socket::{BuildError, HandlerError, MessageSink, WebSocket, WebSocketBuilder, WebSocketHandle};
pub use watcher::{divergences, Divergence};

/// A text message's bytes, always valid UTF-8, shared when cloned: the
/// wasm32 counterpart of tungstenite's `Utf8Bytes` (tungstenite is not
/// compiled for wasm32), with the methods programs use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Utf8Bytes(bytes::Bytes);

impl Utf8Bytes {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ever built from `str`s (the constructors below).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Its UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A static string, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Utf8Bytes(bytes::Bytes::from_static(s.as_bytes()))
    }
}

impl std::ops::Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Utf8Bytes(bytes::Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(bytes::Bytes::from(s))
    }
}

impl From<&String> for Utf8Bytes {
    fn from(s: &String) -> Self {
        s.as_str().into()
    }
}

impl From<Utf8Bytes> for bytes::Bytes {
    fn from(s: Utf8Bytes) -> Self {
        s.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
