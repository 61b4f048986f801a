//! Keep-alive: detecting a dead peer. **Ours, not the standard's**: the
//! WHATWG API has no keep-alive (browsers leave it to the network stack),
//! so it is off by default ([`crate::Config::keep_alive`] is `None`) and
//! browser parity is untouched.
//!
//! With it on, once the connection is established: after `interval` with
//! nothing received, the model asks for a Ping frame
//! ([`crate::Transmit::Ping`]); if nothing at all arrives within `timeout`
//! after that, it fails the connection with
//! [`crate::FailReason::KeepAliveTimeout`] (error, then close 1006). Any
//! frame counts as a sign of life (a pong, but also a message or the
//! peer's own ping), so a busy connection never pings: the driver reports
//! frames with [`crate::Connection::handle_received`] (at least once per
//! batch it reads, with the time). It stops once the closing handshake
//! starts (the closing timeout bounds that phase).
//!
//! A driver that stops reading because the peer does not read what it
//! writes (its replies to the peer's pings pile up) says so with
//! [`crate::Connection::handle_read_stalled`], and reports progress of its
//! writes during the stall as a sign of life: the silence is then the
//! driver's own, and a peer that reads is alive. If nothing is heard and
//! no write progressed, the failure is [`crate::FailReason::KeepAliveStalled`]
//! (the server kept sending but read nothing), not `KeepAliveTimeout`.
//!
//! # A ping the caller asks for
//!
//! [`crate::Connection::ping`] (also ours) sends a Ping frame with the
//! caller's payload (at most 125 bytes, RFC 6455 §5.5) while `readyState`
//! is OPEN, and is refused with a typed [`crate::PingError`] otherwise,
//! whether or not keep-alive is on. It does not touch the keep-alive
//! timer: only what is heard does, so its Pong, like any frame, counts as
//! a sign of life. Both kinds go out as [`crate::Transmit::Ping`], with an
//! empty payload for keep-alive's.
//!
//! # Why the timer is lazy
//!
//! The deadline only moves when it fires or when a ping is answered:
//! receiving a frame records the time it was heard, and the fire re-arms
//! the timer from the last time heard if that is later. A driver that
//! re-arms its sleep whenever [`crate::Connection::poll_timeout`] changes
//! thus re-arms it about once per interval, not once per message. Whether to fail is decided by the
//! flag ("anything since the ping?"), never by comparing times, so a driver
//! that reports receipts with a slightly stale clock can make a ping go
//! out early, never a live connection fail.

use core::time::Duration;

use crate::connection::Time;

/// Keep-alive settings (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeepAlive {
    /// Send a ping after this long with nothing received.
    pub interval: Duration,
    /// Fail the connection if nothing arrives this long after the ping.
    pub timeout: Duration,
}

/// What a fired keep-alive timer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeepAliveDue {
    /// Not due yet, or re-armed from a later receipt.
    Nothing,
    /// Send a ping; the reply timeout is now armed.
    Ping,
    /// Nothing arrived since the ping, within the timeout: fail.
    Fail,
}

/// The keep-alive timer of one established connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct KeepAliveTimer {
    config: KeepAlive,
    /// When a frame was last heard (as reported; never moves backwards).
    last_heard: Time,
    /// A ping is out and nothing was heard since it was asked for.
    awaiting_reply: bool,
    /// The next time [`Self::on_timeout`] has something to decide.
    deadline: Time,
}

impl KeepAliveTimer {
    /// Starts the idle interval at `now` (the connection was established).
    pub fn start(config: KeepAlive, now: Time) -> Self {
        KeepAliveTimer {
            config,
            last_heard: now,
            awaiting_reply: false,
            deadline: now.saturating_add(config.interval),
        }
    }

