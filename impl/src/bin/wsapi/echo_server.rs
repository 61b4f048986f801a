//! A loopback echo server, in-process, for the demo (port 0, 127.0.0.1).

use async_tungstenite::tungstenite::handshake::server::{Request, Response};
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::Message;
use futures::StreamExt;
use wsapi::runtime::{spawn, TcpListener};

/// Selects the first subprotocol the client offers, as a server must when
/// it supports them all.
#[allow(clippy::result_large_err)] // the signature is tungstenite's callback type
fn select_first_protocol(
    req: &Request,
    mut resp: Response,
) -> Result<Response, async_tungstenite::tungstenite::handshake::server::ErrorResponse> {
    let first = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|p| p.trim().to_string());
    if let Some(p) = first.and_then(|p| HeaderValue::from_str(&p).ok()) {
        resp.headers_mut().insert("sec-websocket-protocol", p);
    }
    Ok(resp)
}

/// Starts the server and returns its `ws://127.0.0.1:PORT` base URL.
/// Each connection echoes text and binary messages until the client closes.
pub async fn start() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            spawn(async move {
                let Ok(mut ws) = async_tungstenite::accept_hdr_async(tcp, select_first_protocol).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    let reply = match msg {
                        Message::Text(_) | Message::Binary(_) => msg,
                        _ => continue,
                    };
                    if ws.send(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(format!("ws://{addr}"))
}
