//! The oracle runner: runs a scenario of `../shared/oracle/` with wsapi and
//! prints the trace in the oracle's format (its `lib/scenario.js` is the
//! reference interpreter; this mirrors it op by op).
//!
//! Events are taken from the sockets only while an op waits (`wait_event`,
//! `wait_buffered`, `sleep`, the final wait), as a page's event loop only
//! runs tasks while the script awaits. Ops that a Rust API cannot express
//! (a Blob or DataView argument, JavaScript coercions of arguments such as
//! `close("abc")`, strings with lone surrogates, `send()` with no argument)
//! are recorded with `"skipped"`, never imitated.
//!
//! The wasm32 build's browser tests (`impl/tests/browser_oracle.rs`) compile
//! this same file, so that a scenario runs through the browser's WebSocket
//! with the same interpreter, the same skips and the same trace: only the
//! clock and the timer differ (`platform`).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use serde_json::{json, Map, Value};
use wsapi::{BinaryType, Event, Message, ReadyState, WebSocket};

const DEFAULT_WAIT_MS: u64 = 5000;
const DEFAULT_END_MS: u64 = 5000;
const DEFAULT_LINGER_MS: u64 = 300;
const MAX_STEP_MS: u64 = 60000;

/// Stands for a lone surrogate in the scenario's JSON (which serde_json
/// cannot represent); U+10FFFF is a noncharacter no scenario uses.
const LONE_SURROGATE: char = '\u{10FFFF}';

use platform::{sleep, Instant};

/// The clock and the timer of the native build: the runtime's.
#[cfg(not(target_arch = "wasm32"))]
mod platform {
    pub use std::time::Instant;
    pub use wsapi::runtime::sleep;
}

/// The clock and the timer of a page: `std::time::Instant` panics on
/// wasm32-unknown-unknown, and there is no runtime but the browser's.
#[cfg(target_arch = "wasm32")]
mod platform {
    use std::time::Duration;

    use wasm_bindgen::{JsCast, JsValue};

    /// Milliseconds since the epoch (`Date.now()`): the deadlines here are
    /// tens of milliseconds or more.
    #[derive(Clone, Copy, PartialEq, PartialOrd)]
    pub struct Instant(f64);

    impl Instant {
        pub fn now() -> Self {
            Instant(js_sys::Date::now())
        }

        pub fn elapsed(&self) -> Duration {
            Self::now() - *self
        }
    }

    impl std::ops::Add<Duration> for Instant {
        type Output = Instant;
        fn add(self, d: Duration) -> Instant {
            Instant(self.0 + d.as_secs_f64() * 1000.0)
        }
    }

    impl std::ops::Sub for Instant {
        type Output = Duration;
        fn sub(self, earlier: Instant) -> Duration {
            Duration::from_secs_f64((self.0 - earlier.0).max(0.0) / 1000.0)
        }
    }

    /// A promise resolved by `setTimeout`.
    pub fn sleep(d: Duration) -> wasm_bindgen_futures::JsFuture {
        let ms = i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            let global = js_sys::global();
            if let Ok(set_timeout) = js_sys::Reflect::get(&global, &JsValue::from_str("setTimeout"))
                .and_then(|f| f.dyn_into::<js_sys::Function>())
            {
                let _ = set_timeout.call2(&global, &resolve, &JsValue::from(ms));
            }
        });
        wasm_bindgen_futures::JsFuture::from(promise)
    }
}

/// Runs the scenario whose JSON text is `raw` against the server at `base`
/// (`ws://127.0.0.1:PORT`) and returns the oracle's trace object, naming
/// `runner` and its `version`. Its sockets are dropped on return.
pub async fn trace(runner: &str, version: &str, base: &str, raw: &str) -> Result<Value, String> {
    let scenario: Value =
        serde_json::from_str(&mark_lone_surrogates(raw)).map_err(|e| format!("not valid JSON: {e}"))?;
    let trace = Runner::new(base, &scenario).run().await;
    Ok(json!({
        "runner": runner,
        "version": version,
        "scenario": scenario.get("name").cloned().unwrap_or(Value::Null),
        "base": base,
        "trace": trace,
    }))
}

