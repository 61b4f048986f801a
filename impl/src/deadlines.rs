//! The model's timers (connect timeout, closing timeout, keep-alive), for
//! every connection of the process, on one thread.
//!
//! Why not a runtime timer per connection: registering one wakes the
//! reactor's thread (async-io writes its eventfd on every insertion), and a
//! connection armed two (connect, then closing): two cross-thread wake-ups
//! per connection, whatever else it did. Here a deadline is an entry in a
//! sorted map; the thread sleeps until the earliest one, and is woken only
//! when a new deadline is earlier than the one it sleeps for. Withdrawing a
//! deadline never wakes it (at worst it wakes for nothing, and sleeps on).
//! Connections' deadlines mostly come in time order (each one's closing
//! timeout is later than the previous one's), so the thread is re-armed
//! about once per timeout period, not per connection.
//!
//! A deadline wakes the connection's [`std::task::Waker`] once it is due;
//! the driver then reads the model's clock and fires the model's timer.
//! The thread starts with the first deadline and lives as long as the
//! process (it sleeps while there is none).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Instant;

struct Service {
    state: Mutex<State>,
    /// Signalled when a deadline earlier than `State::sleeping_until` arrives.
    earlier: Condvar,
}

struct State {
    deadlines: BTreeMap<(Instant, u64), Waker>,
    /// What the thread sleeps for (`None`: no thread yet, or it waits for
    /// any deadline at all).
    sleeping_until: Option<Instant>,
    started: bool,
}

static SERVICE: Service = Service {
    state: Mutex::new(State {
        deadlines: BTreeMap::new(),
        sleeping_until: None,
        started: false,
    }),
    earlier: Condvar::new(),
};

static IDS: AtomicU64 = AtomicU64::new(0);

fn lock() -> MutexGuard<'static, State> {
    SERVICE.state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A registered deadline; dropping it withdraws it.
#[derive(Debug)]
pub(crate) struct Deadline {
    key: (Instant, u64),
}

impl Deadline {
    /// Wakes `waker` once `at` has passed.
    pub(crate) fn new(at: Instant, waker: &Waker) -> Deadline {
        let key = (at, IDS.fetch_add(1, Ordering::Relaxed));
        let mut state = lock();
        state.deadlines.insert(key, waker.clone());
        if !state.started {
            state.started = true;
            state.sleeping_until = Some(at);
            drop(state);
            // Waits until the thread runs (once per process), so that it
            // is named before anything can count it.
            let (started, running) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("wsapi-timers".to_string())
                .spawn(move || {
                    let _ = started.send(());
                    run()
                })
                .expect("cannot start wsapi's timer thread");
            let _ = running.recv();
            return Deadline { key };
        }
        if state.sleeping_until.is_none_or(|t| at < t) {
            state.sleeping_until = Some(at);
            SERVICE.earlier.notify_one();
        }
        Deadline { key }
    }

    /// When it is due.
    pub(crate) fn at(&self) -> Instant {
        self.key.0
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        lock().deadlines.remove(&self.key);
    }
}

/// The timer thread: wakes what is due, sleeps until the next.
fn run() {
    let mut state = lock();
    loop {
        let now = Instant::now();
        while let Some(entry) = state.deadlines.first_entry() {
            if entry.key().0 > now {
                break;
            }
            // Woken outside the lock (a waker may run code of its own).
            let waker = entry.remove();
            drop(state);
            waker.wake();
            state = lock();
        }
        let next = state.deadlines.first_key_value().map(|(k, _)| k.0);
        state.sleeping_until = next;
        state = match next {
            Some(at) => {
                let wait = at.saturating_duration_since(Instant::now());
                SERVICE
                    .earlier
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
            None => SERVICE.earlier.wait(state).unwrap_or_else(|p| p.into_inner()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::task::Wake;
    use std::time::Duration;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn wait_for(count: &Count, n: usize) {
        let limit = Instant::now() + Duration::from_secs(10);
        while count.0.load(Ordering::SeqCst) < n {
            assert!(Instant::now() < limit, "a deadline never fired");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn deadlines_fire_once_due_in_order_and_withdrawn_ones_never() {
        let early = Arc::new(Count(AtomicUsize::new(0)));
        let late = Arc::new(Count(AtomicUsize::new(0)));
        let withdrawn = Arc::new(Count(AtomicUsize::new(0)));
        let now = Instant::now();
        // Later first: the earlier one must re-arm the sleeping thread.
        let b = Deadline::new(now + Duration::from_millis(60), &Waker::from(late.clone()));
        let a = Deadline::new(now + Duration::from_millis(20), &Waker::from(early.clone()));
        // Withdrawn long before it is due: its waker is let go at once.
        let gone = Deadline::new(now + Duration::from_secs(3600), &Waker::from(withdrawn.clone()));
        assert_eq!(Arc::strong_count(&withdrawn), 2);
        drop(gone);
        assert_eq!(Arc::strong_count(&withdrawn), 1);
        wait_for(&early, 1);
        assert!(Instant::now() >= a.at());
        wait_for(&late, 1);
        assert!(Instant::now() >= b.at());
        assert_eq!(early.0.load(Ordering::SeqCst), 1, "fired once");
    }
}
