//! Everything that depends on the async runtime, in one place: spawning the
//! connection's background task, opening TCP connections, and sleeping.
//!
//! async-std is discontinued upstream, so the crate also runs on `smol`
//! (feature `smol-runtime`). Both are built on `async-io`, and both
//! `TcpStream`s implement the `futures` I/O traits, which is all the rest of
//! the crate uses. With both features on, smol wins.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

#[cfg(not(any(feature = "async-std-runtime", feature = "smol-runtime")))]
compile_error!("enable one of the features `async-std-runtime` (default) or `smol-runtime`");

/// The runtime's TCP stream.
#[cfg(feature = "smol-runtime")]
pub type TcpStream = smol::net::TcpStream;
/// The runtime's TCP stream.
#[cfg(all(feature = "async-std-runtime", not(feature = "smol-runtime")))]
pub type TcpStream = async_std::net::TcpStream;

/// The runtime's TCP listener (used by the CLI's loopback server and tests).
#[cfg(feature = "smol-runtime")]
pub type TcpListener = smol::net::TcpListener;
/// The runtime's TCP listener (used by the CLI's loopback server and tests).
#[cfg(all(feature = "async-std-runtime", not(feature = "smol-runtime")))]
pub type TcpListener = async_std::net::TcpListener;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Runs `fut` in the background; it is never joined.
pub fn spawn<F: Future<Output = ()> + Send + 'static>(fut: F) {
    #[cfg(feature = "smol-runtime")]
    smol::spawn(fut).detach();
    #[cfg(all(feature = "async-std-runtime", not(feature = "smol-runtime")))]
    drop(async_std::task::spawn(fut));
}

/// Runs the blocking closure `f` on the runtime's pool of threads for
/// blocking work, off the executor, and resolves to its result. The `on_*`
/// handlers run there: a handler that blocks must not stall any
/// connection's I/O task.
pub fn spawn_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> BoxFuture<T> {
    #[cfg(feature = "smol-runtime")]
    return Box::pin(smol::unblock(f));
    #[cfg(all(feature = "async-std-runtime", not(feature = "smol-runtime")))]
    return Box::pin(async_std::task::spawn_blocking(f));
}

/// Blocks the current thread on `fut` (for `main`, tests and examples).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    #[cfg(feature = "smol-runtime")]
    return smol::block_on(fut);
    #[cfg(all(feature = "async-std-runtime", not(feature = "smol-runtime")))]
    return async_std::task::block_on(fut);
}

/// Opens a TCP connection (name resolution included) and disables Nagle's
/// algorithm: the driver batches frames itself.
pub async fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A future that completes after `duration`.
pub fn sleep(duration: Duration) -> BoxFuture<()> {
    #[cfg(feature = "smol-runtime")]
    return Box::pin(async move {
        smol::Timer::after(duration).await;
    });
    #[cfg(all(feature = "async-std-runtime", not(feature = "smol-runtime")))]
    return Box::pin(async_std::task::sleep(duration));
}
