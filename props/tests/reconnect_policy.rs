//! The reconnect policy (`wsapi_model::reconnect`) against generated
//! policies and generated lives of connections: openings, closes with any
//! code, the user's close, and polls at any time. Whatever happens, the
//! machine never connects again sooner than the policy allows after a
//! close, never waits past the cap, never gives more retries than
//! `max_attempts`, and never connects after the user's close.

use std::time::Duration;

use proptest::prelude::*;
use wsapi_model::reconnect::{Decision, Reconnect, ReconnectPolicy, StopReason};

/// Something that happens to the connection, or the user, or the clock.
#[derive(Debug, Clone)]
enum Step {
    /// Time passes (milliseconds).
    Wait(u64),
    /// The connection opens (if one is in progress).
    Open,
    /// The connection ends with this code, jitter drawn as `random`.
    Close(u16, u32),
    /// The user closes.
    UserClose,
    /// The driver asks whether to connect now.
    Poll,
}

fn policies() -> impl Strategy<Value = ReconnectPolicy> {
    (
        0u64..2_000,
        0u64..10_000,
        0u32..4,
        0u16..=1000,
        0u64..5_000,
        proptest::option::of(0u32..5),
        proptest::collection::vec(
            prop_oneof![
                Just(1000u16),
                Just(1001),
                Just(1006),
                Just(1008),
                Just(1012),
                3000u16..5000
            ],
            0..4,
        ),
        any::<bool>(),
    )
        .prop_map(
            |(initial, max, multiplier, jitter, stable, max_attempts, retry_codes, retry_failed_connect)| {
                ReconnectPolicy {
                    initial_delay: Duration::from_millis(initial),
                    max_delay: Duration::from_millis(max),
                    multiplier,
                    jitter_permille: jitter,
                    stable_after: Duration::from_millis(stable),
                    max_attempts,
                    retry_codes,
                    retry_failed_connect,
                }
            },
        )
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            4 => (0u64..3_000).prop_map(Step::Wait),
            2 => Just(Step::Open),
            3 => (prop_oneof![Just(1000u16), Just(1001), Just(1006), Just(1008), Just(1012), 3000u16..5000], any::<u32>())
                .prop_map(|(code, random)| Step::Close(code, random)),
            1 => Just(Step::UserClose),
            4 => Just(Step::Poll),
        ],
        0..80,
    )
}

/// What the test itself knows about the connection, to judge the machine.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Conn {
    Connecting,
    Open {
        since: Duration,
    },
    /// Closed at this time; the machine said to wait until `until`.
    Waiting {
        closed_at: Duration,
        until: Duration,
        retry: u32,
    },
    Stopped,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_faster_than_the_policy_and_never_after_the_users_close(policy in policies(), steps in steps()) {
        let mut machine = Reconnect::new(policy.clone());
        prop_assert_eq!(machine.start(), Decision::Connect);
        let mut now = Duration::ZERO;
        let mut conn = Conn::Connecting;
        let mut user_closed = false;
        // Consecutive retries since the last stable connection, counted by the test.
        let mut retries = 0u32;
        for step in steps {
            match step {
                Step::Wait(ms) => now += Duration::from_millis(ms),
                Step::Open => {
                    if conn == Conn::Connecting {
                        machine.opened(now);
                        conn = Conn::Open { since: now };
                    }
                }
                Step::UserClose => {
                    machine.close_requested();
                    user_closed = true;
                }
                Step::Close(code, random) => {
                    let opened = match conn {
                        Conn::Connecting => None,
                        Conn::Open { since } => Some(since),
                        _ => continue,
                    };
                    let decision = machine.closed(now, code, random);
                    if user_closed {
                        prop_assert_eq!(decision, Decision::Stop(StopReason::UserClosed));
                        conn = Conn::Stopped;
                        continue;
                    }
                    if opened.is_some_and(|since| now - since >= policy.stable_after) {
                        retries = 0;
                    }
                    let retryable = match opened {
                        None => policy.retry_failed_connect,
                        Some(_) => policy.retry_codes.contains(&code),
                    };
                    match decision {
                        Decision::WaitUntil(until) => {
                            prop_assert!(retryable, "retried after {code} (opened: {opened:?})");
                            retries += 1;
                            if let Some(max) = policy.max_attempts {
                                prop_assert!(retries <= max, "retry {retries} of at most {max}");
                            }
                            // Never sooner than the backoff less the most jitter, never past the cap.
                            prop_assert!(until >= now + policy.min_delay(retries), "waits {:?} for retry {retries}", until - now);
                            prop_assert!(until <= now + policy.backoff(retries));
                            prop_assert!(until <= now + policy.max_delay);
                            conn = Conn::Waiting { closed_at: now, until, retry: retries };
                        }
                        Decision::Stop(why) => {
                            match why {
                                StopReason::GaveUp { attempts } => {
                                    prop_assert!(retryable);
                                    prop_assert_eq!(Some(attempts), policy.max_attempts);
                                }
                                StopReason::NotRetried(c) => prop_assert!(!retryable && c == code),
                                StopReason::FailedConnect => prop_assert!(!retryable && opened.is_none()),
                                other => prop_assert!(false, "stopped: {other:?}"),
                            }
                            conn = Conn::Stopped;
                        }
                        Decision::Connect => prop_assert!(false, "connect right after a close"),
                    }
                }
                Step::Poll => {
                    let decision = machine.poll(now);
                    if user_closed {
                        prop_assert_eq!(decision, Decision::Stop(StopReason::UserClosed));
                        continue;
                    }
                    if let Conn::Waiting { closed_at, until, retry } = conn {
                        if decision == Decision::Connect {
                            prop_assert!(now >= until);
                            prop_assert!(now - closed_at >= policy.min_delay(retry));
                            conn = Conn::Connecting;
                        } else {
                            prop_assert!(now < until, "{decision:?} at {now:?}, due {until:?}");
                        }
                    }
                }
            }
        }
        // After the user's close, nothing connects, whenever asked.
        if user_closed {
            prop_assert_eq!(machine.poll(now + Duration::from_secs(3600)), Decision::Stop(StopReason::UserClosed));
        }
    }
}
