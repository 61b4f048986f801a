//! The threads the `on_*` handlers run on: one process-wide pool with no
//! cap, so that no socket's handlers can starve another's.
//!
//! Why not the runtime's blocking pool: it is capped (500 threads on
//! async-std and smol, 512 on tokio), and a handler may block for as long
//! as it likes. 500 sockets whose handlers block took every thread, and a
//! 501st socket whose handlers return at once got no event at all until
//! one of them returned. Here a job waits for a thread only while a thread
//! is idle and about to take it; otherwise a new thread starts.
//!
//! Why that stays bounded: each handler-mode socket's dispatcher hands over
//! one batch at a time and awaits it, so the threads busy with handlers are
//! at most the sockets whose handler is running right now: the program's
//! own sockets, not anything a peer controls. Idle threads end after
//! [`IDLE`].

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How long a thread with nothing to do waits before it ends.
const IDLE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<State>,
    /// Signalled when a job is queued for an idle thread.
    work: Condvar,
}

struct State {
    queue: VecDeque<Job>,
    /// Threads waiting on `work`.
    idle: usize,
}

static POOL: Pool = Pool {
    state: Mutex::new(State {
        queue: VecDeque::new(),
        idle: 0,
    }),
    work: Condvar::new(),
};

/// Runs `job` on a handler thread; the returned future completes once it
/// has returned (or panicked: the job catches its own panics, see
/// `dispatch`). Dropping the future does not stop the job.
pub(crate) fn run(job: impl FnOnce() + Send + 'static) -> impl std::future::Future<Output = ()> {
    let (done, finished) = futures::channel::oneshot::channel::<()>();
    let job: Job = Box::new(move || {
        job();
        let _ = done.send(());
    });
    let mut state = POOL.state.lock().unwrap_or_else(|p| p.into_inner());
    state.queue.push_back(job);
    // Every queued job has an idle thread of its own, or gets a new one.
    if state.idle >= state.queue.len() {
        POOL.work.notify_one();
    } else {
        drop(state);
        // If the OS can make no more threads, the job waits for a busy
        // thread to come back, as it would in a capped pool.
        let _ = std::thread::Builder::new()
            .name("wsapi-handlers".to_string())
            .spawn(work);
    }
    async move {
        let _ = finished.await;
    }
}

/// A handler thread: runs queued jobs, ends after [`IDLE`] without one.
fn work() {
    let mut state = POOL.state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            job();
            state = POOL.state.lock().unwrap_or_else(|p| p.into_inner());
            continue;
        }
        state.idle += 1;
        let (next, timeout) = POOL.work.wait_timeout(state, IDLE).unwrap_or_else(|p| p.into_inner());
        state = next;
        state.idle -= 1;
        if timeout.timed_out() && state.queue.is_empty() {
            return;
        }
    }
}
