//! [`Runtime`] on tokio (feature `tokio-runtime`): tokio's sockets are
//! adapted to the `futures` I/O traits with `tokio-util`'s compat layer.

use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio_util::compat::TokioAsyncReadCompatExt;

use super::{BoxFuture, BoxedStream, Runtime};

/// A tokio runtime, by its handle.
#[derive(Debug, Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-runtime")))]
pub struct TokioRuntime {
    handle: Handle,
}

impl TokioRuntime {
    /// The runtime of `handle`.
    pub fn new(handle: Handle) -> TokioRuntime {
        TokioRuntime { handle }
    }

    /// The tokio runtime this is called from (`None` outside of one).
    pub fn current() -> Option<TokioRuntime> {
        Handle::try_current().ok().map(TokioRuntime::new)
    }
}

impl Runtime for TokioRuntime {
    fn spawn(&self, future: BoxFuture<()>) {
        // Dropping a JoinHandle detaches the task.
        drop(self.handle.spawn(future));
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        // A tokio timer is bound to the runtime it is created in.
        let _entered = self.handle.enter();
        Box::pin(tokio::time::sleep(duration))
    }

    fn connect_tcp(&self, host: String, port: u16) -> BoxFuture<io::Result<BoxedStream>> {
        let handle = self.handle.clone();
        Box::pin(async move {
            // The socket registers with the reactor of the task polling it:
            // run the connect on this runtime, wherever it is awaited.
            let stream = handle
                .spawn(async move { tokio::net::TcpStream::connect((host.as_str(), port)).await })
                .await
                .map_err(io::Error::other)??;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream.compat()) as BoxedStream)
        })
    }
}

/// A stream with tokio's I/O traits as a [`BoxedStream`] (the `futures`
/// traits, through `tokio-util`'s compat layer), for a
/// [`crate::WebSocketBuilder::connector`] that opens a tokio stream;
/// [`crate::WebSocketBuilder::tokio_stream`] takes one directly.
///
/// ```no_run
/// let ws = wsapi::WebSocket::builder("ws://localhost/feed")
///     .connector(|_url| {
///         Box::pin(async {
///             let unix = tokio::net::UnixStream::connect("/run/feed.sock").await?;
///             Ok(wsapi::runtime::tokio_io(unix))
///         })
///     })
///     .connect()?;
/// # Ok::<(), wsapi::BuildError>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-runtime")))]
pub fn tokio_io<S>(stream: S) -> BoxedStream
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    Box::new(stream.compat())
}

/// The crate's own tokio runtime, for programs with only the
/// `tokio-runtime` feature that connect outside of a tokio runtime (and
/// for [`super::block_on`] then). Started on first use.
#[cfg_attr(any(feature = "async-std-runtime", feature = "smol-runtime"), allow(dead_code))]
pub(super) fn own_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("wsapi-tokio")
            .build()
            .expect("cannot start a tokio runtime")
    })
}
