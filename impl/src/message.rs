//! The data of a message, sent or received, without needless copies.

use crate::{Bytes, Utf8Bytes};
use wsapi_model::Payload;

/// A WebSocket message: text (always valid UTF-8) or binary.
///
/// Both variants share their buffer when cloned, and convert from the usual
/// owned and borrowed types:
///
/// ```
/// use wsapi::Message;
/// let a: Message = "hi".into();
/// let b: Message = String::from("hi").into();
/// let c: Message = vec![1u8, 2, 3].into();
/// let d: Message = (&[1u8, 2, 3][..]).into();
/// let e: Message = wsapi::Bytes::from_static(b"shared").into();
/// assert_eq!(a, b);
/// assert_eq!(c, d);
/// assert_eq!(e.len(), 6);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// Length in bytes (UTF-8 bytes for text): what `bufferedAmount` counts.
    pub fn len(&self) -> usize {
        match self {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
        }
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t.as_str()),
            Message::Binary(_) => None,
        }
    }

    /// The raw bytes (UTF-8 for text).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }
}

impl Payload for Message {
    fn is_text(&self) -> bool {
        Message::is_text(self)
    }
    fn byte_len(&self) -> usize {
        self.len()
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(s.into())
    }
}
impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s.into())
    }
}
impl From<&String> for Message {
    fn from(s: &String) -> Self {
        Message::Text(s.into())
    }
}
impl From<Utf8Bytes> for Message {
    fn from(s: Utf8Bytes) -> Self {
        Message::Text(s)
    }
}
impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Message::Binary(b.into())
    }
}
impl From<&[u8]> for Message {
    fn from(b: &[u8]) -> Self {
        Message::Binary(Bytes::copy_from_slice(b))
    }
}
impl<const N: usize> From<&[u8; N]> for Message {
    fn from(b: &[u8; N]) -> Self {
        Message::Binary(Bytes::copy_from_slice(b))
    }
}
impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Message::Binary(b)
    }
}
