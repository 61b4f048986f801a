//! The blocking client applies the model's host gate too: a second
//! connection to the same host and port starts only after the first one's
//! handshake (the ordering is read from the server's timeline).

use std::time::Duration;

use wsapi_blocking::{BlockingWebSocket, Options};
use wsapi_model::Event;
use wsapi_props::server::{Action, Handshake, Moment, Script, Server};

const LIMIT: Duration = Duration::from_secs(10);

fn kinds(ws: &mut BlockingWebSocket) -> Vec<&'static str> {
    let mut out = Vec::new();
    while let Some(e) = ws.next_event(LIMIT) {
        out.push(match e {
            Event::Open => "open",
            Event::Message { .. } => "message",
            Event::Error(_) => "error",
            Event::Close(_) => "close",
        });
    }
    out
}

fn position(timeline: &[Moment], moment: Moment) -> usize {
    timeline
        .iter()
        .position(|m| *m == moment)
        .unwrap_or_else(|| panic!("{moment:?} not in {timeline:?}"))
}

#[test]
fn the_second_blocking_connection_waits_for_the_first_handshake() {
    let close = || vec![Action::CloseRaw(vec![0x03, 0xe8])];
    let server = Server::start(vec![
        Script {
            handshake: Handshake::Delay(Duration::from_millis(300)),
            actions: close(),
            finish_reading: true,
        },
        Script::accept(close()),
    ])
    .unwrap();
    let options = Options {
        closing_timeout: Duration::from_millis(300),
        ..Options::default()
    };
    let url = |path: &str| format!("{}/{path}", server.base());
    let mut a = BlockingWebSocket::new(&url("a"), &[] as &[&str], options.clone()).unwrap();
    let first = std::thread::spawn(move || kinds(&mut a));
    // Once the first request is in, the second connection must queue.
    for _ in 0..2000 {
        if server.timeline().contains(&Moment::Request(0)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut b = BlockingWebSocket::new(&url("b"), &[] as &[&str], options).unwrap();
    assert_eq!(kinds(&mut b), ["open", "close"]);
    assert_eq!(first.join().unwrap(), ["open", "close"]);
    let timeline = server.timeline();
    assert!(
        position(&timeline, Moment::Responding(0)) < position(&timeline, Moment::Accepted(1)),
        "{timeline:?}"
    );
}
