//! The oracle's trace format (`../shared/oracle/`, `spec-notes/trace-format.md`),
//! read into the judge's observations (`wsapi_model::judge`).
//!
//! JavaScript and WebIDL conversions the runner's script made before the
//! API saw an argument are made here, so that the judge sees what the
//! standard's algorithms see: an explicit `undefined` optional argument is
//! missing, a close code is converted as `[Clamp] unsigned short`, a string
//! is a USVString (a lone surrogate becomes U+FFFD), `send(value)`
//! converts the value to a string. Every error names the line.

use std::fmt;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use wsapi_model::judge::{
    Entry, Observation, ObservedEvent, ObservedMessage, ServerMessage, ServerView, Snapshot, Trace,
};
use wsapi_model::{BinaryType, CloseEvent, CloseFrame};

/// Most entries a trace may hold (a hostile file is refused beyond).
pub const MAX_ENTRIES: usize = 1_000_000;
/// Largest `text_len`, `size` or `reason_len` taken literally.
pub const MAX_LEN: u64 = 1 << 40;

/// A trace or server log the judge cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line in the file.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for ParseError {}

fn err<T>(line: usize, what: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        what: what.into(),
    })
}

/// The trace file's header, with the entries unparsed (to know their lines).
#[derive(serde::Deserialize)]
struct Header<'a> {
    #[serde(default)]
    runner: Option<String>,
    #[serde(default)]
    scenario: Option<String>,
    #[serde(default)]
    base: Option<String>,
    #[serde(borrow)]
    trace: Vec<&'a RawValue>,
}

/// A parsed trace file.
#[derive(Debug, Clone)]
pub struct TraceFile {
    /// `runner`.
    pub runner: String,
    /// `scenario`.
    pub scenario: String,
    /// The observations.
    pub trace: Trace,
    /// Positions are entry numbers (the entries share lines), not lines.
    pub by_entry: bool,
}

/// Replaces every `\uXXXX` escape of a lone surrogate by `\ufffd` (same
/// length, so lines and offsets stay): WebIDL's USVString conversion, and
/// something `serde_json` refuses to read.
pub fn usv_escapes(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let hex_at = |i: usize| -> Option<u16> {
        let s = text.get(i..i + 4)?;
        u16::from_str_radix(s, 16).ok()
    };
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b.get(i + 1) != Some(&b'u') {
            i += 2;
            continue;
        }
        let Some(u) = hex_at(i + 2) else {
            i += 2;
            continue;
        };
        let high = (0xD800..0xDC00).contains(&u);
        let low = (0xDC00..0xE000).contains(&u);
        let paired = high
            && b.get(i + 6) == Some(&b'\\')
            && b.get(i + 7) == Some(&b'u')
            && hex_at(i + 8).is_some_and(|v| (0xDC00..0xE000).contains(&v));
        if paired {
            i += 12;
        } else if high || low {
            out.push_str(&text[last..i]);
            out.push_str("\\ufffd");
            i += 6;
            last = i;
        } else {
            i += 6;
        }
    }
    out.push_str(&text[last.min(text.len())..]);
    out
}

/// The line of `raw` in `text`, counting on from the last answer (entries
/// come in order, so the whole file is scanned once).
fn line_of(text: &str, raw: &RawValue, from: &mut (usize, usize)) -> usize {
    let start = raw.get().as_ptr() as usize;
    let base = text.as_ptr() as usize;
    let offset = start.saturating_sub(base).min(text.len());
    let (done, line) = *from;
    let line = if offset >= done {
        line + text.as_bytes()[done..offset].iter().filter(|&&c| c == b'\n').count()
    } else {
        text.as_bytes()[..offset].iter().filter(|&&c| c == b'\n').count() + 1
    };
    *from = (offset, line);
    line
}

/// JavaScript's ToString for the values a JSON scenario can hold.
fn js_string(v: &Value) -> Option<String> {
    Some(match v {
        Value::String(s) if s == "$undefined" => "undefined".into(),
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            (None, Some(f)) => f.to_string(),
            _ => return None,
        },
        _ => return None,
    })
}

/// JavaScript's ToNumber for the values a JSON scenario can hold.
fn js_number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                0.0
            } else {
                t.parse::<f64>().unwrap_or(f64::NAN)
            }
        }
        _ => f64::NAN,
    }
}

