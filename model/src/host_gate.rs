//! One connection in CONNECTING per host and port (RFC 6455 §4.1, client
//! requirement 2; WHATWG "obtain a WebSocket connection").
//!
//! RFC 6455: "there MUST be no more than one connection in a CONNECTING
//! state"; a second connection to the same remote host waits until the
//! first is established or has failed. The RFC keys this by IP address;
//! the address is only known once the driver resolves the name inside its
//! connect, so the key here is the URL's **host and port** ([`HostKey`]),
//! as the RFC prescribes when the address cannot be determined: "the client
//! MUST assume for the purposes of this step that each host name refers to
//! a distinct remote host". The scheme is not part of the key:
//! `ws://h:443` and `wss://h:443` reach the same remote.
//!
//! Two halves, both pure:
//!
//! * each [`Connection`](crate::Connection) asks for its host's slot before
//!   connecting ([`Transmit::QueueForHost`](crate::Transmit::QueueForHost)),
//!   connects only once the driver reports the slot held
//!   ([`Connection::handle_host_slot`](crate::Connection::handle_host_slot)),
//!   and gives the slot back
//!   ([`Transmit::ReleaseHost`](crate::Transmit::ReleaseHost)) as soon as it
//!   leaves CONNECTING: established, failed, timed out, or abandoned by
//!   `close()`;
//! * a [`HostGate`], shared by all the connections of a process (the driver
//!   puts it behind a lock), queues the requests per key in order and
//!   admits one at a time.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::{String, ToString};
use url::Url;

/// The remote a connection counts against: host (as the URL serialises it,
/// so already lowercased, IPv6 in brackets) and port (the scheme's default
/// when the URL has none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostKey {
    /// The host.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl HostKey {
    /// The key of a `ws:`/`wss:` URL (`None` without a host or port).
    ///
    /// ```
    /// use wsapi_model::{HostKey, Url};
    /// let a = HostKey::of(&Url::parse("ws://Example.com/a").unwrap()).unwrap();
    /// let b = HostKey::of(&Url::parse("ws://example.com:80/b").unwrap()).unwrap();
    /// assert_eq!(a, b);
    /// ```
    pub fn of(url: &Url) -> Option<HostKey> {
        Some(HostKey {
            host: url.host_str()?.to_string(),
            port: url.port_or_known_default()?,
        })
    }
}

/// One request for a host's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(u64);

/// The per-host queues of one process: the first ticket of a key's queue
/// holds the slot (its connection may be CONNECTING), the others wait.
///
/// ```
/// use wsapi_model::{HostGate, HostKey};
/// let key = HostKey { host: "example.com".into(), port: 80 };
/// let mut gate = HostGate::default();
/// let first = gate.queue(key.clone());
/// let second = gate.queue(key.clone());
/// assert!(gate.holds(&key, first) && !gate.holds(&key, second));
/// assert_eq!(gate.release(&key, first), Some(second));
/// assert!(gate.holds(&key, second));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct HostGate {
    queues: BTreeMap<HostKey, VecDeque<Ticket>>,
    next: u64,
}

impl HostGate {
    /// Queues a request for `key`'s slot; it holds the slot at once if no
    /// other request for `key` is pending.
    pub fn queue(&mut self, key: HostKey) -> Ticket {
        let ticket = Ticket(self.next);
        self.next = self.next.wrapping_add(1);
        self.queues.entry(key).or_default().push_back(ticket);
        ticket
    }

    /// Whether `ticket` holds `key`'s slot.
    pub fn holds(&self, key: &HostKey, ticket: Ticket) -> bool {
        self.queues.get(key).and_then(|q| q.front()) == Some(&ticket)
    }

    /// Withdraws `ticket` (a holder frees the slot, a waiter leaves the
    /// queue); returns the ticket that now holds the slot, if that changed.
    /// Releasing an unknown ticket changes nothing.
    pub fn release(&mut self, key: &HostKey, ticket: Ticket) -> Option<Ticket> {
        let queue = self.queues.get_mut(key)?;
        let was_holder = queue.front() == Some(&ticket);
        queue.retain(|t| *t != ticket);
        let next = queue.front().copied();
        if queue.is_empty() {
            self.queues.remove(key);
        }
        if was_holder {
            next
        } else {
            None
        }
    }

    /// Requests pending for `key` (the holder included).
    pub fn pending(&self, key: &HostKey) -> usize {
        self.queues.get(key).map_or(0, VecDeque::len)
    }
}
