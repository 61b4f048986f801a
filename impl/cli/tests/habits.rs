//! What a websocat or wscat user types first: `-b URL`, `--close-code` and
//! `--close-reason`, `--ping-interval`/`--ping-timeout`, `--show-ping`, `--origin`,
//! `--auth`, `-k`, `--cert`/`--key`, and what a rejected upgrade shows.
//! Real pipes, servers on loopback (the slash commands, which need a
//! terminal, are in `terminal.rs`).

mod common;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::{run, EchoServer};
use serde_json::Value;

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// A directory of this test's own, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("wsapi-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `der` as a PEM block labelled `label`; its path.
    fn pem(&self, file: &str, label: &str, der: &[u8]) -> String {
        let b64 = data_encoding::BASE64.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let path = self.0.join(file);
        std::fs::write(
            &path,
            format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n")),
        )
        .unwrap();
        path_str(&path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn dash_b_is_a_flag_and_the_old_binary_encoding_spelling_still_works() {
    let server = EchoServer::start();
    let url = server.url("/b");
    let once = ["--max-messages", "1", "--wait", "30"];
    // websocat's habit: -b before the URL.
    let out = run(&[&["-b", &url][..], &once].concat(), b"00ff\n");
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "00ff\n"), "{}", out.stderr);
    // The encoding in its own option.
    let out = run(&[&[&url, "-b", "--encoding", "base64"][..], &once].concat(), b"AAE=\n");
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "AAE=\n"), "{}", out.stderr);
    // Earlier spellings: --binary ENCODING, --binary=ENCODING, -b ENCODING.
    for old in [&["--binary", "base64"][..], &["--binary=base64"], &["-b", "base64"]] {
        let out = run(&[&[url.as_str()][..], old, &once].concat(), b"AAE=\n");
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (Some(0), "AAE=\n"),
            "{old:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn the_end_of_input_closes_with_the_chosen_code_and_reason() {
    let server = EchoServer::start();
    let out = run(
        &[
            &server.url("/c"),
            "--close-code",
            "4000",
            "--close-reason",
            "bye",
            "--jsonl",
            "--wait",
            "0",
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let events = json_lines(&out.stdout);
    // The echo server answers with our Close frame's code and reason.
    assert_eq!(
        events.last().unwrap(),
        &serde_json::json!({"event": "close", "code": 4000, "reason": "bye", "wasClean": true})
    );
    // What close() would refuse is refused before connecting.
    for (args, needle) in [
        (&["--close-code", "999"][..], "InvalidAccessError"),
        (&["--close-reason", &"x".repeat(124)], "SyntaxError"),
    ] {
        let out = run(&[&["ws://127.0.0.1:1/"][..], args].concat(), b"");
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
}

/// Accepts one WebSocket connection, then reads and never writes again:
/// pings are never answered.
fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/silent", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut key = String::new();
        for line in BufReader::new(&tcp).lines() {
            let line = line.unwrap();
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("sec-websocket-key") {
                    key = value.trim().to_string();
                }
            }
            if line.is_empty() {
                break;
            }
        }
        let accept = async_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        tcp.write_all(response.as_bytes()).unwrap();
        let _ = std::io::copy(&mut tcp, &mut std::io::sink());
    });
    url
}

#[test]
fn ping_options_detect_a_peer_that_stopped_answering() {
    // The session would wait 60 s for replies; keep-alive ends it first.
    let out = run(
        &[
            &silent_server(),
            "--ping-interval",
            "0.2",
            "--ping-timeout",
            "0.3",
            "--wait",
            "60",
            "--jsonl",
        ],
        b"",
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let events = json_lines(&out.stdout);
    assert_eq!(events[1]["event"], "error", "{events:?}");
    assert_eq!(events[1]["kind"], "keep_alive_timeout", "{events:?}");
    assert_eq!(events[2]["code"], 1006);
    // A timeout needs an interval.
    let out = run(&["ws://127.0.0.1:1/", "--ping-timeout", "1"], b"");
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

/// Accepts one WebSocket connection, sends two pings (text, then bytes that
/// are not UTF-8), and once both pongs came back sends "done"; returns the
/// pongs' payloads.
fn pinging_server() -> (String, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    use async_tungstenite::tungstenite::{accept, Message};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ping", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = accept(tcp).unwrap();
        ws.send(Message::Ping("hi there".into())).unwrap();
        ws.send(Message::Ping(vec![0xff, 0x00].into())).unwrap();
        let mut pongs = Vec::new();
        // Until the client's close (tungstenite answers it) ends the reads.
        while let Ok(msg) = ws.read() {
            if let Message::Pong(p) = msg {
                pongs.push(p.to_vec());
                if pongs.len() == 2 {
                    ws.send(Message::text("done")).unwrap();
                }
            }
        }
        pongs
    });
    (url, server)
}

