//! wss://: a TLS echo server on loopback with a certificate generated at
//! start (rcgen), and a client that trusts exactly that certificate.
//!
//! `cargo run -p wsapi --example wss`

use std::sync::Arc;

use async_tungstenite::tungstenite::Message as WsMessage;
use futures::StreamExt;
use futures_rustls::rustls;
use wsapi::runtime::{block_on, spawn, TcpListener};
use wsapi::{Event, WebSocket};

/// Starts a TLS echo server for `localhost`; returns its port and the certificate (DER).
async fn tls_echo_server() -> Result<(u16, Vec<u8>), Box<dyn std::error::Error>> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    let cert_der = cert.cert.der().to_vec();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    // ring, as wsapi's default feature. rustls 0.23.48 deprecated it (no
    // post-quantum key exchange): `rustls::crypto::aws_lc_rs` has that.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone().into()], key)?;
    let acceptor = futures_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut ws) = async_tungstenite::accept_async(tls).await else {
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
    Ok((port, cert_der))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    block_on(async {
        let (port, cert) = tls_echo_server().await?;
        let ws = WebSocket::builder(&format!("wss://localhost:{port}/secure"))
            .root_certificates([cert])?
            .connect()?;
        while let Some(event) = ws.next_event().await {
            match event {
                Event::Open => ws.send("over TLS")?,
                Event::Message(m) => {
                    println!("echo over TLS: {:?}", m.data.as_text());
                    ws.close(Some(1000), None)?;
                }
                Event::Error(why) => return Err(format!("failed: {why}").into()),
                Event::Close(c) if c.was_clean => println!("closed cleanly ({})", c.code),
                Event::Close(c) => return Err(format!("unclean close {}", c.code).into()),
            }
        }
        Ok(())
    })
}
