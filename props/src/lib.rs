//! # wsapi-props: the client checked against the model
//!
//! - [`server`]: a scripted, possibly hostile, loopback WebSocket server
//!   that records every frame it receives.
//!
//! The property tests themselves are in `tests/`.
#![warn(missing_docs)]

pub mod server;
