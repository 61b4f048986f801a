//! Through a SOCKS5 proxy with `socks5h://` (the proxy resolves the
//! server's name). The proxy is a small in-process one that speaks just
//! enough SOCKS5 (no authentication, CONNECT); any SOCKS5 server works
//! (microsocks, dante, ssh -D, Tor). A refused connection shows the SOCKS
//! reply code as a field of the error.
//!
//! `cargo run -p wsapi --example socks5`

use std::net::TcpListener as StdTcpListener;

use async_tungstenite::tungstenite::Message as WsMessage;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;
use wsapi::runtime::{block_on, connect_tcp, spawn, BoxedStream, TcpListener};
use wsapi::{Event, FailReason, ProxyError, WebSocket};

async fn echo_server() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
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
    Ok(port)
}

/// A SOCKS5 proxy on loopback (no authentication); its address.
async fn socks5_proxy() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            spawn(async move {
                let _ = serve(Box::new(client)).await;
            });
        }
    });
    Ok(addr)
}

async fn serve(mut client: BoxedStream) -> std::io::Result<()> {
    // Greeting: version 5, the methods offered; we take "no authentication".
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods).await?;
    client.write_all(&[5, 0]).await?;
    // Request: version, CONNECT, reserved, address type, address, port.
    let mut request = [0u8; 4];
    client.read_exact(&mut request).await?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len).await?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => return client.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]).await,
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    let port = u16::from_be_bytes(port);
    let server = match connect_tcp(&host, port).await {
        Ok(server) => server,
        Err(e) => {
            println!("socks: CONNECT {host}:{port}: {e}");
            // Reply 5: connection refused.
            return client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await;
        }
    };
    println!("socks: CONNECT {host}:{port}: open");
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
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
        let port = echo_server().await?;
        let proxy = socks5_proxy().await?;

        // socks5h: the proxy gets the name "localhost" and resolves it.
        let ws = WebSocket::builder(&format!("ws://localhost:{port}/echo"))
            .proxy(&format!("socks5h://{proxy}"))
            .connect()?;
        while let Some(event) = ws.next_event().await {
            match event {
                Event::Open => ws.send("through socks5")?,
                Event::Message(m) => {
                    println!("echo: {:?}", m.data);
                    ws.close(Some(1000), None)?;
                }
                Event::Error(why) => return Err(format!("failed: {why}").into()),
                Event::Close(c) if c.was_clean => println!("closed {}", c.code),
                Event::Close(c) => return Err(format!("unclean close {}", c.code).into()),
            }
        }

        // A port nobody listens on: the proxy's refusal, typed.
        let closed = StdTcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let ws = WebSocket::builder(&format!("ws://127.0.0.1:{closed}/"))
            .proxy(&format!("socks5://{proxy}"))
            .connect()?;
        let mut reply = None;
        while let Some(event) = ws.next_event().await {
            if let Event::Error(FailReason::Transport(why)) = event {
                println!("refused: {why}");
                reply = why
                    .cause()
                    .downcast_ref::<ProxyError>()
                    .and_then(ProxyError::socks_reply);
            }
        }
        if reply != Some(5) {
            return Err(format!("expected SOCKS reply 5 (connection refused), got {reply:?}").into());
        }
        Ok(())
    })
}
