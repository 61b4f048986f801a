//! The `wsapi` program: the demo, interactive mode and exit statuses.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use wsapi::runtime::block_on;

const BIN: &str = env!("CARGO_BIN_EXE_wsapi");

#[test]
fn demo_runs_a_clean_session() {
    let out = Command::new(BIN).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "send() before open -> InvalidStateError",
        "event open",
        "event message",
        "close(999) -> InvalidAccessError",
        "readyState=Closing bufferedAmount=11",
        "event close code=1000 reason=\"demo done\" wasClean=true",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
}

#[test]
fn interactive_sends_lines_and_closes_at_end_of_input() {
    let base = block_on(support::echo_server());
    // The echo server must outlive the child: keep a runtime thread serving it.
    let mut child = Command::new(BIN)
        .arg(format!("{base}/cli"))
        .args(["--protocol", "chat", "--header", "X-Test: 1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Watchdog: nothing may hang; a stuck child is killed after 20 s.
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(20));
        let _ = Command::new("kill").arg(&pid).status();
    });
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"one\ntwo\n").unwrap();
    // Wait for both echoes before ending the input: close() drops what
    // arrives after it, as in a browser.
    let mut stdout_lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let echoed: Vec<String> = (&mut stdout_lines).take(2).map(|l| l.unwrap()).collect();
    assert_eq!(echoed, ["one", "two"]);
    drop(stdin);
    let rest: Vec<String> = stdout_lines.map(|l| l.unwrap()).collect();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(rest.is_empty(), "{rest:?}");
    assert!(stderr.contains("* open (protocol \"chat\""), "{stderr}");
    assert!(stderr.contains("* close 1000"), "{stderr}");
}

#[test]
fn bad_arguments_exit_2() {
    let out = Command::new(BIN).arg("ftp://example.com/").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SyntaxError"));
}

#[test]
fn refused_connection_exits_1() {
    // A port nobody listens on: bind one, read its number, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(BIN)
        .arg(format!("ws://127.0.0.1:{port}/"))
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn proxy_flag_is_used() {
    // An unusable proxy URL is a bad argument...
    let out = Command::new(BIN)
        .args(["ws://127.0.0.1:4000/", "--proxy", "socks5://127.0.0.1:1080"])
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("proxy"));
    // ...and a proxy nobody listens on fails the connection (the target is never tried).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // stdin stays open (held here) so that the failure is the proxy's, not a close at end of input.
    let mut child = Command::new(BIN)
        .args(["ws://127.0.0.1:4000/", "--proxy", &format!("http://127.0.0.1:{port}")])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let _stdin = child.stdin.take();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("piped"), &mut stderr).expect("stderr");
    assert_eq!(child.wait().expect("exits").code(), Some(1), "{stderr}");
    assert!(stderr.contains("proxy"), "{stderr}");
}
