//! Echo: connect to an in-process loopback echo server, send text and
//! binary, print the echoes, close cleanly.
//!
//! `cargo run -p wsapi --example echo`

use async_tungstenite::tungstenite::Message as WsMessage;
use futures::StreamExt;
use wsapi::runtime::{block_on, spawn, TcpListener};
use wsapi::{Event, WebSocket};

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
                    if matches!(msg, WsMessage::Text(_) | WsMessage::Binary(_)) && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(base)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    block_on(async {
        let base = echo_server().await?;
        let ws = WebSocket::new(&format!("{base}/echo"), &[])?;
        let mut echoes = 0;
        while let Some(event) = ws.next_event().await {
            match event {
                Event::Open => {
                    ws.send("hello")?;
                    ws.send(vec![1u8, 2, 3])?;
                }
                Event::Message(m) => {
                    println!("echo: {:?}", m.data);
                    echoes += 1;
                    if echoes == 2 {
                        ws.close(Some(1000), Some("bye"))?;
                    }
                }
                Event::Error(why) => return Err(format!("failed: {why}").into()),
                Event::Close(c) => {
                    println!("closed: {} {:?} clean={}", c.code, c.reason, c.was_clean);
                    if !c.was_clean {
                        return Err("unclean close".into());
                    }
                }
            }
        }
        Ok(())
    })
}
