//! Interactive mode as a person uses it: `wsapi URL` in a real terminal
//! (tmux), lines typed with `send-keys`, the screen read with
//! `capture-pane`. Every wait polls the screen until the expected text is
//! there, bounded by a generous limit, so nothing depends on timing.
//!
//! Needs tmux (`.ci/run` installs it and sets `WSAPI_REQUIRE_TMUX=1`, so
//! that in CI a missing tmux fails instead of skipping).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{EchoServer, BIN};

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// Polls the screen until `pred` holds; panics with the screen after 30 s.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited 30 s for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn type_line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
        self.tmux(&["send-keys", "-t", "t", "Enter"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).output();
    }
}

fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("WSAPI_REQUIRE_TMUX").is_some() {
        panic!("tmux is required (WSAPI_REQUIRE_TMUX is set): apt-get install -y tmux");
    }
    if !found {
        eprintln!("SKIPPED: tmux is not installed (set WSAPI_REQUIRE_TMUX=1 to make this a failure)");
    }
    found
}

#[test]
fn typing_lines_in_a_terminal_sends_them_and_ctrl_d_closes() {
    if !tmux_available() {
        return;
    }
    let server = EchoServer::start();
    let tmux = Tmux {
        socket: format!("wsapi-test-{}", std::process::id()),
    };
    // The shell prints the exit status once wsapi ends, then waits, so the
    // screen can still be read.
    let command = format!("'{BIN}' '{}' -p chat; echo \"EXIT=$?\"; sleep 600", server.url("/tty"));
    tmux.tmux(&["new-session", "-d", "-s", "t", "-x", "100", "-y", "30", &command]);

    tmux.wait_for("the open event", |s| s.contains("* open (protocol \"chat\""));
    tmux.type_line("hello from a person");
    // The typed line is echoed by the terminal; the reply is marked "< ".
    tmux.wait_for("the echoed message", |s| {
        s.lines().any(|l| l == "< hello from a person")
    });
    tmux.type_line("ünïcødé too");
    tmux.wait_for("the second message", |s| s.lines().any(|l| l == "< ünïcødé too"));

    tmux.tmux(&["send-keys", "-t", "t", "C-d"]);
    let screen = tmux.wait_for("the exit status", |s| s.contains("EXIT="));
    assert!(screen.contains("* close 1000 \"\" wasClean=true"), "{screen}");
    assert!(screen.contains("EXIT=0"), "{screen}");
}

#[test]
fn slash_commands_close_with_a_code_and_double_slash_sends_a_slash() {
    if !tmux_available() {
        return;
    }
    let server = EchoServer::start();
    let tmux = Tmux {
        socket: format!("wsapi-test-slash-{}", std::process::id()),
    };
    let command = format!("'{BIN}' '{}'; echo \"EXIT=$?\"; sleep 600", server.url("/slash"));
    tmux.tmux(&["new-session", "-d", "-s", "t", "-x", "100", "-y", "30", &command]);

    tmux.wait_for("the open event", |s| s.contains("* open"));
    tmux.type_line("//etc is a path");
    tmux.wait_for("the line sent with one slash", |s| {
        s.lines().any(|l| l == "< /etc is a path")
    });
    tmux.type_line("/nope");
    tmux.wait_for("the list of commands", |s| s.contains("commands: /close"));
    tmux.type_line("/close 4000 see you");
    let screen = tmux.wait_for("the exit status", |s| s.contains("EXIT="));
    // The echo server answers with our code and reason.
    assert!(screen.contains("* close 4000 \"see you\" wasClean=true"), "{screen}");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(!screen.contains("< /nope"), "{screen}");
}

#[test]
fn slash_ping_sends_a_ping_and_show_ping_shows_its_pong() {
    if !tmux_available() {
        return;
    }
    let server = EchoServer::start();
    let tmux = Tmux {
        socket: format!("wsapi-test-ping-{}", std::process::id()),
    };
    let command = format!(
        "'{BIN}' '{}' --show-ping; echo \"EXIT=$?\"; sleep 600",
        server.url("/ping")
    );
    tmux.tmux(&["new-session", "-d", "-s", "t", "-x", "100", "-y", "30", &command]);

    tmux.wait_for("the open event", |s| s.contains("* open"));
    tmux.type_line("/ping are you there?");
    // The echo server (tungstenite) answers with the same payload.
    let screen = tmux.wait_for("the pong", |s| s.contains("* pong received \"are you there?\""));
    assert!(screen.contains("* ping sent \"are you there?\""), "{screen}");
    // 126 bytes: refused with a line saying why; the session goes on.
    tmux.type_line(&format!("/ping {}", "x".repeat(126)));
    tmux.wait_for("the refusal", |s| {
        s.contains("wsapi: /ping: a ping's payload can have at most 125")
    });
    tmux.type_line("/ping");
    tmux.wait_for("the empty ping's pong", |s| s.contains("* pong received \"\""));
    tmux.type_line("/close");
    let screen = tmux.wait_for("the exit status", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
}
