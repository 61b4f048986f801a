//! The blocking client and the async client, on the same loopback
//! behaviours, must produce the same event traces (both are drivers of the
//! same model). Each behaviour also has its expected trace written out.

use std::time::Duration;

use wsapi_blocking::{BlockingWebSocket, Options};
use wsapi_model::{Data, Event};
use wsapi_props::server::{Action, Handshake, Log, Received, Script, Server};

/// What a client does, the same way in both clients.
#[derive(Clone)]
enum Step {
    /// Wait for the next event.
    Wait,
    SendText(&'static str),
    SendBinary(&'static [u8]),
    Close(Option<u16>, Option<&'static str>),
    /// Call close() with these arguments and record the error's DOMException name.
    CloseExpectingError(Option<u16>, Option<String>),
}

const LIMIT: Duration = Duration::from_secs(10);

fn blocking_trace(script: Script, steps: &[Step]) -> (Vec<String>, Server) {
    let server = Server::start(vec![script]).unwrap();
    let options = Options {
        closing_timeout: Duration::from_millis(300),
        ..Options::default()
    };
    let mut ws = BlockingWebSocket::new(&format!("{}/b", server.base()), &[] as &[&str], options).unwrap();
    let mut trace = Vec::new();
    let record = |e: Option<Event<Data>>, ws: &BlockingWebSocket, trace: &mut Vec<String>| {
        if let Some(e) = e {
            trace.push(describe(&e, ws.ready_state() as u8, ws.buffered_amount()));
        }
    };
    for step in steps {
        match step {
            Step::Wait => {
                let e = ws.next_event(LIMIT);
                record(e, &ws, &mut trace);
            }
            Step::SendText(t) => ws.send_text(t).unwrap(),
            Step::SendBinary(b) => ws.send_binary(b).unwrap(),
            Step::Close(c, r) => ws.close(*c, *r).unwrap(),
            Step::CloseExpectingError(c, r) => trace.push(format!(
                "close threw {}",
                ws.close(*c, r.as_deref()).unwrap_err().dom_exception()
            )),
        }
    }
    while let Some(e) = ws.next_event(LIMIT) {
        record(Some(e), &ws, &mut trace);
    }
    drop(ws);
    (trace, server)
}

async fn next(ws: &wsapi::WebSocket) -> Option<wsapi::Event> {
    match futures::future::select(Box::pin(ws.next_event()), wsapi::runtime::sleep(LIMIT)).await {
        futures::future::Either::Left((e, _)) => e,
        futures::future::Either::Right(_) => None,
    }
}

fn async_trace(script: Script, steps: &[Step]) -> (Vec<String>, Server) {
    let server = Server::start(vec![script]).unwrap();
    let ws = wsapi::WebSocket::builder(&format!("{}/a", server.base()))
        .closing_timeout(Duration::from_millis(300))
        .deflate(false)
        .connect()
        .unwrap();
    let mut trace = Vec::new();
    let record = |e: Option<wsapi::Event>, ws: &wsapi::WebSocket, trace: &mut Vec<String>| {
        if let Some(e) = e {
            let e = match e {
                wsapi::Event::Open => Event::Open,
                wsapi::Event::Message(m) => Event::Message {
                    data: match m.data {
                        wsapi::Message::Text(t) => Data::Text(t.as_str().to_string()),
                        wsapi::Message::Binary(b) => Data::Binary(b.to_vec()),
                    },
                    binary_type: m.binary_type,
                },
                wsapi::Event::Error(r) => Event::Error(r),
                wsapi::Event::Close(c) => Event::Close(c),
            };
            trace.push(describe(&e, ws.ready_state() as u8, ws.buffered_amount()));
        }
    };
    wsapi::runtime::block_on(async {
        for step in steps {
            match step {
                Step::Wait => {
                    let e = next(&ws).await;
                    record(e, &ws, &mut trace);
                }
                Step::SendText(t) => ws.send(*t).unwrap(),
                Step::SendBinary(b) => ws.send(*b).unwrap(),
                Step::Close(c, r) => ws.close(*c, *r).unwrap(),
                Step::CloseExpectingError(c, r) => trace.push(format!(
                    "close threw {}",
                    ws.close(*c, r.as_deref()).unwrap_err().dom_exception()
                )),
            }
        }
        while let Some(e) = next(&ws).await {
            record(Some(e), &ws, &mut trace);
        }
    });
    drop(ws);
    (trace, server)
}

fn describe(e: &Event<Data>, rs: u8, buffered: u64) -> String {
    let what = match e {
        Event::Open => "open".to_string(),
        Event::Message {
            data: Data::Text(t), ..
        } => format!("message text {t:?}"),
        Event::Message {
            data: Data::Binary(b), ..
        } => format!("message binary {b:?}"),
        Event::Error(r) => format!("error {}", kind(r)),
        Event::Close(c) => format!("close {} {:?} clean={}", c.code, c.reason, c.was_clean),
    };
    format!("{what} rs={rs} buf={buffered}")
}

/// The failure's kind, without driver-specific texts. A failed connect
/// is one kind: the blocking client reports TCP failures as handshake
/// texts, wsapi as typed transport errors.
fn kind(r: &wsapi_model::FailReason) -> &'static str {
    match r.kind() {
        "tcp" | "tls" | "proxy" | "handshake" => "handshake",
        other => other,
    }
}

fn server_close(log: &Log) -> Option<Option<(u16, String)>> {
    log.received.iter().find_map(|r| match r {
        Received::Close(c) => Some(c.clone()),
        _ => None,
    })
}

/// Runs both clients; checks both against `expected` and against each other.
fn both(script: Script, steps: &[Step], expected: &[&str]) -> (Log, Log) {
    let (b, bserver) = blocking_trace(script.clone(), steps);
    let (a, aserver) = async_trace(script, steps);
    let blog = bserver.next_log().expect("the server saw the blocking client");
    let alog = aserver.next_log().expect("the server saw the async client");
    assert_eq!(b, expected, "blocking client");
    assert_eq!(a, expected, "async client");
    assert_eq!(
        server_close(&blog),
        server_close(&alog),
        "the server got the same Close from both"
    );
    (blog, alog)
}

/// Each message is sent once the previous one's echo came back, so every
/// `bufferedAmount` of the trace is decided by causality alone: an echo
/// proves its message was written. (After two sends in a row, the first
/// echo may arrive before the second message is written; `buf` is then 0
/// or 2 depending on which thread wrote first, and both are right.)
#[test]
fn echo() {
    let (blog, _) = both(
        Script::accept(vec![Action::Echo(2)]),
        &[
            Step::Wait,
            Step::SendText("hi"),
            Step::Wait,
            Step::SendBinary(&[1, 2]),
            Step::Wait,
            Step::Close(Some(1000), None),
        ],
        &[
            "open rs=1 buf=0",
            "message text \"hi\" rs=1 buf=0",
            "message binary [1, 2] rs=1 buf=0",
            "close 1000 \"\" clean=true rs=3 buf=0",
        ],
    );
    assert_eq!(
        blog.received[..2],
        [Received::Text("hi".into()), Received::Binary(vec![1, 2])]
    );
}

#[test]
fn server_close_with_code_and_reason() {
    let (blog, _) = both(
        Script::accept(vec![Action::CloseRaw(vec![0x0f, 0xa1, b'b', b'y', b'e'])]),
        &[],
        &["open rs=1 buf=0", "close 4001 \"bye\" clean=true rs=3 buf=0"],
    );
    assert_eq!(
        server_close(&blog),
        Some(Some((4001, "bye".into()))),
        "echo of code and reason"
    );
}

#[test]
fn close_argument_validation() {
    both(
        Script::accept(vec![]),
        &[
            Step::Wait,
            Step::CloseExpectingError(Some(1001), None),
            Step::CloseExpectingError(Some(999), None),
            Step::CloseExpectingError(Some(5000), None),
            Step::CloseExpectingError(Some(1000), Some("a".repeat(124))),
            Step::Close(Some(3000), Some("ok")),
            Step::Wait,
            Step::CloseExpectingError(Some(1001), None),
        ],
        &[
            "open rs=1 buf=0",
            "close threw InvalidAccessError",
            "close threw InvalidAccessError",
            "close threw InvalidAccessError",
            "close threw SyntaxError",
            "close 3000 \"ok\" clean=true rs=3 buf=0",
            "close threw InvalidAccessError",
        ],
    );
}

#[test]
fn close_during_connecting() {
    let script = Script {
        handshake: Handshake::Hang,
        actions: vec![],
        finish_reading: false,
    };
    // Close right away: the connection is failed (never opened).
    let (b, _) = blocking_trace(script.clone(), &[Step::Close(None, None)]);
    let (a, _) = async_trace(script, &[Step::Close(None, None)]);
    let expected = [
        "error closed_while_connecting rs=3 buf=0",
        "close 1006 \"\" clean=false rs=3 buf=0",
    ];
    assert_eq!(b, expected);
    assert_eq!(a, expected);
}

#[test]
fn server_drop() {
    both(
        Script::accept(vec![Action::Text("x".into()), Action::DropTcp]),
        &[],
        &[
            "open rs=1 buf=0",
            "message text \"x\" rs=1 buf=0",
            "error transport_lost rs=3 buf=0",
            "close 1006 \"\" clean=false rs=3 buf=0",
        ],
    );
}

#[test]
fn invalid_utf8_from_the_server() {
    let (blog, _) = both(
        Script::accept(vec![Action::Raw(vec![0x81, 0x02, 0xc3, 0x28])]),
        &[],
        &[
            "open rs=1 buf=0",
            "error invalid_utf8 rs=3 buf=0",
            "close 1006 \"\" clean=false rs=3 buf=0",
        ],
    );
    assert_eq!(server_close(&blog), Some(Some((1007, String::new()))));
}

#[test]
fn close_codes_on_the_wire() {
    both(
        Script::accept(vec![Action::CloseRaw(vec![0x03, 0xf6])]),
        &[],
        &["open rs=1 buf=0", "close 1014 \"\" clean=true rs=3 buf=0"],
    );
    let (blog, _) = both(
        Script::accept(vec![Action::CloseRaw(vec![0x03, 0xed])]),
        &[],
        &[
            "open rs=1 buf=0",
            "error bad_close rs=3 buf=0",
            "close 1006 \"\" clean=false rs=3 buf=0",
        ],
    );
    assert_eq!(server_close(&blog), Some(Some((1002, String::new()))));
}

#[test]
fn silent_peer_is_cut_off_by_the_closing_timeout() {
    let script = Script {
        actions: vec![
            Action::AwaitClose { reply: false },
            Action::Sleep(Duration::from_secs(2)),
        ],
        ..Script::accept(vec![])
    };
    both(
        script,
        &[Step::Wait, Step::Close(Some(1000), Some("bye"))],
        &["open rs=1 buf=0", "close 1006 \"\" clean=false rs=3 buf=0"],
    );
}

#[test]
fn rejected_handshake() {
    let script = Script {
        handshake: Handshake::Reject(403),
        actions: vec![],
        finish_reading: false,
    };
    both(
        script,
        &[],
        &["error handshake rs=3 buf=0", "close 1006 \"\" clean=false rs=3 buf=0"],
    );
}
