//! No socket's handlers can starve another's: 1,000 handler-mode sockets
//! whose `on_open` blocks, then one more whose handlers return at once.
//! The last one must get its open, message and close events while the
//! 1,000 are still blocked (a runtime's blocking pool, capped at 500 or
//! 512 threads, never ran them: its handlers waited for a blocked one).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use support::{echo_server, with_limit, LIMIT};
use wsapi::runtime::{block_on, sleep};
use wsapi::WebSocket;

const BLOCKED: usize = 1_000;

/// Holds the blocked handlers until the test lets them go.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        // Bounded, so that a failing test still ends.
        let deadline = Instant::now() + LIMIT * 3;
        while !*open && Instant::now() < deadline {
            open = self.opened.wait_timeout(open, Duration::from_millis(100)).unwrap().0;
        }
    }

    fn release(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

#[test]
fn blocked_handlers_of_other_sockets_never_delay_a_prompt_socket() {
    block_on(async {
        let base = echo_server().await;
        let gate = Arc::new(Gate::default());
        let entered = Arc::new(AtomicUsize::new(0));
        let mut blocked = Vec::with_capacity(BLOCKED);
        for i in 0..BLOCKED {
            let (gate, entered) = (gate.clone(), entered.clone());
            let ws = WebSocket::builder(&format!("{base}/blocked/{i}"))
                .on_open(move |_| {
                    entered.fetch_add(1, Ordering::SeqCst);
                    gate.wait();
                })
                .connect()
                .unwrap();
            blocked.push(ws);
        }
        // Every blocked handler is running (holding a thread) before the
        // prompt socket starts.
        with_limit(async {
            while entered.load(Ordering::SeqCst) < BLOCKED {
                sleep(Duration::from_millis(5)).await;
            }
        })
        .await;

        let events = Arc::new(Mutex::new(Vec::new()));
        let (e1, e2, e3) = (events.clone(), events.clone(), events.clone());
        let started = Instant::now();
        let prompt = WebSocket::builder(&format!("{base}/prompt"))
            .on_open(move |ws| {
                e1.lock().unwrap().push("open");
                ws.send("hi").unwrap();
            })
            .on_message(move |ws, _| {
                e2.lock().unwrap().push("message");
                ws.close(Some(1000), None).unwrap();
            })
            .on_close(move |_, _| e3.lock().unwrap().push("close"))
            .connect()
            .unwrap();
        // next_event() ends once the close event was delivered.
        let ended = futures::future::select(Box::pin(prompt.next_event()), sleep(LIMIT)).await;
        let took = started.elapsed();
        let still_blocked = !*gate.open.lock().unwrap();
        gate.release();
        assert!(
            matches!(ended, futures::future::Either::Left((None, _))),
            "no close event within {LIMIT:?}"
        );
        assert!(still_blocked);
        assert_eq!(*events.lock().unwrap(), ["open", "message", "close"]);
        // A figure, not a verdict (timing is never asserted).
        println!("the prompt socket's open, message and close, with {BLOCKED} blocked sockets: {took:?}");
        drop(blocked);
    });
}
