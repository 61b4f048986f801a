//! Every way of driving the connection: the generated sessions of
//! `against_model`, each run with the connection driven by another party
//! (`wsapi_props::session::Driving`: a task waiting in `next_event()`, raw
//! polls in bursts, nobody until the end, a task waiting on a Sink's
//! flush, a second task taking every event with `next_events()`), and
//! every one checked against the model, the observations and the server's
//! log, and judged. Who drives must change who does the work, never what
//! is done: the same witnesses as `against_model` hold for each.
//!
//! `PROPTEST_CASES` raises the number of cases (default 128).

use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use wsapi_props::session::{case, driving, proptest_config, run_driven};

/// Cases run one at a time: the leak check counts every connection task.
static SERIAL: Mutex<()> = Mutex::new(());

fn config() -> ProptestConfig {
    proptest_config("driving", 128)
}

proptest! {
    #![proptest_config(config())]

    /// Whoever drives, every session is one the model allows.
    #[test]
    fn sessions_are_what_the_model_allows_whoever_drives(case in case(), driving in driving()) {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(why) = run_driven(&case, driving) {
            return Err(TestCaseError::fail(why));
        }
        prop_assert_eq!(wsapi::live_connections(), 0, "a connection task outlived its socket");
    }
}

/// A WebSocket to a `raw::serve_one` server (no compression offered), once
/// its open event was taken.
fn opened(url: &str) -> wsapi::WebSocket {
    let ws = wsapi::WebSocket::builder(&format!("{url}/"))
        .deflate(false)
        .connect()
        .expect("valid");
    let opened = wsapi::runtime::block_on(ws.next_event());
    assert_eq!(opened, Some(wsapi::Event::Open));
    ws
}

/// The payload of a client's frame with a one-byte payload (2 header
/// bytes, the 4-byte mask, the masked byte), unmasked.
fn one_byte_payload(frame: &[u8]) -> u8 {
    frame[6] ^ frame[2]
}

/// A burst whose sender then neither polls nor calls anything on the
/// socket still leaves whole: the first send is written through, and the
/// second wakes the connection's task, which writes it. (cargo-mutants:
/// with that wake-up dropped, the tail of a burst waited for the user's
/// next call, and every generated session made one, a wait or `close()`.)
#[test]
fn a_burst_leaves_while_nobody_polls_or_calls() {
    use std::io::Read;
    use std::time::Duration;
    let (url, server) = wsapi_props::raw::serve_one(|mut tcp| {
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        // Two masked one-byte text frames: 2 header bytes, 4 mask, 1 payload.
        let mut frames = [0u8; 14];
        tcp.read_exact(&mut frames)?;
        Ok::<_, std::io::Error>(frames)
    })
    .expect("server");
    let ws = opened(&url);
    ws.send("a").unwrap();
    ws.send("b").unwrap();
    // This thread only waits for the server now: the connection's task alone can write "b".
    let frames = server.join().expect("server thread").expect("upgrade");
    let frames = frames.expect("both frames arrive without another call");
    assert_eq!(
        (one_byte_payload(&frames[..7]), one_byte_payload(&frames[7..])),
        (b'a', b'b')
    );
    drop(ws);
}

/// A wait that is given up (its future dropped while it waited) hands the
/// socket's wake-ups back to the connection's task: a ping that arrives
/// afterwards, while nobody waits, is answered. (cargo-mutants: a `Wait`
/// that did not withdraw when dropped kept the wake-ups, and they went to a
/// task that had stopped polling.)
#[test]
fn a_wait_given_up_leaves_the_wake_ups_to_the_connections_task() {
    use futures::FutureExt;
    use std::io::{Read, Write};
    use std::time::Duration;
    let (opened_tx, opened_rx) = std::sync::mpsc::channel::<()>();
    let (url, server) = wsapi_props::raw::serve_one(move |mut tcp| {
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        // Ping only once the client's wait was given up.
        opened_rx.recv().map_err(std::io::Error::other)?;
        tcp.write_all(&[0x89, 0x01, b'p'])?;
        // The pong: 2 header bytes, 4 mask, 1 payload.
        let mut pong = [0u8; 7];
        tcp.read_exact(&mut pong)?;
        Ok::<_, std::io::Error>(pong)
    })
    .expect("server");
    let ws = opened(&url);
    // One poll: nothing is ready, so it waits (and takes the wake-ups); then it is dropped.
    assert_eq!(ws.next_event().now_or_never(), None);
    opened_tx.send(()).unwrap();
    let pong = server.join().expect("server thread").expect("upgrade");
    let pong = pong.expect("the ping is answered while nobody waits");
    assert_eq!((pong[0], one_byte_payload(&pong)), (0x8A, b'p'));
    drop(ws);
}
