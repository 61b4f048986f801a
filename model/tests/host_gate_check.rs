//! Exhaustive check of the host gate: two connections to one host and port
//! (RFC 6455 §4.1, client requirement 2), with `stateright`.
//!
//! # What is modelled
//!
//! Two [`Connection`]s to `ws://example.com/` created at time 0, one
//! process-wide [`HostGate`] (the model's own), and a driver per
//! connection that carries out transmits as the driver contract says:
//! `QueueForHost` joins the gate, `ReleaseHost` leaves it, the slot is
//! reported with `handle_host_slot` once the gate says it is held, and a
//! taken `Connect` is answered with `handle_open` or
//! `handle_connect_failed` (unless the attempt was dropped with
//! `CloseTransport`). The user may call `close()` and take events at any
//! time; one clock, moved only by the `Timeout` action to the earliest
//! pending deadline.
//!
//! Two initial states: the default connect timeout (30 s), and none (so
//! that a queued connection can only progress through the other one, and a
//! lost hand-over of the slot would show as a stuck state).
//!
//! The state space is finite (no data messages), so the check is complete:
//! no depth bound. Run with `-- --nocapture` for the figures.
//!
//! # Properties
//!
//! * safety: never two connections CONNECTING past the gate (`Connect`
//!   taken, no outcome in the model yet); `Connect` only while holding the
//!   slot; a queued connection never touches the network (no
//!   `CloseTransport` without `Connect`); every driver input accepted;
//!   no ticket left in the gate once both connections left CONNECTING;
//! * liveness, as an `always` over quiescent states (no transmit, no
//!   grant, no handshake outcome and no timer left; see `model_check.rs`
//!   for why not `eventually`): every connection has connected or failed;
//! * reachability (`sometimes`): both connect one after the other, a
//!   queued connection is closed before connecting, a queued connection
//!   times out, the second connects after the first failed.

use std::time::{Duration, Instant};

use stateright::{Checker, Model, Property};
use wsapi_model::{Config, Connection, Data, FailReason, HostGate, HostKey, Phase, Ticket, Transmit};

const URL: &str = "ws://example.com/";

fn key() -> HostKey {
    HostKey {
        host: "example.com".into(),
        port: 80,
    }
}

/// A driver's view of one connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
struct Driver {
    ticket: Option<Ticket>,
    /// `handle_host_slot` was reported.
    slot_reported: bool,
    connect_taken: bool,
    outcome_reported: bool,
    /// The handshake succeeded (`handle_open`).
    opened: bool,
    close_transport_taken: bool,
    // Ghost history.
    /// `close()` was called before `Connect` was taken.
    closed_while_queued: bool,
    /// The connect timer fired before `Connect` was taken.
    timed_out_while_queued: bool,
    /// The other connection had already failed when this one took `Connect`.
    connected_after_other_failed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    now: Duration,
    gate: HostGate,
    drivers: [Driver; 2],
    conns: [Connection<Data>; 2],
    /// A step broke a rule checked in `next_state` (see `Broken`).
    broken: Option<Broken>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Broken {
    InputRefused,
    QueuedTouchedNetwork,
    TransmitOutOfOrder,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Action {
    PollTransmit(usize),
    Grant(usize),
    OpenOk(usize),
    ConnectFailed(usize),
    Close(usize),
    PollEvent(usize),
    Timeout,
}

impl State {
    /// Past the gate and not yet out of CONNECTING (as the model sees it).
    fn connecting(&self, i: usize) -> bool {
        self.drivers[i].connect_taken && self.conns[i].phase() == Phase::Connecting
    }

    fn grant_enabled(&self, i: usize) -> bool {
        let d = &self.drivers[i];
        !d.slot_reported && d.ticket.is_some_and(|t| self.gate.holds(&key(), t))
    }

    fn outcome_enabled(&self, i: usize) -> bool {
        let d = &self.drivers[i];
        d.connect_taken && !d.outcome_reported && !d.close_transport_taken
    }

    fn has_transmit(&self, i: usize) -> bool {
        self.conns[i].clone().poll_transmit().is_some()
    }

    /// Nothing left for the drivers or the clock to do.
    fn quiescent(&self) -> bool {
        (0..2).all(|i| {
            !self.has_transmit(i)
                && !self.grant_enabled(i)
                && !self.outcome_enabled(i)
                && self.conns[i].poll_timeout().is_none()
        })
    }

    fn failed(&self, i: usize) -> bool {
        self.conns[i].phase() == Phase::Closed && !self.drivers[i].opened
    }
}

struct GateModel;

impl Model for GateModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        [Some(Duration::from_secs(30)), None]
            .into_iter()
            .map(|connect_timeout| {
                let config = Config {
                    connect_timeout,
                    ..Config::default()
                };
                let conn = || Connection::new(URL, &[] as &[&str], config.clone(), Duration::ZERO).unwrap();
                State {
                    now: Duration::ZERO,
                    gate: HostGate::default(),
                    drivers: Default::default(),
                    conns: [conn(), conn()],
                    broken: None,
                }
            })
            .collect()
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        for i in 0..2 {
            actions.extend([Action::Close(i), Action::PollEvent(i)]);
            if s.has_transmit(i) {
                actions.push(Action::PollTransmit(i));
            }
            if s.grant_enabled(i) {
                actions.push(Action::Grant(i));
            }
            if s.outcome_enabled(i) {
                actions.extend([Action::OpenOk(i), Action::ConnectFailed(i)]);
            }
        }
        if s.conns.iter().any(|c| c.poll_timeout().is_some()) {
            actions.push(Action::Timeout);
        }
    }

