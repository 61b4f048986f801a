//! # wsapi-props: the client checked against the model
//!
//! - [`server`]: a scripted, possibly hostile, loopback WebSocket server
//!   that records every frame it receives.
//! - [`raw`]: a one-connection server handing over the raw stream after
//!   the upgrade (floods, measurements, fuzzing).
//! - [`session`]: the generated sessions (strategy, recorder, run) that
//!   `tests/against_model.rs` and the fault suite share.
//! - [`chaos`]: a byte-level chaos proxy (splits, delays, stalls, caps,
//!   resets and half-closes).
//! - [`check`]: holds a recorded client session to the model, to the
//!   test's observations and to the server's log.
//!
//! The property tests themselves are in `tests/`.
#![warn(missing_docs)]

pub mod chaos;
pub mod check;
pub mod raw;
pub mod server;
pub mod session;
