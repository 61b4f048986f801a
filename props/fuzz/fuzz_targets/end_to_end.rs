//! End to end: a loopback server accepts the upgrade with a valid 101
//! response, writes the fuzz bytes as they are, then closes TCP; the real
//! client (public API only) reads them.
//!
//! Checked: no panic, the session ends by itself (closing timeout 200 ms,
//! and a 10 s watchdog turns a hang into a crash), the events come in the
//! standard's order (open first, error only right before close, close
//! exactly once and last), readyState is CLOSED at the end, and the
//! connection's task has ended.
#![no_main]

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wsapi::runtime::block_on;
use wsapi::{Event, ReadyState, WebSocket};
use wsapi_props::raw::Listener;

/// One listener for the whole run (see [`Listener`]: a listener per run
/// exhausted the loopback's ports after about 28,000 runs).
fn listener() -> &'static Listener {
    static LISTENER: std::sync::OnceLock<Listener> = std::sync::OnceLock::new();
    LISTENER.get_or_init(|| Listener::start().expect("bind 127.0.0.1:0"))
}

fuzz_target!(|data: &[u8]| {
    let bytes = data.to_vec();
    let (url, server) = listener().serve(move |mut tcp| {
        let _ = tcp.write_all(&bytes);
        let _ = tcp.shutdown(Shutdown::Write);
        // Read what the client sends until it closes, so that our close is
        // a FIN, not a reset that could drop the bytes above.
        let _ = std::io::copy(&mut tcp, &mut std::io::sink());
    });
    let ws = WebSocket::builder(&url)
        .closing_timeout(Duration::from_millis(200))
        .connect_timeout(Duration::from_secs(5))
        .max_message_size(Some(1 << 20))
        .connect()
        .expect("valid URL");
    let events = block_on(async {
        let collect = async {
            let mut out = Vec::new();
            while let Some(e) = ws.next_event().await {
                if let Event::Message(m) = &e {
                    // Answer as an echo client would: exercises the write side.
                    let _ = ws.send(m.data.clone());
                }
                out.push(e.type_name());
            }
            out
        };
        let watchdog = wsapi::runtime::sleep(Duration::from_secs(10));
        match futures::future::select(Box::pin(collect), watchdog).await {
            futures::future::Either::Left((events, _)) => events,
            futures::future::Either::Right(_) => panic!("the session did not end within 10 s"),
        }
    });
    assert_eq!(events.last(), Some(&"close"), "{events:?}");
    assert_eq!(events.iter().filter(|e| **e == "close").count(), 1, "{events:?}");
    if let Some(i) = events.iter().position(|e| *e == "open") {
        assert_eq!(i, 0, "{events:?}");
    }
    if let Some(i) = events.iter().position(|e| *e == "error") {
        assert_eq!(i, events.len() - 2, "{events:?}");
    }
    assert_eq!(ws.ready_state(), ReadyState::Closed);
    drop(ws);
    // The server's side ends once the client's connection is closed.
    let _ = server.finish(Duration::from_secs(10));
});
