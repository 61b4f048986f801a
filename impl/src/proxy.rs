//! HTTP CONNECT proxies: a tunnel to the server through an HTTP proxy,
//! opened before TLS and the WebSocket handshake (which then run through
//! it unchanged), for `ws:` and `wss:` alike. SOCKS5 proxies
//! (`socks5://`, `socks5h://`) are parsed here and spoken by `socks`.
//!
//! The proxy is given explicitly ([`crate::WebSocketBuilder::proxy`]) or,
//! when asked for ([`crate::WebSocketBuilder::proxy_from_env`]), read from
//! the environment as curl reads it: `https_proxy`/`HTTPS_PROXY` for
//! `wss:`, `http_proxy` (lower case only, as curl: the upper-case one can
//! be set by a CGI request header) for `ws:`, then
//! `all_proxy`/`ALL_PROXY`; `no_proxy`/`NO_PROXY` lists hosts to reach
//! directly. A refused CONNECT (407, 403, ...) is a failed connection
//! (error, close 1006), like a refused TCP connect.

use std::io;
use std::net::IpAddr;

use data_encoding::BASE64;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use url::{Host, Url};

use crate::proxy_error::ProxyError;
use crate::redact;
use crate::runtime::{BoxedStream, Runtime};
use crate::socks::Socks5;

/// The largest CONNECT response head read (a proxy that sends more is broken).
const MAX_RESPONSE_HEAD: usize = 8 * 1024;

/// An HTTP proxy to tunnel through.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    host: String,
    port: u16,
    /// `Proxy-Authorization` value (Basic), from the URL's user info.
    authorization: Option<String>,
    /// A SOCKS5 proxy (`socks5://`, `socks5h://`) instead of HTTP CONNECT.
    socks: Option<Socks5>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the credentials.
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("authorization", &self.authorization.as_ref().map(|_| "Basic ***"))
            .field("socks", &self.socks)
            .finish()
    }
}

impl Proxy {
    /// Parses `http://[user:password@]host[:port]` (port 1080 by default,
    /// as curl; a URL without a scheme is taken as `http://`). The error
    /// shows the text with its password hidden, whether or not it parsed.
    pub fn parse(text: &str) -> Result<Proxy, String> {
        let with_scheme = if text.contains("://") {
            text.to_string()
        } else {
            format!("http://{text}")
        };
        // Hidden before the parser runs: it fails on exactly the strings
        // (bad port, bad IPv6 literal, empty host) whose text is then shown.
        let shown = || redact::url_str(&with_scheme);
        let url = Url::parse(&with_scheme).map_err(|e| format!("{:?} is not a proxy URL: {e}", shown()))?;
        let remote_dns = match url.scheme() {
            "http" => None,
            "socks5" => Some(false),
            "socks5h" => Some(true),
            other => {
                return Err(format!(
                    "proxy scheme {other:?} is not supported (http:// CONNECT, socks5:// and socks5h://)"
                ))
            }
        };
        let host = url.host_str().ok_or_else(|| format!("{:?} has no host", shown()))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let authorization = (!url.username().is_empty()).then(|| {
            let user = percent_decode(url.username());
            let password = percent_decode(url.password().unwrap_or(""));
            format!("Basic {}", BASE64.encode(format!("{user}:{password}").as_bytes()))
        });
        let socks = remote_dns.map(|remote_dns| Socks5 {
            remote_dns,
            credentials: (!url.username().is_empty()).then(|| {
                (
                    percent_decode(url.username()),
                    percent_decode(url.password().unwrap_or("")),
                )
            }),
        });
        Ok(Proxy {
            host,
            port: url.port().unwrap_or(1080),
            authorization: authorization.filter(|_| socks.is_none()),
            socks,
        })
    }

    /// The proxy the environment gives for `url`, as curl reads it
    /// (`None`: connect directly). `var` looks a variable up.
    pub fn from_env(url: &Url, var: impl Fn(&str) -> Option<String>) -> Result<Option<Proxy>, String> {
        let get = |names: &[&str]| names.iter().find_map(|n| var(n).filter(|v| !v.is_empty()));
        if let (Some(no_proxy), Some(host)) = (get(&["no_proxy", "NO_PROXY"]), url.host()) {
            if no_proxy_matches(&no_proxy, &host) {
                return Ok(None);
            }
        }
        let scheme_var: &[&str] = if url.scheme() == "wss" {
            &["https_proxy", "HTTPS_PROXY"]
        } else {
            &["http_proxy"]
        };
        match get(scheme_var).or_else(|| get(&["all_proxy", "ALL_PROXY"])) {
            Some(text) => Proxy::parse(&text).map(Some),
            None => Ok(None),
        }
    }