/// `wsapi scenario --base BASE FILE`: prints the trace.
#[cfg(not(target_arch = "wasm32"))]
pub async fn main(base: &str, file: &std::path::Path) -> std::process::ExitCode {
    use std::process::ExitCode;
    let raw = match std::fs::read_to_string(file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let version = format!("wsapi {} on {}", env!("CARGO_PKG_VERSION"), runtime_name());
    let out = match trace("wsapi", &version, base, &raw).await {
        Ok(out) => out,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    println!("{out}");
    // The runner dropped its sockets (each starts a closing handshake with
    // no status, as a garbage-collected WebSocket does): let them finish,
    // so that what the server sees does not depend on how fast this process
    // exits (bounded: the closing timeout ends every one of them).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while wsapi::live_connections() > 0 && std::time::Instant::now() < deadline {
        wsapi::runtime::sleep(std::time::Duration::from_millis(5)).await;
    }
    ExitCode::SUCCESS
}

/// The runtime `wsapi::runtime::block_on` runs the program on (and so the
/// one its sockets use): async-std if enabled, else smol, else tokio.
#[cfg(not(target_arch = "wasm32"))]
fn runtime_name() -> &'static str {
    if cfg!(feature = "async-std-runtime") {
        "async-std"
    } else if cfg!(feature = "smol-runtime") {
        "smol"
    } else {
        "tokio"
    }
}

/// Replaces `\uD800`-style escapes that are not part of a surrogate pair by
/// an escape of [`LONE_SURROGATE`].
fn mark_lone_surrogates(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let unit_at = |i: usize| -> Option<u16> {
        if bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'u') {
            let hex = raw.get(i + 2..i + 6)?;
            u16::from_str_radix(hex, 16).ok()
        } else {
            None
        }
    };
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'\\') {
            out.push_str("\\\\");
            i += 2;
            continue;
        }
        if let Some(u) = unit_at(i) {
            let paired = match u {
                0xD800..=0xDBFF => unit_at(i + 6).is_some_and(|l| (0xDC00..=0xDFFF).contains(&l)),
                0xDC00..=0xDFFF => false,
                _ => {
                    out.push_str(&raw[i..i + 6]);
                    i += 6;
                    continue;
                }
            };
            if paired {
                out.push_str(&raw[i..i + 12]);
                i += 12;
            } else {
                out.push_str("\\udbff\\udfff");
                i += 6;
            }
            continue;
        }
        let ch = raw[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn has_lone_surrogate(s: &str) -> bool {
    s.contains(LONE_SURROGATE)
}

const EVENT_TYPES: [&str; 4] = ["open", "message", "error", "close"];

fn type_index(t: &str) -> Option<usize> {
    EVENT_TYPES.iter().position(|x| *x == t)
}

struct Runner<'a> {
    base: &'a str,
    scenario: &'a Value,
    t0: Instant,
    trace: Vec<Value>,
    sockets: Vec<WebSocket>,
    /// Events of the newest socket, by type, and how many waits consumed.
    counts: [u64; 4],
    consumed: [u64; 4],
}

/// Why an op was not run.
struct Skip(String);

impl<'a> Runner<'a> {
    fn new(base: &'a str, scenario: &'a Value) -> Self {
        Runner {
            base,
            scenario,
            t0: Instant::now(),
            trace: Vec::new(),
            sockets: Vec::new(),
            counts: [0; 4],
            consumed: [0; 4],
        }
    }

    fn elapsed_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    fn push(&mut self, mut entry: Map<String, Value>) {
        let mut e = Map::new();
        e.insert("t".into(), json!(self.elapsed_ms()));
        e.append(&mut entry);
        self.trace.push(Value::Object(e));
    }

