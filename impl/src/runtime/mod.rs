//! Everything that depends on the async runtime, behind one small trait:
//! spawning tasks, timers and opening TCP (handlers run on threads of the
//! crate's own, see `dispatch`).
//!
//! # Why a trait
//!
//! The rest of the crate only needs those three things, and the byte stream
//! it gets only needs the `futures` I/O traits. With the runtime behind
//! [`Runtime`] (the shape of quinn's trait of the same name), a program on
//! tokio runs its connections on *its* tokio runtime instead of starting
//! async-std's threads beside it, and two crates in one build that enable
//! different runtime features do not break each other: every feature only
//! *adds* an implementation (`AsyncStdRuntime`, `SmolRuntime`,
//! `TokioRuntime`, each behind its feature); no public type changes with a feature.
//!
//! # Which runtime a connection uses
//!
//! The one given to [`crate::WebSocketBuilder::runtime`], or else
//! [`default_runtime`]: inside a tokio runtime (feature `tokio-runtime`),
//! that runtime; otherwise async-std if its feature is on, else smol, else
//! a tokio runtime of the crate's own, started on first use.
//!
//! The free functions ([`spawn`], [`sleep`], [`connect_tcp`],
//! [`TcpListener`]) use the default runtime; [`block_on`] is for `main`,
//! tests and examples.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::io::{AsyncRead, AsyncWrite};

#[cfg(feature = "async-std-runtime")]
mod async_std_rt;
mod listener;
#[cfg(feature = "smol-runtime")]
mod smol_rt;
#[cfg(feature = "tokio-runtime")]
mod tokio_rt;

#[cfg(feature = "async-std-runtime")]
pub use async_std_rt::AsyncStdRuntime;
pub use listener::TcpListener;
#[cfg(feature = "smol-runtime")]
pub use smol_rt::SmolRuntime;
#[cfg(feature = "tokio-runtime")]
pub use tokio_rt::{tokio_io, TokioRuntime};

#[cfg(not(any(feature = "async-std-runtime", feature = "smol-runtime", feature = "tokio-runtime")))]
compile_error!("enable at least one of the features `async-std-runtime` (default), `smol-runtime`, `tokio-runtime`");

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A connected byte stream: what a WebSocket runs over (TCP, a Unix
/// socket, an in-memory pipe...). Implemented for every type with the
/// `futures` I/O traits that is `Send + Unpin`.
pub trait AsyncStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncStream for T {}

/// A connected byte stream of any kind, boxed.
pub type BoxedStream = Box<dyn AsyncStream>;

/// What wsapi needs from an async runtime.
///
/// Implement it to run wsapi on another runtime, and pass it to
/// [`crate::WebSocketBuilder::runtime`]. Every method is called from the
/// connection's task or the user's; none may block.
pub trait Runtime: Send + Sync + fmt::Debug + 'static {
    /// Runs `future` in the background, detached (it is never joined).
    fn spawn(&self, future: BoxFuture<()>);

    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<()>;

    /// Opens a TCP connection to `host:port` (resolving the name), with
    /// Nagle's algorithm off: the driver batches frames itself.
    fn connect_tcp(&self, host: String, port: u16) -> BoxFuture<io::Result<BoxedStream>>;
}

/// The built-in runtimes, as [`default_runtime`] picks them.
enum Builtin {
    #[cfg(feature = "tokio-runtime")]
    Tokio(tokio::runtime::Handle),
    #[cfg(feature = "async-std-runtime")]
    AsyncStd,
    // Picked only when async-std is not enabled.
    #[cfg(feature = "smol-runtime")]
    #[cfg_attr(feature = "async-std-runtime", allow(dead_code))]
    Smol,
}

impl Builtin {
    fn pick() -> Builtin {
        #[cfg(feature = "tokio-runtime")]
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            return Builtin::Tokio(handle);
        }
        #[cfg(feature = "async-std-runtime")]
        return Builtin::AsyncStd;
        #[cfg(all(feature = "smol-runtime", not(feature = "async-std-runtime")))]
        return Builtin::Smol;
        #[cfg(all(not(feature = "smol-runtime"), not(feature = "async-std-runtime")))]
        return Builtin::Tokio(tokio_rt::own_runtime().handle().clone());
    }

    fn runtime(self) -> Arc<dyn Runtime> {
        match self {
            #[cfg(feature = "tokio-runtime")]
            Builtin::Tokio(handle) => Arc::new(TokioRuntime::new(handle)),
            #[cfg(feature = "async-std-runtime")]
            Builtin::AsyncStd => Arc::new(AsyncStdRuntime),
            #[cfg(feature = "smol-runtime")]
            Builtin::Smol => Arc::new(SmolRuntime),
        }
    }
}

/// The runtime a connection uses when none was given: the current tokio
/// runtime if there is one (feature `tokio-runtime`), else async-std
/// (feature `async-std-runtime`), else smol, else a tokio runtime of the
/// crate's own.
pub fn default_runtime() -> Arc<dyn Runtime> {
    Builtin::pick().runtime()
}

/// Runs `fut` in the background on the [`default_runtime`]; it is never joined.
pub fn spawn<F: Future<Output = ()> + Send + 'static>(fut: F) {
    default_runtime().spawn(Box::pin(fut));
}

/// A future that completes after `duration`, on the [`default_runtime`].
pub fn sleep(duration: Duration) -> BoxFuture<()> {
    default_runtime().sleep(duration)
}

/// Opens a TCP connection on the [`default_runtime`] (see [`Runtime::connect_tcp`]).
pub async fn connect_tcp(host: &str, port: u16) -> io::Result<BoxedStream> {
    default_runtime().connect_tcp(host.to_string(), port).await
}

/// Blocks the current thread on `fut` (for `main`, tests and examples):
/// on async-std if its feature is on, else smol, else the crate's own
/// tokio runtime (inside which [`default_runtime`] is tokio).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    #[cfg(feature = "async-std-runtime")]
    return async_std::task::block_on(fut);
    #[cfg(all(feature = "smol-runtime", not(feature = "async-std-runtime")))]
    return smol::block_on(fut);
    #[cfg(all(not(feature = "smol-runtime"), not(feature = "async-std-runtime")))]
    return tokio_rt::own_runtime().block_on(fut);
}
