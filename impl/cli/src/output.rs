//! How the client shows events: for people (messages on stdout, events on
//! stderr) or, with `--jsonl`, one JSON object per event on stdout for
//! scripts.

use std::io::{IsTerminal, Write};

use async_tungstenite::tungstenite::http::StatusCode;
use serde_json::json;
use wsapi::control::ControlFrame;
use wsapi::{CloseEvent, FailReason, MessageEvent, WebSocket};
use wsapi_model::HandshakeFailure;

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

    /// The error event. A rejected upgrade also shows what the server
    /// said: its status line, the headers that explain a refusal and the
    /// start of its body (which the library keeps for this).
    pub fn error(&self, why: &FailReason) {
        let rejected = match why {
            FailReason::Handshake(HandshakeFailure::Rejected { status, response }) => {
                Some(Rejected::new(*status, response))
            }
            _ => None,
        };
        if self.jsonl {
            let mut value = json!({"event": "error", "kind": why.kind(), "message": why.to_string()});
            if let Some(r) = rejected {
                value["status"] = json!(r.status);
                value["headers"] = json!(r.headers);
                value["body"] = json!(r.body);
            }
            self.json(value);
        } else {
            eprintln!("* error: {why}");
            if let Some(r) = rejected {
                eprintln!("  HTTP {} {}", r.status, r.reason);
                for (name, value) in &r.headers {
                    eprintln!("  {name}: {value}");
                }
                if !r.body.is_empty() {
                    eprintln!("  body: {:?}{}", r.body, if r.truncated { " ..." } else { "" });
                }
            }
        }
    }

    /// A ping or pong (`--show-ping`; not an event of the browser's API).
    /// Shown as it goes by, from the connection's I/O: it can come before
    /// messages that arrived ahead of it but are not printed yet.
    pub fn control(&self, frame: &ControlFrame) {
        let (kind, direction, payload) = match frame {
            ControlFrame::PingReceived(p) => ("ping", "received", p),
            ControlFrame::PongReceived(p) => ("pong", "received", p),
            ControlFrame::PingSent(p) => ("ping", "sent", p),
            // A kind a later wsapi adds: not shown.
            _ => return,
        };
        let text = std::str::from_utf8(payload).ok();
        if self.jsonl {
            let mut value = json!({"event": kind, "direction": direction});
            match text {
                Some(text) => value["data"] = json!(text),
                None => {
                    value["encoding"] = json!(self.encoding.name());
                    value["data"] = json!(self.encoding.encode(payload));
                }
            }
            self.json(value);
        } else {
            match text {
                Some(text) => eprintln!("* {kind} {direction} {text:?}"),
                None => eprintln!(
                    "* {kind} {direction} ({}) {}",
                    self.encoding.name(),
                    self.encoding.encode(payload)
                ),
            }
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

/// Header fields of a rejected upgrade worth showing: why, where to go
/// instead, when to retry, what the server speaks. Others (cookies among
/// them, which may be secret) are left out.
const SHOWN_HEADERS: &[&str] = &[
    "content-type",
    "location",
    "www-authenticate",
    "proxy-authenticate",
    "retry-after",
    "sec-websocket-version",
    "server",
];

/// Most bytes of a rejected response's body shown.
const SHOWN_BODY: usize = 300;

/// What a rejected upgrade is shown with.
struct Rejected {
    status: u16,
    reason: &'static str,
    headers: Vec<(String, String)>,
    body: String,
    truncated: bool,
}

impl Rejected {
    fn new(status: u16, response: &wsapi_model::Response) -> Rejected {
        let reason = StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let headers = response
            .headers
            .iter()
            .filter(|(name, _)| SHOWN_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name)))
            .map(|(name, value)| (name.clone(), String::from_utf8_lossy(value).into_owned()))
            .collect();
        let body = &response.body[..response.body.len().min(SHOWN_BODY)];
        Rejected {
            status,
            reason,
            headers,
            body: String::from_utf8_lossy(body).into_owned(),
            truncated: response.body.len() > SHOWN_BODY,
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