/// WebIDL `[Clamp] unsigned short` (`None`: the argument is missing).
fn clamp_u16(v: &Value) -> Option<u16> {
    if matches!(v, Value::String(s) if s == "$undefined") {
        return None;
    }
    let x = js_number(v);
    if x.is_nan() {
        return Some(0);
    }
    let x = x.clamp(0.0, 65535.0);
    // Round half to even.
    let r = x.round();
    let r = if (x - x.trunc() - 0.5).abs() < f64::EPSILON && r % 2.0 != 0.0 {
        r - 1.0
    } else {
        r
    };
    Some(r as u16)
}

fn u64_field(line: usize, m: &Map<String, Value>, k: &str) -> Result<Option<u64>, ParseError> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n <= MAX_LEN => Ok(Some(n)),
            _ => err(
                line,
                format!("`{k}` is not a length (a non-negative integer up to 2^40)"),
            ),
        },
    }
}

fn str_field(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_string)
}

fn threw(m: &Map<String, Value>) -> Option<String> {
    m.get("threw")
        .map(|t| t.get("name").and_then(Value::as_str).unwrap_or("Error").to_string())
}

fn hex_len(line: usize, s: &str) -> Result<u64, ParseError> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return err(line, "`bytes` is not hex");
    }
    Ok((s.len() / 2) as u64)
}

/// The data of a `send` op: kind and byte length, or `None` when the
/// script's call could not reach `send()` (WebIDL threw first).
fn send_data(line: usize, m: &Map<String, Value>) -> Result<Option<(bool, u64)>, ParseError> {
    if let Some(args) = m.get("args") {
        let Some(args) = args.as_array() else {
            return err(line, "`args` is not a list");
        };
        return Ok(match args.first() {
            None => None,
            Some(v) => js_string(v).map(|s| (true, s.len() as u64)),
        });
    }
    if let Some(t) = m.get("text") {
        return Ok(js_string(t).map(|s| (true, s.len() as u64)));
    }
    if let Some(n) = u64_field(line, m, "text_len")? {
        return Ok(Some((true, n)));
    }
    if let Some(v) = m.get("value") {
        return Ok(js_string(v).map(|s| (true, s.len() as u64)));
    }
    if let Some(b) = m.get("bytes") {
        let Some(b) = b.as_str() else {
            return err(line, "`bytes` is not a string");
        };
        return Ok(Some((false, hex_len(line, b)?)));
    }
    if let Some(n) = u64_field(line, m, "size")? {
        return Ok(Some((false, n)));
    }
    Ok(None)
}

/// `close()`'s arguments after conversion: `(code, reason)`.
fn close_args(line: usize, m: &Map<String, Value>) -> Result<(Option<u16>, Option<String>), ParseError> {
    let conv_reason = |v: &Value| match v {
        Value::String(s) if s == "$undefined" => None,
        v => js_string(v),
    };
    if let Some(args) = m.get("args") {
        let Some(args) = args.as_array() else {
            return err(line, "`args` is not a list");
        };
        let code = args.first().and_then(clamp_u16);
        let reason = args.get(1).and_then(conv_reason);
        return Ok((code, reason));
    }
    let mut reason = m.get("reason").and_then(conv_reason);
    if let Some(n) = u64_field(line, m, "reason_len")? {
        let ch = str_field(m, "reason_char").unwrap_or_else(|| "a".into());
        // Longer than any valid reason is all the rules look at: cap the copy.
        let n = usize::try_from(n.min(1024)).unwrap_or(1024);
        reason = Some(ch.repeat(n));
    }
    let code = m.get("code").and_then(clamp_u16);
    Ok((code, reason))
}

fn snapshot_of(line: usize, m: &Map<String, Value>) -> Result<Snapshot, ParseError> {
    let rs = match m.get("readyState") {
        None => None,
        Some(v) => match v.as_u64().and_then(|r| u16::try_from(r).ok()) {
            Some(r) => Some(r),
            None => return err(line, "`readyState` is not a small integer"),
        },
    };
    Ok(Snapshot {
        ready_state: rs,
        buffered_amount: m.get("bufferedAmount").and_then(Value::as_u64),
        protocol: str_field(m, "protocol"),
        extensions: str_field(m, "extensions"),
        binary_type: str_field(m, "binaryType"),
        url: str_field(m, "url"),
    })
}

