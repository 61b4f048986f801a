//! wss:// against a real TLS server on loopback, with a certificate
//! generated at test time.

mod support;

use support::{events_until_close, kinds, tls_echo_server, with_limit};
use wsapi::runtime::block_on;
use wsapi::{Event, WebSocket};

#[test]
fn wss_echo_with_a_custom_root() {
    block_on(async {
        let (port, cert) = tls_echo_server().await;
        let ws = WebSocket::builder(&format!("wss://localhost:{port}/tls"))
            .root_certificates([cert])
            .unwrap()
            .connect()
            .unwrap();
        assert_eq!(with_limit(ws.next_event()).await, Some(Event::Open));
        ws.send("secret").unwrap();
        let Some(Event::Message(m)) = with_limit(ws.next_event()).await else {
            panic!()
        };
        assert_eq!(m.data.as_text(), Some("secret"));
        ws.close(Some(1000), None).unwrap();
        let rest = events_until_close(&ws).await;
        let Some(Event::Close(c)) = rest.last() else {
            panic!("{rest:?}")
        };
        assert!(c.was_clean);
    });
}

#[test]
fn wss_with_an_untrusted_certificate_fails() {
    block_on(async {
        let (port, _cert) = tls_echo_server().await;
        // Default roots (webpki): a self-signed certificate is not trusted.
        let ws = WebSocket::new(&format!("wss://localhost:{port}/tls"), &[] as &[&str]).unwrap();
        let events = events_until_close(&ws).await;
        assert_eq!(kinds(&events), ["error", "close"]);
        let Event::Error(wsapi::FailReason::Transport(why)) = &events[0] else {
            panic!("{events:?}")
        };
        // The cause is typed: rustls says the certificate is not trusted.
        assert_eq!(why.layer(), wsapi::TransportLayer::Tls);
        let tls = why.cause().downcast_ref::<wsapi::rustls::Error>();
        assert!(
            matches!(tls, Some(wsapi::rustls::Error::InvalidCertificate(_))),
            "{why:?}"
        );
        assert!(why.to_string().contains("TLS handshake with localhost:"), "{why}");
    });
}
