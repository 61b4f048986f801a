//! `Connection::ping`: a Ping frame the caller asks for. **Ours, not the
//! standard's**: the WHATWG WebSocket API has no ping (browsers never let a
//! script send one); RFC 6455 §5.5.2 allows an endpoint to send a Ping at
//! any time after the connection is established and before its Close, with
//! a payload of at most 125 bytes (§5.5). See `spec-notes/keep-alive.md`.

use std::time::Duration;
use wsapi_model::{
    Config, Connection, Data, Event, Input, KeepAlive, PingError, ReadyState, Refusal, Transmit, MAX_PING_PAYLOAD,
};

const T0: Duration = Duration::ZERO;

fn connecting() -> Connection<Data> {
    let mut ws = Connection::new("ws://example.com/", &[] as &[&str], Config::default(), T0).unwrap();
    assert!(matches!(ws.poll_transmit(), Some(Transmit::QueueForHost(_))));
    ws.handle_host_slot(T0).unwrap();
    assert!(matches!(ws.poll_transmit(), Some(Transmit::Connect { .. })));
    ws
}

fn open() -> Connection<Data> {
    let mut ws = connecting();
    ws.handle_open(T0, None, None).unwrap();
    assert_eq!(ws.poll_transmit(), Some(Transmit::ReleaseHost));
    assert_eq!(ws.poll_event(), Some(Event::Open));
    ws
}

fn drain_transmits(ws: &mut Connection<Data>) -> Vec<Transmit<Data>> {
    std::iter::from_fn(|| ws.poll_transmit()).collect()
}

#[test]
fn while_open_the_ping_goes_out_with_its_payload_after_what_was_sent_before() {
    let mut ws = open();
    ws.send(Data::Text("first".into())).unwrap();
    ws.ping(b"hello".to_vec()).unwrap();
    ws.ping(Vec::new()).unwrap();
    assert_eq!(
        drain_transmits(&mut ws),
        vec![
            Transmit::Message(Data::Text("first".into())),
            Transmit::Ping(b"hello".to_vec()),
            Transmit::Ping(Vec::new()),
        ]
    );
    // Not an event, not counted in bufferedAmount (it is not application data).
    assert_eq!(ws.buffered_amount(), 5);
    assert_eq!(ws.poll_event(), None);
}

#[test]
fn the_payload_may_have_125_bytes_and_no_more_in_every_state() {
    let mut ws = open();
    ws.ping(vec![b'x'; MAX_PING_PAYLOAD]).unwrap();
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Ping(vec![b'x'; 125])]);
    // 126 bytes after UTF-8 encoding: 63 two-byte characters.
    let long = "é".repeat(63).into_bytes();
    assert_eq!(ws.ping(long.clone()), Err(PingError::PayloadTooLong(126)));
    assert!(drain_transmits(&mut ws).is_empty());
    // Checked before the state, as close() checks its arguments first.
    let mut ws = connecting();
    assert_eq!(ws.ping(long), Err(PingError::PayloadTooLong(126)));
}

#[test]
fn connecting_is_an_invalid_state_and_changes_nothing() {
    let mut ws = connecting();
    let before = ws.clone();
    assert_eq!(
        ws.ping(b"p".to_vec()),
        Err(PingError::InvalidState(ReadyState::Connecting))
    );
    assert_eq!(ws, before);
    // The handshake succeeded, but the open event was not delivered: still CONNECTING.
    ws.handle_open(T0, None, None).unwrap();
    assert_eq!(
        ws.ping(b"p".to_vec()),
        Err(PingError::InvalidState(ReadyState::Connecting))
    );
}

#[test]
fn closing_and_closed_are_invalid_states() {
    let mut ws = open();
    ws.close(T0, None, None).unwrap();
    drain_transmits(&mut ws);
    assert_eq!(
        ws.ping(b"p".to_vec()),
        Err(PingError::InvalidState(ReadyState::Closing))
    );
    assert!(drain_transmits(&mut ws).is_empty());
    ws.handle_close_frame(T0, &[0x03, 0xe8]).unwrap();
    ws.handle_transport_closed(T0).unwrap();
    assert!(matches!(ws.poll_event(), Some(Event::Close(_))));
    assert_eq!(ws.ping(b"p".to_vec()), Err(PingError::InvalidState(ReadyState::Closed)));
    assert!(drain_transmits(&mut ws).is_empty());
}

// RFC 6455 §5.5.1: after our Close nothing more is sent. The peer's Close
// arrived (we reply at once) but its task has not run: readyState is still
// OPEN, so ping() succeeds, and the Ping is dropped like send()'s data.
#[test]
fn open_but_the_closing_handshake_started_on_the_wire_drops_the_ping() {
    let mut ws = open();
    ws.handle_close_frame(T0, &[0x03, 0xe8]).unwrap();
    assert!(matches!(drain_transmits(&mut ws)[..], [Transmit::Close(_)]));
    assert_eq!(ws.ready_state(), ReadyState::Open);
    assert_eq!(ws.ping(b"late".to_vec()), Ok(()));
    assert!(drain_transmits(&mut ws).is_empty());
    // The same once the transport was lost and the events wait.
    let mut ws = open();
    ws.handle_transport_closed(T0).unwrap();
    drain_transmits(&mut ws);
    assert_eq!(ws.ping(b"late".to_vec()), Ok(()));
    assert!(drain_transmits(&mut ws).is_empty());
}

#[test]
fn a_user_ping_leaves_the_keep_alive_timer_alone() {
    let config = Config {
        keep_alive: Some(KeepAlive {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        }),
        ..Config::default()
    };
    let mut ws = Connection::<Data>::new("ws://example.com/", &[] as &[&str], config, T0).unwrap();
    drain_transmits(&mut ws);
    ws.handle_host_slot(T0).unwrap();
    drain_transmits(&mut ws);
    ws.handle_open(T0, None, None).unwrap();
    ws.poll_event();
    drain_transmits(&mut ws);
    let deadline = ws.poll_timeout();
    ws.ping(b"mine".to_vec()).unwrap();
    assert_eq!(ws.poll_timeout(), deadline);
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Ping(b"mine".to_vec())]);
    // Keep-alive's own ping has an empty payload.
    ws.handle_timeout(Duration::from_secs(10));
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Ping(Vec::new())]);
}

#[test]
fn as_an_input_it_is_journalled_and_refused_like_the_method() {
    let mut ws = connecting();
    assert_eq!(
        ws.handle_input(T0, Input::Ping(b"p".to_vec())),
        Err(Refusal::Ping(PingError::InvalidState(ReadyState::Connecting)))
    );
    assert!(!Input::<Data>::Ping(Vec::new()).reads_clock());
    let mut ws = open();
    assert_eq!(ws.handle_input(T0, Input::Ping(b"p".to_vec())), Ok(()));
    assert_eq!(drain_transmits(&mut ws), vec![Transmit::Ping(b"p".to_vec())]);
}

#[test]
fn the_errors_say_what_to_do() {
    let e = PingError::InvalidState(ReadyState::Connecting).to_string();
    assert!(e.contains("OPEN"), "{e}");
    let e = PingError::PayloadTooLong(200).to_string();
    assert!(e.contains("125") && e.contains("200"), "{e}");
}