#[test]
fn show_ping_prints_the_servers_pings_as_lines_or_json() {
    // The server's "done" comes after the pongs, which are written after
    // the pings were shown: by the end of the session they were.
    let (url, server) = pinging_server();
    let out = run(&[&url, "--show-ping", "--max-messages", "1", "--wait", "60"], b"");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("* ping received \"hi there\"\n"), "{}", out.stderr);
    assert!(out.stderr.contains("* ping received (hex) ff00\n"), "{}", out.stderr);
    assert_eq!(out.stdout, "done\n");
    // wsapi answered each with its payload, as RFC 6455 §5.5.3 says.
    assert_eq!(server.join().unwrap(), [b"hi there".to_vec(), vec![0xff, 0x00]]);

    let (url, server) = pinging_server();
    let out = run(
        &[
            &url,
            "--show-ping",
            "--jsonl",
            "--encoding",
            "base64",
            "--max-messages",
            "1",
            "--wait",
            "60",
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let events = json_lines(&out.stdout);
    let pings: Vec<&Value> = events.iter().filter(|e| e["event"] == "ping").collect();
    assert_eq!(
        pings,
        [
            &serde_json::json!({"event": "ping", "direction": "received", "data": "hi there"}),
            &serde_json::json!({"event": "ping", "direction": "received", "encoding": "base64", "data": "/wA="}),
        ],
        "{events:?}"
    );
    server.join().unwrap();

    // Without the flag, nothing about them is shown.
    let (url, server) = pinging_server();
    let out = run(&[&url, "--max-messages", "1", "--wait", "60"], b"");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stderr.contains("ping"), "{}", out.stderr);
    server.join().unwrap();
}

/// Accepts one connection and returns its request head (the connection is
/// then dropped).
fn record_one_request() -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/rec", listener.local_addr().unwrap());
    let reader = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut head = String::new();
        for line in BufReader::new(&tcp).lines() {
            let line = line.unwrap();
            if line.is_empty() {
                break;
            }
            head.push_str(&line);
            head.push('\n');
        }
        head
    });
    (url, reader)
}

#[test]
fn origin_and_auth_are_on_the_request() {
    let (url, request) = record_one_request();
    let out = run(
        &[&url, "--origin", "https://app.example", "--auth", "alice:s3cret"],
        b"",
    );
    // Header names go out in lower case (the http crate's HeaderName).
    let head = request.join().unwrap();
    assert!(head.contains("origin: https://app.example\n"), "{head}");
    let basic = data_encoding::BASE64.encode(b"alice:s3cret");
    assert!(head.contains(&format!("authorization: Basic {basic}\n")), "{head}");
    assert_eq!(out.code, Some(1), "the server hung up: {}", out.stderr);
    let out = run(&["ws://127.0.0.1:1/", "--auth", "no-colon"], b"");
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--auth wants `user:password`"), "{}", out.stderr);
}

#[test]
fn insecure_accepts_an_untrusted_certificate_with_a_warning() {
    let (port, _cert) = wsapi::runtime::block_on(support::tls_echo_server());
    let url = format!("wss://localhost:{port}/");
    // -n and --no-check: wscat's spelling.
    for flag in ["-k", "--insecure", "-n", "--no-check"] {
        let out = run(&[&url, flag, "--max-messages", "1", "--wait", "30"], b"over tls\n");
        assert_eq!(out.code, Some(0), "{flag}: {}", out.stderr);
        assert_eq!(out.stdout, "over tls\n");
        assert!(out.stderr.contains("warning: --insecure"), "{}", out.stderr);
    }
}

