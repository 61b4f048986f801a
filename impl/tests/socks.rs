//! SOCKS5 proxies (`socks5://`, `socks5h://`, with and without user and
//! password), against a real SOCKS5 server: microsocks (Debian package
//! `microsocks`, installed by `.ci/run`), started by each test on a port of
//! its own on loopback. Without microsocks installed the tests say so and
//! pass, unless `WSAPI_REQUIRE_MICROSOCKS` is set (CI sets it, so that they
//! cannot be skipped there).

mod support;

use std::process::{Command, Stdio};

use support::external::{answers_socks5, start_on_free_port, External};
use support::{echo_round_trip, echo_server, failure, tls_echo_server};
use wsapi::runtime::block_on;
use wsapi::{FailReason, ProxyError, TransportError, TransportLayer, WebSocket};

/// A running microsocks, stopped on drop.
struct Microsocks {
    _server: External,
    /// `host:port`.
    addr: String,
}

/// Starts microsocks on a free loopback port, with `user:password` if
/// given; `None` when it is not installed and not required.
fn microsocks(credentials: Option<(&str, &str)>) -> Option<Microsocks> {
    // microsocks has no version flag; -h prints its usage.
    let installed = Command::new("microsocks")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !installed {
        if std::env::var_os("WSAPI_REQUIRE_MICROSOCKS").is_some() {
            panic!("microsocks is required (WSAPI_REQUIRE_MICROSOCKS) but not installed");
        }
        eprintln!("skipped: microsocks is not installed (apt-get install microsocks)");
        return None;
    }
    // A fixed port: see `support::external` for why it is probed.
    let server = start_on_free_port(
        "microsocks",
        support::LIMIT,
        |port| {
            let mut command = Command::new("microsocks");
            command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
            if let Some((user, password)) = credentials {
                command.args(["-u", user, "-P", password]);
            }
            command
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("microsocks starts")
        },
        answers_socks5,
    );
    let addr = format!("127.0.0.1:{}", server.port);
    Some(Microsocks { _server: server, addr })
}

fn via(url: &str, proxy: &str) -> WebSocket {
    WebSocket::builder(url).proxy(proxy).connect().unwrap()
}

/// The failed connection's proxy error (the server was never reached).
async fn proxy_failure(ws: WebSocket) -> (TransportError, String) {
    match failure(&ws).await {
        FailReason::Transport(why) => {
            assert_eq!(why.layer(), TransportLayer::Proxy, "{why}");
            let text = why.to_string();
            assert!(why.cause().downcast_ref::<ProxyError>().is_some(), "{why:?}");
            (why, text)
        }
        other => panic!("{other:?}"),
    }
}

fn cause(why: &TransportError) -> &ProxyError {
    why.cause().downcast_ref::<ProxyError>().expect("a proxy error")
}

#[test]
fn socks5_and_socks5h_carry_the_connection() {
    let Some(proxy) = microsocks(None) else { return };
    block_on(async {
        let base = echo_server().await;
        let port = base.rsplit(':').next().unwrap().to_string();
        // socks5: the name is resolved here, the proxy gets an address.
        let ws = via(&format!("ws://localhost:{port}/"), &format!("socks5://{}", proxy.addr));
        echo_round_trip(&ws, "through socks5").await;
        // socks5h: the proxy resolves the name.
        let ws = via(&format!("ws://localhost:{port}/"), &format!("socks5h://{}", proxy.addr));
        echo_round_trip(&ws, "through socks5h").await;
        let ws = via(&format!("{base}/"), &format!("socks5h://{}", proxy.addr));
        echo_round_trip(&ws, "to an address through socks5h").await;
    });
}

#[test]
fn wss_through_socks5_gets_tls_end_to_end() {
    let Some(proxy) = microsocks(None) else { return };
    block_on(async {
        let (port, cert) = tls_echo_server().await;
        let ws = WebSocket::builder(&format!("wss://localhost:{port}/"))
            .root_certificates([cert])
            .unwrap()
            .proxy(&format!("socks5h://{}", proxy.addr))
            .connect()
            .unwrap();
        echo_round_trip(&ws, "tls through socks5h").await;
    });
}

#[test]
fn user_and_password_are_sent_and_wrong_ones_refused() {
    let Some(proxy) = microsocks(Some(("alice", "s3cret"))) else {
        return;
    };
    block_on(async {
        let base = echo_server().await;
        let ws = via(&format!("{base}/"), &format!("socks5://alice:s3cret@{}", proxy.addr));
        echo_round_trip(&ws, "with credentials").await;

        let (why, text) = proxy_failure(via(
            &format!("{base}/"),
            &format!("socks5://alice:wrong@{}", proxy.addr),
        ))
        .await;
        assert!(matches!(cause(&why), ProxyError::SocksAuth { .. }), "{why:?}");
        assert!(
            text.contains(&proxy.addr) && text.contains("user and password"),
            "{text}"
        );
        assert!(
            !text.contains("wrong") && !text.contains("alice"),
            "credentials are never shown: {text}"
        );

        let (why, text) = proxy_failure(via(&format!("{base}/"), &format!("socks5://{}", proxy.addr))).await;
        assert!(matches!(cause(&why), ProxyError::SocksAuth { .. }), "{why:?}");
        assert!(text.contains("wants credentials"), "{text}");
    });
}

#[test]
fn a_refused_connection_keeps_the_socks_reply() {
    let Some(proxy) = microsocks(None) else { return };
    block_on(async {
        // A port nobody listens on: bind one, read its number, close it.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (why, text) = proxy_failure(via(
            &format!("ws://127.0.0.1:{closed}/"),
            &format!("socks5://{}", proxy.addr),
        ))
        .await;
        let cause = cause(&why);
        assert_eq!(cause.proxy(), proxy.addr);
        // microsocks answers with its connect's errno mapped to a reply:
        // 5, connection refused.
        assert_eq!(cause.socks_reply(), Some(5), "{text}");
        assert!(text.contains("connection refused"), "{text}");
        assert_eq!(why.target(), format!("127.0.0.1:{closed}"));
    });
}

#[test]
fn socks5_from_all_proxy_as_curl_reads_it() {
    let Some(proxy) = microsocks(None) else { return };
    // The environment is the process's: this is the only test in this
    // binary that reads it, and it sets the one variable it reads.
    std::env::set_var("all_proxy", format!("socks5h://{}", proxy.addr));
    block_on(async {
        let base = echo_server().await;
        let ws = WebSocket::builder(&format!("{base}/"))
            .proxy_from_env(true)
            .connect()
            .unwrap();
        echo_round_trip(&ws, "through all_proxy").await;
    });
    // The proxy is really used: with it stopped, the same connection fails
    // at the proxy.
    drop(proxy);
    block_on(async {
        let base = echo_server().await;
        let ws = WebSocket::builder(&format!("{base}/"))
            .proxy_from_env(true)
            .connect()
            .unwrap();
        let (why, _) = proxy_failure(ws).await;
        assert_eq!(
            why.io_error_kind(),
            Some(std::io::ErrorKind::ConnectionRefused),
            "{why}"
        );
    });
    std::env::remove_var("all_proxy");
}
