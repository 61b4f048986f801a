//! tokio's own streams (feature `tokio-runtime`): a `tokio::net::TcpStream`
//! and a `tokio::net::UnixStream` given to `WebSocketBuilder::tokio_stream`
//! as they are, and one opened by a connector through `runtime::tokio_io`.
//! Each test runs on a multi-threaded tokio runtime of its own, as a tokio
//! program does.

mod support;

use support::{echo_on, echo_round_trip};
use tokio::net::{TcpListener, UnixStream};
use tokio_util::compat::TokioAsyncReadCompatExt;
use wsapi::WebSocket;

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// An echo server on a tokio listener on loopback; its address.
async fn tokio_echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(echo_on(tcp.compat()));
        }
    });
    addr
}

#[test]
fn a_tokio_tcp_stream_is_taken_as_it_is() {
    tokio_runtime().block_on(async {
        let addr = tokio_echo_server().await;
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let ws = WebSocket::builder(&format!("ws://{addr}/tcp"))
            .tokio_stream(tcp)
            .connect()
            .unwrap();
        echo_round_trip(&ws, "over a tokio TcpStream").await;
    });
}

#[test]
fn a_tokio_unix_stream_is_taken_as_it_is() {
    tokio_runtime().block_on(async {
        let (client, server) = UnixStream::pair().expect("socketpair");
        tokio::spawn(echo_on(server.compat()));
        let ws = WebSocket::builder("ws://localhost/unix")
            .tokio_stream(client)
            .connect()
            .unwrap();
        echo_round_trip(&ws, "over a tokio UnixStream").await;
    });
}

#[test]
fn a_connector_opens_a_tokio_stream_through_tokio_io() {
    tokio_runtime().block_on(async {
        let addr = tokio_echo_server().await;
        let ws = WebSocket::builder(&format!("ws://{addr}/connector"))
            .connector(move |_url| {
                Box::pin(async move {
                    let tcp = tokio::net::TcpStream::connect(addr).await?;
                    Ok(wsapi::runtime::tokio_io(tcp))
                })
            })
            .connect()
            .unwrap();
        echo_round_trip(&ws, "over a tokio stream from a connector").await;
    });
}
