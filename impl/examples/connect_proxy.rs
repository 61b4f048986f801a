//! Through an HTTP CONNECT proxy that wants credentials: the first attempt
//! has none and is refused with 407, which the error says with the proxy's
//! name and the status as a field; the second carries them and talks to
//! the echo server through the tunnel. The proxy is a small in-process one
//! (any HTTP proxy with CONNECT works: tinyproxy, squid...).
//!
//! `cargo run -p wsapi --example connect_proxy`

use async_tungstenite::tungstenite::Message as WsMessage;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;
use wsapi::runtime::{block_on, connect_tcp, spawn, BoxedStream, TcpListener};
use wsapi::{Event, FailReason, ProxyError, WebSocket};

/// `Proxy-Authorization` the proxy accepts: Basic `user:s3cret`.
const CREDENTIALS: &str = "Basic dXNlcjpzM2NyZXQ=";

async fn echo_server() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("ws://{}", listener.local_addr()?);
    spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            spawn(async move {
                let Ok(mut ws) = async_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if matches!(msg, WsMessage::Text(_)) && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(base)
}

/// A CONNECT proxy on loopback that wants [`CREDENTIALS`]; its address.
async fn connect_proxy() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            spawn(async move {
                let _ = tunnel(Box::new(client)).await;
            });
        }
    });
    Ok(addr)
}

async fn tunnel(mut client: BoxedStream) -> std::io::Result<()> {
    // The request head, byte by byte: what follows it is the tunnel's.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let target = head
        .strip_prefix("CONNECT ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or("");
    let authorized = head.lines().any(|l| {
        l.split_once(':')
            .is_some_and(|(n, v)| n.eq_ignore_ascii_case("proxy-authorization") && v.trim() == CREDENTIALS)
    });
    if !authorized {
        println!("proxy: CONNECT {target} without credentials: 407");
        return client
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"example\"\r\n\r\n",
            )
            .await;
    }
    let (host, port) = target.rsplit_once(':').unwrap_or((target, "80"));
    let server = connect_tcp(host, port.parse().unwrap_or(80)).await?;
    println!("proxy: CONNECT {target}: tunnel open");
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
    let (mut from_client, mut to_client) = client.split();
    let (mut from_server, mut to_server) = server.split();
    let up = async {
        futures::io::copy(&mut from_client, &mut to_server).await?;
        to_server.close().await
    };
    let down = async {
        futures::io::copy(&mut from_server, &mut to_client).await?;
        to_client.close().await
    };
    futures::future::try_join(up, down).await.map(|_| ())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    block_on(async {
        let base = echo_server().await?;
        let proxy = connect_proxy().await?;

        // Without credentials: refused by the proxy, and the error says so.
        let ws = WebSocket::builder(&format!("{base}/echo"))
            .proxy(&format!("http://{proxy}"))
            .connect()?;
        let mut refused = None;
        while let Some(event) = ws.next_event().await {
            if let Event::Error(FailReason::Transport(why)) = event {
                let cause = why
                    .cause()
                    .downcast_ref::<ProxyError>()
                    .ok_or("not the proxy's error")?;
                println!("refused: {why}");
                refused = cause.status();
            }
        }
        if refused != Some(407) {
            return Err(format!("expected a 407 from the proxy, got {refused:?}").into());
        }

        // With them: the handshake and the messages go through the tunnel.
        let ws = WebSocket::builder(&format!("{base}/echo"))
            .proxy(&format!("http://user:s3cret@{proxy}"))
            .connect()?;
        while let Some(event) = ws.next_event().await {
            match event {
                Event::Open => ws.send("through the proxy")?,
                Event::Message(m) => {
                    println!("echo: {:?}", m.data);
                    ws.close(Some(1000), None)?;
                }
                Event::Error(why) => return Err(format!("failed: {why}").into()),
                Event::Close(c) if c.was_clean => println!("closed {}", c.code),
                Event::Close(c) => return Err(format!("unclean close {}", c.code).into()),
            }
        }
        Ok(())
    })
}
