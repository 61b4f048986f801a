//! [`Runtime`] on async-std (feature `async-std-runtime`, the default).

use std::io;
use std::time::Duration;

use super::{BoxFuture, BoxedStream, Runtime};

/// async-std's global executor and its `async-io` reactor.
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(docsrs, doc(cfg(feature = "async-std-runtime")))]
pub struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
    fn spawn(&self, future: BoxFuture<()>) {
        // async-std detaches a task whose handle is dropped.
        drop(async_std::task::spawn(future));
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        Box::pin(async_std::task::sleep(duration))
    }

    fn connect_tcp(&self, host: String, port: u16) -> BoxFuture<io::Result<BoxedStream>> {
        Box::pin(async move {
            let stream = async_std::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxedStream)
        })
    }
}
