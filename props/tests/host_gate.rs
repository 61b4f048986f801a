//! One connection in CONNECTING per host and port (RFC 6455 §4.1, client
//! requirement 2), against real loopback servers.
//!
//! Orderings are read from the server's timeline ([`Moment`]), never from
//! timing: the server records a response *before* writing it, so anything
//! the client does because of that response comes later in the timeline.

use std::time::Duration;

use wsapi::runtime::block_on;
use wsapi::{Event, FailReason, ReadyState, WebSocket};
use wsapi_model::{HandshakeFailure, Step, Transmit};
use wsapi_props::server::{Action, Handshake, Moment, Script, Server};

/// Every event of `ws` up to its close event (at most 15 s).
async fn events_until_close(ws: &WebSocket) -> Vec<Event> {
    let collect = async {
        let mut out = Vec::new();
        while let Some(e) = ws.next_event().await {
            out.push(e);
        }
        out
    };
    let limit = wsapi::runtime::sleep(Duration::from_secs(15));
    match futures::future::select(Box::pin(collect), limit).await {
        futures::future::Either::Left((events, _)) => events,
        futures::future::Either::Right(_) => panic!("no close event within 15 s"),
    }
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.type_name()).collect()
}

/// Accepts, then closes with 1000.
fn closing() -> Script {
    Script::accept(vec![Action::CloseRaw(vec![0x03, 0xe8])])
}

fn script(handshake: Handshake, actions: Vec<Action>) -> Script {
    Script {
        handshake,
        actions,
        finish_reading: true,
    }
}

fn position(timeline: &[Moment], moment: Moment) -> usize {
    timeline
        .iter()
        .position(|m| *m == moment)
        .unwrap_or_else(|| panic!("{moment:?} not in {timeline:?}"))
}

