//! Every error and failure the model can give, printed: each `Display`
//! says what happened and, after `; `, what to do. The matches below have
//! no `_` arm, so a new variant does not compile until it has a sample here.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use crate::close_code::{BadClose, CloseError};
use crate::connection::{InputError, PingError, SendError};
use crate::constructor::ConstructError;
use crate::event::FailReason;
use crate::handshake::HandshakeFailure;
use crate::journal::{Divergence, Refusal, Step};
use crate::transport_error::{TransportError, TransportLayer};
use crate::Data;

fn fail_reasons() -> Vec<FailReason> {
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let all = vec![
        FailReason::BadPort(25),
        FailReason::Transport(TransportError::new(TransportLayer::Tcp, "127.0.0.1:9", refused)),
        FailReason::Transport(TransportError::new(
            TransportLayer::Tls,
            "example.com:443",
            std::io::Error::other("invalid peer certificate: UnknownIssuer"),
        )),
        FailReason::Transport(TransportError::new(
            TransportLayer::Proxy,
            "example.com:443",
            std::io::Error::other(
                "the proxy 127.0.0.1:3128 refused the tunnel with HTTP 407; give the proxy's credentials",
            ),
        )),
        FailReason::Handshake(HandshakeFailure::Rejected {
            status: 404,
            response: Default::default(),
        }),
        FailReason::ConnectTimeout,
        FailReason::ProtocolMismatch("v3".to_string()),
        FailReason::ExtensionMismatch("x-webkit-deflate-frame".to_string()),
        FailReason::ClosedWhileConnecting,
        FailReason::BadClose(BadClose::InvalidCode(1005)),
        FailReason::Protocol("reserved opcode 3".to_string()),
        FailReason::InvalidUtf8,
        FailReason::MessageTooBig,
        FailReason::TransportLost,
        FailReason::BufferFull,
        FailReason::KeepAliveTimeout,
        FailReason::UserAgent,
        FailReason::TransportBroken(TransportError::new(
            TransportLayer::Tcp,
            "example.com:443",
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset by peer"),
        )),
        FailReason::KeepAliveStalled,
        FailReason::DriverStopped("the stream panicked in poll_read".to_string()),
    ];
    for r in &all {
        match r {
            FailReason::BadPort(_)
            | FailReason::Transport(_)
            | FailReason::Handshake(_)
            | FailReason::ConnectTimeout
            | FailReason::ProtocolMismatch(_)
            | FailReason::ExtensionMismatch(_)
            | FailReason::ClosedWhileConnecting
            | FailReason::BadClose(_)
            | FailReason::Protocol(_)
            | FailReason::InvalidUtf8
            | FailReason::MessageTooBig
            | FailReason::TransportLost
            | FailReason::BufferFull
            | FailReason::KeepAliveTimeout
            | FailReason::UserAgent
            | FailReason::TransportBroken(_)
            | FailReason::KeepAliveStalled
            | FailReason::DriverStopped(_) => {}
        }
    }
    all
}

/// One of each handshake failure (printed inside `FailReason::Handshake`).
fn handshake_failures() -> Vec<HandshakeFailure> {
    let all = vec![
        HandshakeFailure::NoResponse("the connection closed during the handshake".to_string()),
        HandshakeFailure::Rejected {
            status: 403,
            response: Default::default(),
        },
        HandshakeFailure::BadUpgrade(Some("h2c".to_string())),
        HandshakeFailure::BadConnection(None),
        HandshakeFailure::AcceptCount(2),
        HandshakeFailure::WrongAccept("x".to_string()),
        HandshakeFailure::ExtensionNotOffered("x-unknown".to_string()),
        HandshakeFailure::ExtensionRepeated("permessage-deflate".to_string()),
        HandshakeFailure::BadExtensionParameter("foo=1".to_string()),
        HandshakeFailure::ProtocolRepeated,
        HandshakeFailure::ProtocolNotOffered("v3".to_string()),
        HandshakeFailure::ProtocolMissing,
    ];
    for f in &all {
        match f {
            HandshakeFailure::NoResponse(_)
            | HandshakeFailure::Rejected { .. }
            | HandshakeFailure::BadUpgrade(_)
            | HandshakeFailure::BadConnection(_)
            | HandshakeFailure::AcceptCount(_)
            | HandshakeFailure::WrongAccept(_)
            | HandshakeFailure::ExtensionNotOffered(_)
            | HandshakeFailure::ExtensionRepeated(_)
            | HandshakeFailure::BadExtensionParameter(_)
            | HandshakeFailure::ProtocolRepeated
            | HandshakeFailure::ProtocolNotOffered(_)
            | HandshakeFailure::ProtocolMissing => {}
        }
    }
    all
}

