//! [`ProxyError`]: why a proxy did not open the way to the server.

use std::io;

use http::StatusCode;

/// Why the proxy on the way to the server did not open a tunnel to it: the
/// cause of a [`crate::TransportError`] whose layer is
/// [`crate::TransportLayer::Proxy`] (get it with
/// `why.cause().downcast_ref::<wsapi::ProxyError>()`). The WebSocket server
/// itself was never reached.
///
/// Each variant names the proxy as `host:port` (never its credentials);
/// an I/O failure keeps its error, so `TransportError::io_error_kind` gives
/// its kind, and a refusal keeps the HTTP status as a number.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// TCP to the proxy failed (refused, unreachable, name not found...).
    #[error(
        "the proxy {proxy} could not be reached: {source}; check the proxy's host and port and that it is running"
    )]
    Unreachable {
        /// The proxy, as `host:port`.
        proxy: String,
        /// The TCP error.
        source: io::Error,
    },
    /// The connection to the proxy broke before it answered (including
    /// its closing the connection: `UnexpectedEof`).
    #[error("the connection to the proxy {proxy} broke before it answered: {source}; check the proxy's logs (and that it speaks the scheme given)")]
    Lost {
        /// The proxy, as `host:port`.
        proxy: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The proxy answered, but refused to open the tunnel.
    #[error("the proxy {proxy} refused the tunnel to {target} with HTTP {status}{}; {}", reason(*.status), advice(*.status))]
    Refused {
        /// The proxy, as `host:port`.
        proxy: String,
        /// Where the tunnel was asked to go, as `host:port`.
        target: String,
        /// The proxy's HTTP status (407: it wants credentials; 403: its
        /// policy forbids the destination).
        status: u16,
    },
    /// A SOCKS5 proxy did not let us in: it wants credentials, or refused
    /// the ones given.
    #[error("the SOCKS5 proxy {proxy} did not let us in: {why}; give its user and password in the proxy URL (socks5://user:password@host:port), or check them")]
    SocksAuth {
        /// The proxy, as `host:port`.
        proxy: String,
        /// What went wrong.
        why: &'static str,
    },
    /// A SOCKS5 proxy could not, or would not, connect to the server.
    #[error("the SOCKS5 proxy {proxy} did not connect to {target}: {} (reply {reply}); {}", reply_meaning(*.reply), socks_advice(*.reply))]
    SocksRefused {
        /// The proxy, as `host:port`.
        proxy: String,
        /// Where the connection was asked to go.
        target: String,
        /// The SOCKS5 reply code (RFC 1928 §6: 2 not allowed by its rules,
        /// 4 host unreachable, 5 connection refused...).
        reply: u8,
    },
    /// With `socks5://`, the server's name is resolved here, and was not
    /// found.
    #[error("resolving {host} for the SOCKS5 proxy failed: {source}; check the name, or use socks5h:// to let the proxy resolve it")]
    Unresolved {
        /// The proxy, as `host:port`.
        proxy: String,
        /// The server's host name.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The proxy's answer is not a proxy's (not HTTP or SOCKS5, or too long).
    #[error("the proxy {proxy} answered with something that is not a proxy's response: {why}; check that {proxy} is a proxy of the URL's scheme (http:// or socks5://)")]
    BadResponse {
        /// The proxy, as `host:port`.
        proxy: String,
        /// What was wrong with the answer.
        why: String,
    },
}

impl ProxyError {
    /// The proxy, as `host:port`.
    pub fn proxy(&self) -> &str {
        match self {
            ProxyError::Unreachable { proxy, .. }
            | ProxyError::Lost { proxy, .. }
            | ProxyError::Refused { proxy, .. }
            | ProxyError::SocksAuth { proxy, .. }
            | ProxyError::SocksRefused { proxy, .. }
            | ProxyError::Unresolved { proxy, .. }
            | ProxyError::BadResponse { proxy, .. } => proxy,
        }
    }

    /// The SOCKS5 reply code of a refusal.
    pub fn socks_reply(&self) -> Option<u8> {
        match self {
            ProxyError::SocksRefused { reply, .. } => Some(*reply),
            _ => None,
        }
    }

    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProxyError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The kind of the I/O error, for a proxy that could not be reached or
    /// whose connection broke.
    pub fn io_error_kind(&self) -> Option<io::ErrorKind> {
        match self {
            ProxyError::Unreachable { source, .. }
            | ProxyError::Lost { source, .. }
            | ProxyError::Unresolved { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// ` (Proxy Authentication Required)` and the like, when the status has a
/// standard reason phrase (the proxy's own phrase is not kept: it is
/// free text from the network).
fn reason(status: u16) -> String {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

/// What a SOCKS5 reply code means (RFC 1928 §6).
fn reply_meaning(reply: u8) -> &'static str {
    match reply {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by its rules",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown reply",
    }
}

/// What to do about a SOCKS5 refusal, by reply code.
fn socks_advice(reply: u8) -> &'static str {
    match reply {
        2 => "the proxy's rules forbid this destination; ask its administrator",
        3..=5 => "the proxy could not reach the server: check the server's host and port, and that it is running, from the proxy's side",
        _ => "check the proxy's configuration and logs",
    }
}

/// What to do about a refusal, by status.
fn advice(status: u16) -> &'static str {
    match status {
        407 => "the proxy wants credentials: give them in the proxy URL (http://user:password@host:port), or check them",
        403 => "the proxy's policy forbids this destination or port (e.g. tinyproxy's ConnectPort, squid's http_access); ask its administrator",
        502..=504 => "the proxy could not reach the server: check the server's host and port from the proxy's side",
        _ => "the server was not reached; check the proxy's configuration and logs",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_status_and_advise_by_it() {
        let refused = |status| ProxyError::Refused {
            proxy: "127.0.0.1:3128".into(),
            target: "example.com:443".into(),
            status,
        };
        let e = refused(407);
        assert_eq!(
            (e.status(), e.proxy(), e.io_error_kind()),
            (Some(407), "127.0.0.1:3128", None)
        );
        let text = e.to_string();
        assert!(
            text.contains("HTTP 407 (Proxy Authentication Required)") && text.contains("credentials"),
            "{text}"
        );
        let text = refused(403).to_string();
        assert!(
            text.contains("HTTP 403 (Forbidden)") && text.contains("policy"),
            "{text}"
        );
        assert!(refused(599).to_string().contains("HTTP 599; "));
    }
}
