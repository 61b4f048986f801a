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

/// What every secret of [`no_error_or_event_shows_a_secret`] contains.
const SECRET: &str = "S3CRET";

/// Panics if `Display` or `Debug` of `what` shows [`SECRET`] (or its
/// percent-encoded or base64 forms' start: credentials go out as Basic).
fn assert_hidden<T: std::fmt::Display + std::fmt::Debug>(label: &str, what: &T) {
    let shown = format!("{what}\n{what:?}");
    println!("{label}: {what}");
    for needle in [SECRET, "UzNDUkVU", "S3CR"] {
        assert!(!shown.contains(needle), "{label} shows {needle}: {shown}");
    }
}

/// A loopback "proxy" that reads one request head and answers `reply`
/// (or closes the connection if it is empty).
async fn fake_proxy(reply: &'static str) -> u16 {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    let listener = wsapi::runtime::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    wsapi::runtime::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && tcp.read(&mut byte).await.is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = tcp.write_all(reply.as_bytes()).await;
        }
    });
    port
}

/// Every error this crate gives (builder, constructor, `send`, `close`,
/// handler setters, error events of a connection failed through a proxy
/// with credentials, close events) with a password in the URL, in the
/// proxy URL and in header values: none shows it, in `Display` or `Debug`.
/// URLs the parser refuses (bad port, bad IPv6 literal, empty host) are the
/// case that leaked: the error printed the raw string.
#[test]
fn no_error_or_event_shows_a_secret() {
    let unparsable = [
        format!("http://user:{SECRET}@proxy.example:99999"),
        format!("http://user:{SECRET}@[::1"),
        format!("http://user:{SECRET}@"),
        format!("http://user:{SECRET}@/"),
        format!("user:{SECRET}@proxy.example:99999"),
        // A scheme that is not a proxy scheme (socks5 is one).
        format!("ftp://user:{SECRET}@proxy.example:21"),
    ];
    for proxy in &unparsable {
        let e = WebSocket::builder("ws://127.0.0.1:1/")
            .proxy(proxy)
            .connect()
            .unwrap_err();
        assert!(matches!(e, BuildError::InvalidProxy(_)), "{e:?}");
        assert_hidden("proxy", &e);
    }
    for url in [
        format!("ws://user:{SECRET}@host.example:99999/"),
        format!("ws://user:{SECRET}@[::1/"),
        format!("ws://user:{SECRET}@/"),
        format!("ws:user:{SECRET}@host.example:99999"),
    ] {
        let e = WebSocket::new(&url, &[]).unwrap_err();
        assert_hidden("url", &e);
        let e = WebSocket::builder(&url).connect().unwrap_err();
        assert!(matches!(e, BuildError::Construct(_)), "{e:?}");
        assert_hidden("url via builder", &e);
    }
    for (name, value) in [
        ("Authorization", format!("Bearer {SECRET}\n")),
        ("X-Api-Key", format!("{SECRET}\u{7f}")),
        (&*format!("Authorization: Bearer {SECRET}"), String::new()),
    ] {
        let e = WebSocket::builder("ws://127.0.0.1:1/")
            .header(name, &value)
            .connect()
            .unwrap_err();
        assert!(matches!(e, BuildError::InvalidHeader(_)), "{e:?}");
        assert_hidden("header", &e);
    }

    // A journal that parts from the model's replay (an error, printed whole).
    let connect = wsapi_model::Transmit::Connect {
        url: Box::new(wsapi::Url::parse(&format!("ws://user:{SECRET}@host.example/")).unwrap()),
        protocols: vec![],
    };
    let divergence: wsapi_model::Divergence<wsapi::Message> = wsapi_model::Divergence {
        index: 1,
        recorded: wsapi_model::Step::Transmit(Some(connect)),
        replayed: wsapi_model::Step::Transmit(None),
    };
    assert_hidden("divergence", &divergence);

    block_on(async {
        let refused = closed_port();
        let answers_407 = fake_proxy("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").await;
        let hangs_up = fake_proxy("").await;
        let not_http = fake_proxy("SSH-2.0-OpenSSH\r\n\r\n").await;
        // The tunnel opens, and the "server" behind it refuses the upgrade.
        let server_refuses =
            fake_proxy("HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").await;
        for proxy_port in [refused, answers_407, hangs_up, not_http, server_refuses] {
            let ws = WebSocket::builder(&format!("ws://user:{SECRET}@127.0.0.1:{}/", closed_port()))
                .proxy(&format!("http://user:{SECRET}@127.0.0.1:{proxy_port}"))
                .header("Authorization", &format!("Bearer {SECRET}"))
                .header("Cookie", &format!("id={SECRET}"))
                .connect()
                .unwrap();
            assert_hidden("socket", &DebugOnly(format!("{ws:?}")));
            // CONNECTING: send() and a bad close() throw.
            assert_hidden("send", &ws.send("x").unwrap_err());
            assert_hidden("close", &ws.close(Some(1), None).unwrap_err());
            assert_hidden("handler", &ws.on_message(|_, _| {}).unwrap_err());
            let events = events_until_close(&ws).await;
            assert!(
                matches!(
                    events.first(),
                    Some(Event::Error(FailReason::Transport(_) | FailReason::Handshake(_)))
                ),
                "{events:?}"
            );
            for event in &events {
                assert_hidden("event", &DebugOnly(format!("{event:?}")));
                if let Event::Error(why) = event {
                    assert_hidden("error event", why);
                }
            }
            assert_hidden("socket after close", &DebugOnly(format!("{ws:?}")));
        }
    });
}

/// Something with only `Debug` text, for [`assert_hidden`].
#[derive(Debug)]
struct DebugOnly(String);

impl std::fmt::Display for DebugOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The proxy from the environment (`http_proxy`), unusable, with a
/// password: its error hides it too. The variable is set only in a child
/// process running [`child_builds_with_the_proxy_from_the_environment`],
/// so that no other test sees it.
#[test]
fn an_unusable_proxy_from_the_environment_shows_no_password() {
    for proxy in [
        format!("http://user:{SECRET}@proxy.example:99999"),
        format!("http://user:{SECRET}@[::1"),
        format!("user:{SECRET}@"),
    ] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "child_builds_with_the_proxy_from_the_environment",
                "--exact",
                "--nocapture",
            ])
            .env("WSAPI_TEST_CHILD", "1")
            .env("http_proxy", &proxy)
            .env_remove("no_proxy")
            .env_remove("NO_PROXY")
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{shown}{}", String::from_utf8_lossy(&out.stderr));
        assert!(shown.contains("error: invalid proxy: "), "{shown}");
        assert!(!shown.contains("S3CR") && shown.contains("user:***@"), "{shown}");
    }
}

/// Run by [`an_unusable_proxy_from_the_environment_shows_no_password`] in
/// a child process; does nothing otherwise.
#[test]
fn child_builds_with_the_proxy_from_the_environment() {
    if std::env::var_os("WSAPI_TEST_CHILD").is_none() {
        return;
    }
    let e = WebSocket::builder("ws://127.0.0.1:1/")
        .proxy_from_env(true)
        .connect()
        .unwrap_err();
    assert!(matches!(e, BuildError::InvalidProxy(_)), "{e:?}");
    println!("error: {e}\ndebug: {e:?}");
}