fn event_of(line: usize, m: &Map<String, Value>) -> Result<ObservedEvent, ParseError> {
    Ok(match m.get("type").and_then(Value::as_str) {
        Some("open") => ObservedEvent::Open,
        Some("error") => ObservedEvent::Error,
        Some("message") => {
            let (text, binary_type) = match m.get("data_type").and_then(Value::as_str) {
                Some("text") => (true, None),
                Some("arraybuffer") => (false, Some(BinaryType::ArrayBuffer)),
                Some("blob") => (false, Some(BinaryType::Blob)),
                other => {
                    return err(
                        line,
                        format!("message `data_type` {other:?} is none of text, arraybuffer, blob"),
                    )
                }
            };
            ObservedEvent::Message(ObservedMessage { text, binary_type })
        }
        Some("close") => {
            let code = m
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok());
            let (Some(code), Some(reason), Some(was_clean)) =
                (code, str_field(m, "reason"), m.get("wasClean").and_then(Value::as_bool))
            else {
                return err(line, "a close event needs `code`, `reason` and `wasClean`");
            };
            ObservedEvent::Close(CloseEvent {
                code,
                reason,
                was_clean,
            })
        }
        other => {
            return err(
                line,
                format!("event `type` {other:?} is none of open, message, error, close"),
            )
        }
    })
}