#[test]
fn cert_and_key_give_a_client_certificate() {
    let server = wsapi::runtime::block_on(support::mutual_tls_echo_server());
    let dir = TempDir::new("mtls");
    let ca = dir.pem("ca.pem", "CERTIFICATE", &server.ca);
    let cert = dir.pem("client.pem", "CERTIFICATE", &server.client_cert);
    let key = dir.pem("client.key", "PRIVATE KEY", &server.client_key);
    let url = format!("wss://localhost:{}/", server.port);
    let once = ["--max-messages", "1", "--wait", "30"];
    for tls in [&["--ca", &ca][..], &["-k"]] {
        let out = run(
            &[&[url.as_str(), "--cert", &cert, "--key", &key][..], tls, &once].concat(),
            b"mine\n",
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (Some(0), "mine\n"),
            "{tls:?}: {}",
            out.stderr
        );
    }
    // Without one, the server ends the TLS session.
    let out = run(&[&url, "--ca", &ca, "--jsonl"], b"");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stdout.contains("CertificateRequired"), "{}", out.stdout);
    // --cert needs --key; an unreadable key is a bad argument.
    let out = run(&[&url, "--cert", &cert], b"");
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    let out = run(&[&url, "--cert", &cert, "--key", &ca], b"");
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--key"), "{}", out.stderr);
}

/// Answers one upgrade request with a 403, its headers and body written
/// in one write.
fn refusing_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/no", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut tcp, _) = listener.accept().unwrap();
            for line in BufReader::new(&tcp).lines() {
                if line.unwrap().is_empty() {
                    break;
                }
            }
            let body = "no entry without a token\n";
            let response = format!(
                "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nWWW-Authenticate: Bearer realm=\"api\"\r\nSet-Cookie: session=secret\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            tcp.write_all(response.as_bytes()).unwrap();
        }
    });
    url
}

#[test]
fn a_rejected_upgrade_shows_status_headers_and_body() {
    let url = refusing_server();
    let out = run(&[&url], b"");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    for needle in [
        "HTTP 403 Forbidden",
        "Content-Type: text/plain",
        "WWW-Authenticate: Bearer realm=\"api\"",
        "body: \"no entry without a token\\n\"",
    ] {
        assert!(out.stderr.contains(needle), "{needle:?} missing in:\n{}", out.stderr);
    }
    assert!(!out.stderr.contains("secret"), "cookies are not shown:\n{}", out.stderr);
    let out = run(&[&url, "--jsonl"], b"");
    let events = json_lines(&out.stdout);
    assert_eq!(events[0]["status"], 403, "{events:?}");
    assert_eq!(events[0]["body"], "no entry without a token\n");
    assert_eq!(
        events[0]["headers"][1],
        serde_json::json!(["WWW-Authenticate", "Bearer realm=\"api\""])
    );
}

#[test]
fn socks5_proxy_from_the_command_line() {
    // microsocks (Debian package), as in the library's SOCKS tests; skipped
    // without it unless WSAPI_REQUIRE_MICROSOCKS is set (CI sets it).
    let found = std::process::Command::new("microsocks")
        .arg("-h")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("WSAPI_REQUIRE_MICROSOCKS").is_none(),
            "microsocks is required (WSAPI_REQUIRE_MICROSOCKS) but not installed"
        );
        eprintln!("skipped: microsocks is not installed");
        return;
    }
    // A fixed port: see `support::external` for why it is probed.
    let proxy = support::external::start_on_free_port(
        "microsocks",
        common::LIMIT,
        |port| {
            std::process::Command::new("microsocks")
                .args(["-i", "127.0.0.1", "-p", &port.to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("microsocks starts")
        },
        support::external::answers_socks5,
    );
    let port = proxy.port;
    let server = EchoServer::start();
    let out = run(
        &[
            &server.url("/socks"),
            "--proxy",
            &format!("socks5h://127.0.0.1:{port}"),
            "--max-messages",
            "1",
            "--wait",
            "30",
        ],
        b"through socks\n",
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "through socks\n"),
        "{}",
        out.stderr
    );
}