    /// The proxy as `host:port`, for errors (never its credentials).
    fn name(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Opens TCP to the proxy and a CONNECT tunnel to `host:port`.
    pub async fn tunnel(&self, runtime: &dyn Runtime, host: &str, port: u16) -> Result<BoxedStream, ProxyError> {
        let proxy = self.name();
        let mut stream = runtime
            .connect_tcp(self.host.clone(), self.port)
            .await
            .map_err(|source| ProxyError::Unreachable {
                proxy: proxy.clone(),
                source,
            })?;
        if let Some(socks) = &self.socks {
            return socks.connect(stream, &proxy, host, port).await;
        }
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(auth) = &self.authorization {
            request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
        }
        request.push_str("\r\n");
        let lost = |source| ProxyError::Lost {
            proxy: proxy.clone(),
            source,
        };
        stream.write_all(request.as_bytes()).await.map_err(lost)?;
        stream.flush().await.map_err(lost)?;
        let head = read_response_head(&mut stream, &proxy).await?;
        let status = connect_status(&head).map_err(|why| ProxyError::BadResponse {
            proxy: proxy.clone(),
            why,
        })?;
        if !(200..300).contains(&status) {
            return Err(ProxyError::Refused {
                proxy,
                target: authority,
                status,
            });
        }
        Ok(stream)
    }
}

/// Reads up to the blank line ending the response head, byte by byte:
/// nothing after it may be consumed (it belongs to the tunnel).
async fn read_response_head(stream: &mut BoxedStream, proxy: &str) -> Result<Vec<u8>, ProxyError> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_RESPONSE_HEAD {
            return Err(ProxyError::BadResponse {
                proxy: proxy.to_string(),
                why: format!("its response head is over {MAX_RESPONSE_HEAD} bytes"),
            });
        }
        let lost = |source| ProxyError::Lost {
            proxy: proxy.to_string(),
            source,
        };
        match stream.read(&mut byte).await {
            Ok(0) => {
                return Err(lost(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "it closed the connection before answering CONNECT",
                )))
            }
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(lost(e)),
        }
    }
    Ok(head)
}

/// The status code of a CONNECT response head.
fn connect_status(head: &[u8]) -> Result<u16, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => response
            .code
            .ok_or_else(|| "the proxy's response has no status".to_string()),
        Ok(httparse::Status::Partial) => Err("the proxy's response head is incomplete".into()),
        Err(e) => Err(format!("the proxy's response is not HTTP: {e}")),
    }
}

/// Whether `host` is exempted by a `no_proxy` list, by the rules curl
/// documents for `NO_PROXY` / `CURLOPT_NOPROXY` (and follows, checked
/// against curl 7.88):
/// - entries are separated by commas or white space; a list that is just
///   `*` exempts every host (a `*` among other entries is no wildcard);
/// - a name matches the host itself and its subdomains, at a label
///   boundary: `example.com` (or `.example.com`) matches `example.com` and
///   `a.example.com`, not `badexample.com`; case and a trailing dot are
///   ignored;
/// - an IP address matches that address only, never as a suffix (`1` or
///   `.0.1` does not match 127.0.0.1), or a range in CIDR notation
///   (`127.0.0.0/8`, `fe80::/10`); IPv6 is written bare (`::1`), and we
///   also take it in brackets (`[::1]`, which curl does not);
/// - a host given as an address is matched by address entries only (no
///   name lookup), a host name by name entries only.
fn no_proxy_matches(list: &str, host: &Host<&str>) -> bool {
    let list = list.trim();
    if list == "*" {
        return true;
    }
    let mut entries = list
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty());
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            entries.filter(|e| e.parse::<IpAddr>().is_err()).any(|entry| {
                let entry = entry.trim_start_matches('.').trim_end_matches('.').to_ascii_lowercase();
                !entry.is_empty()
                    && name
                        .strip_suffix(entry.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
            })
        }
        Host::Ipv4(ip) => entries.any(|e| ip_entry_matches(e, IpAddr::V4(*ip))),
        Host::Ipv6(ip) => entries.any(|e| ip_entry_matches(e, IpAddr::V6(*ip))),
    }
}