    async fn run(mut self) -> Vec<Value> {
        let mut steps: Vec<Value> = self
            .scenario
            .get("steps")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if steps.first().and_then(|s| s.get("op")).and_then(Value::as_str) != Some("construct") {
            steps.insert(0, json!({"op": "construct"}));
        }
        for (i, step) in steps.iter().enumerate() {
            let mut rec = Map::new();
            rec.insert("k".into(), json!("op"));
            rec.insert("i".into(), json!(i));
            if let Some(obj) = step.as_object() {
                for (k, v) in obj {
                    rec.insert(k.clone(), unmark(v));
                }
            }
            if let Err(Skip(why)) = self.op(step, &mut rec).await {
                rec.insert("skipped".into(), json!(why));
            }
            self.push(rec);
        }
        let mut closed = self.counts[3] > 0;
        if !self.sockets.is_empty() && !closed {
            let ms = bound(self.scenario.get("end_timeout_ms"), DEFAULT_END_MS);
            closed = self.until(ms, |r| r.counts[3] > 0).await;
        }
        let linger = bound(self.scenario.get("linger_ms"), DEFAULT_LINGER_MS);
        self.until(linger, |_| false).await;
        let mut end = Map::new();
        end.insert("k".into(), json!("end"));
        end.insert("closed".into(), json!(closed));
        end.insert("final".into(), self.snapshot());
        self.push(end);
        self.trace
    }

    async fn op(&mut self, step: &Value, rec: &mut Map<String, Value>) -> Result<(), Skip> {
        let op = step.get("op").and_then(Value::as_str).unwrap_or("");
        match op {
            "construct" => self.construct(step, rec),
            "send" => {
                let msg = send_arg(step)?;
                let ws = self.newest()?;
                record_result(rec, ws.send(msg).map_err(|e| (e.dom_exception(), e.to_string())));
                Ok(())
            }
            "close" => {
                let (code, reason) = close_args(step)?;
                let ws = self.newest()?;
                record_result(
                    rec,
                    ws.close(code, reason.as_deref())
                        .map_err(|e| (e.dom_exception(), e.to_string())),
                );
                Ok(())
            }
            "set" => {
                if step.get("attr").and_then(Value::as_str) != Some("binaryType") {
                    return Err(Skip("only binaryType can be set".into()));
                }
                let Some(value) = step.get("value").and_then(Value::as_str) else {
                    return Err(Skip("a non-string binaryType is a JavaScript coercion".into()));
                };
                let ws = self.newest()?;
                // WebIDL: an invalid enum value is ignored.
                if let Some(bt) = BinaryType::parse(value) {
                    ws.set_binary_type(bt);
                }
                rec.insert("ok".into(), json!(true));
                rec.insert("now".into(), json!(ws.binary_type().as_str()));
                Ok(())
            }
            "constants" => {
                for (name, state) in [
                    ("CONNECTING", ReadyState::Connecting),
                    ("OPEN", ReadyState::Open),
                    ("CLOSING", ReadyState::Closing),
                    ("CLOSED", ReadyState::Closed),
                ] {
                    rec.insert(format!("static_{name}"), json!(state.as_u16()));
                    if !self.sockets.is_empty() {
                        rec.insert(name.into(), json!(state.as_u16()));
                    }
                }
                Ok(())
            }
            "snapshot" => {
                if let Value::Object(mut snap) = self.snapshot() {
                    rec.append(&mut snap);
                }
                Ok(())
            }
            "sleep" => {
                let ms = bound(step.get("ms"), 0);
                self.until(ms, |_| false).await;
                rec.insert("ok".into(), json!(true));
                Ok(())
            }
            "wait_event" => {
                let ty = step.get("event").and_then(Value::as_str).and_then(type_index);
                let Some(ty) = ty else {
                    return Err(Skip("unknown event type".into()));
                };
                let n = step.get("count").and_then(Value::as_u64).unwrap_or(1);
                let target = self.consumed[ty] + n;
                let ok = self
                    .until(bound(step.get("timeout_ms"), DEFAULT_WAIT_MS), |r| {
                        r.counts[ty] >= target
                    })
                    .await;
                self.consumed[ty] = self.counts[ty].min(target);
                rec.insert("ok".into(), json!(ok));
                if !ok {
                    rec.insert("timed_out".into(), json!(true));
                }
                Ok(())
            }
            "wait_buffered" => {
                let max = step.get("max").and_then(Value::as_u64).unwrap_or(0);
                self.newest()?;
                let ok = self
                    .until(bound(step.get("timeout_ms"), DEFAULT_WAIT_MS), |r| {
                        // Polling the drain wait is this runner's event-loop turn.
                        r.sockets
                            .last()
                            .is_some_and(|ws| futures::FutureExt::now_or_never(ws.buffered_at_most(max)).is_some())
                    })
                    .await;
                rec.insert("ok".into(), json!(ok));
                if !ok {
                    rec.insert("timed_out".into(), json!(true));
                }
                Ok(())
            }
            other => Err(Skip(format!("unknown op {other:?}"))),
        }
    }

