//! The process-wide host gate: one connection in CONNECTING per host and
//! port (RFC 6455 §4.1, client requirement 2).
//!
//! The rule and the queue are the model's ([`wsapi_model::HostGate`]); this
//! module only shares one gate between every connection of the process
//! (browsers apply the rule process-wide) and wakes the driver of the
//! connection that the gate admits next. A [`HostSlot`] is one request:
//! dropping it gives the slot back or leaves the queue, so a driver that
//! ends for any reason (the model's `ReleaseHost`, the task dropped) never
//! keeps a host blocked.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use wsapi_model::{HostGate, HostKey, Ticket};

#[derive(Default)]
struct Gate {
    gate: HostGate,
    /// The drivers waiting for their ticket to be admitted.
    wakers: HashMap<Ticket, Waker>,
}

static GATE: LazyLock<Mutex<Gate>> = LazyLock::new(Mutex::default);

fn gate() -> MutexGuard<'static, Gate> {
    // Nothing under this lock panics; a poisoned lock still holds a consistent gate.
    GATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A connection's place in its host's queue (see the module docs).
#[derive(Debug)]
pub(crate) struct HostSlot {
    key: HostKey,
    ticket: Ticket,
}

impl HostSlot {
    /// Joins `key`'s queue.
    pub(crate) fn queue(key: HostKey) -> HostSlot {
        let ticket = gate().gate.queue(key.clone());
        HostSlot { key, ticket }
    }

    /// Ready once this request holds the slot.
    pub(crate) fn poll_held(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut gate = gate();
        if gate.gate.holds(&self.key, self.ticket) {
            gate.wakers.remove(&self.ticket);
            return Poll::Ready(());
        }
        gate.wakers.insert(self.ticket, cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        let next = {
            let mut gate = gate();
            gate.wakers.remove(&self.ticket);
            let next = gate.gate.release(&self.key, self.ticket);
            next.and_then(|t| gate.wakers.remove(&t))
        };
        // Woken outside the lock: the woken driver may take it at once.
        if let Some(waker) = next {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_next_request_is_woken_when_the_holder_goes() {
        // A host no other test uses: the gate is process-wide.
        let key = HostKey {
            host: "host-gate.unit.test".into(),
            port: 1,
        };
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let first = HostSlot::queue(key.clone());
        let second = HostSlot::queue(key.clone());
        let third = HostSlot::queue(key.clone());
        assert!(first.poll_held(&mut cx).is_ready());
        assert!(second.poll_held(&mut cx).is_pending());
        assert!(third.poll_held(&mut cx).is_pending());
        // A waiter leaving wakes nobody; the holder leaving wakes the next.
        drop(third);
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        drop(first);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(second.poll_held(&mut cx).is_ready());
        drop(second);
        assert_eq!(gate().gate.pending(&key), 0);
    }
}
