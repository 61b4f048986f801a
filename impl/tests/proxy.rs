//! HTTP CONNECT proxies, against a real proxy: tinyproxy (Debian package
//! `tinyproxy`, installed by `.ci/run`), started by each test with a
//! configuration of its own on loopback. Without tinyproxy installed the
//! tests say so and pass, unless `WSAPI_REQUIRE_TINYPROXY` is set (CI sets
//! it, so that they cannot be skipped there).

mod support;

use std::net::TcpStream as StdTcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{echo_round_trip, echo_server, failure, tls_echo_server};
use wsapi::runtime::{block_on, spawn, TcpListener};
use wsapi::{FailReason, WebSocket};

/// A running tinyproxy, stopped (and its files removed) on drop.
struct Tinyproxy {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    // tinyproxy takes a fixed port: take a free one from the OS.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = std::env::temp_dir().join(format!("wsapi-tinyproxy-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let conf = dir.join("tinyproxy.conf");
    let config =
        format!("Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 32\nAllow 127.0.0.1\nLogLevel Error\n{extra}\n");
    std::fs::write(&conf, config).expect("config");
    let child = Command::new("tinyproxy")
        .arg("-d")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tinyproxy starts");
    let proxy = Tinyproxy {
        child,
        dir,
        url: format!("http://127.0.0.1:{port}"),
    };
    // Ready once it accepts connections (bounded).
    let start = Instant::now();
    while StdTcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < support::LIMIT, "tinyproxy did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(proxy)
}

/// A connection to `base` through the proxy at `proxy`.
fn via(base: &str, proxy: &str) -> WebSocket {
    WebSocket::builder(&format!("{base}/")).proxy(proxy).connect().unwrap()
}

/// The text of a failed connection's reason, which must be the transport's
/// (the proxy is part of the way to the server).
async fn refused(ws: WebSocket) -> String {
    match failure(&ws).await {
        FailReason::Transport(why) => why.to_string(),
        other => panic!("{other:?}"),
    }
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
        let why = refused(via(&base, &proxy.url)).await;
        assert!(why.contains("status 407"), "{why}");
        // Wrong credentials: tinyproxy 1.11 answers 401 rather than 407.
        let why = refused(via(&base, &proxy.url.replace("http://", "http://alice:wrong@"))).await;
        assert!(why.contains("status 401") || why.contains("status 407"), "{why}");
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
        let why = refused(via(&base, &proxy.url)).await;
        assert!(why.contains("status 403"), "{why}");
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
        .proxy("socks5://127.0.0.1:1080")
        .connect()
        .unwrap_err();
    assert!(matches!(err, wsapi::BuildError::InvalidProxy(_)), "{err:?}");
}
