//! The `wsapi` program as people and scripts use it: the demo, piped input
//! through real pipes, the options, exit statuses. Servers are real and on
//! loopback: `wsapi echo-server` in a child process, the TLS echo server of
//! the library's tests, or a raw listener that records the request.
//! The interactive test is in `terminal.rs`.

mod common;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;

use common::{run, EchoServer, BIN};
use serde_json::Value;

#[test]
fn demo_runs_a_clean_session() {
    let out = run(&[], b"");
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    for needle in [
        "send() before open -> InvalidStateError",
        "event open",
        "event message",
        "close(999) -> InvalidAccessError",
        "readyState=Closing bufferedAmount=11",
        "event close code=1000 reason=\"demo done\" wasClean=true",
    ] {
        assert!(out.stdout.contains(needle), "missing {needle:?} in:\n{}", out.stdout);
    }
}

#[test]
fn piped_input_ending_while_connecting_is_all_sent_and_every_reply_printed() {
    let server = EchoServer::start();
    // The whole input is written and the pipe closed at once, before the
    // connection can be open; the replies come after the last send.
    let url = server.url("/cli");
    let out = run(
        &[
            &url,
            "-p",
            "chat",
            "-p",
            "other",
            "-H",
            "X-Test: 1",
            "--max-messages",
            "3",
            "--wait",
            "30",
        ],
        "one\ntwo\nthree ünïcode\n".as_bytes(),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "one\ntwo\nthree ünïcode\n");
    assert!(out.stderr.contains("* open (protocol \"chat\""), "{}", out.stderr);
    assert!(out.stderr.contains("* close 1000 \"\" wasClean=true"), "{}", out.stderr);
}

#[test]
fn a_shell_pipeline_works_as_with_wscat() {
    let server = EchoServer::start();
    let script = format!(
        "printf 'hello\\n' | '{BIN}' '{}' --max-messages 1 --wait 30 | tr a-z A-Z",
        server.url("/pipe")
    );
    let out = std::process::Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO\n");
}

#[test]
fn without_max_messages_the_replies_are_awaited_until_the_server_is_quiet() {
    let server = EchoServer::start();
    // No --max-messages: wsapi closes once nothing came for --wait seconds
    // (a 5 s margin for a loopback echo; the default is 2 s).
    let out = run(&[&server.url("/quiet"), "--wait", "5"], b"a\nb\nc\n");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "a\nb\nc\n");
}

#[test]
fn empty_input_closes_cleanly_once_the_wait_is_over() {
    let server = EchoServer::start();
    let out = run(&[&server.url("/"), "--wait", "0.2"], b"");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "");
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[test]
fn hex_input_and_jsonl_output() {
    let server = EchoServer::start();
    let out = run(
        &[
            &server.url("/bin"),
            "--binary",
            "hex",
            "--jsonl",
            "--max-messages",
            "2",
            "--wait",
            "30",
        ],
        b"00ff10\n de ad be ef \n",
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let events = json_lines(&out.stdout);
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[0]["event"], "open");
    assert_eq!(events[0]["protocol"], "");
    assert_eq!(
        events[1],
        serde_json::json!({"event": "message", "type": "binary", "encoding": "hex", "data": "00ff10", "length": 3})
    );
    assert_eq!(events[2]["data"], "deadbeef");
    assert_eq!(
        events[3],
        serde_json::json!({"event": "close", "code": 1000, "reason": "", "wasClean": true})
    );
}

#[test]
fn a_file_is_one_binary_message_and_base64_is_shown() {
    let server = EchoServer::start();
    let dir = std::env::temp_dir().join(format!("wsapi-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("payload.bin");
    let payload: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    std::fs::write(&file, &payload).unwrap();
    let file_arg = file.to_str().unwrap();
    let args = [
        &server.url("/f"),
        "--file",
        file_arg,
        "-b",
        "base64",
        "--jsonl",
        "--max-messages",
        "2",
        "--wait",
        "30",
    ];
    // A line of stdin (base64 of "hi") follows the file.
    let out = run(&args, b"aGk=\n");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let events = json_lines(&out.stdout);
    assert_eq!(events[1]["type"], "binary");
    assert_eq!(events[1]["length"], payload.len());
    assert_eq!(events[1]["data"], data_encoding::BASE64.encode(&payload));
    assert_eq!(events[2]["data"], "aGk=");
}

#[test]
fn undecodable_input_lines_are_reported_and_skipped() {
    let server = EchoServer::start();
    let out = run(
        &[&server.url("/"), "-b", "hex", "--max-messages", "1", "--wait", "30"],
        b"zz\n0a0b\n",
    );
    // The rest is sent, and the exit status says that not everything was.
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stderr.contains("input line 1 not sent: not hex"), "{}", out.stderr);
    assert_eq!(out.stdout, "0a0b\n");
}

/// Peak resident size of a running process, in MiB (Linux; `None` elsewhere).
fn peak_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib >> 10)
}

