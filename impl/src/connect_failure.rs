//! Why opening a connection failed, before the model judged anything.
//!
//! Its own module: the stream's opening (`connector`) and TLS with the
//! opening handshake (`transport`) both fail with it, and `transport`
//! uses `connector`, not the other way round.

use wsapi_model::handshake::HandshakeFailure;
use wsapi_model::TransportError;

/// Why `transport::connect` failed: TCP or TLS (typed), or no response
/// could be read (a response that arrived is judged by the model, not here).
pub(crate) enum ConnectFailure {
    Transport(TransportError),
    Handshake(HandshakeFailure),
}

impl<T: Into<HandshakeFailure>> From<T> for ConnectFailure {
    fn from(why: T) -> Self {
        ConnectFailure::Handshake(why.into())
    }
}
