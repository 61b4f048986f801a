//! A TCP listener on the default runtime, for loopback servers in tests,
//! examples, benchmarks and the CLI's demo. A struct rather than a
//! runtime's own type, so that it is the same type whatever the features.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use super::{BoxedStream, Builtin};

/// A TCP listener on the [`super::default_runtime`] at the time it was bound.
pub struct TcpListener {
    inner: Inner,
}

enum Inner {
    #[cfg(feature = "tokio-runtime")]
    Tokio(tokio::net::TcpListener),
    #[cfg(feature = "async-std-runtime")]
    AsyncStd(async_std::net::TcpListener),
    #[cfg(feature = "smol-runtime")]
    Smol(smol::net::TcpListener),
}

impl TcpListener {
    /// Binds to `addr` (resolved with std's blocking resolver: meant for
    /// literal addresses such as `127.0.0.1:0`).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let inner = match Builtin::pick() {
            #[cfg(feature = "tokio-runtime")]
            Builtin::Tokio(handle) => {
                let _entered = handle.enter();
                Inner::Tokio(tokio::net::TcpListener::from_std(std_listener)?)
            }
            #[cfg(feature = "async-std-runtime")]
            Builtin::AsyncStd => Inner::AsyncStd(async_std::net::TcpListener::from(std_listener)),
            #[cfg(feature = "smol-runtime")]
            Builtin::Smol => Inner::Smol(smol::net::TcpListener::try_from(std_listener)?),
        };
        Ok(TcpListener { inner })
    }

    /// The address it is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.inner {
            #[cfg(feature = "tokio-runtime")]
            Inner::Tokio(l) => l.local_addr(),
            #[cfg(feature = "async-std-runtime")]
            Inner::AsyncStd(l) => l.local_addr(),
            #[cfg(feature = "smol-runtime")]
            Inner::Smol(l) => l.local_addr(),
        }
    }

    /// Waits for the next connection (Nagle's algorithm off, as for ours).
    pub async fn accept(&self) -> io::Result<(BoxedStream, SocketAddr)> {
        match &self.inner {
            #[cfg(feature = "tokio-runtime")]
            Inner::Tokio(l) => {
                use tokio_util::compat::TokioAsyncReadCompatExt;
                let (stream, peer) = l.accept().await?;
                stream.set_nodelay(true)?;
                Ok((Box::new(stream.compat()), peer))
            }
            #[cfg(feature = "async-std-runtime")]
            Inner::AsyncStd(l) => {
                let (stream, peer) = l.accept().await?;
                stream.set_nodelay(true)?;
                Ok((Box::new(stream), peer))
            }
            #[cfg(feature = "smol-runtime")]
            Inner::Smol(l) => {
                let (stream, peer) = l.accept().await?;
                stream.set_nodelay(true)?;
                Ok((Box::new(stream), peer))
            }
        }
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
