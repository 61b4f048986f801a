//! A tokio program on the multi-threaded runtime: 1,000 messages sent as
//! fast as `send` takes them, every echo checked, in order, then a clean
//! close. The connection runs on the program's own tokio runtime.
//!
//! In `Cargo.toml`: `wsapi = { version = "0.1", default-features = false,
//! features = ["tokio-runtime"] }`.
//!
//! `cargo run -p wsapi --features tokio-runtime --example tokio_many`

use async_tungstenite::tungstenite::Message as WsMessage;
use futures::StreamExt;
use wsapi::runtime::TcpListener;
use wsapi::{Event, WebSocket};

const MESSAGES: usize = 1_000;

async fn echo_server() -> std::io::Result<String> {
    // Inside a tokio runtime, wsapi's listener is a tokio one.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("ws://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = echo_server().await?;
    // The code that drives the socket runs in a task of its own (cheaper
    // hand-offs than from the main thread's block_on; see the crate docs).
    let client = tokio::spawn(async move {
        let ws = WebSocket::new(&format!("{base}/many"), &[])?;
        let mut received = 0;
        while let Some(event) = ws.next_event().await {
            match event {
                Event::Open => {
                    for i in 0..MESSAGES {
                        ws.send(format!("message {i}"))?;
                    }
                }
                Event::Message(m) => {
                    let expected = format!("message {received}");
                    if m.data.as_text() != Some(expected.as_str()) {
                        return Err(format!("echo {received} is {:?}, not {expected:?}", m.data).into());
                    }
                    received += 1;
                    if received == MESSAGES {
                        ws.close(Some(1000), Some("all echoed"))?;
                    }
                }
                Event::Error(why) => return Err(format!("failed: {why}").into()),
                Event::Close(c) if c.was_clean => println!("{received} echoes in order; closed {}", c.code),
                Event::Close(c) => return Err(format!("unclean close {}", c.code).into()),
            }
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(received)
    });
    let received = client.await?.map_err(|e| e.to_string())?;
    if received != MESSAGES {
        return Err(format!("{received} echoes of {MESSAGES}").into());
    }
    Ok(())
}
