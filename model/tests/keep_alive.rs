//! Keep-alive through the [`Connection`] API. Keep-alive is **ours, not the
//! standard's**: the WHATWG WebSocket API has none and RFC 6455 only allows
//! pings (§5.5.2), so it is off by default and these tests turn it on.

use std::time::Duration;
use wsapi_model::{CloseEvent, Config, Connection, Data, Event, FailReason, KeepAlive, Transmit};

const INTERVAL: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(5);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn config(keep_alive: Option<KeepAlive>) -> Config {
    Config {
        keep_alive,
        closing_timeout: Some(secs(2)),
        ..Config::default()
    }
}

/// An established connection (open event taken) at time 0.
fn opened(keep_alive: bool) -> Connection<Data> {
    let ka = keep_alive.then_some(KeepAlive {
        interval: INTERVAL,
        timeout: TIMEOUT,
    });
    let mut ws = Connection::new("ws://example.com/", &[] as &[&str], config(ka), secs(0)).unwrap();
    assert!(matches!(ws.poll_transmit(), Some(Transmit::QueueForHost(_))));
    ws.handle_host_slot(secs(0)).unwrap();
    assert!(matches!(ws.poll_transmit(), Some(Transmit::Connect { .. })));
    ws.handle_open(secs(0), None, None).unwrap();
    assert_eq!(ws.poll_transmit(), Some(Transmit::ReleaseHost));
    assert_eq!(ws.poll_event(), Some(Event::Open));
    ws
}

fn drain_transmits(ws: &mut Connection<Data>) -> Vec<Transmit<Data>> {
    std::iter::from_fn(|| ws.poll_transmit()).collect()
}

fn drain_events(ws: &mut Connection<Data>) -> Vec<Event<Data>> {
    std::iter::from_fn(|| ws.poll_event()).collect()
}

#[test]
fn off_by_default_so_an_open_connection_has_no_timer() {
    assert_eq!(Config::default().keep_alive, None);
    let mut ws = opened(false);
    assert_eq!(ws.poll_timeout(), None);
    ws.handle_timeout(secs(1_000_000));
    assert!(drain_transmits(&mut ws).is_empty());
}

#[test]
fn a_silent_peer_gets_a_ping_then_the_connection_fails_with_1006() {
    let mut ws = opened(true);
    assert_eq!(ws.poll_timeout(), Some(INTERVAL));
    ws.handle_timeout(INTERVAL);
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Ping(Vec::new())]);
    assert_eq!(ws.poll_timeout(), Some(INTERVAL + TIMEOUT));
    ws.handle_timeout(INTERVAL + TIMEOUT);
    // No Close frame to a peer that does not answer: the transport is dropped.
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::CloseTransport]);
    assert_eq!(
        drain_events(&mut ws),
        vec![
            Event::Error(FailReason::KeepAliveTimeout),
            Event::Close(CloseEvent {
                code: 1006,
                reason: String::new(),
                was_clean: false
            })
        ]
    );
    assert!(ws.is_finished());
    assert_eq!(ws.poll_timeout(), None);
}

#[test]
fn a_pong_keeps_the_connection_and_the_next_ping_waits_a_full_interval() {
    let mut ws = opened(true);
    ws.handle_timeout(INTERVAL);
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Ping(Vec::new())]);
    ws.handle_received(secs(11)).unwrap(); // the pong
    assert_eq!(ws.poll_timeout(), Some(secs(11) + INTERVAL));
    ws.handle_timeout(INTERVAL + TIMEOUT);
    assert!(drain_transmits(&mut ws).is_empty());
    assert!(drain_events(&mut ws).is_empty());
    ws.handle_timeout(secs(21));
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Ping(Vec::new())]);
}

#[test]
fn any_message_answers_a_ping() {
    let mut ws = opened(true);
    ws.handle_timeout(INTERVAL);
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Ping(Vec::new())]);
    ws.handle_message(secs(12), Data::Text("still here".into())).unwrap();
    assert!(matches!(&drain_events(&mut ws)[..], [Event::Message { .. }]));
    ws.handle_timeout(INTERVAL + TIMEOUT);
    assert!(drain_events(&mut ws).is_empty());
    assert_eq!(ws.ready_state(), wsapi_model::ReadyState::Open);
}

