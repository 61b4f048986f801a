//! HTTP CONNECT proxies, against a real proxy: tinyproxy (Debian package
//! `tinyproxy`, installed by `.ci/run`), started by each test with a
//! configuration of its own on loopback. Without tinyproxy installed the
//! tests say so and pass, unless `WSAPI_REQUIRE_TINYPROXY` is set (CI sets
//! it, so that they cannot be skipped there).

mod support;

use std::net::TcpStream as StdTcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::external::{start_on_free_port, External};
use support::{echo_round_trip, echo_server, failure, tls_echo_server};
use wsapi::runtime::{block_on, spawn, TcpListener};
use wsapi::{FailReason, ProxyError, TransportError, TransportLayer, WebSocket};

/// A running tinyproxy, stopped (and its files removed) on drop.
struct Tinyproxy {
    /// Declared first: stopped before its directory goes.
    server: External,
    dir: PathBuf,
    url: String,
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.server.child.kill();
        let _ = self.server.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts tinyproxy on a free loopback port with `extra` configuration
/// lines; `None` when it is not installed and not required.
fn tinyproxy(name: &str, extra: &str) -> Option<Tinyproxy> {
    let installed = Command::new("tinyproxy")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !installed {
        if std::env::var_os("WSAPI_REQUIRE_TINYPROXY").is_some() {
            panic!("tinyproxy is required (WSAPI_REQUIRE_TINYPROXY) but not installed");
        }
        eprintln!("skipped: tinyproxy is not installed (apt-get install tinyproxy)");
        return None;
    }
    // A fixed port: see `support::external` for why it is probed.
    let dir = std::env::temp_dir().join(format!("wsapi-tinyproxy-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let server = start_on_free_port(
        "tinyproxy",
        support::LIMIT,
        |port| {
            let conf = dir.join(format!("tinyproxy-{port}.conf"));
            let config = format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 32\nAllow 127.0.0.1\nLogLevel Error\n{extra}\n"
            );
            std::fs::write(&conf, config).expect("config");
            Command::new("tinyproxy")
                .arg("-d")
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("tinyproxy starts")
        },
        answers_as_tinyproxy,
    );
    let url = format!("http://127.0.0.1:{}", server.port);
    Some(Tinyproxy { server, dir, url })
}

/// Whether the listener on `port` is a tinyproxy: its answer to a plain
/// request names it.
fn answers_as_tinyproxy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut tcp) = StdTcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
    if tcp.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = tcp.take(4096).read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).contains("tinyproxy")
}

/// A connection to `base` through the proxy at `proxy`.
fn via(base: &str, proxy: &str) -> WebSocket {
    WebSocket::builder(&format!("{base}/")).proxy(proxy).connect().unwrap()
}

/// The failed connection's transport error, which must be the proxy's
/// layer (the server was never reached), with a [`ProxyError`] as cause.
async fn proxy_failure(ws: WebSocket) -> TransportError {
    match failure(&ws).await {
        FailReason::Transport(why) => {
            assert_eq!(why.layer(), TransportLayer::Proxy, "{why}");
            assert!(why.cause().downcast_ref::<ProxyError>().is_some(), "{why:?}");
            // The advice is the proxy's, not "check that the server is running".
            assert!(!why.to_string().contains("server is running"), "{why}");
            why
        }
        other => panic!("{other:?}"),
    }
}

/// The HTTP status of a refused tunnel, and the error's text (which
/// names the proxy).
async fn refused(ws: WebSocket, proxy_url: &str) -> (u16, String) {
    let why = proxy_failure(ws).await;
    let cause = why.cause().downcast_ref::<ProxyError>().expect("checked");
    let status = cause.status().unwrap_or_else(|| panic!("not a refusal: {why}"));
    let text = why.to_string();
    assert!(
        text.contains(cause.proxy()) && proxy_url.ends_with(cause.proxy()),
        "{text}"
    );
    assert!(!cause.proxy().contains('@'), "credentials are never shown: {text}");
    (status, text)
}

#[test]
fn ws_handshake_through_the_proxy() {
    let Some(proxy) = tinyproxy("ws", "") else { return };
    block_on(async {
        let base = echo_server().await;
        let ws = via(&base, &proxy.url);
        echo_round_trip(&ws, "through the proxy").await;
    });
}