fn api_errors() -> Vec<String> {
    let construct = [
        ConstructError::InvalidUrl {
            input: "ws//x".to_string(),
            cause: url::ParseError::RelativeUrlWithoutBase,
        },
        ConstructError::UnsupportedScheme {
            scheme: "ftp".to_string(),
        },
        ConstructError::Fragment,
        ConstructError::EmptyProtocol,
        ConstructError::InvalidProtocol("a b".to_string()),
        ConstructError::DuplicateProtocol("chat".to_string()),
        ConstructError::UserAgent("SecurityError: the port is blocked".to_string()),
    ];
    for e in &construct {
        match e {
            ConstructError::InvalidUrl { .. }
            | ConstructError::UnsupportedScheme { .. }
            | ConstructError::Fragment
            | ConstructError::EmptyProtocol
            | ConstructError::InvalidProtocol(_)
            | ConstructError::DuplicateProtocol(_)
            | ConstructError::UserAgent(_) => {}
        }
    }
    let send = [SendError::InvalidState];
    let close = [CloseError::InvalidAccess(999), CloseError::Syntax(124)];
    let ping = [
        PingError::InvalidState(crate::ReadyState::Closing),
        PingError::PayloadTooLong(126),
    ];
    let input = [
        InputError::NotConnecting,
        InputError::NotOpen,
        InputError::WrittenTooMuch {
            reported: 10,
            unwritten: 4,
        },
    ];
    let refusal = [
        Refusal::Send(SendError::InvalidState),
        Refusal::Close(CloseError::Syntax(124)),
        Refusal::Ping(PingError::PayloadTooLong(126)),
        Refusal::Input(InputError::NotOpen),
    ];
    let divergence = Divergence::<Data> {
        index: 3,
        recorded: Step::Event(None),
        replayed: Step::Transmit(None),
    };
    let mut out: Vec<String> = construct.iter().map(ToString::to_string).collect();
    out.extend(send.iter().map(ToString::to_string));
    out.extend(close.iter().map(ToString::to_string));
    out.extend(ping.iter().map(ToString::to_string));
    out.extend(input.iter().map(ToString::to_string));
    out.extend(refusal.iter().map(ToString::to_string));
    out.push(divergence.to_string());
    out
}

/// What happened, then `; `, then what to do: both parts present.
fn says_what_and_what_to_do(text: &str) -> bool {
    text.split_once("; ")
        .is_some_and(|(what, todo)| what.len() > 10 && todo.len() > 5)
}

#[test]
fn every_error_says_what_happened_and_what_to_do() {
    let mut texts: Vec<String> = fail_reasons().iter().map(ToString::to_string).collect();
    texts.extend(
        handshake_failures()
            .into_iter()
            .map(|f| FailReason::Handshake(f).to_string()),
    );
    texts.extend(api_errors());
    for text in &texts {
        std::println!("{text}");
        assert!(says_what_and_what_to_do(text), "{text:?}");
    }
    // Causes printed inside a FailReason's text (which gives the advice).
    for bad in [
        BadClose::OneByte,
        BadClose::TooLong,
        BadClose::InvalidCode(1005),
        BadClose::InvalidUtf8,
    ] {
        std::println!("BadClose: {bad}");
        assert!(!bad.to_string().is_empty());
    }
}

#[test]
fn fail_reason_kinds_are_distinct() {
    let kinds: Vec<&str> = fail_reasons().iter().map(FailReason::kind).collect();
    let mut unique = kinds.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), kinds.len(), "{kinds:?}");
}

#[test]
fn transport_errors_keep_the_io_error_kind() {
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let e = TransportError::new(TransportLayer::Tcp, "127.0.0.1:9", refused);
    assert_eq!(e.io_error_kind(), Some(std::io::ErrorKind::ConnectionRefused));
    assert_eq!(e.target(), "127.0.0.1:9");
    assert_eq!(e.clone(), e, "a clone compares equal, so a journal replays");
    let other = TransportError::new(TransportLayer::Tls, "127.0.0.1:9", std::io::Error::other("x"));
    assert_ne!(e, other);
}

/// A driver's error that wraps an I/O error as its source (as wsapi's
/// proxy error does) still gives its kind.
#[test]
fn the_io_error_kind_is_found_under_a_wrapping_cause() {
    #[derive(Debug)]
    struct Wrapper(std::io::Error);
    impl core::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(f, "the proxy could not be reached: {}", self.0)
        }
    }
    impl core::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let e = TransportError::new(TransportLayer::Proxy, "example.com:443", Wrapper(refused));
    assert_eq!(e.io_error_kind(), Some(std::io::ErrorKind::ConnectionRefused));
    assert!(e.to_string().contains("through a proxy"), "{e}");
    assert_eq!(FailReason::Transport(e).kind(), "proxy");
}
