//! Errors a program can handle: typed causes for real failures, `Display`
//! for every error of this crate, and no secrets in `Debug`.

mod support;

use support::events_until_close;
use wsapi::runtime::block_on;
use wsapi::{BuildError, Event, FailReason, TransportLayer, WebSocket};

/// A port nobody listens on: bind one, read its number, close it.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn refused_tcp_connection_has_its_io_error_kind() {
    block_on(async {
        let ws = WebSocket::new(&format!("ws://127.0.0.1:{}/", closed_port()), &[]).unwrap();
        let events = events_until_close(&ws).await;
        let Some(Event::Error(FailReason::Transport(why))) = events.first() else {
            panic!("{events:?}")
        };
        println!("{why}");
        assert_eq!(why.layer(), TransportLayer::Tcp);
        assert_eq!(why.io_error_kind(), Some(std::io::ErrorKind::ConnectionRefused));
        let reason = FailReason::Transport(why.clone());
        assert_eq!(reason.kind(), "tcp");
        assert!(
            reason.to_string().starts_with("TCP connection to 127.0.0.1:"),
            "{reason}"
        );
    });
}

#[test]
fn build_errors_say_what_to_fix() {
    let bad_header = WebSocket::builder("ws://127.0.0.1:1/")
        .header("Bad Name", "x")
        .connect()
        .unwrap_err();
    let bad_url = WebSocket::builder("ftp://x/").connect().unwrap_err();
    assert!(matches!(bad_header, BuildError::InvalidHeader(_)));
    for e in [bad_header, bad_url] {
        let text = e.to_string();
        println!("{text}");
        assert!(
            text.split_once("; ").is_some_and(|(_, todo)| !todo.is_empty()),
            "{text}"
        );
        let _: &dyn std::error::Error = &e;
    }
}

#[test]
fn headers_the_handshake_writes_are_refused_with_what_sets_them() {
    let cases = [
        ("Host", "URL"),
        ("upgrade", "remove it"),
        ("CONNECTION", "remove it"),
        ("Sec-WebSocket-Key", "remove it"),
        ("sec-websocket-version", "remove it"),
        ("Sec-WebSocket-Extensions", ".deflate("),
        ("Sec-WebSocket-Protocol", ".protocols("),
    ];
    for (name, advice) in cases {
        let err = WebSocket::builder("ws://127.0.0.1:1/")
            .header(name, "x")
            .connect()
            .unwrap_err();
        let BuildError::HandshakeHeader { name: got, use_instead } = &err else {
            panic!("{name}: {err:?}")
        };
        assert_eq!(got, name);
        assert!(use_instead.contains(advice), "{name}: {use_instead}");
        assert!(err.to_string().contains(advice), "{err}");
    }
    // Headers the handshake does not write go through.
    for name in ["Origin", "Authorization", "Sec-WebSocket-Accept-Anything", "X-Host"] {
        let ws = WebSocket::builder("ws://127.0.0.1:1/").header(name, "x").connect();
        assert!(ws.is_ok(), "{name}");
    }
}

#[test]
fn debug_output_hides_credentials() {
    let builder = WebSocket::builder("ws://alice:hunter2@127.0.0.1:1/")
        .header("Authorization", "Bearer s3cr3t-token")
        .header("Cookie", "session=c00kie")
        .header("Proxy-Authorization", "Basic cHJveHk=")
        .header("X-Trace", "visible-value");
    let shown = format!("{builder:?}");
    for secret in ["hunter2", "s3cr3t-token", "c00kie", "cHJveHk="] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("visible-value") && shown.contains("alice"), "{shown}");
    let ws = builder.connect().unwrap();
    let shown = format!("{ws:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn every_error_type_has_the_common_traits() {
    fn common<T: std::error::Error + Send + Sync + Clone + Eq + 'static>() {}
    common::<wsapi::FailReason>();
    common::<wsapi::TransportError>();
    common::<wsapi::ConstructError>();
    common::<wsapi::SendError>();
    common::<wsapi::CloseError>();
    common::<wsapi::BuildError>();
    common::<wsapi_model::BadClose>();
    common::<wsapi_model::InputError>();
    common::<wsapi_model::Refusal>();
    common::<wsapi_model::Divergence<wsapi::Message>>();
}