#[test]
fn wss_through_the_proxy_gets_tls_end_to_end() {
    let Some(proxy) = tinyproxy("wss", "") else { return };
    block_on(async {
        let (port, cert) = tls_echo_server().await;
        let ws = WebSocket::builder(&format!("wss://localhost:{port}/"))
            .root_certificates([cert])
            .unwrap()
            .proxy(&proxy.url)
            .connect()
            .unwrap();
        echo_round_trip(&ws, "through the proxy").await;
    });
}

#[test]
fn basic_credentials_are_sent_and_a_407_fails_the_connection() {
    let Some(proxy) = tinyproxy("auth", "BasicAuth alice s3cret") else {
        return;
    };
    block_on(async {
        let base = echo_server().await;
        let (status, why) = refused(via(&base, &proxy.url), &proxy.url).await;
        assert_eq!(status, 407, "{why}");
        assert!(why.contains("credentials"), "{why}");
        // Wrong credentials: tinyproxy 1.11 answers 401 rather than 407.
        let wrong = proxy.url.replace("http://", "http://alice:wrong@");
        let (status, why) = refused(via(&base, &wrong), &proxy.url).await;
        assert!(status == 401 || status == 407, "{why}");
        assert!(!why.contains("wrong"), "the password is never shown: {why}");
        let ws = via(&base, &proxy.url.replace("http://", "http://alice:s3cret@"));
        echo_round_trip(&ws, "through the proxy").await;
    });
}

#[test]
fn a_403_from_the_proxy_fails_the_connection() {
    // Only port 1 may be tunnelled to: every other CONNECT is refused with 403.
    let Some(proxy) = tinyproxy("forbidden", "ConnectPort 1") else {
        return;
    };
    block_on(async {
        let base = echo_server().await;
        let (status, why) = refused(via(&base, &proxy.url), &proxy.url).await;
        assert_eq!(status, 403, "{why}");
        assert!(why.contains("policy"), "{why}");
    });
}

#[test]
fn an_unreachable_proxy_is_named_with_its_io_error_kind() {
    block_on(async {
        // A port nobody listens on: bind one, read its number, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ws = via("ws://127.0.0.1:4000", &format!("http://u:pw@127.0.0.1:{port}"));
        let why = proxy_failure(ws).await;
        assert_eq!(
            why.io_error_kind(),
            Some(std::io::ErrorKind::ConnectionRefused),
            "{why}"
        );
        let cause = why.cause().downcast_ref::<ProxyError>().unwrap();
        assert!(matches!(cause, ProxyError::Unreachable { .. }), "{cause:?}");
        assert_eq!(cause.proxy(), format!("127.0.0.1:{port}"));
        assert_eq!(cause.io_error_kind(), Some(std::io::ErrorKind::ConnectionRefused));
        assert!(!why.to_string().contains("pw"), "{why}");
        assert_eq!(why.target(), "127.0.0.1:4000");
    });
}

#[test]
fn a_proxy_that_hangs_up_before_answering_is_named() {
    block_on(async {
        // Accepts TCP, reads the CONNECT, closes without a word.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = format!("http://{}", listener.local_addr().unwrap());
        spawn(async move {
            use futures::io::AsyncReadExt;
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = tcp.read(&mut buf).await;
            }
        });
        let why = proxy_failure(via("ws://127.0.0.1:4000", &proxy)).await;
        assert_eq!(why.io_error_kind(), Some(std::io::ErrorKind::UnexpectedEof), "{why}");
    });
}

#[test]
fn a_proxy_that_never_answers_hits_the_connect_timeout() {
    block_on(async {
        // Accepts TCP and never answers the CONNECT.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = format!("http://{}", listener.local_addr().unwrap());
        let held = Arc::new(Mutex::new(Vec::new()));
        let h = held.clone();
        spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                h.lock().unwrap().push(tcp);
            }
        });
        let ws = WebSocket::builder("ws://127.0.0.1:4000/")
            .proxy(&proxy)
            .connect_timeout(Duration::from_millis(200))
            .connect()
            .unwrap();
        assert_eq!(failure(&ws).await, FailReason::ConnectTimeout);
    });
}

#[test]
fn an_unusable_proxy_url_is_a_build_error() {
    let err = WebSocket::builder("ws://127.0.0.1:9/")
        .proxy("ftp://127.0.0.1:1080")
        .connect()
        .unwrap_err();
    assert!(matches!(err, wsapi::BuildError::InvalidProxy(_)), "{err:?}");
}
