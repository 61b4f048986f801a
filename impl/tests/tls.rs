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

mod client_certificates {
    use super::support::{echo_round_trip, failure, mutual_tls_echo_server, MutualTls};
    use wsapi::runtime::block_on;
    use wsapi::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use wsapi::{BuildError, WebSocket, WebSocketBuilder};

    fn builder(server: &MutualTls, cert: &[u8], key: &[u8]) -> WebSocketBuilder {
        WebSocket::builder(&format!("wss://localhost:{}/mtls", server.port))
            .root_certificates([server.ca.clone()])
            .unwrap()
            .client_certificate(
                vec![CertificateDer::from(cert.to_vec())],
                PrivateKeyDer::Pkcs8(key.to_vec().into()),
            )
    }

    #[test]
    fn a_server_that_requires_one_accepts_ours() {
        block_on(async {
            let server = mutual_tls_echo_server().await;
            let ws = builder(&server, &server.client_cert, &server.client_key)
                .connect()
                .unwrap();
            echo_round_trip(&ws, "with a client certificate").await;
        });
    }

    #[test]
    fn without_one_or_with_a_stranger_the_connection_fails() {
        block_on(async {
            let server = mutual_tls_echo_server().await;
            let none = WebSocket::builder(&format!("wss://localhost:{}/mtls", server.port))
                .root_certificates([server.ca.clone()])
                .unwrap()
                .connect()
                .unwrap();
            // TLS 1.3: the server judges the client's certificate after the
            // client's handshake is done, so its alert arrives on the first read.
            let why = failure(&none).await.to_string();
            assert!(why.contains("CertificateRequired"), "{why}");
            let stranger = builder(&server, &server.stranger_cert, &server.stranger_key)
                .connect()
                .unwrap();
            let why = failure(&stranger).await.to_string();
            assert!(why.contains("alert"), "{why}");
        });
    }

    #[test]
    fn an_unusable_certificate_is_a_build_error() {
        let server = block_on(mutual_tls_echo_server());
        // The key is not the certificate's.
        let err = builder(&server, &server.client_cert, &server.stranger_key)
            .connect()
            .unwrap_err();
        assert!(matches!(err, BuildError::ClientCertificate(_)), "{err:?}");
        // Not a key at all.
        let err = builder(&server, &server.client_cert, b"not a key")
            .connect()
            .unwrap_err();
        assert!(matches!(err, BuildError::ClientCertificate(_)), "{err:?}");
        // With a whole ClientConfig, the certificate goes in it.
        let config = std::sync::Arc::new(
            wsapi::rustls::ClientConfig::builder_with_provider(crate::support::ring_provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(wsapi::rustls::RootCertStore::empty())
                .with_no_client_auth(),
        );
        let err = builder(&server, &server.client_cert, &server.client_key)
            .tls_config(config)
            .connect()
            .unwrap_err();
        assert!(err.to_string().contains("tls_config"), "{err}");
    }
}
