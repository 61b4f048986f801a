//! The events a [`crate::WebSocket`] delivers.

use crate::Message;
pub use wsapi_model::{BinaryType, CloseEvent, FailReason};

/// A `message` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEvent {
    /// The message.
    pub data: Message,
    /// For binary messages, `binaryType` when the event was delivered
    /// (whether a browser would have made a Blob or an ArrayBuffer).
    pub binary_type: Option<BinaryType>,
}

/// An event, in the order the WHATWG standard dispatches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `open`: the connection is established.
    Open,
    /// `message`.
    Message(MessageEvent),
    /// `error`: the connection was failed (the spec's plain `Event`; the
    /// reason is ours, for diagnostics). Always followed by `Close`.
    Error(FailReason),
    /// `close`: always the last event.
    Close(CloseEvent),
}

impl Event {
    /// The spec's event type name: `open`, `message`, `error` or `close`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::Open => "open",
            Event::Message(_) => "message",
            Event::Error(_) => "error",
            Event::Close(_) => "close",
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn from_model(e: wsapi_model::Event<Message>) -> Event {
        match e {
            wsapi_model::Event::Open => Event::Open,
            wsapi_model::Event::Message { data, binary_type } => Event::Message(MessageEvent { data, binary_type }),
            wsapi_model::Event::Error(r) => Event::Error(r),
            wsapi_model::Event::Close(c) => Event::Close(c),
        }
    }
}
