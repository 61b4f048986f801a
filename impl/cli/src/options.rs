//! The client's command-line options and the [`WebSocketBuilder`] they make.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use wsapi::{WebSocket, WebSocketBuilder};

use crate::output::Printer;
use crate::tls;

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
    #[arg(
        long = "protocol",
        short = 'p',
        value_name = "NAME",
        visible_alias = "subprotocol",
        visible_short_alias = 's'
    )]
    pub protocols: Vec<String>,
    /// An extra request header, as `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Input lines are binary messages, in the --encoding (as websocat's
    /// -b; `--binary hex` and `--binary base64` still work).
    #[arg(long, short = 'b')]
    pub binary: bool,
    /// How binary messages are written as text: input lines with --binary,
    /// and received binary messages.
    #[arg(long, value_name = "ENCODING", default_value = "hex")]
    pub encoding: Encoding,
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
    /// Send `Origin: URL` (as a browser would).
    #[arg(long, short = 'o', value_name = "URL")]
    pub origin: Option<String>,
    /// HTTP Basic credentials, sent as `Authorization: Basic ...`.
    #[arg(long, value_name = "USER:PASSWORD", visible_alias = "basic-auth")]
    pub auth: Option<String>,
    /// Do not check the server's certificate for wss: (a warning is printed;
    /// anyone on the way can read and change the connection).
    #[arg(long, short = 'k', visible_alias = "no-check", visible_short_alias = 'n')]
    pub insecure: bool,
    /// A client certificate (PEM or DER: the certificate, then any
    /// intermediates) for servers that require one; with --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM or DER; PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Keep-alive: after this long with nothing received, send a ping.
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub ping_interval: Option<Duration>,
    /// Keep-alive: fail the connection when nothing arrives this long
    /// after a ping (default: the --ping-interval).
    #[arg(long, value_name = "SECS", value_parser = seconds, requires = "ping_interval")]
    pub ping_timeout: Option<Duration>,
    /// The close code sent at the end of input (1000, or 3000-4999).
    #[arg(
        long,
        value_name = "CODE",
        default_value_t = 1000,
        visible_alias = "close-status-code"
    )]
    pub close_code: u16,
    /// The close reason sent at the end of input (at most 123 bytes of UTF-8).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub close_reason: String,
    /// Connect through this proxy: HTTP CONNECT as
    /// `http://[user:password@]host[:port]`, or SOCKS5 as
    /// `socks5://...` (the name resolved here) or `socks5h://...` (by the proxy).
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// After the end of input, close once this many messages were received
    /// in all.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Show the pings and pongs received and the pings sent (by /ping or
    /// --ping-interval): on stderr, or as JSON lines with --jsonl.
    #[arg(long)]
    pub show_ping: bool,
    /// After the end of input, close once no message came for this long
    /// (default: 2 when input is piped, 0 at a terminal).
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub wait: Option<Duration>,
}

fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?} seconds: {e}"))
}

/// `--binary ENCODING`, as earlier versions took it, becomes `--binary
/// --encoding ENCODING`: `-b` is now a flag (websocat's habit, `wsapi -b
/// ws://...`), and the old spelling keeps working.
pub fn compat_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let text = arg.to_str().unwrap_or("");
        if let Some(encoding) = text.strip_prefix("--binary=") {
            out.push("--binary".into());
            out.push(format!("--encoding={encoding}").into());
            continue;
        }
        let is_binary = text == "--binary" || text == "-b";
        out.push(arg);
        let next_is_encoding = args
            .peek()
            .and_then(|a| a.to_str())
            .is_some_and(|a| Encoding::from_str(a, true).is_ok());
        if is_binary && next_is_encoding {
            out.push("--encoding".into());
            out.push(args.next().expect("peeked"));
        }
    }
    out
}

impl ClientOptions {
    /// The encoding of input lines: `None` for text.
    pub fn binary_input(&self) -> Option<Encoding> {
        self.binary.then_some(self.encoding)
    }

    /// `Err` says why `--close-code`/`--close-reason` would be refused by
    /// `close()` (checked before connecting, not at the end of the session).
    pub fn check_close(&self) -> Result<(), String> {
        wsapi_model::check_close_args(Some(self.close_code), Some(&self.close_reason))
            .map_err(|e| format!("--close-code/--close-reason: {e}"))
    }

    /// The builder for `url` with these options; `Err` says which option is unusable.
    pub fn builder(&self, url: &str) -> Result<WebSocketBuilder, String> {
        self.check_close()?;
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
        if let Some(origin) = &self.origin {
            builder = builder.header("Origin", origin);
        }
        if let Some(auth) = &self.auth {
            if !auth.contains(':') {
                return Err(format!("--auth wants `user:password`, got {auth:?}"));
            }
            let basic = data_encoding::BASE64.encode(auth.as_bytes());
            builder = builder.header("Authorization", &format!("Basic {basic}"));
        }
        if let Some(interval) = self.ping_interval {
            builder = builder.keep_alive(interval, self.ping_timeout.unwrap_or(interval));
        }
        if let Some(proxy) = &self.proxy {
            builder = builder.proxy(proxy);
        }
        if self.show_ping {
            let printer = Printer::new(self.jsonl, self.encoding);
            builder = builder.on_control_frame(move |frame| printer.control(frame));
        }
        if let Some(path) = &self.ca {
            let roots = read_certificates("--ca", path)?;
            builder = builder
                .root_certificates(roots)
                .map_err(|e| format!("--ca {}: unusable certificate: {e}", path.display()))?;
        }
        let client = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some(tls::client_certificate(cert, key)?),
            _ => None,
        };
        if self.insecure {
            eprintln!(
                "wsapi: warning: --insecure: the server's certificate is not checked; anyone on the way can read and change this connection"
            );
            builder = builder.tls_config(tls::insecure_config(client)?);
        } else if let Some((chain, key)) = client {
            builder = builder.client_certificate(chain, key);
        }
        Ok(builder)
    }
}

/// The certificates of a PEM file (every `CERTIFICATE` block), or of a
/// DER file; `option` names the option in errors.
pub fn read_certificates(option: &str, path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{option} {}: cannot read: {e}", path.display()))?;
    if !bytes.windows(10).any(|w| w == b"-----BEGIN") {
        return Ok(vec![bytes]);
    }
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&bytes)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{option} {}: bad PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{option} {}: no CERTIFICATE block in the file", path.display()));
    }
    Ok(certs)
}
