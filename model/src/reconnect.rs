//! Reconnecting: when to open a new connection after one ended. An
//! extension of ours, not the browser's (a browser `WebSocket` never
//! reconnects; every page that wants it writes the loop itself, and loops
//! written by hand retry too fast, forever, or after the user closed).
//!
//! [`Reconnect`] is a pure state machine driven by the connection's life
//! (started, opened, closed), the user's close, and the time: it says
//! when to connect again, or that it will not. Each attempt is a fresh
//! connection; nothing of the previous one carries over. The policy
//! ([`ReconnectPolicy`]):
//!
//! - exponential backoff: the n-th consecutive retry waits
//!   `min(max_delay, initial_delay * multiplier^(n-1))`, less a random
//!   part of at most `jitter_permille`/1000 of it (so that many clients
//!   that lost the same server do not all come back at once);
//! - a connection that stayed open `stable_after` resets the count;
//! - what retries: a connection that failed before opening
//!   (`retry_failed_connect`), and a close with one of `retry_codes`
//!   (1006, the abnormal closure, among them by default);
//! - `max_attempts` consecutive retries at most (`None`: no limit);
//! - never after the user's own close: [`Reconnect::close_requested`]
//!   stops it for good.
//!
//! The randomness is an input (`random`, any `u32`), so the machine stays
//! deterministic and testable.

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use crate::connection::Time;

/// When and why to reconnect. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReconnectPolicy {
    /// The wait before the first retry (default 1 s).
    pub initial_delay: Duration,
    /// No wait is longer (default 30 s).
    pub max_delay: Duration,
    /// Each consecutive retry waits this many times longer (default 2;
    /// 0 is taken as 1).
    pub multiplier: u32,
    /// Up to this many thousandths of each wait are taken off at random
    /// (default 500: a wait `d` is drawn from `[d/2, d]`; at most 1000).
    pub jitter_permille: u16,
    /// A connection open at least this long resets the backoff (default 30 s).
    pub stable_after: Duration,
    /// At most this many consecutive retries (default `None`: no limit).
    pub max_attempts: Option<u32>,
    /// Close codes after which to reconnect (default 1001 going away, 1006
    /// abnormal closure, 1011 server error, 1012 service restart, 1013 try
    /// again later, 1014 bad gateway). 1000, a policy violation (1008) or
    /// a protocol error (1002) do not retry unless listed here.
    pub retry_codes: Vec<u16>,
    /// Reconnect when a connection failed before it opened (default true).
    pub retry_failed_connect: bool,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            multiplier: 2,
            jitter_permille: 500,
            stable_after: Duration::from_secs(30),
            max_attempts: None,
            retry_codes: vec![1001, 1006, 1011, 1012, 1013, 1014],
            retry_failed_connect: true,
        }
    }
}

impl ReconnectPolicy {
    /// The wait before the `n`-th consecutive retry (`n` from 1), before
    /// jitter: `min(max_delay, initial_delay * multiplier^(n-1))`.
    pub fn backoff(&self, n: u32) -> Duration {
        let mut delay = self.initial_delay.min(self.max_delay);
        for _ in 1..n {
            delay = delay.saturating_mul(self.multiplier.max(1));
            if delay >= self.max_delay {
                return self.max_delay;
            }
        }
        delay
    }

    /// The shortest wait the `n`-th retry may have: its backoff less the
    /// most jitter takes off.
    pub fn min_delay(&self, n: u32) -> Duration {
        let delay = self.backoff(n);
        delay - self.jitter_of(delay, u32::MAX)
    }

