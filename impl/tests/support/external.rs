//! Starting a real external server (tinyproxy, microsocks) that takes a
//! fixed port, as the proxy tests of the library and of the CLI do.
//!
//! Such a server cannot be given port 0, so a free port is taken from the
//! OS and handed to it. Another test may bind that port between the probe
//! and the server's start (the tests' echo servers bind port 0 too): the
//! server then exits, and the listener there is someone else's, whose
//! answer to a CONNECT is a reset. So a server counts as started only once
//! its port answers as it does (`answers`), and another port is tried
//! otherwise. Standard library only: the CLI's tests include this file too.

use std::net::TcpListener;
use std::process::Child;
use std::time::{Duration, Instant};

/// A started server, killed (and waited for) on drop.
pub struct External {
    pub child: Child,
    pub port: u16,
}

impl Drop for External {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `spawn(port)` on a free loopback port until `answers(port)` says
/// the server there is the one started (at most `limit` per try, 10 tries).
pub fn start_on_free_port(
    what: &str,
    limit: Duration,
    mut spawn: impl FnMut(u16) -> Child,
    answers: impl Fn(u16) -> bool,
) -> External {
    for _ in 0..10 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut server = External {
            child: spawn(port),
            port,
        };
        let start = Instant::now();
        loop {
            if answers(port) {
                return server;
            }
            let exited = server.child.try_wait().ok().flatten().is_some();
            if exited || start.elapsed() > limit {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("{what} did not start on any of 10 ports");
}

/// Whether the listener on `port` speaks SOCKS5: a greeting offering "no
/// authentication" and user/password gets a version-5 answer.
#[allow(dead_code)] // not every test file that includes this uses it
pub fn answers_socks5(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
    let mut answer = [0u8; 2];
    tcp.write_all(&[5, 2, 0, 2]).is_ok() && tcp.read_exact(&mut answer).is_ok() && answer[0] == 5
}
