//! A loopback echo server (127.0.0.1): in-process for the demo, and the
//! `wsapi echo-server` command for trying the client and for its tests.

use async_tungstenite::tungstenite::handshake::server::{Request, Response};
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::Message;
use std::io::Write;
use std::process::ExitCode;

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

/// Starts the server on `port` (0: any free one) and returns its
/// `ws://127.0.0.1:PORT` base URL. Each connection echoes text and binary
/// messages until the client closes.
pub async fn start(port: u16) -> std::io::Result<String> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
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

/// `wsapi echo-server`: prints the base URL as the first line of stdout,
/// then serves until the process is killed.
pub async fn serve(port: u16) -> ExitCode {
    match start(port).await {
        Ok(base) => {
            println!("{base}");
            let _ = std::io::stdout().flush();
            futures::future::pending::<ExitCode>().await
        }
        Err(e) => {
            eprintln!("wsapi: cannot listen on 127.0.0.1:{port}: {e}");
            ExitCode::from(crate::exit::USAGE)
        }
    }
}
