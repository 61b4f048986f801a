//! Running the `wsapi` binary in tests: bounded waits, real pipes, and the
//! `wsapi echo-server` child as a loopback server.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The program under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_wsapi");

/// Every wait on a child is bounded by this (generous: a bound, not a
/// timing assumption).
pub const LIMIT: Duration = Duration::from_secs(60);

/// What a finished run gave.
pub struct Output {
    /// Exit status (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

fn read_all(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs `wsapi ARGS` with `input` written to its stdin through a pipe that
/// is then closed; panics (after killing it) if it runs longer than [`LIMIT`].
pub fn run(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wsapi");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let status = wait_bounded(&mut child);
    writer.join().unwrap();
    Output {
        code: status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn wait_bounded(child: &mut Child) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wsapi ran longer than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `wsapi echo-server` running in a child process; killed on drop.
pub struct EchoServer {
    child: Child,
    base: String,
}

impl EchoServer {
    pub fn start() -> EchoServer {
        let mut child = Command::new(BIN)
            .arg("echo-server")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn wsapi echo-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("its URL");
        assert!(line.starts_with("ws://"), "{line:?}");
        EchoServer {
            child,
            base: line.trim().to_string(),
        }
    }

    /// The server's base URL followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
