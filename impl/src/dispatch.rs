//! Browser-style dispatch of events to the `on_*` handlers.

use std::sync::Arc;

use wsapi_model::Event as ModelEvent;

use crate::handle::WebSocketHandle;
use crate::shared::{Handlers, Shared};

/// Delivers every queued event to the handlers, one at a time, running
/// them outside the lock so that they may call `send`/`close`. Returns
/// whether anything was delivered. Only one dispatcher runs at a time.
pub(crate) fn dispatch_to_handlers(shared: &Arc<Shared>) -> bool {
    let mut progress = false;
    loop {
        let (event, mut handlers) = {
            let mut inner = shared.lock();
            if inner.handlers.is_none() || inner.abandoned || inner.dispatching {
                return progress;
            }
            let Some(event) = inner.poll_event() else {
                return progress;
            };
            inner.dispatching = true;
            (event, inner.handlers.take().unwrap_or_default())
        };
        progress = true;
        let handle = WebSocketHandle::from_shared(shared.clone());
        match event {
            ModelEvent::Open => {
                if let Some(h) = handlers.open.as_mut() {
                    h(&handle, ())
                }
            }
            ModelEvent::Message { data, binary_type } => {
                if let Some(h) = handlers.message.as_mut() {
                    h(&handle, crate::MessageEvent { data, binary_type })
                }
            }
            ModelEvent::Error(reason) => {
                if let Some(h) = handlers.error.as_mut() {
                    h(&handle, reason)
                }
            }
            ModelEvent::Close(close) => {
                if let Some(h) = handlers.close.as_mut() {
                    h(&handle, close)
                }
            }
        }
        let mut inner = shared.lock();
        inner.dispatching = false;
        // Handlers set from inside a handler replace the running ones.
        let newer = inner.handlers.take();
        inner.handlers = Some(merge(handlers, newer));
    }
}

/// Keeps the running handlers, except those replaced meanwhile.
fn merge(running: Handlers, newer: Option<Handlers>) -> Handlers {
    let Some(newer) = newer else {
        return running;
    };
    Handlers {
        open: newer.open.or(running.open),
        message: newer.message.or(running.message),
        error: newer.error.or(running.error),
        close: newer.close.or(running.close),
    }
}
