//! Temporary pass-through stand-in for wire.rs (being written).
#![allow(dead_code)]
use futures::io::{AsyncRead, AsyncWrite};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

pub(crate) struct WireConfig {
    pub max_message_size: Option<usize>,
    pub max_frame_size: Option<usize>,
}
pub(crate) enum WireEvent {
    Close(Vec<u8>),
    ProtocolError(String),
    MessageTooBig,
    Eof,
}
pub(crate) struct Wire<S> {
    inner: S,
}
#[derive(Clone)]
pub(crate) struct WireHandle {
    q: Arc<Mutex<Vec<WireEvent>>>,
}
impl<S> Wire<S> {
    pub(crate) fn new(inner: S, _cfg: WireConfig) -> (Self, WireHandle) {
        (Wire { inner }, WireHandle { q: Arc::default() })
    }
}
impl WireHandle {
    pub(crate) fn set_extensions(&self, _h: Option<&str>) -> Result<(), String> {
        Ok(())
    }
    pub(crate) fn poll_event(&self) -> Option<WireEvent> {
        None
    }
}
impl<S: AsyncRead + Unpin> AsyncRead for Wire<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}
impl<S: AsyncWrite + Unpin> AsyncWrite for Wire<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
