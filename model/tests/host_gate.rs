//! One connection in CONNECTING per host and port: RFC 6455 §4.1, client
//! requirement 2 ("If the client already has a WebSocket connection to the
//! remote host (IP address) identified by /host/ and port /port/ pair ...
//! the client MUST wait until that connection has been established or for
//! that connection to have failed"; "there MUST be no more than one
//! connection in a CONNECTING state"), and WHATWG "obtain a WebSocket
//! connection". The key is host and port (see `wsapi_model::host_gate`).

use std::time::Duration;
use wsapi_model::{
    CloseEvent, Config, Connection, Data, Event, FailReason, HostGate, HostKey, InputError, Phase, ReadyState,
    Transmit, Url,
};

const T0: Duration = Duration::ZERO;

fn new(url: &str) -> Connection<Data> {
    Connection::new(url, &[] as &[&str], Config::default(), T0).unwrap()
}

fn key(host: &str, port: u16) -> HostKey {
    HostKey {
        host: host.into(),
        port,
    }
}

fn abnormal() -> Event<Data> {
    Event::Close(CloseEvent {
        code: 1006,
        reason: String::new(),
        was_clean: false,
    })
}

/// A connection that took `QueueForHost` and waits for the slot.
fn queued(url: &str) -> Connection<Data> {
    let mut ws = new(url);
    assert!(matches!(ws.poll_transmit(), Some(Transmit::QueueForHost(_))));
    assert_eq!(ws.poll_transmit(), None, "no Connect before the slot is held");
    ws
}

// The key: host as the URL parser normalises it, the scheme's default port when none is
// given; the scheme itself is not part of it (ws://h:443 and wss://h reach the same remote).
#[test]
fn the_key_is_host_and_port() {
    let of = |u: &str| HostKey::of(&Url::parse(u).unwrap()).unwrap();
    assert_eq!(of("ws://EXAMPLE.com/a"), key("example.com", 80));
    assert_eq!(of("wss://example.com/"), key("example.com", 443));
    assert_eq!(of("ws://example.com:443/"), of("wss://example.com/"));
    assert_eq!(of("ws://[::1]:9000/"), key("[::1]", 9000));
    assert_ne!(of("ws://example.com:81/"), of("ws://example.com/"));
}

// The first transmit of a connection that connects is QueueForHost, with its key;
// Connect comes only after handle_host_slot.
#[test]
fn connect_waits_for_the_host_slot() {
    let mut ws = new("ws://example.com:8080/x");
    assert_eq!(
        ws.poll_transmit(),
        Some(Transmit::QueueForHost(key("example.com", 8080)))
    );
    assert_eq!(ws.poll_transmit(), None);
    assert_eq!(ws.ready_state(), ReadyState::Connecting);
    ws.handle_host_slot(T0).unwrap();
    assert!(matches!(ws.poll_transmit(), Some(Transmit::Connect { .. })));
}

// The slot is freed when the connection is established ...
#[test]
fn established_releases_the_host() {
    let mut ws = queued("ws://h/");
    ws.handle_host_slot(T0).unwrap();
    ws.poll_transmit();
    ws.handle_open(T0, None, None).unwrap();
    assert_eq!(ws.poll_transmit(), Some(Transmit::ReleaseHost));
    assert_eq!(ws.poll_event(), Some(Event::Open));
}

// ... or fails ...
#[test]
fn a_failed_handshake_releases_the_host_before_the_transport() {
    let mut ws = queued("ws://h/");
    ws.handle_host_slot(T0).unwrap();
    ws.poll_transmit();
    ws.handle_connect_failed(T0, "refused").unwrap();
    assert_eq!(ws.poll_transmit(), Some(Transmit::ReleaseHost));
    assert_eq!(ws.poll_transmit(), Some(Transmit::CloseTransport));
    assert_eq!(ws.poll_transmit(), None);
}

// ... or is abandoned by close() (WHATWG close(): "fail the WebSocket connection").
#[test]
fn close_during_the_handshake_releases_the_host() {
    let mut ws = queued("ws://h/");
    ws.handle_host_slot(T0).unwrap();
    ws.poll_transmit();
    ws.close(T0, None, None).unwrap();
    assert_eq!(ws.poll_transmit(), Some(Transmit::ReleaseHost));
    assert_eq!(ws.poll_transmit(), Some(Transmit::CloseTransport));
}