    fn newest(&self) -> Result<&WebSocket, Skip> {
        self.sockets
            .last()
            .ok_or_else(|| Skip("no socket was constructed".into()))
    }

    fn construct(&mut self, step: &Value, rec: &mut Map<String, Value>) -> Result<(), Skip> {
        let url = match step.get("url").and_then(Value::as_str) {
            Some(u) => u
                .replace("{base}", self.base)
                .replace("{http_base}", &self.base.replacen("ws:", "http:", 1)),
            None => {
                let path = step.get("path").or_else(|| self.scenario.get("path"));
                format!("{}{}", self.base, path.and_then(Value::as_str).unwrap_or(""))
            }
        };
        let protocols = match step.get("protocols").or_else(|| self.scenario.get("protocols")) {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(s) => out.push(s.to_string()),
                        None => return Err(Skip("a non-string protocol is a JavaScript coercion".into())),
                    }
                }
                out
            }
            Some(_) => return Err(Skip("protocols must be a string or a list".into())),
        };
        if has_lone_surrogate(&url) || protocols.iter().any(|p| has_lone_surrogate(p)) {
            return Err(Skip("a Rust string cannot hold a lone surrogate".into()));
        }
        let protocols: Vec<&str> = protocols.iter().map(String::as_str).collect();
        match WebSocket::new(&url, &protocols) {
            Ok(ws) => {
                if let Some(bt) = self
                    .scenario
                    .get("binaryType")
                    .and_then(Value::as_str)
                    .and_then(BinaryType::parse)
                {
                    ws.set_binary_type(bt);
                }
                self.sockets.push(ws);
                self.counts = [0; 4];
                self.consumed = [0; 4];
                rec.insert("ok".into(), json!(true));
            }
            Err(e) => record_result(rec, Err((e.dom_exception(), e.to_string()))),
        }
        Ok(())
    }

    fn snapshot(&self) -> Value {
        match self.sockets.last() {
            None => json!({"ws": null}),
            Some(ws) => json!({
                "readyState": ws.ready_state().as_u16(),
                "bufferedAmount": ws.buffered_amount(),
                "protocol": ws.protocol(),
                "extensions": ws.extensions(),
                "binaryType": ws.binary_type().as_str(),
                "url": ws.url().as_str(),
            }),
        }
    }

    /// Takes events (the event loop) until `pred` holds or `ms` pass.
    async fn until(&mut self, ms: u64, pred: impl Fn(&Self) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_millis(ms);
        loop {
            if pred(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            // Wait for an event of any socket, at most 20 ms (as scenario.js
            // does), then re-check: bufferedAmount changes without an event.
            let tick = (deadline - now).min(Duration::from_millis(20));
            let mut timer = sleep(tick);
            let got = futures::future::poll_fn(|cx| {
                for (idx, ws) in self.sockets.iter().enumerate() {
                    if let Poll::Ready(Some(ev)) = ws.poll_next_event(cx) {
                        return Poll::Ready(Some((idx, ev)));
                    }
                }
                match Pin::new(&mut timer).poll(cx) {
                    Poll::Ready(_) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await;
            if let Some((idx, ev)) = got {
                self.record_event(idx, ev);
            }
        }
    }

    fn record_event(&mut self, idx: usize, ev: Event) {
        let ws = &self.sockets[idx];
        let mut e = Map::new();
        e.insert("k".into(), json!("event"));
        e.insert("type".into(), json!(ev.type_name()));
        let class = match &ev {
            Event::Open | Event::Error(_) => "Event",
            Event::Message(_) => "MessageEvent",
            Event::Close(_) => "CloseEvent",
        };
        e.insert("class".into(), json!(class));
        e.insert("readyState".into(), json!(ws.ready_state().as_u16()));
        if idx > 0 {
            e.insert("ws".into(), json!(idx + 1));
        }
        match &ev {
            Event::Message(m) => {
                describe_data(&m.data, m.binary_type, &mut e);
                e.insert("origin".into(), json!(ws.origin()));
            }
            Event::Close(c) => {
                e.insert("code".into(), json!(c.code));
                e.insert("reason".into(), json!(c.reason));
                e.insert("wasClean".into(), json!(c.was_clean));
            }
            Event::Error(why) => {
                // Not part of the oracle's format (compare.js ignores it): why we failed.
                e.insert("why".into(), json!(format!("{why:?}")));
            }
            Event::Open => {}
        }
        if idx + 1 == self.sockets.len() {
            if let Some(t) = type_index(ev.type_name()) {
                self.counts[t] += 1;
            }
        }
        self.push(e);
    }
}

fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u32 = 0x811c9dc5;
    for b in bytes {
        h ^= *b as u32;
        h = h.wrapping_mul(0x01000193);
    }
    format!("{h:08x}")
}

fn hex(bytes: &[u8], max: usize) -> String {
    let mut s: String = bytes.iter().take(max).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}

/// What scenario.js's `describeData` records (string lengths in UTF-16 units).
fn describe_data(data: &Message, binary_type: Option<BinaryType>, e: &mut Map<String, Value>) {
    match (data, binary_type) {
        (Message::Text(t), _) => {
            let units: Vec<u16> = t.as_str().encode_utf16().collect();
            e.insert("data_type".into(), json!("text"));
            e.insert("length".into(), json!(units.len()));
            if units.len() <= 256 {
                e.insert("data".into(), json!(t.as_str()));
            } else {
                let head = String::from_utf16_lossy(&units[..64]);
                e.insert("data".into(), json!(format!("{head}...")));
                e.insert("fnv".into(), json!(fnv1a(t.as_bytes())));
            }
        }
        (Message::Binary(b), Some(BinaryType::ArrayBuffer)) => {
            e.insert("data_type".into(), json!("arraybuffer"));
            e.insert("size".into(), json!(b.len()));
            e.insert("hex".into(), json!(hex(b, 32)));
            e.insert("fnv".into(), json!(fnv1a(b)));
        }
        (Message::Binary(b), _) => {
            e.insert("data_type".into(), json!("blob"));
            e.insert("size".into(), json!(b.len()));
            e.insert("mime".into(), json!(""));
        }
    }
}

fn record_result(rec: &mut Map<String, Value>, r: Result<(), (&'static str, String)>) {
    match r {
        Ok(()) => {
            rec.insert("ok".into(), json!(true));
        }
        Err((name, message)) => {
            rec.insert(
                "threw".into(),
                json!({"name": name, "class": "DOMException", "message": message}),
            );
        }
    }
}

fn bound(v: Option<&Value>, default: u64) -> u64 {
    v.and_then(Value::as_f64)
        .map_or(default, |ms| ms.max(0.0) as u64)
        .min(MAX_STEP_MS)
}

/// Undoes [`mark_lone_surrogates`] for the trace: JSON output with U+FFFD.
fn unmark(v: &Value) -> Value {
    match v {
        Value::String(s) if has_lone_surrogate(s) => Value::String(s.replace(LONE_SURROGATE, "\u{FFFD}")),
        Value::Array(a) => Value::Array(a.iter().map(unmark).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), unmark(v))).collect()),
        other => other.clone(),
    }
}