/// Whether `entry` (an address, bare or in brackets, with an optional
/// `/bits`) names `ip`: exactly, or as a range of the same family. An
/// entry that is not an address, or whose bits are out of range, does not.
fn ip_entry_matches(entry: &str, ip: IpAddr) -> bool {
    let (addr, bits) = match entry.split_once('/') {
        Some((addr, bits)) => match bits.parse::<u32>() {
            Ok(bits) => (addr, Some(bits)),
            Err(_) => return false,
        },
        None => (entry, None),
    };
    let addr = addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')).unwrap_or(addr);
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_matches(u32::from(net).into(), u32::from(ip).into(), 32, bits),
        (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_matches(u128::from(net), u128::from(ip), 128, bits),
        _ => false,
    }
}

/// Whether the first `bits` (all `width` if `None`) of `a` and `b` agree,
/// both held right-aligned in a `u128`.
fn prefix_matches(a: u128, b: u128, width: u32, bits: Option<u32>) -> bool {
    let bits = bits.unwrap_or(width);
    if bits > width {
        return false;
    }
    let shift = width - bits;
    // A shift of 128 (a /0 IPv6 range) overflows `>>`: everything matches.
    a.checked_shr(shift).unwrap_or(0) == b.checked_shr(shift).unwrap_or(0)
}

