//! The model watching one browser `WebSocket`: observations in, divergences out.

use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use wsapi_model::judge::{describe, rules, Observation, Refused, Verdict, Watch};
use wsapi_model::Config;

/// Divergences found in this program so far, by every socket.
static DIVERGENCES: AtomicU64 = AtomicU64::new(0);

/// How many divergences from the standard the browser showed in this
/// program so far (at most one per socket: after its first, a socket is no
/// longer judged). See [`Divergence`].
pub fn divergences() -> u64 {
    DIVERGENCES.load(Ordering::Relaxed)
}

/// Something the browser's `WebSocket` did that the standard does not
/// allow at that point: no server behaviour or timing explains it.
///
/// The judge's refusal ([`Refused`]) names the observation, what the
/// standard allowed there and the rule (its `spec-notes/` entry and
/// source). The program received what the browser did, unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The socket's URL.
    pub url: String,
    /// The judge's refusal. Its `at` counts the socket's observations (the
    /// constructor is 1).
    pub refused: Box<Refused>,
}

impl Divergence {
    /// The rule's stable name (`transport-lost-fails`, `close-arguments`...).
    pub fn rule(&self) -> &'static str {
        self.refused.rule.id
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wsapi: the browser's WebSocket ({}) diverged from the standard: {}",
            self.url, self.refused
        )
    }
}

/// The hook of [`super::WebSocketBuilder::on_divergence`].
pub(crate) type DivergenceHook = Rc<dyn Fn(&Divergence)>;

/// The watching state of one socket.
pub(crate) struct Watcher {
    url: String,
    protocols: Vec<String>,
    /// `None` once a verdict was reached, or for a socket not watched.
    watch: Option<Watch>,
    /// The script awaits (events may be dispatched): set at an event,
    /// cleared by the next call.
    waiting: bool,
    divergence: Option<Divergence>,
    /// A divergence found and not yet given to the hook (the caller gives
    /// it outside its borrow of the socket: the hook may use the socket).
    fresh: Option<Divergence>,
}

impl Watcher {
    /// Watches a socket the browser constructed (a divergence at once if
    /// the standard's constructor throws for these arguments).
    pub(crate) fn new(url: &str, protocols: &[String]) -> Watcher {
        let config = Config {
            // What browsers offer (the standard leaves extensions to them;
            // Chromium, Firefox and Safari offer permessage-deflate).
            offered_extensions: vec!["permessage-deflate".into()],
            ..Config::default()
        };
        let mut w = Watcher {
            url: url.to_string(),
            protocols: protocols.to_vec(),
            watch: None,
            waiting: false,
            divergence: None,
            fresh: None,
        };
        match Watch::new(url, protocols, config) {
            Ok(watch) => w.watch = Some(watch),
            Err(refused) => w.diverged(Verdict::NotAllowed(refused)),
        }
        w
    }

    /// The browser's constructor threw `name` where the standard's returns.
    pub(crate) fn constructor_threw(&mut self, name: &str) {
        let protocols = self.protocols.clone();
        let obs = Observation::Construct {
            url: self.url.clone(),
            protocols: Some(protocols),
            threw: Some(name.to_string()),
        };
        let refused = Refused {
            socket: 1,
            at: 1,
            observed: describe(&obs),
            allowed: vec![String::from("new WebSocket() returns")],
            rule: rules::CONSTRUCTOR,
            simplest: None,
        };
        self.diverged(Verdict::NotAllowed(Box::new(refused)));
    }

    /// A call the program made (or an attribute it read).
    pub(crate) fn call(&mut self, obs: Observation) {
        if self.waiting {
            self.waiting = false;
            self.observe(Observation::WaitDone { buffered_at_most: None });
        }
        self.observe(obs);
    }

    /// An event the browser dispatched, and the attributes read in its
    /// listener (before the program's listener ran).
    pub(crate) fn event(&mut self, obs: Observation, attributes: Observation) {
        if !self.waiting {
            self.waiting = true;
            self.observe(Observation::Yield);
        }
        self.observe(obs);
        self.observe(attributes);
    }

    /// A wait for `bufferedAmount <= max` ended with that holding.
    pub(crate) fn buffered_wait_done(&mut self, max: u64) {
        if !self.waiting {
            self.observe(Observation::Yield);
        }
        self.waiting = false;
        self.observe(Observation::WaitDone {
            buffered_at_most: Some(max),
        });
    }

    /// The close event was dispatched: judge everything.
    pub(crate) fn finish(&mut self) {
        if let Some(v) = self.watch.as_mut().and_then(Watch::finish) {
            self.diverged(v);
        }
        self.watch = None;
    }

    /// Stop watching (the socket was dropped: no more events are seen).
    pub(crate) fn stop(&mut self) {
        self.watch = None;
    }

    pub(crate) fn divergence(&self) -> Option<&Divergence> {
        self.divergence.as_ref()
    }

    fn observe(&mut self, obs: Observation) {
        if let Some(v) = self.watch.as_mut().and_then(|w| w.observe(obs)) {
            self.diverged(v);
        }
    }

    fn diverged(&mut self, verdict: Verdict) {
        self.watch = None;
        // A search that reached a bound proves nothing: not a divergence.
        let Verdict::NotAllowed(refused) = verdict else {
            return;
        };
        let d = Divergence {
            url: self.url.clone(),
            refused,
        };
        DIVERGENCES.fetch_add(1, Ordering::Relaxed);
        #[cfg(debug_assertions)]
        web_sys::console::warn_1(&d.to_string().into());
        self.divergence = Some(d.clone());
        self.fresh = Some(d);
    }

    /// The divergence found since the last call, for the hook.
    pub(crate) fn take_fresh(&mut self) -> Option<Divergence> {
        self.fresh.take()
    }
}