/// Waits until the server's timeline has `moment` (a condition, not a delay).
fn wait_for(server: &Server, moment: Moment) {
    for _ in 0..2000 {
        if server.timeline().contains(&moment) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{moment:?} never happened: {:?}", server.timeline());
}

// The second connection's TCP connect starts only once the first one's
// response was sent (the server delays it 300 ms, so without the gate the
// second connection would be accepted during the delay).
#[test]
fn the_second_connection_to_a_host_waits_for_the_first_handshake() {
    let server = Server::start(vec![
        script(
            Handshake::Delay(Duration::from_millis(300)),
            vec![Action::CloseRaw(vec![0x03, 0xe8])],
        ),
        closing(),
    ])
    .unwrap();
    let a = WebSocket::new(&format!("{}/a", server.base()), &[] as &[&str]).unwrap();
    let b = WebSocket::new(&format!("{}/b", server.base()), &[] as &[&str]).unwrap();
    let (ea, eb) = block_on(async { futures::join!(events_until_close(&a), events_until_close(&b)) });
    assert_eq!(kinds(&ea), ["open", "close"], "{ea:?}");
    assert_eq!(kinds(&eb), ["open", "close"], "{eb:?}");
    let timeline = server.timeline();
    assert!(
        position(&timeline, Moment::Responding(0)) < position(&timeline, Moment::Accepted(1)),
        "{timeline:?}"
    );
}

// The gate is per host *and port*: a connection to another port opens while
// the first one is still CONNECTING (its server never answers).
#[test]
fn connections_to_different_ports_are_not_serialized() {
    let hanging = Server::start(vec![script(Handshake::Hang, vec![])]).unwrap();
    let other = Server::start(vec![closing()]).unwrap();
    let a = WebSocket::new(&format!("{}/a", hanging.base()), &[] as &[&str]).unwrap();
    wait_for(&hanging, Moment::Request(0));
    let b = WebSocket::new(&format!("{}/b", other.base()), &[] as &[&str]).unwrap();
    let eb = block_on(events_until_close(&b));
    assert_eq!(kinds(&eb), ["open", "close"], "{eb:?}");
    assert_eq!(a.ready_state(), ReadyState::Connecting);
    a.close(None, None).unwrap();
    let ea = block_on(events_until_close(&a));
    assert_eq!(kinds(&ea), ["error", "close"]);
}

// A failed handshake frees the host: the second connection then opens.
#[test]
fn a_failed_first_handshake_releases_the_second() {
    let server = Server::start(vec![script(Handshake::Reject(403), vec![]), closing()]).unwrap();
    let a = WebSocket::new(&format!("{}/a", server.base()), &[] as &[&str]).unwrap();
    let b = WebSocket::new(&format!("{}/b", server.base()), &[] as &[&str]).unwrap();
    let (ea, eb) = block_on(async { futures::join!(events_until_close(&a), events_until_close(&b)) });
    // Which one connected first is the runtime's choice; one of each outcome.
    let mut outcomes = [kinds(&ea), kinds(&eb)];
    outcomes.sort();
    assert_eq!(
        outcomes,
        [vec!["error", "close"], vec!["open", "close"]],
        "{ea:?} {eb:?}"
    );
    let rejected = ea.iter().chain(&eb).any(|e| {
        matches!(
            e,
            Event::Error(FailReason::Handshake(HandshakeFailure::Rejected { status: 403, .. }))
        )
    });
    assert!(rejected, "{ea:?} {eb:?}");
    let timeline = server.timeline();
    assert!(
        position(&timeline, Moment::Responding(0)) < position(&timeline, Moment::Accepted(1)),
        "{timeline:?}"
    );
}

// close() on a connection still queued for its host: error, then close 1006,
// without touching the network (the server never sees a second connection);
// and closing the first (abandoning its handshake) frees the host.
#[test]
fn closing_a_queued_connection_touches_no_network() {
    let server = Server::start(vec![script(Handshake::Hang, vec![]), closing(), closing()]).unwrap();
    let a = WebSocket::new(&format!("{}/a", server.base()), &[] as &[&str]).unwrap();
    wait_for(&server, Moment::Request(0));
    let queued = WebSocket::builder(&format!("{}/queued", server.base()))
        .record_journal(true)
        .connect()
        .unwrap();
    // Once its driver joined the host's queue (else close() would only
    // withdraw a request never made).
    let joined = || {
        queued
            .handle()
            .journal()
            .iter()
            .any(|s| matches!(s, Step::Transmit(Some(Transmit::QueueForHost(_)))))
    };
    for _ in 0..2000 {
        if joined() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(joined(), "the driver never took QueueForHost");
    queued.close(None, None).unwrap();
    let eq = block_on(events_until_close(&queued));
    assert_eq!(
        eq,
        [
            Event::Error(FailReason::ClosedWhileConnecting),
            Event::Close(wsapi::CloseEvent {
                code: 1006,
                reason: String::new(),
                was_clean: false
            })
        ]
    );
    // Abandoning `a`'s handshake frees the host for the next one.
    let c = WebSocket::new(&format!("{}/c", server.base()), &[] as &[&str]).unwrap();
    a.close(None, None).unwrap();
    let (ea, ec) = block_on(async { futures::join!(events_until_close(&a), events_until_close(&c)) });
    assert_eq!(kinds(&ea), ["error", "close"]);
    assert_eq!(kinds(&ec), ["open", "close"], "{ec:?}");
    let timeline = server.timeline();
    assert_eq!(
        timeline.iter().filter(|m| matches!(m, Moment::Accepted(_))).count(),
        2,
        "the closed queued connection never connected: {timeline:?}"
    );
}

// The connect timeout runs from construction: time spent queued counts.
#[test]
fn the_connect_timeout_covers_the_time_queued() {
    let server = Server::start(vec![script(Handshake::Hang, vec![]), closing()]).unwrap();
    let a = WebSocket::new(&format!("{}/a", server.base()), &[] as &[&str]).unwrap();
    wait_for(&server, Moment::Request(0));
    let queued = WebSocket::builder(&format!("{}/queued", server.base()))
        .connect_timeout(Duration::from_millis(200))
        .connect()
        .unwrap();
    let eq = block_on(events_until_close(&queued));
    assert_eq!(eq[0], Event::Error(FailReason::ConnectTimeout), "{eq:?}");
    assert_eq!(kinds(&eq), ["error", "close"]);
    a.close(None, None).unwrap();
    block_on(events_until_close(&a));
    assert!(
        !server.timeline().contains(&Moment::Accepted(1)),
        "{:?}",
        server.timeline()
    );
}

// Dropping a connection whose handshake is pending abandons it (WHATWG: as
// close()), which frees the host for the next one.
#[test]
fn dropping_the_first_connection_releases_the_second() {
    let server = Server::start(vec![script(Handshake::Hang, vec![]), closing()]).unwrap();
    let a = WebSocket::new(&format!("{}/a", server.base()), &[] as &[&str]).unwrap();
    wait_for(&server, Moment::Request(0));
    let b = WebSocket::new(&format!("{}/b", server.base()), &[] as &[&str]).unwrap();
    drop(a);
    let eb = block_on(events_until_close(&b));
    assert_eq!(kinds(&eb), ["open", "close"], "{eb:?}");
    assert_eq!(
        server
            .timeline()
            .iter()
            .filter(|m| matches!(m, Moment::Accepted(_)))
            .count(),
        2
    );
}
