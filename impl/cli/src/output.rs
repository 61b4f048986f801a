//! How the client shows events: for people (messages on stdout, events on
//! stderr) or, with `--jsonl`, one JSON object per event on stdout for
//! scripts.

use std::io::{IsTerminal, Write};

use serde_json::json;
use wsapi::{CloseEvent, FailReason, MessageEvent, WebSocket};

use crate::options::Encoding;

/// Prints events in the chosen form.
pub struct Printer {
    jsonl: bool,
    encoding: Encoding,
    /// At a terminal, received messages are marked `< ` (as wscat does) so
    /// that they stand apart from the lines typed.
    prefix: &'static str,
}

impl Printer {
    /// A printer for `--jsonl` or not, binary shown in `encoding`.
    pub fn new(jsonl: bool, encoding: Encoding) -> Self {
        let prefix = if !jsonl && std::io::stdout().is_terminal() {
            "< "
        } else {
            ""
        };
        Printer {
            jsonl,
            encoding,
            prefix,
        }
    }

    fn json(&self, value: serde_json::Value) {
        write_line(format_args!("{value}"));
    }

    /// The open event.
    pub fn open(&self, ws: &WebSocket) {
        if self.jsonl {
            self.json(json!({"event": "open", "protocol": ws.protocol(), "extensions": ws.extensions()}));
        } else {
            eprintln!(
                "* open (protocol {:?}, extensions {:?})",
                ws.protocol(),
                ws.extensions()
            );
        }
    }

    /// A message event.
    pub fn message(&self, m: &MessageEvent) {
        let value = match m.data.as_text() {
            Some(text) if self.jsonl => json!({"event": "message", "type": "text", "data": text}),
            Some(text) => return self.line(text),
            None if self.jsonl => json!({
                "event": "message",
                "type": "binary",
                "encoding": self.encoding.name(),
                "data": self.encoding.encode(m.data.as_bytes()),
                "length": m.data.len(),
            }),
            None => return self.line(&self.encoding.encode(m.data.as_bytes())),
        };
        self.json(value);
    }

    fn line(&self, text: &str) {
        write_line(format_args!("{}{text}", self.prefix));
    }

    /// The error event.
    pub fn error(&self, why: &FailReason) {
        if self.jsonl {
            self.json(json!({"event": "error", "kind": why.kind(), "message": why.to_string()}));
        } else {
            eprintln!("* error: {why}");
        }
    }

    /// The close event.
    pub fn close(&self, c: &CloseEvent) {
        if self.jsonl {
            self.json(json!({"event": "close", "code": c.code, "reason": c.reason, "wasClean": c.was_clean}));
        } else {
            eprintln!("* close {} {:?} wasClean={}", c.code, c.reason, c.was_clean);
        }
    }
}

/// Writes one line to stdout. Once stdout is gone (`wsapi URL | head -1`)
/// there is no one left to show events to: the program ends, with the
/// status of a connection that did not close cleanly.
fn write_line(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(i32::from(crate::exit::UNCLEAN));
    }
}