/// A line longer than `--max-message-size` is not read whole (it was: a
/// 1 GiB line took 1,029 MiB), a line that is not UTF-8 is not dropped
/// silently, the lines around them are sent, and the exit status is 3.
/// The peak is read while the program waits for more input, after it
/// reported the long line: nothing depends on timing.
#[test]
fn long_and_non_utf8_lines_are_reported_skipped_and_make_the_exit_status_3() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let server = EchoServer::start();
    let mut child = Command::new(BIN)
        .args([
            &server.url("/"),
            "--max-message-size",
            "1024",
            "--max-messages",
            "2",
            "--wait",
            "30",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wsapi");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let huge = 256usize << 20;
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..huge >> 20 {
            stdin.write_all(&chunk).unwrap();
        }
        stdin.write_all(b"\n").unwrap();
        stdin
    });
    let mut stderr_text = String::new();
    loop {
        let line = lines_rx.recv_timeout(common::LIMIT).expect("the long line is reported");
        stderr_text.push_str(&line);
        stderr_text.push('\n');
        if line.contains("input line 1 not sent") {
            break;
        }
    }
    assert!(
        stderr_text.contains(&format!(
            "input line 1 not sent: {huge} bytes, longer than a message may be (--max-message-size 1024)"
        )),
        "{stderr_text}"
    );
    let mut stdin = writer.join().unwrap();
    if let Some(peak) = peak_mib(child.id()) {
        println!("peak resident size after a {} MiB line: {peak} MiB", huge >> 20);
        assert!(peak < 64, "{peak} MiB resident after a {} MiB line", huge >> 20);
    }
    stdin.write_all(b"first\n\xff\xfe not text\nlast\n").unwrap();
    drop(stdin);
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < common::LIMIT, "wsapi ran too long");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // Until the reader thread ends at the end of stderr (the child exited).
    stderr_text.extend(lines_rx.iter().map(|l| l + "\n"));
    assert_eq!(status.code(), Some(3), "{stderr_text}");
    assert!(
        stderr_text.contains("input line 3 not sent: not UTF-8"),
        "{stderr_text}"
    );
    assert_eq!(stdout.join().unwrap(), "first\nlast\n");
}

/// Accepts one connection and returns its request head, and the
/// connection, open and never answered.
fn record_one_request() -> (String, std::thread::JoinHandle<(String, std::net::TcpStream)>) {
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
        (head, tcp)
    });
    (url, reader)
}

#[test]
fn headers_protocols_and_deflate_offer_are_on_the_request() {
    let (url, request) = record_one_request();
    let out = run(
        &[
            &url,
            "-H",
            "X-One: 1",
            "-H",
            "X-Two: two",
            "-p",
            "a",
            "-p",
            "b",
            "--connect-timeout",
            "0.5",
        ],
        b"",
    );
    let head = request.join().unwrap().0.to_ascii_lowercase();
    assert!(head.contains("x-one: 1\n") && head.contains("x-two: two\n"), "{head}");
    assert!(head.contains("sec-websocket-protocol: a, b\n"), "{head}");
    assert!(head.contains("sec-websocket-extensions: permessage-deflate"), "{head}");
    // The server never answers: the connect timeout fails the connection.
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("connect timeout"), "{}", out.stderr);

    let (url, request) = record_one_request();
    let out = run(&[&url, "--no-deflate", "--connect-timeout", "0.5", "--jsonl"], b"");
    let head = request.join().unwrap().0.to_ascii_lowercase();
    assert!(!head.contains("sec-websocket-extensions"), "{head}");
    let events = json_lines(&out.stdout);
    assert_eq!(events[0]["kind"], "connect_timeout", "{events:?}");
}