// close() of a queued connection fires error then close 1006 and never touches the
// network: no Connect, no CloseTransport, only leaving the queue.
#[test]
fn close_while_queued_fails_without_touching_the_network() {
    let mut ws = queued("ws://h/");
    ws.close(T0, Some(1000), None).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Closing);
    assert_eq!(ws.poll_transmit(), Some(Transmit::ReleaseHost));
    assert_eq!(ws.poll_transmit(), None);
    assert_eq!(ws.poll_event(), Some(Event::Error(FailReason::ClosedWhileConnecting)));
    assert_eq!(ws.poll_event(), Some(abnormal()));
    assert!(ws.is_finished());
    // A grant that crossed the close is ignored: nothing to connect.
    assert_eq!(ws.handle_host_slot(T0), Ok(()));
    assert_eq!(ws.poll_transmit(), None);
}

// A QueueForHost the driver never took is withdrawn: nothing to give back.
#[test]
fn a_request_never_taken_is_withdrawn() {
    let mut ws = new("ws://h/");
    ws.close(T0, None, None).unwrap();
    assert_eq!(ws.poll_transmit(), None);
    assert_eq!(ws.phase(), Phase::Closed);
}

// The connect timeout runs from construction, so time spent queued counts.
#[test]
fn the_connect_timeout_covers_the_time_queued() {
    let config = Config {
        connect_timeout: Some(Duration::from_secs(5)),
        ..Config::default()
    };
    let mut ws = Connection::<Data>::new("ws://h/", &[] as &[&str], config, T0).unwrap();
    ws.poll_transmit();
    assert_eq!(ws.poll_timeout(), Some(Duration::from_secs(5)));
    ws.handle_timeout(Duration::from_secs(5));
    assert_eq!(ws.poll_transmit(), Some(Transmit::ReleaseHost));
    assert_eq!(ws.poll_transmit(), None, "no transport to close");
    assert_eq!(ws.poll_event(), Some(Event::Error(FailReason::ConnectTimeout)));
}

// A blocked port fails before any request for a slot (Fetch's bad ports).
#[test]
fn a_blocked_port_never_queues() {
    let mut ws = new("ws://h:25/");
    assert_eq!(ws.poll_transmit(), None);
    assert!(matches!(ws.poll_event(), Some(Event::Error(FailReason::BadPort(25)))));
}

// Driver misuse: a slot before QueueForHost was taken, twice, or for an open connection;
// a handshake outcome while still queued.
#[test]
fn host_slot_misuse_is_an_error() {
    let mut ws = new("ws://h/");
    assert_eq!(ws.handle_host_slot(T0), Err(InputError::NotConnecting));
    ws.poll_transmit();
    assert_eq!(ws.handle_open(T0, None, None), Err(InputError::NotConnecting));
    assert_eq!(ws.handle_connect_failed(T0, "x"), Err(InputError::NotConnecting));
    assert_eq!(ws.handle_transport_closed(T0), Err(InputError::NotConnecting));
    ws.handle_host_slot(T0).unwrap();
    assert_eq!(ws.handle_host_slot(T0), Err(InputError::NotConnecting));
}

// The gate: one holder per key, in arrival order; other keys independent; a waiter
// leaving does not change the holder; releasing unknown tickets changes nothing.
#[test]
fn the_gate_admits_one_per_key_in_order() {
    let mut gate = HostGate::default();
    let (a, b) = (key("h", 80), key("h", 81));
    let a1 = gate.queue(a.clone());
    let a2 = gate.queue(a.clone());
    let a3 = gate.queue(a.clone());
    let b1 = gate.queue(b.clone());
    assert!(gate.holds(&a, a1) && gate.holds(&b, b1));
    assert!(!gate.holds(&a, a2) && !gate.holds(&a, a3));
    assert_eq!(gate.release(&a, a2), None, "a waiter leaving admits nobody");
    assert_eq!(gate.release(&a, a1), Some(a3));
    assert_eq!(gate.release(&a, a1), None, "released twice");
    assert_eq!(gate.release(&key("x", 1), a1), None);
    assert_eq!(gate.release(&a, a3), None);
    assert_eq!(gate.pending(&a), 0);
    assert_eq!(gate.pending(&b), 1);
}