#[test]
fn undelivered_messages_hold_keep_alive_off() {
    // The driver stops reading while messages wait for the user
    // (backpressure): a silence then is ours, not the peer's.
    let mut ws = opened(true);
    ws.handle_message(secs(1), Data::Text("unread".into())).unwrap();
    ws.handle_timeout(INTERVAL);
    assert!(drain_transmits(&mut ws).is_empty(), "no ping while a message waits");
    assert_eq!(ws.poll_timeout(), Some(INTERVAL + INTERVAL));
    // Once delivered, a silent peer is pinged and failed as usual.
    assert!(matches!(&drain_events(&mut ws)[..], [Event::Message { .. }]));
    ws.handle_timeout(secs(20));
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Ping(Vec::new())]);
    ws.handle_timeout(secs(25));
    assert_eq!(drain_events(&mut ws)[0], Event::Error(FailReason::KeepAliveTimeout));
}

#[test]
fn undelivered_empty_messages_hold_keep_alive_off_too() {
    // The driver's reading pause counts messages, not only bytes: a queue
    // of empty messages can hold reading paused, so it too means the
    // silence is ours.
    let mut ws = opened(true);
    ws.handle_message(secs(1), Data::Text(String::new())).unwrap();
    assert_eq!((ws.queued_message_bytes(), ws.queued_message_count()), (0, 1));
    ws.handle_timeout(INTERVAL);
    assert!(
        drain_transmits(&mut ws).is_empty(),
        "no ping while an empty message waits"
    );
    assert!(matches!(&drain_events(&mut ws)[..], [Event::Message { .. }]));
    assert_eq!(ws.queued_message_count(), 0);
}

#[test]
fn a_busy_connection_is_not_pinged() {
    let mut ws = opened(true);
    for s in 1..=30 {
        ws.handle_received(secs(s)).unwrap();
        if ws.poll_timeout().is_some_and(|d| secs(s) >= d) {
            ws.handle_timeout(secs(s));
        }
    }
    assert!(drain_transmits(&mut ws).is_empty());
    assert_eq!(ws.poll_timeout(), Some(secs(30) + INTERVAL));
}

#[test]
fn it_stops_once_the_closing_handshake_starts() {
    let mut ws = opened(true);
    ws.close(secs(9), Some(1000), None).unwrap();
    // Only the closing timeout is left (9 + 2 s), before the keep-alive's 10 s.
    assert_eq!(ws.poll_timeout(), Some(secs(11)));
    let t = drain_transmits(&mut ws);
    assert!(matches!(&t[..], [Transmit::Close(Some(_))]), "{t:?}");
    ws.handle_timeout(secs(10));
    assert!(drain_transmits(&mut ws).is_empty(), "no ping once closing");
}

#[test]
fn received_before_the_handshake_is_a_driver_bug() {
    let mut ws = Connection::<Data>::new("ws://example.com/", &[] as &[&str], config(None), secs(0)).unwrap();
    ws.poll_transmit();
    assert_eq!(ws.handle_received(secs(0)), Err(wsapi_model::InputError::NotOpen));
}

#[test]
fn a_server_that_pings_but_never_reads_fails_as_stalled_not_as_silent() {
    // The driver paused reading because its pongs cannot be written (the
    // server does not read): the silence is ours, and the error says so.
    let mut ws = opened(true);
    ws.handle_read_stalled(secs(1), true).unwrap();
    ws.handle_timeout(INTERVAL);
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Ping(Vec::new())]);
    ws.handle_timeout(INTERVAL + TIMEOUT);
    assert_eq!(drain_events(&mut ws)[0], Event::Error(FailReason::KeepAliveStalled));
    // Reading again before the failure: a plain silence.
    let mut ws = opened(true);
    ws.handle_read_stalled(secs(1), true).unwrap();
    ws.handle_read_stalled(secs(2), false).unwrap();
    ws.handle_timeout(INTERVAL);
    ws.handle_timeout(INTERVAL + TIMEOUT);
    assert_eq!(drain_events(&mut ws)[0], Event::Error(FailReason::KeepAliveTimeout));
}

#[test]
fn writes_that_progress_during_a_stall_keep_the_connection() {
    // A server busy reading a large message of ours while it pings: our
    // pongs wait behind the message and reading pauses, but the writes
    // progress, which the driver reports as a sign of life.
    let mut ws = opened(true);
    ws.handle_read_stalled(secs(1), true).unwrap();
    ws.handle_timeout(INTERVAL);
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Ping(Vec::new())]);
    ws.handle_received(secs(12)).unwrap();
    ws.handle_timeout(INTERVAL + TIMEOUT);
    assert!(drain_events(&mut ws).is_empty());
    assert_eq!(ws.ready_state(), wsapi_model::ReadyState::Open);
}

#[test]
fn a_stall_reported_before_the_handshake_is_a_driver_bug() {
    let mut ws = Connection::<Data>::new("ws://example.com/", &[] as &[&str], config(None), secs(0)).unwrap();
    assert!(ws.handle_read_stalled(secs(0), true).is_err());
}