    /// What jitter takes off `delay` for a `random` draw (`u32::MAX`: the most).
    fn jitter_of(&self, delay: Duration, random: u32) -> Duration {
        let permille = u128::from(self.jitter_permille.min(1000));
        let nanos = delay.as_nanos() * permille / 1000 * u128::from(random) / u128::from(u32::MAX);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// Why [`Reconnect`] will not connect again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// The user closed the connection (or asked to stop): never again.
    UserClosed,
    /// The connection closed with a code not in `retry_codes`.
    NotRetried(u16),
    /// The connection failed before opening, and `retry_failed_connect` is off.
    FailedConnect,
    /// `max_attempts` consecutive retries were made.
    GaveUp {
        /// The retries made.
        attempts: u32,
    },
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Open a new connection (then report [`Reconnect::opened`] and
    /// [`Reconnect::closed`] for it).
    Connect,
    /// Connect at this time ([`Reconnect::poll`] says when it has come).
    WaitUntil(Time),
    /// Do not connect again.
    Stop(StopReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum State {
    Idle,
    Connecting,
    Open { since: Time },
    Waiting { until: Time },
    Stopped(StopReason),
}

/// The reconnecting state machine. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reconnect {
    policy: ReconnectPolicy,
    state: State,
    /// Consecutive retries since the last stable connection.
    retries: u32,
}

impl Reconnect {
    /// A machine that has not connected yet.
    pub fn new(policy: ReconnectPolicy) -> Reconnect {
        Reconnect {
            policy,
            state: State::Idle,
            retries: 0,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &ReconnectPolicy {
        &self.policy
    }

    /// Consecutive retries since the last stable connection.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The first connection: [`Decision::Connect`], unless stopped already.
    pub fn start(&mut self) -> Decision {
        match self.state {
            State::Idle => {
                self.state = State::Connecting;
                Decision::Connect
            }
            State::Stopped(why) => Decision::Stop(why),
            // Already running: nothing new to do.
            State::Connecting | State::Open { .. } => Decision::Connect,
            State::Waiting { until } => Decision::WaitUntil(until),
        }
    }

    /// The current connection opened at `now`.
    pub fn opened(&mut self, now: Time) {
        if self.state == State::Connecting {
            self.state = State::Open { since: now };
        }
    }

    /// The current connection ended at `now` with `code` (1006 for a
    /// connection that failed or was lost). `random` is any `u32`, drawn
    /// anew each time: the jitter.
    pub fn closed(&mut self, now: Time, code: u16, random: u32) -> Decision {
        let opened_since = match self.state {
            State::Stopped(why) => return Decision::Stop(why),
            State::Connecting => None,
            State::Open { since } => Some(since),
            // Not connected: nothing closed.
            State::Idle => return self.start(),
            State::Waiting { until } => return Decision::WaitUntil(until),
        };
        if let Some(since) = opened_since {
            if now.saturating_sub(since) >= self.policy.stable_after {
                self.retries = 0;
            }
        }
        let retry = match opened_since {
            None => self.policy.retry_failed_connect,
            Some(_) => self.policy.retry_codes.contains(&code),
        };
        if !retry {
            return self.stop(match opened_since {
                None => StopReason::FailedConnect,
                Some(_) => StopReason::NotRetried(code),
            });
        }
        if self.policy.max_attempts.is_some_and(|max| self.retries >= max) {
            return self.stop(StopReason::GaveUp { attempts: self.retries });
        }
        self.retries += 1;
        let delay = self.policy.backoff(self.retries);
        let until = now.saturating_add(delay - self.policy.jitter_of(delay, random));
        self.state = State::Waiting { until };
        Decision::WaitUntil(until)
    }

    /// The user closed the connection (or asked to stop reconnecting): no
    /// connection is ever opened again.
    pub fn close_requested(&mut self) {
        self.state = State::Stopped(StopReason::UserClosed);
    }

    /// At `now`: [`Decision::Connect`] once the wait is over (the machine
    /// then counts a connection in progress), else what still holds.
    pub fn poll(&mut self, now: Time) -> Decision {
        match self.state {
            State::Waiting { until } if now >= until => {
                self.state = State::Connecting;
                Decision::Connect
            }
            State::Waiting { until } => Decision::WaitUntil(until),
            State::Stopped(why) => Decision::Stop(why),
            State::Idle => self.start(),
            State::Connecting | State::Open { .. } => Decision::Connect,
        }
    }

    /// Why it stopped, once it has.
    pub fn stopped(&self) -> Option<StopReason> {
        match self.state {
            State::Stopped(why) => Some(why),
            _ => None,
        }
    }

    fn stop(&mut self, why: StopReason) -> Decision {
        self.state = State::Stopped(why);
        Decision::Stop(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = ReconnectPolicy::default();
        let waits: Vec<u64> = (1..=7).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(p.min_delay(1), Duration::from_millis(500));
        assert_eq!(p.backoff(u32::MAX), secs(30));
    }

    #[test]
    fn a_lost_connection_waits_and_a_user_close_stops_for_good() {
        let mut r = Reconnect::new(ReconnectPolicy {
            jitter_permille: 0,
            ..ReconnectPolicy::default()
        });
        assert_eq!(r.start(), Decision::Connect);
        r.opened(secs(0));
        assert_eq!(r.closed(secs(5), 1006, 7), Decision::WaitUntil(secs(6)));
        assert_eq!(r.poll(Duration::from_millis(5999)), Decision::WaitUntil(secs(6)));
        assert_eq!(r.poll(secs(6)), Decision::Connect);
        // Failed before opening: the second retry waits twice as long.
        assert_eq!(r.closed(secs(7), 1006, 7), Decision::WaitUntil(secs(9)));
        r.close_requested();
        assert_eq!(r.poll(secs(100)), Decision::Stop(StopReason::UserClosed));
        assert_eq!(r.start(), Decision::Stop(StopReason::UserClosed));
    }

    #[test]
    fn a_stable_connection_resets_the_backoff_and_unlisted_codes_stop() {
        let mut r = Reconnect::new(ReconnectPolicy {
            jitter_permille: 0,
            max_attempts: Some(2),
            ..ReconnectPolicy::default()
        });
        r.start();
        assert_eq!(r.closed(secs(0), 1006, 0), Decision::WaitUntil(secs(1)));
        assert_eq!(r.poll(secs(1)), Decision::Connect);
        assert_eq!(r.closed(secs(1), 1006, 0), Decision::WaitUntil(secs(3)));
        assert_eq!(r.poll(secs(3)), Decision::Connect);
        r.opened(secs(3));
        // Open 30 s: stable, so the count starts again.
        assert_eq!(r.closed(secs(33), 1012, 0), Decision::WaitUntil(secs(34)));
        assert_eq!(r.poll(secs(34)), Decision::Connect);
        r.opened(secs(34));
        assert_eq!(
            r.closed(secs(35), 1008, 0),
            Decision::Stop(StopReason::NotRetried(1008))
        );
    }

    #[test]
    fn max_attempts_gives_up() {
        let mut r = Reconnect::new(ReconnectPolicy {
            max_attempts: Some(1),
            ..ReconnectPolicy::default()
        });
        r.start();
        let Decision::WaitUntil(t) = r.closed(secs(0), 1006, 1) else {
            panic!()
        };
        assert_eq!(r.poll(t), Decision::Connect);
        assert_eq!(r.closed(t, 1006, 1), Decision::Stop(StopReason::GaveUp { attempts: 1 }));
    }
}