/// Accepts one WebSocket connection, then reads and never writes again:
/// a peer that does not answer the closing handshake.
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
        std::io::Write::write_all(&mut tcp, response.as_bytes()).unwrap();
        let _ = std::io::copy(&mut tcp, &mut std::io::sink());
    });
    url
}

#[test]
fn closing_timeout_bounds_the_wait_for_a_silent_server() {
    let out = run(
        &[&silent_server(), "--closing-timeout", "0.3", "--wait", "0", "--jsonl"],
        b"",
    );
    // Open, our close(1000) is never answered: the closing timeout ends the
    // connection without a closing handshake, which is exit status 1.
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let events = json_lines(&out.stdout);
    assert_eq!(events[0]["event"], "open");
    assert_eq!(
        events[1],
        serde_json::json!({"event": "close", "code": 1006, "reason": "", "wasClean": false})
    );
}

/// Accepts one WebSocket connection and sends `message` as one text frame,
/// then reads until the client closes.
fn sends_one_message(message: &'static str) -> String {
    use std::io::{Read, Write};
    let (url, request) = record_one_request();
    std::thread::spawn(move || {
        let (head, mut tcp) = request.join().unwrap();
        let key = head
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-key"))
            })
            .map(|(_, v)| v.trim().to_string())
            .unwrap();
        let accept = async_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let mut out = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .into_bytes();
        out.extend_from_slice(&[0x81, message.len() as u8]);
        out.extend_from_slice(message.as_bytes());
        let _ = tcp.write_all(&out);
        let _ = tcp.read_to_end(&mut Vec::new());
    });
    url
}

#[test]
fn max_message_size_fails_the_connection_with_1009() {
    let url = sends_one_message("longer than four bytes");
    let out = run(&[&url, "--max-message-size", "4", "--jsonl", "--wait", "30"], b"");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let events = json_lines(&out.stdout);
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["open", "error", "close"], "{events:?}");
    assert_eq!(events[1]["kind"], "message_too_big");
    assert_eq!(events[2]["code"], 1006);
}

