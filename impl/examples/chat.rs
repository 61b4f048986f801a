//! Chat with a subprotocol: the server speaks `chat.v2` only; the client
//! offers `chat.v3` and `chat.v2`, and checks what was selected before
//! talking. Handlers, browser style.
//!
//! `cargo run -p wsapi --example chat`

use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures::channel::oneshot;
use futures::StreamExt;
use std::sync::Mutex;
use wsapi::runtime::{block_on, spawn, TcpListener};
use wsapi::WebSocket;

#[allow(clippy::result_large_err)] // tungstenite's callback signature
fn only_v2(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let offered = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if offered.split(',').any(|p| p.trim() == "chat.v2") {
        resp.headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("chat.v2"));
    }
    Ok(resp)
}

async fn chat_server() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("ws://{}", listener.local_addr()?);
    spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            spawn(async move {
                let Ok(mut ws) = async_tungstenite::accept_hdr_async(tcp, only_v2).await else {
                    return;
                };
                // Until the stream ends: tungstenite answers the client's Close meanwhile.
                while let Some(Ok(msg)) = ws.next().await {
                    let WsMessage::Text(t) = msg else { continue };
                    let reply = format!("server got {:?}", t.as_str());
                    if ws.send(WsMessage::text(reply)).await.is_err() {
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
        let base = chat_server().await?;
        let (done, finished) = oneshot::channel::<bool>();
        let done = Mutex::new(Some(done));
        // Handlers go to the builder, so that none can miss an event.
        let _ws = WebSocket::builder(&format!("{base}/room"))
            .protocols(&["chat.v3", "chat.v2"])
            .on_open(|ws| {
                println!("open, protocol {:?}", ws.protocol());
                assert_eq!(ws.protocol(), "chat.v2");
                ws.send("hi all").expect("open");
            })
            .on_message(|ws, m| {
                println!("message: {}", m.data.as_text().unwrap_or("<binary>"));
                ws.close(Some(1000), None).expect("valid arguments");
            })
            .on_error(|_, why| eprintln!("error: {why}"))
            .on_close(move |_, c| {
                println!("close {} clean={}", c.code, c.was_clean);
                if let Some(tx) = done.lock().unwrap().take() {
                    let _ = tx.send(c.was_clean);
                }
            })
            .connect()?;
        if finished.await? {
            Ok(())
        } else {
            Err("unclean close".into())
        }
    })
}
