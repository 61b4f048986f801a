//! The client's command-line options and the [`WebSocketBuilder`] they make.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use wsapi::{WebSocket, WebSocketBuilder};

/// How binary messages are written as text, on input lines and in output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    /// Two hex digits per byte (input may contain spaces).
    Hex,
    /// Standard base64 with padding.
    Base64,
}

impl Encoding {
    /// The name printed in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
        }
    }

    /// `bytes` written in this encoding.
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => data_encoding::HEXLOWER.encode(bytes),
            Encoding::Base64 => data_encoding::BASE64.encode(bytes),
        }
    }

    /// Decodes one input line.
    pub fn decode(self, line: &str) -> Result<Vec<u8>, String> {
        let result = match self {
            Encoding::Hex => {
                let digits: String = line.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                data_encoding::HEXLOWER_PERMISSIVE.decode(digits.as_bytes())
            }
            Encoding::Base64 => data_encoding::BASE64.decode(line.trim().as_bytes()),
        };
        result.map_err(|e| format!("not {}: {e}", self.name()))
    }
}

/// Options of the client mode (`wsapi URL ...`).
#[derive(Args, Debug, Clone)]
pub struct ClientOptions {
    /// A subprotocol to offer (repeatable; order is preference).
    #[arg(long = "protocol", short = 'p', value_name = "NAME")]
    pub protocols: Vec<String>,
    /// An extra request header, as `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Input lines are binary messages in this encoding (received binary
    /// messages are printed in it too; default for those: hex).
    #[arg(long, short = 'b', value_name = "ENCODING")]
    pub binary: Option<Encoding>,
    /// Send this file's contents as one binary message once open, before
    /// standard input (repeatable).
    #[arg(long = "file", short = 'f', value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print one JSON object per event on stdout (open, message, error, close).
    #[arg(long)]
    pub jsonl: bool,
    /// Fail if the connection is not open after this many seconds.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = seconds)]
    pub connect_timeout: Duration,
    /// How long to wait for the server's end of the closing handshake.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = seconds)]
    pub closing_timeout: Duration,
    /// Largest message, in bytes, both ways: a larger one received fails
    /// the connection (1009); a longer input line or file is not sent.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_message_size: usize,
    /// Do not offer permessage-deflate.
    #[arg(long)]
    pub no_deflate: bool,
    /// Trust the certificates in this PEM (or DER) file for wss:, instead of
    /// the built-in Mozilla roots.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Tunnel through this HTTP proxy (CONNECT), as
    /// `http://[user:password@]host[:port]`.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// After the end of input, close once this many messages were received
    /// in all.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// After the end of input, close once no message came for this long
    /// (default: 2 when input is piped, 0 at a terminal).
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub wait: Option<Duration>,
}

fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?} seconds: {e}"))
}

impl ClientOptions {
    /// The builder for `url` with these options; `Err` says which option is unusable.
    pub fn builder(&self, url: &str) -> Result<WebSocketBuilder, String> {
        let mut builder = WebSocket::builder(url)
            .protocols(&self.protocols)
            .connect_timeout(self.connect_timeout)
            .closing_timeout(self.closing_timeout)
            .max_message_size(Some(self.max_message_size))
            .deflate(!self.no_deflate);
        for h in &self.headers {
            let Some((name, value)) = h.split_once(':') else {
                return Err(format!("--header wants `Name: value`, got {h:?}"));
            };
            builder = builder.header(name.trim(), value.trim());
        }
        if let Some(proxy) = &self.proxy {
            builder = builder.proxy(proxy);
        }
        if let Some(path) = &self.ca {
            let roots = read_certificates(path)?;
            builder = builder
                .root_certificates(roots)
                .map_err(|e| format!("--ca {}: unusable certificate: {e}", path.display()))?;
        }
        Ok(builder)
    }
}

/// The certificates of a PEM file (every `CERTIFICATE` block), or of a DER file.
fn read_certificates(path: &PathBuf) -> Result<Vec<Vec<u8>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("--ca {}: cannot read: {e}", path.display()))?;
    if !bytes.windows(10).any(|w| w == b"-----BEGIN") {
        return Ok(vec![bytes]);
    }
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&bytes)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--ca {}: bad PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("--ca {}: no CERTIFICATE block in the file", path.display()));
    }
    Ok(certs)
}