    /// A frame arrived at `now`. Moves the deadline only if it answers a
    /// ping (the next one is then due an interval later, not when the
    /// reply timeout would have fired): once per ping, not per frame.
    pub fn heard(&mut self, now: Time) {
        self.last_heard = self.last_heard.max(now);
        if self.awaiting_reply {
            self.awaiting_reply = false;
            self.deadline = self.last_heard.saturating_add(self.config.interval);
        }
    }

    /// A data message arrived, time not read (messages are on the hot path:
    /// the driver reports the time of a batch with `heard`). It answers a
    /// pending ping; only `heard` postpones the next one.
    pub fn heard_message(&mut self) {
        self.awaiting_reply = false;
    }

    /// When [`Self::on_timeout`] must next be called.
    pub fn deadline(&self) -> Time {
        self.deadline
    }

    /// The time is `now`: ping, fail, or re-arm.
    pub fn on_timeout(&mut self, now: Time) -> KeepAliveDue {
        if now < self.deadline {
            return KeepAliveDue::Nothing;
        }
        if self.awaiting_reply {
            return KeepAliveDue::Fail;
        }
        let idle_until = self.last_heard.saturating_add(self.config.interval);
        if now < idle_until {
            // Heard since the timer was armed: idle only from then.
            self.deadline = idle_until;
            return KeepAliveDue::Nothing;
        }
        self.awaiting_reply = true;
        self.deadline = now.saturating_add(self.config.timeout);
        KeepAliveDue::Ping
    }
}

#[cfg(test)]
mod tests {
    //! Keep-alive is this crate's extension, not a rule of the WHATWG
    //! standard or RFC 6455 (which only says a Ping MAY be sent, §5.5.2).
    use super::*;

    const KA: KeepAlive = KeepAlive {
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(5),
    };

    fn secs(s: u64) -> Time {
        Duration::from_secs(s)
    }

    #[test]
    fn a_silent_peer_is_pinged_after_the_interval_then_failed_after_the_timeout() {
        let mut t = KeepAliveTimer::start(KA, secs(0));
        assert_eq!(t.deadline(), secs(10));
        assert_eq!(t.on_timeout(secs(9)), KeepAliveDue::Nothing);
        assert_eq!(t.on_timeout(secs(10)), KeepAliveDue::Ping);
        assert_eq!(t.deadline(), secs(15));
        assert_eq!(t.on_timeout(secs(14)), KeepAliveDue::Nothing);
        assert_eq!(t.on_timeout(secs(15)), KeepAliveDue::Fail);
    }

    #[test]
    fn a_reply_to_the_ping_keeps_the_connection() {
        let mut t = KeepAliveTimer::start(KA, secs(0));
        assert_eq!(t.on_timeout(secs(10)), KeepAliveDue::Ping);
        t.heard(secs(12));
        // Answered: the next ping is an interval after the reply.
        assert_eq!(t.deadline(), secs(22));
        assert_eq!(t.on_timeout(secs(15)), KeepAliveDue::Nothing);
        assert_eq!(t.on_timeout(secs(22)), KeepAliveDue::Ping);
    }

    #[test]
    fn receipts_do_not_move_the_deadline_until_it_fires() {
        let mut t = KeepAliveTimer::start(KA, secs(0));
        t.heard(secs(3));
        t.heard(secs(7));
        assert_eq!(t.deadline(), secs(10), "a receipt must not re-arm the timer");
        assert_eq!(t.on_timeout(secs(10)), KeepAliveDue::Nothing);
        assert_eq!(t.deadline(), secs(17));
    }

    #[test]
    fn a_stale_receipt_time_cannot_fail_a_live_connection() {
        let mut t = KeepAliveTimer::start(KA, secs(0));
        assert_eq!(t.on_timeout(secs(10)), KeepAliveDue::Ping);
        // Reported with a clock read before the ping: still a reply.
        t.heard(secs(1));
        // Idle since 1 by the stale clock: an early ping, not a failure.
        assert_eq!(t.on_timeout(secs(15)), KeepAliveDue::Ping);
    }
}
