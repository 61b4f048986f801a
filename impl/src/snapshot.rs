//! [`Snapshot`]: every attribute of a WebSocket read at one instant, the
//! same type on native targets and on wasm32.

use wsapi_model::{BinaryType, ReadyState};

/// All attributes, read at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `readyState`.
    pub ready_state: ReadyState,
    /// `bufferedAmount`.
    pub buffered_amount: u64,
    /// `protocol`.
    pub protocol: String,
    /// `extensions`.
    pub extensions: String,
    /// `binaryType`.
    pub binary_type: BinaryType,
    /// How many steps the journal had then (0 when not recording; always 0
    /// on wasm32, where the browser, not the model, runs the connection).
    pub journal_len: usize,
}
