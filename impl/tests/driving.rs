//! The connection driven by the user's tasks under load: a reader task
//! waiting in `next_events()` while another task sends a pipelined burst
//! (the shape of the throughput benchmark), round trips from one task, and
//! a Sink that writes while it waits. Each must deliver every echo, in
//! order, and end by itself: a lost request between the parties that drive
//! (a write-only pass that used up a reader's request) stalls the socket,
//! and these find it where the generated sessions, with a few messages
//! each, rarely do.

mod support;

use futures::channel::oneshot;
use futures::SinkExt;
use support::{echo_server, events_until_close, with_limit};
use wsapi::runtime::{block_on, spawn};
use wsapi::{Event, Message, WebSocket};

const BURST: usize = 50_000;

async fn open(base: &str) -> WebSocket {
    let ws = WebSocket::builder(&format!("{base}/driving"))
        .deflate(false)
        .connect()
        .unwrap();
    assert_eq!(with_limit(ws.next_event()).await, Some(Event::Open));
    ws
}

/// A reader task takes `n` echoes with `next_events()`, checking their
/// order; returns how many it got.
fn reader(ws: &WebSocket, n: usize) -> oneshot::Receiver<usize> {
    let (done, finished) = oneshot::channel();
    let handle = ws.handle();
    spawn(async move {
        let mut events = Vec::new();
        let mut got = 0;
        while got < n && handle.next_events(&mut events, 256).await > 0 {
            for e in events.drain(..) {
                if let Event::Message(m) = e {
                    assert_eq!(m.data.as_text(), Some(format!("{got}").as_str()), "echoes out of order");
                    got += 1;
                }
            }
        }
        let _ = done.send(got);
    });
    finished
}

#[test]
fn a_pipelined_burst_is_echoed_whole_while_another_task_reads() {
    block_on(async {
        let base = echo_server().await;
        let ws = open(&base).await;
        let finished = reader(&ws, BURST);
        for i in 0..BURST {
            ws.send(format!("{i}")).unwrap();
        }
        assert_eq!(with_limit(finished).await, Ok(BURST));
        ws.close(Some(1000), None).unwrap();
        assert!(matches!(events_until_close(&ws).await.last(), Some(Event::Close(c)) if c.was_clean));
    });
}

#[test]
fn a_burst_through_the_sink_is_echoed_whole() {
    block_on(async {
        let base = echo_server().await;
        let ws = open(&base).await;
        let finished = reader(&ws, BURST);
        let mut sink = ws.sink(64 * 1024);
        for i in 0..BURST {
            with_limit(sink.feed(Message::from(format!("{i}")))).await.unwrap();
        }
        with_limit(sink.flush()).await.unwrap();
        assert_eq!(with_limit(finished).await, Ok(BURST));
    });
}

#[test]
fn round_trips_from_one_task_each_get_their_echo() {
    block_on(async {
        let base = echo_server().await;
        let ws = open(&base).await;
        for i in 0..5_000 {
            ws.send(format!("{i}")).unwrap();
            match with_limit(ws.next_event()).await {
                Some(Event::Message(m)) => assert_eq!(m.data.as_text(), Some(format!("{i}").as_str())),
                other => panic!("{other:?}"),
            }
        }
    });
}

/// A 16-byte payload that records the thread that drops it.
struct Recorded {
    bytes: [u8; 16],
    dropped_on: std::sync::Arc<std::sync::Mutex<Option<std::thread::ThreadId>>>,
}

impl AsRef<[u8]> for Recorded {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        *self.dropped_on.lock().unwrap() = Some(std::thread::current().id());
    }
}

/// A small message's payload, once written, is dropped by the sender's
/// next `send()` on the sender's thread, not by whichever party wrote it
/// (`Encoder::take_spent`: a payload the user cloned shares its reference
/// count with the user's copy, and dropping it on another core moved that
/// count between cores for every message).
#[test]
fn a_written_payload_is_dropped_by_the_next_send_on_the_senders_thread() {
    block_on(async {
        let base = echo_server().await;
        let ws = open(&base).await;
        let dropped_on = std::sync::Arc::default();
        let payload = bytes::Bytes::from_owner(Recorded {
            bytes: *b"0123456789abcdef",
            dropped_on: std::sync::Arc::clone(&dropped_on),
        });
        ws.send(Message::from(payload)).unwrap();
        // Its echo proves it was written (the writer accounts for it in the
        // pass that wrote it, before any party can read the echo).
        match with_limit(ws.next_event()).await {
            Some(Event::Message(m)) => assert_eq!(m.data, Message::from(b"0123456789abcdef".to_vec())),
            other => panic!("{other:?}"),
        }
        assert_eq!(*dropped_on.lock().unwrap(), None, "held for the sender");
        ws.send("next").unwrap();
        assert_eq!(*dropped_on.lock().unwrap(), Some(std::thread::current().id()));
        ws.close(None, None).unwrap();
        events_until_close(&ws).await;
    });
}
