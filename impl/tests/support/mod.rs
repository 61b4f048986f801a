//! A small well-behaved async server for the client's integration tests
//! (hostile servers are in `props/`). Binds 127.0.0.1:0.
#![allow(dead_code)]

pub mod external;

use std::time::Duration;

use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::Message;
use futures::io::{AsyncRead, AsyncWrite};
use futures::StreamExt;
use wsapi::runtime::{spawn, TcpListener};
use wsapi::{Event, WebSocket};

/// Every wait in a test is bounded by this.
pub const LIMIT: Duration = Duration::from_secs(10);

#[allow(clippy::result_large_err)]
fn select_first(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    if let Some(first) = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|p| HeaderValue::from_str(p.trim()).ok())
    {
        resp.headers_mut().insert("sec-websocket-protocol", first);
    }
    Ok(resp)
}

/// Echoes every data message on a stream that already is a transport.
pub async fn echo_on<S: AsyncRead + AsyncWrite + Unpin>(stream: S) {
    let Ok(mut ws) = async_tungstenite::accept_hdr_async(stream, select_first).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if matches!(msg, Message::Text(_) | Message::Binary(_)) && ws.send(msg).await.is_err() {
            break;
        }
    }
}

/// An echo server (text and binary echoed, first subprotocol selected).
pub async fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("ws://{}", listener.local_addr().expect("addr"));
    spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            spawn(echo_on(tcp));
        }
    });
    base
}

/// Takes events until the close event (bounded by [`LIMIT`]).
pub async fn events_until_close(ws: &WebSocket) -> Vec<Event> {
    let mut out = Vec::new();
    let collect = async {
        while let Some(e) = ws.next_event().await {
            out.push(e);
        }
    };
    with_limit(collect).await;
    out
}

/// The crypto provider of the tests' TLS servers (and of a client config
/// built by hand): ring, whichever provider the client is built with.
/// rustls 0.23.48 deprecated `ring::default_provider` (ring has no
/// post-quantum key exchange); a loopback test has no use for that.
#[allow(deprecated)]
pub fn ring_provider() -> std::sync::Arc<futures_rustls::rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(futures_rustls::rustls::crypto::ring::default_provider())
}

/// Runs `fut`, panicking if it takes longer than [`LIMIT`].
pub async fn with_limit<F: std::future::Future>(fut: F) -> F::Output {
    match futures::future::select(Box::pin(fut), wsapi::runtime::sleep(LIMIT)).await {
        futures::future::Either::Left((out, _)) => out,
        futures::future::Either::Right(_) => panic!("test step took longer than {LIMIT:?}"),
    }
}

/// The kinds of events, for compact assertions.
pub fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.type_name()).collect()
}

/// A TLS echo server for `localhost` with a certificate generated now;
/// returns the port and the certificate (DER).
pub async fn tls_echo_server() -> (u16, Vec<u8>) {
    use futures_rustls::rustls;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    let cert_der = cert.cert.der().to_vec();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = ring_provider();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone().into()], key)
        .expect("certificate");
    let port = serve_tls_echo(config).await;
    (port, cert_der)
}

/// Serves an echo over TLS with `config` on a loopback port; returns the port.
async fn serve_tls_echo(config: futures_rustls::rustls::ServerConfig) -> u16 {
    let acceptor = futures_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    echo_on(tls).await;
                }
            });
        }
    });
    port
}

/// Waits for open, sends `text`, expects its echo, closes cleanly (each
/// step bounded by [`LIMIT`]).
pub async fn echo_round_trip(ws: &WebSocket, text: &str) {
    assert_eq!(with_limit(ws.next_event()).await, Some(Event::Open));
    ws.send(text).expect("open");
    match with_limit(ws.next_event()).await {
        Some(Event::Message(m)) => assert_eq!(m.data.as_text(), Some(text)),
        other => panic!("expected the echo, got {other:?}"),
    }
    ws.close(Some(1000), None).expect("valid");
    match events_until_close(ws).await.last() {
        Some(Event::Close(c)) => assert!(c.was_clean, "{c:?}"),
        other => panic!("{other:?}"),
    }
}

/// Takes the events of a connection that must fail: error, then close
/// 1006 not clean; returns the reason.
pub async fn failure(ws: &WebSocket) -> wsapi::FailReason {
    let events = events_until_close(ws).await;
    assert_eq!(kinds(&events), ["error", "close"], "{events:?}");
    match &events[1] {
        Event::Close(c) => assert!(c.code == 1006 && !c.was_clean, "{c:?}"),
        other => panic!("{other:?}"),
    }
    match &events[0] {
        Event::Error(why) => why.clone(),
        other => panic!("{other:?}"),
    }
}

/// A TLS echo server for `localhost` that requires a client certificate
/// issued by its own CA (generated now), and the certificates to try it.
pub struct MutualTls {
    pub port: u16,
    /// The CA's certificate (DER): trust it for the server.
    pub ca: Vec<u8>,
    /// A client certificate the server accepts, and its key (PKCS#8 DER).
    pub client_cert: Vec<u8>,
    pub client_key: Vec<u8>,
    /// A self-signed client certificate the server does not accept, and its key.
    pub stranger_cert: Vec<u8>,
    pub stranger_key: Vec<u8>,
}

pub async fn mutual_tls_echo_server() -> MutualTls {
    use futures_rustls::rustls;
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
    use std::sync::Arc;
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |name: &str, usage| {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec![name.to_string()]).expect("params");
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &issuer).expect("signed");
        (cert.der().to_vec(), key.serialize_der())
    };
    let (server_cert, server_key) = leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth);
    let (client_cert, client_key) = leaf("client", ExtendedKeyUsagePurpose::ClientAuth);
    let stranger = rcgen::generate_simple_self_signed(vec!["client".to_string()]).expect("rcgen");

    let provider = ring_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).expect("CA root");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("client verifier");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server_cert.into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.into()),
        )
        .expect("certificate");
    let port = serve_tls_echo(config).await;
    MutualTls {
        port,
        ca: ca.der().to_vec(),
        client_cert,
        client_key,
        stranger_cert: stranger.cert.der().to_vec(),
        stranger_key: stranger.signing_key.serialize_der(),
    }
}