fn text_arg(s: &str) -> Result<Message, Skip> {
    if has_lone_surrogate(s) {
        return Err(Skip(
            "a Rust string cannot hold a lone surrogate (JavaScript's USVString conversion)".into(),
        ));
    }
    Ok(Message::from(s))
}

fn send_arg(step: &Value) -> Result<Message, Skip> {
    if step.get("args").is_some() {
        return Err(Skip("a raw JavaScript argument list".into()));
    }
    if let Some(t) = step.get("text") {
        return match t.as_str() {
            Some(s) => text_arg(s),
            None => Err(Skip("a non-string text is a JavaScript coercion".into())),
        };
    }
    if let Some(n) = step.get("text_len").and_then(Value::as_u64) {
        return Ok(Message::from("x".repeat(n as usize)));
    }
    if step.get("value").is_some() {
        return Err(Skip("send(value) converts a JavaScript value to a string".into()));
    }
    let bytes = if let Some(h) = step.get("bytes").and_then(Value::as_str) {
        (0..h.len() / 2)
            .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| Skip("bad hex".into()))?
    } else if let Some(n) = step.get("size").and_then(Value::as_u64) {
        (0..n).map(|i| (i % 256) as u8).collect()
    } else {
        return Err(Skip("send() with no argument is a JavaScript TypeError".into()));
    };
    match step.get("as").and_then(Value::as_str).unwrap_or("arraybuffer") {
        "arraybuffer" | "uint8array" => Ok(Message::from(bytes)),
        other => Err(Skip(format!("a {other} argument has no Rust counterpart"))),
    }
}