/// Reads a trace file (and, if given, the server's log beside it).
pub fn parse(text: &str, server_log: Option<&str>) -> Result<TraceFile, ParseError> {
    let text = usv_escapes(text);
    let header: Header<'_> = serde_json::from_str(&text).map_err(|e| ParseError {
        line: e.line().max(1),
        what: format!("not a trace ({e})"),
    })?;
    if header.trace.len() > MAX_ENTRIES {
        return err(1, format!("more than {MAX_ENTRIES} entries"));
    }
    let base = header.base.clone().unwrap_or_else(|| "ws://127.0.0.1".into());
    let http_base = base.replacen("ws:", "http:", 1);

    // Pass 1: entries as objects with their lines.
    let mut items = Vec::with_capacity(header.trace.len());
    let mut pos = (0, 1);
    for raw in &header.trace {
        let line = line_of(&text, raw, &mut pos);
        let v: Value = serde_json::from_str(raw.get()).map_err(|e| ParseError {
            line,
            what: format!("bad entry ({e})"),
        })?;
        let Value::Object(m) = v else {
            return err(line, "an entry is not an object");
        };
        items.push((line, m));
    }
    // Entries written on one line (compact JSON): number them instead.
    let by_entry = items.windows(2).any(|w| w[0].0 == w[1].0);
    if by_entry {
        for (i, item) in items.iter_mut().enumerate() {
            item.0 = i + 1;
        }
    }

    // Each successful construct's URL: its own field, else the first `url`
    // its socket showed, else the server's request path.
    let mut out: Vec<Entry> = Vec::new();
    let mut sockets: u32 = 0;
    let mut failed: u32 = 0;
    let mut first_url: Vec<Option<String>> = Vec::new();
    {
        let mut current = 0usize;
        for (_, m) in &items {
            let k = m.get("k").and_then(Value::as_str);
            if k == Some("op") && m.get("op").and_then(Value::as_str) == Some("construct") && m.get("threw").is_none() {
                first_url.push(None);
                current = first_url.len();
            }
            let url = match k {
                Some("op") => str_field(m, "url").filter(|_| m.get("op").and_then(Value::as_str) == Some("snapshot")),
                Some("end") => m
                    .get("final")
                    .and_then(|f| f.get("url"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                _ => None,
            };
            if let (Some(u), Some(slot)) = (url, current.checked_sub(1).and_then(|c| first_url.get_mut(c))) {
                if slot.is_none() {
                    *slot = Some(u);
                }
            }
        }
    }
    // The runner sets a scenario's binaryType right after construction
    // without recording it: take it from the socket's first sign of it.
    let mut first_binary_type: Vec<Option<String>> = Vec::new();
    {
        let mut current = 0usize;
        let mut settled: Vec<bool> = Vec::new();
        for (_, m) in &items {
            let k = m.get("k").and_then(Value::as_str);
            let op = m.get("op").and_then(Value::as_str);
            if k == Some("op") && op == Some("construct") && m.get("threw").is_none() {
                first_binary_type.push(None);
                settled.push(false);
                current = first_binary_type.len();
            }
            let socket = match (k, m.get("ws").and_then(Value::as_u64)) {
                (Some("event"), Some(w)) => usize::try_from(w).unwrap_or(0),
                _ => current,
            };
            let Some(i) = socket.checked_sub(1) else { continue };
            if settled.get(i) != Some(&false) {
                continue;
            }
            let seen = match (k, op) {
                (Some("op"), Some("set")) if str_field(m, "attr").as_deref() == Some("binaryType") => {
                    settled[i] = true;
                    None
                }
                (Some("op"), Some("snapshot")) => str_field(m, "binaryType"),
                (Some("end"), _) => m
                    .get("final")
                    .and_then(|f| f.get("binaryType"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                (Some("event"), _) => match m.get("data_type").and_then(Value::as_str) {
                    Some(t @ ("arraybuffer" | "blob")) => Some(t.to_string()),
                    _ => None,
                },
                _ => None,
            };
            if let Some(b) = seen {
                first_binary_type[i] = Some(b);
                settled[i] = true;
            }
        }
    }
    let server = match server_log {
        Some(log) => Some(parse_server_log(log)?),
        None => None,
    };

    let mut pending: Vec<(usize, u32, Observation)> = Vec::new();
    let emit = |out: &mut Vec<Entry>, socket: u32, at: usize, obs: Observation| {
        out.push(Entry { socket, at, obs });
    };
    // Each socket's request path, if known (else it matches any connection).
    let mut conn_paths: Vec<Option<String>> = Vec::new();
    for (line, m) in &items {
        let line = *line;
        let kind = m.get("k").and_then(Value::as_str);
        match kind {
            Some("event") => {
                let socket = match m.get("ws") {
                    None => 1,
                    Some(v) => match v.as_u64().and_then(|w| u32::try_from(w).ok()) {
                        Some(w) if w >= 1 && w <= sockets => w,
                        _ => return err(line, "`ws` names no socket constructed before"),
                    },
                };
                if sockets == 0 {
                    return err(line, "an event before any socket was constructed");
                }
                let event = event_of(line, m)?;
                let ready_state = m
                    .get("readyState")
                    .and_then(Value::as_u64)
                    .and_then(|r| u16::try_from(r).ok());
                let class = str_field(m, "class");
                pending.push((
                    line,
                    socket,
                    Observation::Event {
                        event,
                        ready_state,
                        class,
                    },
                ));
            }
            Some("op") | Some("end") => {
                let op = if kind == Some("end") {
                    "end"
                } else {
                    match m.get("op").and_then(Value::as_str) {
                        Some(op) => op,
                        None => return err(line, "an op entry without `op`"),
                    }
                };
                let waits = matches!(op, "wait_event" | "wait_buffered" | "sleep" | "end");
                if waits {
                    for s in 1..=sockets {
                        emit(&mut out, s, line, Observation::Yield);
                    }
                }
                for (l, s, obs) in pending.drain(..) {
                    emit(&mut out, s, l, obs);
                }
                if m.get("skipped").is_some() {
                    continue;
                }
                let current = sockets.max(1);
                match op {
                    "construct" => {
                        let url = match (str_field(m, "url"), str_field(m, "path")) {
                            (Some(u), _) => u.replace("{base}", &base).replace("{http_base}", &http_base),
                            (None, Some(p)) => format!("{base}{p}"),
                            (None, None) => None
                                .or_else(|| {
                                    if m.get("threw").is_none() {
                                        first_url.get(sockets as usize).cloned().flatten()
                                    } else {
                                        None
                                    }
                                })
                                .unwrap_or_else(|| format!("{base}/")),
                        };
                        let protocols = match m.get("protocols") {
                            None => None,
                            Some(Value::String(s)) => Some(vec![s.clone()]),
                            Some(Value::Array(a)) => Some(a.iter().map(|v| js_string(v).unwrap_or_default()).collect()),
                            Some(v) => Some(vec![js_string(v).unwrap_or_default()]),
                        };
                        let threw = threw(m);
                        let socket = if threw.is_some() {
                            failed += 1;
                            1_000_000 + failed
                        } else {
                            sockets += 1;
                            let known = m.contains_key("url")
                                || m.contains_key("path")
                                || first_url.get(sockets as usize - 1).is_some_and(Option::is_some);
                            let path = url.split_once("://").map(|(_, r)| {
                                let path = r.find('/').map_or("/", |i| &r[i..]);
                                percent_decode(path.split(['?', '#']).next().unwrap_or("/"))
                            });
                            conn_paths.push(path.filter(|_| known));
                            sockets
                        };
                        let ok = threw.is_none();
                        emit(&mut out, socket, line, Observation::Construct { url, protocols, threw });
                        if ok {
                            if let Some(Some(b)) = first_binary_type.get(socket as usize - 1) {
                                if b != "blob" {
                                    let value = b.clone();
                                    emit(&mut out, socket, line, Observation::SetBinaryType { value, now: None });
                                }
                            }
                        }
                    }
                    "send" => {
                        let t = threw(m);
                        if let Some((text, len)) = send_data(line, m)? {
                            emit(&mut out, current, line, Observation::Send { text, len, threw: t });
                        } else if t.as_deref() != Some("TypeError") {
                            return err(line, "a send op with no data that did not throw TypeError");
                        }
                    }
                    "close" => {
                        let (code, reason) = close_args(line, m)?;
                        emit(
                            &mut out,
                            current,
                            line,
                            Observation::Close {
                                code,
                                reason,
                                threw: threw(m),
                            },
                        );
                    }
                    "set" => {
                        if str_field(m, "attr").as_deref() == Some("binaryType") {
                            let value = m.get("value").and_then(js_string).unwrap_or_default();
                            emit(
                                &mut out,
                                current,
                                line,
                                Observation::SetBinaryType {
                                    value,
                                    now: str_field(m, "now"),
                                },
                            );
                        }
                    }
                    "snapshot" => {
                        if m.contains_key("readyState") {
                            emit(&mut out, current, line, Observation::Snapshot(snapshot_of(line, m)?));
                        }
                    }
                    "constants" => {}
                    "wait_event" | "sleep" | "wait_buffered" | "end" => {
                        let ok = m.get("ok").and_then(Value::as_bool).unwrap_or(false);
                        for s in 1..=sockets {
                            let at_most = if op == "wait_buffered" && ok && s == current {
                                Some(u64_field(line, m, "max")?.unwrap_or(0))
                            } else {
                                None
                            };
                            emit(
                                &mut out,
                                s,
                                line,
                                Observation::WaitDone {
                                    buffered_at_most: at_most,
                                },
                            );
                        }
                        if op == "end" {
                            if let Some(Value::Object(f)) = m.get("final") {
                                if f.contains_key("readyState") && sockets > 0 {
                                    emit(&mut out, current, line, Observation::Snapshot(snapshot_of(line, f)?));
                                }
                            }
                        }
                    }
                    other => return err(line, format!("unknown op {other:?}")),
                }
            }
            other => return err(line, format!("unknown entry kind {other:?} (k is op, event or end)")),
        }
    }
    for (l, s, obs) in pending.drain(..) {
        emit(&mut out, s, l, obs);
    }

    // The server's connections, matched to sockets in order by path.
    let mut views: Vec<Option<ServerView>> = vec![None; sockets as usize];
    if let Some(conns) = server {
        let mut next = 0;
        for (i, path) in conn_paths.iter().enumerate() {
            let rest = &conns[next.min(conns.len())..];
            if let Some(k) = rest.iter().position(|c| path.as_ref().is_none_or(|p| &c.0 == p)) {
                let (_, view) = &conns[next + k];
                if let Some(slot) = views.get_mut(i) {
                    *slot = Some(view.clone());
                }
                next += k + 1;
            }
        }
    }
    Ok(TraceFile {
        runner: header.runner.unwrap_or_default(),
        scenario: header.scenario.unwrap_or_default(),
        trace: Trace {
            entries: out,
            server: views,
        },
        by_entry,
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads the oracle server's log (JSON lines): each connection's request
/// path and what the server saw of it, in order of connection.
pub fn parse_server_log(log: &str) -> Result<Vec<(String, ServerView)>, ParseError> {
    let log = usv_escapes(log);
    let mut conns: Vec<(u64, String, ServerView)> = Vec::new();
    for (n, line) in log.lines().enumerate() {
        let lineno = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| ParseError {
            line: lineno,
            what: format!("not a server log line ({e})"),
        })?;
        let Some(conn) = v.get("conn").and_then(Value::as_u64) else {
            continue;
        };
        let idx = match conns.iter().position(|c| c.0 == conn) {
            Some(i) => i,
            None => {
                if conns.len() >= MAX_ENTRIES {
                    return err(lineno, "too many connections");
                }
                conns.push((conn, String::new(), ServerView::default()));
                conns.len() - 1
            }
        };
        let (_, path, view) = &mut conns[idx];
        let list = |k: &str| -> Option<Vec<String>> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        };
        match v.get("event").and_then(Value::as_str) {
            Some("request") => {
                *path = v.get("path").and_then(Value::as_str).unwrap_or("/").to_string();
                // Header field values: each may hold a comma-separated list.
                view.offered_protocols = list("protocols").map(|l| {
                    l.iter()
                        .flat_map(|x| x.split(','))
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect::<Vec<_>>()
                });
                view.offered_extensions = list("extensions");
                view.raw_frames = Some(false);
            }
            Some("sent-raw") => view.raw_frames = Some(true),
            Some("sent-raw-close") => {
                let hex = v.get("payload").and_then(Value::as_str).unwrap_or("");
                let bytes: Option<Vec<u8>> = (0..hex.len() / 2)
                    .map(|i| hex.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                    .collect();
                view.close_sent = Some(bytes);
            }
            Some("open") => {
                let p = v.get("subprotocol").and_then(Value::as_str).map(str::to_string);
                let x = v.get("extensions").and_then(Value::as_str).map(str::to_string);
                view.accepted = Some((p, x));
            }
            Some("reject") => view.rejected = true,
            Some("recv") => {
                let text = v.get("type").and_then(Value::as_str) == Some("text");
                let len = if text {
                    None
                } else {
                    v.get("size").and_then(Value::as_u64)
                };
                if view.received.len() >= MAX_ENTRIES {
                    return err(lineno, "too many messages");
                }
                view.received.push(ServerMessage { text, len });
            }
            Some("closed") => {
                view.close_was_reply = v.get("rcvd_then_sent").and_then(Value::as_bool) == Some(true)
                    && v.get("close_rcvd").is_some_and(|c| !c.is_null());
                if !matches!(view.close_sent, Some(Some(_))) {
                    view.close_sent = Some(v.get("close_sent").filter(|c| !c.is_null()).map(|c| {
                        match c
                            .get("code")
                            .and_then(Value::as_u64)
                            .and_then(|c| u16::try_from(c).ok())
                        {
                            None | Some(1005) => Vec::new(),
                            Some(code) => {
                                let mut p = code.to_be_bytes().to_vec();
                                p.extend_from_slice(c.get("reason").and_then(Value::as_str).unwrap_or("").as_bytes());
                                p
                            }
                        }
                    }));
                }
                if let Some(c) = v.get("close_rcvd").filter(|c| !c.is_null()) {
                    let code = c
                        .get("code")
                        .and_then(Value::as_u64)
                        .and_then(|c| u16::try_from(c).ok());
                    let reason = c.get("reason").and_then(Value::as_str).unwrap_or("").to_string();
                    view.close_received = Some(match code {
                        None | Some(1005) => None,
                        Some(code) => Some(CloseFrame { code, reason }),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(conns.into_iter().map(|(_, p, v)| (p, v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(usv_escapes(r#""\ud800x""#), r#""\ufffdx""#);
        assert_eq!(usv_escapes(r#""\ud83c\udf0d""#), r#""\ud83c\udf0d""#);
        assert_eq!(usv_escapes(r#""\\ud800""#), r#""\\ud800""#);
        assert_eq!(usv_escapes(r#""\udc00""#), r#""\ufffd""#);
    }

    #[test]
    fn webidl_conversions() {
        assert_eq!(clamp_u16(&serde_json::json!(3000.4)), Some(3000));
        assert_eq!(clamp_u16(&serde_json::json!(3000.5)), Some(3000));
        assert_eq!(clamp_u16(&serde_json::json!(3001.5)), Some(3002));
        assert_eq!(clamp_u16(&serde_json::json!(68536)), Some(65535));
        assert_eq!(clamp_u16(&serde_json::json!(null)), Some(0));
        assert_eq!(clamp_u16(&serde_json::json!("abc")), Some(0));
        assert_eq!(clamp_u16(&serde_json::json!("$undefined")), None);
        assert_eq!(js_string(&serde_json::json!(123)).as_deref(), Some("123"));
        assert_eq!(js_string(&serde_json::json!(null)).as_deref(), Some("null"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse(
            "{\"trace\": [\n{\"k\": \"op\", \"i\": 0, \"op\": \"construct\", \"ok\": true},\n{\"k\": \"nope\"}]}",
            None,
        )
        .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e = parse("{\"trace\": [\n{\"k\": \"op\",,}]}", None).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = parse("{\"trace\": [\n{\"k\": \"event\", \"type\": \"open\"}]}", None).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }
}
