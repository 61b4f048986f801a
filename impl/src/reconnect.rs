//! [`ReconnectingWebSocket`]: a connection that is opened again when it
//! is lost, as a policy says. Our extension, not the browser's: a browser
//! `WebSocket` never reconnects, and each attempt here *is* a browser-style
//! [`WebSocket`] of its own, with its own open / message / error / close
//! events; nothing (queued messages, `bufferedAmount`) carries over from
//! one attempt to the next.
//!
//! When to connect again is decided by [`wsapi_model::reconnect`], a pure
//! state machine that is property-tested never to retry sooner than its
//! policy allows and never after the user's own close.

use std::time::{Duration, Instant};

use wsapi_model::reconnect::{Decision, Reconnect, ReconnectPolicy, StopReason};
use wsapi_model::CloseError;

use crate::event::Event;
use crate::socket::{BuildError, WebSocket};

/// What a [`ReconnectingWebSocket`] reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReconnectEvent {
    /// A new attempt started: [`ReconnectingWebSocket::socket`] is its
    /// fresh [`WebSocket`] (`attempt` 0 is the first connection).
    Connecting {
        /// Retries since the last stable connection (0: the first connection).
        attempt: u32,
    },
    /// An event of the current attempt's socket.
    Event(Event),
    /// The attempt ended; the next starts after `delay`.
    Waiting {
        /// How long until the next attempt.
        delay: Duration,
    },
    /// No more attempts: why. [`ReconnectingWebSocket::next_event`] then
    /// returns `None`.
    Stopped(StopReason),
    /// Making the socket failed (the closure gave a [`BuildError`]): no
    /// more attempts.
    BuildFailed(BuildError),
}

type Connect = Box<dyn FnMut() -> Result<WebSocket, BuildError> + Send>;

/// A connection opened again when lost (see the [module docs](self)).
///
/// ```no_run
/// # wsapi::runtime::block_on(async {
/// use wsapi::reconnect::{ReconnectEvent, ReconnectingWebSocket};
/// use wsapi::{Event, ReconnectPolicy, WebSocket};
/// let mut feed = ReconnectingWebSocket::new(
///     || WebSocket::builder("wss://example.com/feed").connect(),
///     ReconnectPolicy::default(),
/// );
/// while let Some(event) = feed.next_event().await {
///     match event {
///         ReconnectEvent::Event(Event::Open) => feed.socket().unwrap().send("subscribe")?,
///         ReconnectEvent::Event(Event::Message(m)) => println!("{:?}", m.data),
///         ReconnectEvent::Waiting { delay } => println!("lost; again in {delay:?}"),
///         other => println!("{other:?}"),
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(()) });
/// ```
pub struct ReconnectingWebSocket {
    connect: Connect,
    machine: Reconnect,
    /// The current attempt's socket, until its close event.
    current: Option<WebSocket>,
    /// What the machine said when the last socket closed, not yet acted on.
    pending: Option<Decision>,
    /// The end of the wait already reported with [`ReconnectEvent::Waiting`].
    announced: Option<Duration>,
    started: Instant,
    done: bool,
}

impl std::fmt::Debug for ReconnectingWebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconnectingWebSocket")
            .field("machine", &self.machine)
            .field("current", &self.current)
            .field("done", &self.done)
            .finish()
    }
}

impl ReconnectingWebSocket {
    /// Connects with `connect` now, and again, as `policy` says, each time
    /// a connection ends. `connect` makes a fresh socket each call (a
    /// builder's `connect()`); use the event stream, not `on_*` handlers,
    /// so that the close is seen here.
    pub fn new(
        connect: impl FnMut() -> Result<WebSocket, BuildError> + Send + 'static,
        policy: ReconnectPolicy,
    ) -> ReconnectingWebSocket {
        ReconnectingWebSocket {
            connect: Box::new(connect),
            machine: Reconnect::new(policy),
            current: None,
            pending: None,
            announced: None,
            started: Instant::now(),
            done: false,
        }
    }

    /// The current attempt's socket (`None` between attempts).
    pub fn socket(&self) -> Option<&WebSocket> {
        self.current.as_ref()
    }

    /// Closes the current connection (as [`crate::WebSocketHandle::close`])
    /// and stops for good: no attempt follows, whatever the close code.
    pub fn close(&mut self, code: Option<u16>, reason: Option<&str>) -> Result<(), CloseError> {
        self.machine.close_requested();
        match &self.current {
            Some(ws) => ws.close(code, reason),
            None => Ok(()),
        }
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// The next event: the current socket's, or the reconnection's own.
    /// `None` once stopped.
    pub async fn next_event(&mut self) -> Option<ReconnectEvent> {
        if self.done {
            return None;
        }
        loop {
            if let Some(ws) = &self.current {
                let event = ws.next_event().await;
                let now = self.now();
                let ended = match &event {
                    Some(Event::Open) => {
                        self.machine.opened(now);
                        None
                    }
                    Some(Event::Close(c)) => Some(c.code),
                    // The stream ended without a close event (handler mode
                    // took it): taken as a lost connection.
                    None => Some(1006),
                    Some(_) => None,
                };
                if let Some(code) = ended {
                    self.current = None;
                    self.pending = Some(self.machine.closed(now, code, rand::random()));
                }
                match event {
                    Some(event) => return Some(ReconnectEvent::Event(event)),
                    None => continue,
                }
            }
            let decision = match self.pending.take() {
                Some(decision) => decision,
                None => self.machine.poll(self.now()),
            };
            match decision {
                Decision::Connect => {
                    let attempt = self.machine.retries();
                    match (self.connect)() {
                        Ok(ws) => {
                            self.current = Some(ws);
                            return Some(ReconnectEvent::Connecting { attempt });
                        }
                        Err(e) => {
                            self.machine.close_requested();
                            self.done = true;
                            return Some(ReconnectEvent::BuildFailed(e));
                        }
                    }
                }
                Decision::WaitUntil(until) => {
                    let delay = until.saturating_sub(self.now());
                    if self.announced != Some(until) {
                        self.announced = Some(until);
                        return Some(ReconnectEvent::Waiting { delay });
                    }
                    // Then polled again: connects once the wait is over.
                    crate::runtime::sleep(delay).await;
                }
                Decision::Stop(why) => {
                    self.done = true;
                    return Some(ReconnectEvent::Stopped(why));
                }
            }
        }
    }
}
