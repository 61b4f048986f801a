//! [`Runtime`] on smol (feature `smol-runtime`).

use std::io;
use std::time::Duration;

use super::{BoxFuture, BoxedStream, Runtime};

/// smol's global executor and `async-io`'s reactor.
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(docsrs, doc(cfg(feature = "smol-runtime")))]
pub struct SmolRuntime;

impl Runtime for SmolRuntime {
    fn spawn(&self, future: BoxFuture<()>) {
        smol::spawn(future).detach();
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        Box::pin(async move {
            smol::Timer::after(duration).await;
        })
    }

    fn connect_tcp(&self, host: String, port: u16) -> BoxFuture<io::Result<BoxedStream>> {
        Box::pin(async move {
            let stream = smol::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxedStream)
        })
    }
}