/// Decodes the `%XX` escapes of URL user info (credentials may contain `@`, `:`...).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_parse_as_curl_reads_them() {
        let p = Proxy::parse("http://alice:s%40cret@proxy.example:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.example", 3128));
        assert_eq!(
            p.authorization.as_deref(),
            Some(format!("Basic {}", BASE64.encode(b"alice:s@cret")).as_str())
        );
        let p = Proxy::parse("proxy.example").unwrap();
        assert_eq!((p.port, p.authorization), (1080, None));
        assert!(Proxy::parse("ftp://proxy.example:1080").is_err());
        let p = Proxy::parse("socks5h://bob:pw@proxy.example").unwrap();
        assert_eq!((p.port, p.authorization.as_deref()), (1080, None));
        let socks = p.socks.as_ref().unwrap();
        assert!(socks.remote_dns);
        assert_eq!(socks.credentials, Some(("bob".to_string(), "pw".to_string())));
        assert!(!Proxy::parse("socks5://p:1").unwrap().socks.unwrap().remote_dns);
        assert!(Proxy::parse("http://").is_err());
        // Credentials are never printed.
        let shown = format!("{:?}", Proxy::parse("http://alice:secret@p:1").unwrap());
        assert!(!shown.contains("secret") && !shown.contains("alice"), "{shown}");
    }

    #[test]
    fn the_environment_is_read_as_curl_reads_it() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        let ws = Url::parse("ws://api.example.com/").unwrap();
        let wss = Url::parse("wss://api.example.com/").unwrap();
        let port = |p: Option<Proxy>| p.map(|p| p.port);
        // ws: lower-case http_proxy only; wss: https_proxy in either case.
        assert_eq!(port(Proxy::from_env(&ws, env(&[("HTTP_PROXY", "p:1")])).unwrap()), None);
        assert_eq!(
            port(Proxy::from_env(&ws, env(&[("http_proxy", "p:1")])).unwrap()),
            Some(1)
        );
        assert_eq!(
            port(Proxy::from_env(&wss, env(&[("HTTPS_PROXY", "p:2")])).unwrap()),
            Some(2)
        );
        assert_eq!(
            port(Proxy::from_env(&wss, env(&[("http_proxy", "p:1")])).unwrap()),
            None
        );
        // all_proxy as the fallback.
        assert_eq!(
            port(Proxy::from_env(&ws, env(&[("ALL_PROXY", "p:3")])).unwrap()),
            Some(3)
        );
        // no_proxy: the host, its domains, `*`.
        for no in [
            "api.example.com",
            "example.com",
            ".example.com",
            "other.org, EXAMPLE.com",
            "*",
        ] {
            let vars: &'static [(&str, &str)] = Box::leak(Box::new([("all_proxy", "p:3"), ("no_proxy", no)]));
            assert_eq!(port(Proxy::from_env(&ws, env(vars)).unwrap()), None, "{no}");
        }
        let vars = &[("all_proxy", "p:3"), ("no_proxy", "ample.com,api.example.com.evil")];
        assert_eq!(port(Proxy::from_env(&ws, env(vars)).unwrap()), Some(3));
        // all_proxy may be SOCKS, as curl reads it.
        let socks = Proxy::from_env(&ws, env(&[("all_proxy", "socks5h://p:3")]))
            .unwrap()
            .unwrap();
        assert!(socks.socks.is_some_and(|s| s.remote_dns));
        assert!(Proxy::from_env(&ws, env(&[("all_proxy", "ftp://p:3")])).is_err());
    }

    #[test]
    fn an_unusable_proxy_from_the_environment_shows_no_password() {
        let ws = Url::parse("ws://api.example.com/").unwrap();
        for bad in [
            "http://u:SECRET@p:99999",
            "http://u:SECRET@[::1",
            "u:SECRET@",
            "http://u:SECRET@/",
        ] {
            let e = Proxy::from_env(&ws, |n| (n == "http_proxy").then(|| bad.to_string())).unwrap_err();
            assert!(!e.contains("SECRET") && e.contains("u:***@"), "{bad}: {e}");
        }
    }

    /// Whether `no_proxy` sends `url` direct (with a proxy set for it).
    fn direct(no_proxy: &str, url: &str) -> bool {
        let url = Url::parse(url).unwrap();
        let var = |n: &str| match n {
            "all_proxy" => Some("p:3".to_string()),
            "no_proxy" => Some(no_proxy.to_string()),
            _ => None,
        };
        Proxy::from_env(&url, var).unwrap().is_none()
    }

    // curl's NO_PROXY rules (CURLOPT_NOPROXY(3)), each row checked against
    // curl 7.88 with `--noproxy LIST -x PROXY URL` where curl can say.
    #[test]
    fn no_proxy_is_read_as_curl_reads_it() {
        let cases: &[(&str, &str, bool)] = &[
            // Addresses: exact or CIDR, never a suffix of the address's text.
            ("1", "ws://127.0.0.1/", false),
            (".0.1", "ws://127.0.0.1/", false),
            ("0.0.1", "ws://127.0.0.1/", false),
            ("27.0.0.1", "ws://127.0.0.1/", false),
            ("127.0.0.1", "ws://127.0.0.1/", true),
            ("127.0.0.0/8", "ws://127.0.0.1/", true),
            ("127.0.0.1/32", "ws://127.0.0.1/", true),
            ("128.0.0.0/1", "ws://127.0.0.1/", false),
            ("0.0.0.0/0", "ws://127.0.0.1/", true),
            ("127.0.0.1/33", "ws://127.0.0.1/", false),
            ("127.0.0.1/x", "ws://127.0.0.1/", false),
            ("192.168.0.0/16", "ws://192.168.4.2/", true),
            ("192.168.0.0/16", "ws://192.169.0.1/", false),
            // The URL's own spelling of the address does not matter.
            ("127.0.0.1", "ws://127.1/", true),
            // IPv6, bare (curl's form) or in brackets; CIDR too.
            ("::1", "ws://[::1]/", true),
            ("[::1]", "ws://[::1]/", true),
            ("::1/128", "ws://[::1]/", true),
            ("::/0", "ws://[::1]/", true),
            ("fe80::/10", "ws://[fe80::1]/", true),
            ("fe80::/10", "ws://[fec0::1]/", false),
            ("1", "ws://[::1]/", false),
            ("::1", "ws://127.0.0.1/", false),
            ("127.0.0.1", "ws://[::ffff:127.0.0.1]/", false),
            // Names: the host and its subdomains, at a label boundary.
            ("ample.com", "ws://ample.com/", true),
            ("ample.com", "ws://www.ample.com/", true),
            ("ample.com", "ws://www.example.com/", false),
            ("ample.com", "ws://ample.com.org/", false),
            ("example.com", "ws://badexample.com/", false),
            (".ample.com", "ws://ample.com/", true),
            ("ample.com.", "ws://www.ample.com/", true),
            ("ample.com", "ws://www.ample.com./", true),
            ("AMPLE.com", "ws://www.ample.com/", true),
            ("*.ample.com", "ws://www.ample.com/", false),
            ("ample.com:7", "ws://ample.com:7/", false),
            // A name never matches an address (no lookup).
            ("localhost", "ws://127.0.0.1/", false),
            // Lists: commas and white space; `*` only as the whole list.
            ("a.org ample.com", "ws://www.ample.com/", true),
            ("a.org,\tample.com", "ws://www.ample.com/", true),
            (" , ,", "ws://ample.com/", false),
            ("*", "ws://ample.com/", true),
            (" * ", "ws://[::1]/", true),
            ("a.org, *", "ws://ample.com/", false),
        ];
        for &(list, url, expected) in cases {
            assert_eq!(direct(list, url), expected, "no_proxy={list:?} {url}");
        }
    }

    #[test]
    fn connect_responses_are_read_with_httparse() {
        assert_eq!(connect_status(b"HTTP/1.1 200 Connection established\r\n\r\n"), Ok(200));
        assert_eq!(
            connect_status(b"HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n"),
            Ok(407)
        );
        assert!(connect_status(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }
}