    fn next_state(&self, s: &State, action: Action) -> Option<State> {
        let mut n = s.clone();
        n.broken = None;
        let now = s.now;
        let refused = |r: Result<(), wsapi_model::InputError>, n: &mut State| {
            if r.is_err() {
                n.broken = Some(Broken::InputRefused);
            }
        };
        match action {
            Action::PollTransmit(i) => {
                let t = n.conns[i].poll_transmit()?;
                let d = &mut n.drivers[i];
                match t {
                    Transmit::QueueForHost(k) => {
                        if d.ticket.is_some() || k != key() {
                            n.broken = Some(Broken::TransmitOutOfOrder);
                        }
                        d.ticket = Some(n.gate.queue(k));
                    }
                    Transmit::ReleaseHost => match d.ticket.take() {
                        Some(t) => {
                            n.gate.release(&key(), t);
                        }
                        None => n.broken = Some(Broken::TransmitOutOfOrder),
                    },
                    Transmit::Connect { .. } => {
                        if !d.slot_reported || d.connect_taken {
                            n.broken = Some(Broken::TransmitOutOfOrder);
                        }
                        d.connect_taken = true;
                        d.connected_after_other_failed = s.failed(1 - i);
                    }
                    Transmit::CloseTransport => {
                        if !d.connect_taken {
                            n.broken = Some(Broken::QueuedTouchedNetwork);
                        }
                        d.close_transport_taken = true;
                    }
                    Transmit::Message(_) | Transmit::Close(_) | Transmit::Ping(_) => {}
                }
            }
            Action::Grant(i) => {
                n.drivers[i].slot_reported = true;
                let r = n.conns[i].handle_host_slot(now);
                refused(r, &mut n);
            }
            Action::OpenOk(i) => {
                n.drivers[i].outcome_reported = true;
                n.drivers[i].opened = n.conns[i].phase() == Phase::Connecting;
                let r = n.conns[i].handle_open(now, None, None);
                refused(r, &mut n);
            }
            Action::ConnectFailed(i) => {
                n.drivers[i].outcome_reported = true;
                let r = n.conns[i].handle_connect_failed(now, "refused");
                refused(r, &mut n);
            }
            Action::Close(i) => {
                let queued = !s.drivers[i].connect_taken && s.conns[i].phase() == Phase::Connecting;
                n.conns[i].close(now, None, None).ok()?;
                if n.conns[i] == s.conns[i] {
                    return None;
                }
                n.drivers[i].closed_while_queued |= queued && s.drivers[i].ticket.is_some();
            }
            Action::PollEvent(i) => {
                let event = n.conns[i].poll_event()?;
                if matches!(event, wsapi_model::Event::Error(FailReason::ConnectTimeout)) && !s.drivers[i].connect_taken
                {
                    n.drivers[i].timed_out_while_queued = s.drivers[i].ticket.is_some();
                }
            }
            Action::Timeout => {
                let deadline = s.conns.iter().filter_map(|c| c.poll_timeout()).min()?;
                n.now = deadline.max(s.now);
                for c in &mut n.conns {
                    c.handle_timeout(n.now);
                }
            }
        }
        Some(n)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("never two connections CONNECTING past the gate", |_, s: &State| {
                !(s.connecting(0) && s.connecting(1))
            }),
            Property::always("Connect only while holding the host's slot", |_, s: &State| {
                (0..2).all(|i| !s.connecting(i) || s.drivers[i].ticket.is_some_and(|t| s.gate.holds(&key(), t)))
            }),
            Property::always("a queued connection never touches the network", |_, s: &State| {
                s.broken != Some(Broken::QueuedTouchedNetwork)
            }),
            Property::always("gate transmits come in order", |_, s: &State| {
                s.broken != Some(Broken::TransmitOutOfOrder)
            }),
            Property::always("a correct driver's inputs are accepted", |_, s: &State| {
                s.broken != Some(Broken::InputRefused)
            }),
            Property::always("no ticket is left once both left CONNECTING", |_, s: &State| {
                !(s.conns.iter().all(|c| c.phase() != Phase::Connecting) && !s.has_transmit(0) && !s.has_transmit(1))
                    || s.gate.pending(&key()) == 0
            }),
            Property::always(
                "every queued connection connects or fails (liveness)",
                |_, s: &State| {
                    !s.quiescent() || (0..2).all(|i| s.drivers[i].connect_taken || s.conns[i].phase() == Phase::Closed)
                },
            ),
            Property::sometimes("both connect, one after the other", |_, s: &State| {
                s.drivers.iter().all(|d| d.opened)
            }),
            Property::sometimes("a queued connection is closed before connecting", |_, s: &State| {
                s.drivers.iter().any(|d| d.closed_while_queued)
            }),
            Property::sometimes("a queued connection times out", |_, s: &State| {
                s.drivers.iter().any(|d| d.timed_out_while_queued)
            }),
            Property::sometimes("the second connects after the first failed", |_, s: &State| {
                s.drivers.iter().any(|d| d.connected_after_other_failed)
            }),
        ]
    }
}

#[test]
fn host_gate_check() {
    let start = Instant::now();
    let checker = GateModel.checker().spawn_bfs().join();
    println!(
        "host_gate_check: {} unique states, {} transitions, complete (no depth bound), {:.1?}",
        checker.unique_state_count(),
        checker.state_count(),
        start.elapsed(),
    );
    checker.assert_properties();
}
