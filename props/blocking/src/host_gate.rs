//! The process-wide host gate of the blocking client: the model's
//! [`HostGate`] behind a mutex, and a condition variable on which a
//! connection waiting for its host's slot sleeps (see
//! `wsapi_model::host_gate` for the rule).

use std::sync::{Condvar, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use wsapi_model::{HostGate, HostKey, Ticket};

static GATE: LazyLock<(Mutex<HostGate>, Condvar)> = LazyLock::new(Default::default);

fn gate() -> MutexGuard<'static, HostGate> {
    // Nothing under this lock panics; a poisoned lock still holds a consistent gate.
    GATE.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A connection's place in its host's queue; dropping it gives the slot
/// back or leaves the queue.
#[derive(Debug)]
pub(crate) struct HostSlot {
    key: HostKey,
    ticket: Ticket,
}

impl HostSlot {
    /// Joins `key`'s queue.
    pub(crate) fn queue(key: HostKey) -> HostSlot {
        let ticket = gate().queue(key.clone());
        HostSlot { key, ticket }
    }

    /// Whether this request holds the slot.
    pub(crate) fn held(&self) -> bool {
        gate().holds(&self.key, self.ticket)
    }

    /// Sleeps until the slot is held or `timeout` passed.
    pub(crate) fn wait_held(&self, timeout: Duration) {
        let guard = gate();
        let _ = GATE
            .1
            .wait_timeout_while(guard, timeout, |g| !g.holds(&self.key, self.ticket));
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        gate().release(&self.key, self.ticket);
        GATE.1.notify_all();
    }
}
