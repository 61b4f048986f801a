//! TLS choices of the command line: a client certificate (`--cert`,
//! `--key`) and `--insecure`, which turns certificate checks off.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use wsapi::rustls;
use wsapi::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use wsapi::rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use wsapi::rustls::{DigitallySignedStruct, SignatureScheme};

use crate::options::read_certificates;

/// A client certificate chain and its key.
pub type ClientCertificate = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// Reads `--cert` (PEM or DER) and `--key` (PEM or DER).
pub fn client_certificate(cert: &Path, key: &Path) -> Result<ClientCertificate, String> {
    let chain = read_certificates("--cert", cert)?
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let bytes = std::fs::read(key).map_err(|e| format!("--key {}: cannot read: {e}", key.display()))?;
    let key_der = if bytes.windows(10).any(|w| w == b"-----BEGIN") {
        PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| format!("--key {}: no usable PEM key: {e}", key.display()))?
    } else {
        PrivateKeyDer::try_from(bytes.as_slice())
            .map(|k| k.clone_key())
            .map_err(|e| format!("--key {}: not a DER private key: {e}", key.display()))?
    };
    Ok((chain, key_der))
}

/// A configuration that accepts any server certificate (`--insecure`),
/// still checking the handshake's signatures (the connection is encrypted,
/// just not to a verified peer), presenting `client` if given.
pub fn insecure_config(client: Option<ClientCertificate>) -> Result<Arc<rustls::ClientConfig>, String> {
    // The library's provider (its `ring` or `aws-lc-rs` feature).
    let provider = wsapi::crypto_provider()
        .ok_or("--insecure: no rustls crypto provider (build with the feature `ring` or `aws-lc-rs`)")?;
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)));
    let config = match client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("--cert/--key: {e}"))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// `--insecure`'s verifier: every certificate is taken as valid.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