/// close()'s arguments: a code must be a JSON integer in 0..=65535 (what a
/// Rust `u16` can say), `"$undefined"` means absent.
fn close_args(step: &Value) -> Result<(Option<u16>, Option<String>), Skip> {
    fn code_of(v: &Value) -> Result<Option<u16>, Skip> {
        match v {
            Value::String(s) if s == "$undefined" => Ok(None),
            Value::Number(n) => n
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .map(Some)
                .ok_or_else(|| Skip(format!("close({n}) relies on WebIDL [Clamp] conversion"))),
            other => Err(Skip(format!("close({other}) relies on a JavaScript coercion"))),
        }
    }
    fn reason_of(v: &Value) -> Result<Option<String>, Skip> {
        match v {
            Value::String(s) if s == "$undefined" => Ok(None),
            Value::String(s) if has_lone_surrogate(s) => Err(Skip("a Rust string cannot hold a lone surrogate".into())),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(Skip(format!("reason {other} relies on a JavaScript coercion"))),
        }
    }
    if let Some(args) = step.get("args").and_then(Value::as_array) {
        let code = args.first().map(code_of).transpose()?.flatten();
        let reason = args.get(1).map(reason_of).transpose()?.flatten();
        if args.len() > 2 {
            return Err(Skip("more than two arguments".into()));
        }
        return Ok((code, reason));
    }
    let mut reason = step.get("reason").map(reason_of).transpose()?.flatten();
    if let Some(n) = step.get("reason_len").and_then(Value::as_u64) {
        let ch = step.get("reason_char").and_then(Value::as_str).unwrap_or("a");
        if has_lone_surrogate(ch) {
            return Err(Skip("a Rust string cannot hold a lone surrogate".into()));
        }
        reason = Some(ch.repeat(n as usize));
    }
    let code = step.get("code").map(code_of).transpose()?.flatten();
    Ok((code, reason))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_are_marked_and_pairs_kept() {
        let v: Value = serde_json::from_str(&mark_lone_surrogates(
            r#"["\ud800", "\ud83c\udf0d", "\\ud800", "\u00e9"]"#,
        ))
        .unwrap();
        assert_eq!(v[0].as_str().unwrap(), LONE_SURROGATE.to_string());
        assert_eq!(v[1].as_str().unwrap(), "🌍");
        assert_eq!(v[2].as_str().unwrap(), "\\ud800");
        assert_eq!(v[3].as_str().unwrap(), "é");
    }

    #[test]
    fn close_args_follow_the_scenario_format() {
        let args = |v: Value| close_args(&v).map_err(|Skip(s)| s);
        assert_eq!(args(json!({"op": "close"})).unwrap(), (None, None));
        assert_eq!(
            args(json!({"code": 1000, "reason_len": 2})).unwrap(),
            (Some(1000), Some("aa".into()))
        );
        assert_eq!(
            args(json!({"args": ["$undefined", "why"]})).unwrap(),
            (None, Some("why".into()))
        );
        assert!(args(json!({"code": 3000.4})).is_err());
        assert!(args(json!({"code": null})).is_err());
        assert!(args(json!({"code": 68536})).is_err());
    }
}