#[test]
fn ca_file_makes_a_self_signed_server_trusted() {
    let (port, cert) = wsapi::runtime::block_on(support::tls_echo_server());
    let url = format!("wss://localhost:{port}/");
    let dir = std::env::temp_dir().join(format!("wsapi-cli-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("ca.pem");
    let b64 = data_encoding::BASE64.encode(&cert);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let text = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    );
    std::fs::write(&pem, text).unwrap();

    let untrusted = run(&[&url, "--jsonl"], b"");
    assert_eq!(untrusted.code, Some(1));
    assert_eq!(json_lines(&untrusted.stdout)[0]["kind"], "tls", "{}", untrusted.stdout);

    let trusted = run(
        &[
            &url,
            "--ca",
            pem.to_str().unwrap(),
            "--max-messages",
            "1",
            "--wait",
            "30",
        ],
        b"over tls\n",
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(trusted.code, Some(0), "{}", trusted.stderr);
    assert_eq!(trusted.stdout, "over tls\n");
}

#[test]
fn bad_arguments_exit_2_and_say_why() {
    let cases: [(&[&str], &str); 5] = [
        (&["ftp://example.com/"], "SyntaxError"),
        (&["ws://127.0.0.1:1/", "-H", "no colon"], "--header wants `Name: value`"),
        (&["ws://127.0.0.1:1/", "-H", "Bad Name: x"], "not valid HTTP"),
        (
            &["ws://127.0.0.1:1/", "--ca", "/nonexistent/ca.pem"],
            "--ca /nonexistent/ca.pem: cannot read",
        ),
        (
            &["ws://127.0.0.1:1/", "--connect-timeout", "soon"],
            "not a number of seconds",
        ),
    ];
    for (args, needle) in cases {
        let out = run(args, b"");
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn help_documents_the_exit_statuses() {
    let out = run(&["--help"], b"");
    assert_eq!(out.code, Some(0));
    for needle in [
        "Exit status:",
        "0  the connection closed cleanly",
        "1  the connection failed",
        "2  bad arguments",
    ] {
        assert!(out.stdout.contains(needle), "{needle:?} missing in:\n{}", out.stdout);
    }
}

#[test]
fn refused_connection_exits_1_with_a_typed_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = run(&[&format!("ws://127.0.0.1:{port}/"), "--jsonl"], b"hello\n");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let events = json_lines(&out.stdout);
    assert_eq!(events[0]["event"], "error");
    assert_eq!(events[0]["kind"], "tcp");
    assert!(events[0]["message"]
        .as_str()
        .unwrap()
        .contains("check the host and port"));
    assert_eq!(events[1]["code"], 1006);
}

#[test]
fn proxy_option_is_used() {
    // An unusable proxy URL is a bad argument...
    let out = run(&["ws://127.0.0.1:4000/", "--proxy", "ftp://127.0.0.1:1080"], b"");
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("proxy"), "{}", out.stderr);
    // ...and a proxy nobody listens on fails the connection (the target is
    // never tried): a transport error that names the proxy.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = run(
        &[
            "ws://127.0.0.1:4000/",
            "--jsonl",
            "--proxy",
            &format!("http://127.0.0.1:{port}"),
        ],
        b"hello\n",
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let events = json_lines(&out.stdout);
    assert_eq!(events[0]["event"], "error");
    assert_eq!(events[0]["kind"], "proxy");
    assert!(
        events[0]["message"].as_str().unwrap().contains("proxy"),
        "{:?}",
        events[0]
    );
    assert_eq!(events[1]["code"], 1006);
}

/// `wsapi judge`: a trace the standard allows (exit 0), one it does not
/// (exit 1, with the observation, what the model allows and the rule), a
/// table for several, and a malformed file (exit 2, naming the line).
#[test]
fn judge_gives_verdicts_rules_and_typed_errors() {
    let dir = std::env::temp_dir().join(format!("wsapi-judge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = |close: &str| {
        format!(
            r#"{{"runner": "test", "scenario": "drop", "base": "ws://127.0.0.1:9001", "trace": [
{{"k": "op", "i": 0, "op": "construct", "path": "/x", "ok": true}},
{{"k": "event", "type": "open", "class": "Event", "readyState": 1}},
{{"k": "op", "i": 1, "op": "wait_event", "event": "open", "ok": true}},
{close}
{{"k": "event", "type": "close", "class": "CloseEvent", "readyState": 3, "code": 1006, "reason": "", "wasClean": false}},
{{"k": "op", "i": 2, "op": "wait_event", "event": "close", "ok": true}}
]}}"#
        )
    };
    let allowed = dir.join("allowed.test.json");
    let refused = dir.join("refused.test.json");
    let broken = dir.join("broken.test.json");
    std::fs::write(
        &allowed,
        trace(r#"{"k": "event", "type": "error", "class": "Event", "readyState": 3},"#),
    )
    .unwrap();
    std::fs::write(&refused, trace("")).unwrap();
    std::fs::write(
        &broken,
        "{\"trace\": [\n{\"k\": \"op\", \"op\": \"construct\"},\n{\"k\": 7}\n]}",
    )
    .unwrap();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();

    let out = run(&["judge", &path(&allowed)], b"");
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("ALLOWED"), "{}", out.stdout);
    assert!(out.stdout.contains("event   error"), "{}", out.stdout);

    let out = run(&["judge", &path(&refused)], b"");
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    for needle in [
        "NOT ALLOWED at line 6",
        "the model allows there: error",
        "fail-fires-error",
        "RFC 6455 §7.1.7",
    ] {
        assert!(out.stdout.contains(needle), "missing {needle:?} in:\n{}", out.stdout);
    }

    let out = run(&["judge", &path(&allowed), &path(&refused)], b"");
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.contains("| drop | test | allowed |"), "{}", out.stdout);
    assert!(
        out.stdout.contains("**not allowed** | `fail-fires-error`"),
        "{}",
        out.stdout
    );

    let out = run(&["judge", &path(&broken)], b"");
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("line 3"), "{}", out.stderr);
    std::fs::remove_dir_all(&dir).ok();
}
