//! The client side of one generated session, in a process of its own, for
//! system-call faults injected with libfiu (`fiu-run -x`): its POSIX
//! preload fails calls of the whole process, so the client runs here and
//! the scripted server in the test's process (`tests/faults.rs`), which
//! the faults never touch.
//!
//! `fault_client SEED PORT`: runs the client of
//! `wsapi_props::session::case_for_seed(SEED)` against
//! `ws://127.0.0.1:PORT/prop`, prints `ready`, reads the server's log (one
//! line, `Log::encode`) from stdin, checks the session with
//! `wsapi_props::check` and prints one `result` line of `key=value` words
//! (the verdict last, as `verdict=ok` or `verdict=fail: why`).
//!
//! Its own stdin and stdout are read and written through retrying loops:
//! the injected faults hit those calls too, and a fault there is the
//! harness's, not the client's.

use std::io::{self, Read, Write};

use wsapi_model::{Input, Step};
use wsapi_props::check::check;
use wsapi_props::server::Log;
use wsapi_props::session::{case_for_seed, check_close_wait, run_client};

/// Attempts at one read or write of stdin/stdout before giving up.
const RETRIES: usize = 100_000;

fn say(line: &str) {
    let mut out = io::stdout().lock();
    let mut bytes = format!("{line}\n").into_bytes();
    let mut tries = 0;
    while !bytes.is_empty() && tries < RETRIES {
        match out.write(&bytes) {
            Ok(n) => drop(bytes.drain(..n)),
            Err(_) => tries += 1,
        }
    }
    while out.flush().is_err() && tries < RETRIES {
        tries += 1;
    }
}

fn read_line() -> String {
    let mut input = io::stdin().lock();
    let mut line = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let mut tries = 0;
    while !line.ends_with(b"\n") && tries < RETRIES {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => line.extend_from_slice(&buf[..n]),
            Err(_) => tries += 1,
        }
    }
    String::from_utf8_lossy(&line).trim().to_string()
}

/// Open sockets of this process (`/proc/self/fd` entries that are
/// sockets): none may outlive the connection. The runtime's own
/// descriptors (epoll, eventfd) and stdin/stdout are not sockets.
fn open_sockets() -> usize {
    // Retried: the listing itself may be failed by an injected fault.
    for _ in 0..RETRIES {
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            return dir
                .flatten()
                .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:")))
                .count();
        }
    }
    usize::MAX
}

fn rss_kib() -> u64 {
    for _ in 0..100 {
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            return status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0);
        }
    }
    0
}

/// The errno values named by the transport and connect failures in the
/// journal, comma-separated (`-` for none): which injected faults
/// surfaced. (EAGAIN is waited out by the runtime: it fires without a
/// trace here.)
fn failure_errnos(journal: &[Step<wsapi::Message>]) -> String {
    let mut found: Vec<String> = Vec::new();
    for step in journal {
        if let Step::Input {
            input: input @ (Input::TransportFailed(_) | Input::ConnectFailed(_) | Input::TransportError(_)),
            ..
        } = step
        {
            // Display ("... (os error 104)") in handshake texts, Debug
            // ("Os { code: 111, ... }") in a TransportError's cause.
            let text = format!("{input:?}");
            for marker in ["(os error ", "Os { code: "] {
                for part in text.split(marker).skip(1) {
                    let n: String = part.chars().take_while(char::is_ascii_digit).collect();
                    if !n.is_empty() && !found.contains(&n) {
                        found.push(n);
                    }
                }
            }
        }
    }
    if found.is_empty() {
        "-".into()
    } else {
        found.join(",")
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(seed), Some(port)) = (
        args.get(1).and_then(|s| s.parse::<u64>().ok()),
        args.get(2).and_then(|s| s.parse::<u16>().ok()),
    ) else {
        eprintln!("usage: fault_client SEED PORT");
        std::process::exit(2);
    };
    let case = case_for_seed(seed);
    let url = format!("ws://127.0.0.1:{port}/prop");
    let client = run_client(&case, &url);
    say("ready");
    let line = read_line();
    let verdict = match (&client, Log::decode(&line)) {
        (Err(why), _) => Err(why.clone()),
        (_, None) => Err(format!("unreadable server log: {line:.200}")),
        (Ok(client), Some(log)) => check(&client.session(&case.actions, &log)).and_then(|()| check_close_wait(client)),
    };
    // The connection's socket is closed once its tasks ended, which
    // run_client waited for.
    let sockets = open_sockets();
    let (lost, errnos, opened, close_ms) = match &client {
        Ok(c) => (
            c.events_lost(),
            failure_errnos(&c.journal),
            c.journal
                .iter()
                .any(|s| matches!(s, Step::Event(Some(wsapi_model::Event::Open)))),
            c.close_wait.map_or(0, |d| d.as_millis()),
        ),
        Err(_) => (0, String::new(), false, 0),
    };
    if std::env::var("WSAPI_FAULT_VERBOSE").is_ok() {
        if let Ok(c) = &client {
            for step in &c.journal {
                if let Step::Input {
                    input: input @ (Input::TransportFailed(_) | Input::ConnectFailed(_) | Input::TransportError(_)),
                    ..
                } = step
                {
                    eprintln!("seed {seed}: {input:?}");
                }
            }
        }
    }
    let verdict = match verdict {
        Ok(()) => "ok".to_string(),
        Err(why) => format!("fail: {}", why.replace('\n', " ")),
    };
    say(&format!(
        "result live={} sockets={sockets} rss_kib={} events_lost={lost} \
         errnos={errnos} opened={} close_ms={close_ms} verdict={verdict}",
        wsapi::live_connections(),
        rss_kib(),
        u8::from(opened),
    ));
}
