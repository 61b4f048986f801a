//! The opening handshake's response, checked (RFC 6455 §4.1, the client's
//! checks on the server's response; RFC 7692 §7.1 for permessage-deflate).
//!
//! The driver writes the request and parses the response head (HTTP
//! parsing is not a rule of the API: `httparse` does it well); every
//! decision about the parsed response is made here, by [`check_response`],
//! so that all drivers accept and refuse exactly the same responses.
//! [`Connection::handle_response`](crate::Connection::handle_response) runs
//! it and opens or fails the connection.
//!
//! The checks, in the RFC's order, each with its own [`HandshakeFailure`]:
//!
//! 1. the status is 101 ([`HandshakeFailure::Rejected`] carries the status,
//!    the headers and the start of the body that arrived, for diagnostics);
//! 2. `Upgrade` is `websocket`, ASCII case-insensitively;
//! 3. `Connection` contains the token `Upgrade`, ASCII case-insensitively
//!    (`keep-alive, Upgrade` is fine: it is a token list, RFC 7230 §6.1);
//! 4. exactly one `Sec-WebSocket-Accept` (RFC 6455 §11.3.3: it "MUST NOT
//!    appear more than once"), whose value is base64(SHA-1(key + GUID));
//! 5. `Sec-WebSocket-Extensions`: every field line combined into one list
//!    (RFC 7230 §3.2.2; RFC 6455 §4.2.2 step 5.6 and its verified erratum
//!    3433 let a server split it over several lines), each extension
//!    offered, none twice, and for
//!    permessage-deflate each parameter defined, valid and not repeated
//!    (RFC 7692 §7.1);
//! 6. `Sec-WebSocket-Protocol`: at most one field (RFC 6455 §11.3.4) with
//!    one value, one that was offered; none when none was offered; and
//!    (WHATWG, "establish a WebSocket connection") one when some were.
//!
//! [`request_head`] writes the request the checks expect an answer to.
//!
//! SHA-1 is `sha1_smol` and base64 is `data-encoding`: both `no_std`, without
//! dependencies of their own, so the model stays light (see
//! `spec-notes/opening-handshake.md`).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use url::Url;

/// The GUID of RFC 6455 §1.3, appended to the key before hashing.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Most bytes of a rejected response's body kept in [`HandshakeFailure::Rejected`].
pub const MAX_BODY_EXCERPT: usize = 1024;

/// A parsed HTTP response head, as the driver read it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Every header field line in order, names as received (compared ASCII
    /// case-insensitively), values as raw bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The start of the body that arrived with the head (kept only for a
    /// rejected upgrade, at most [`MAX_BODY_EXCERPT`] bytes are kept; a
    /// driver may leave it empty for a 101).
    pub body: Vec<u8>,
}

impl Response {
    /// A response from what an HTTP parser gives (e.g. `httparse`): the
    /// status, the field lines in order, and the bytes after the head (at
    /// most [`MAX_BODY_EXCERPT`] of them are kept).
    pub fn new<'a>(status: u16, headers: impl IntoIterator<Item = (&'a str, &'a [u8])>, after_head: &[u8]) -> Response {
        Response {
            status,
            headers: headers.into_iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect(),
            body: after_head[..after_head.len().min(MAX_BODY_EXCERPT)].to_vec(),
        }
    }

    /// The values of every field named `name`, in order.
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every field named `name` combined into one comma-separated list
    /// (RFC 7230 §3.2.2), elements trimmed, empty elements dropped
    /// (RFC 7230 §7). `None` if a value is not UTF-8.
    fn list(&self, name: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for value in self.values(name) {
            let value = core::str::from_utf8(value).ok()?;
            out.extend(split_list(value).map(str::to_string));
        }
        Some(out)
    }
}

/// The elements of a comma-separated list, trimmed, empty ones dropped.
fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(|e| e.trim_matches(is_ows))
        .filter(|e| !e.is_empty())
}

/// Optional whitespace (RFC 7230 §3.2.3).
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// What the client asked for in its request.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    /// The `Sec-WebSocket-Key` sent (base64 of 16 random bytes).
    pub key: &'a str,
    /// The subprotocols offered, in order.
    pub protocols: &'a [String],
    /// The extensions offered, one offer each as written in the request's
    /// `Sec-WebSocket-Extensions` (e.g. `permessage-deflate; client_max_window_bits`).
    pub extensions: &'a [String],
}

/// permessage-deflate as the server accepted it (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DeflateParams {
    /// `server_no_context_takeover`: the server resets its window per message.
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover`: we must reset ours (we never compress).
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits`, if given.
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits`, if given.
    pub client_max_window_bits: Option<u8>,
}

/// What an accepted response selected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Accepted {
    /// The subprotocol selected (`None`: none).
    pub protocol: Option<String>,
    /// The accepted extensions, every field line combined (`None`: none);
    /// the `extensions` attribute's value.
    pub extensions: Option<String>,
    /// permessage-deflate's parameters, if it was accepted.
    pub deflate: Option<DeflateParams>,
}

/// Why the server's response failed the connection: one variant per check
/// of RFC 6455 §4.1, plus [`HandshakeFailure::NoResponse`] for a handshake
/// that never produced a response to check.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum HandshakeFailure {
    /// No response could be read (the connection ended or failed during
    /// the exchange, or the head was malformed or oversized): the text says
    /// what the driver saw. TCP and TLS failures are
    /// [`FailReason::Transport`](crate::FailReason::Transport) instead.
    #[error("no valid response: {0}; check that a WebSocket server answers at this URL")]
    NoResponse(String),
    /// The status was not 101 Switching Protocols.
    #[error("the server refused the upgrade with HTTP status {status}; check the URL's path and that the server accepts WebSocket upgrades there")]
    Rejected {
        /// The status code.
        status: u16,
        /// The response's header fields and the start of its body (boxed:
        /// every event carries a `FailReason`'s size).
        response: Box<Response>,
    },
    /// `Upgrade` is missing or is not `websocket`.
    #[error(
        "the response's Upgrade field is {0:?}, not websocket; the server breaks RFC 6455 §4.1 and should be fixed"
    )]
    BadUpgrade(Option<String>),
    /// `Connection` is missing or lacks the token `Upgrade`.
    #[error("the response's Connection field {0:?} lacks the token Upgrade; the server breaks RFC 6455 §4.1 and should be fixed")]
    BadConnection(Option<String>),
    /// Not exactly one `Sec-WebSocket-Accept` field (the count).
    #[error("the response has {0} Sec-WebSocket-Accept fields, not exactly one; the server breaks RFC 6455 §11.3.3 and should be fixed")]
    AcceptCount(usize),
    /// `Sec-WebSocket-Accept` is not the value computed from our key.
    #[error("Sec-WebSocket-Accept {0:?} does not match the key sent; the server (or a proxy on the way) breaks RFC 6455 §4.1")]
    WrongAccept(String),
    /// An extension the client did not offer.
    #[error("the server accepted extension {0:?}, which was not offered; fix the server's Sec-WebSocket-Extensions")]
    ExtensionNotOffered(String),
    /// The same extension accepted twice.
    #[error("the server accepted extension {0:?} twice; fix the server's Sec-WebSocket-Extensions")]
    ExtensionRepeated(String),
    /// A permessage-deflate parameter (the only extension whose parameters
    /// the model knows) that is unknown, repeated, has a bad value, or
    /// answers something not offered (RFC 7692 §7.1); as received.
    #[error(
        "permessage-deflate has an invalid parameter {0:?}; fix the server's Sec-WebSocket-Extensions (RFC 7692 §7.1)"
    )]
    BadExtensionParameter(String),
    /// More than one `Sec-WebSocket-Protocol` field, or a list of values.
    #[error("the response selects more than one subprotocol; the server must select at most one (RFC 6455 §11.3.4)")]
    ProtocolRepeated,
    /// A subprotocol that was not offered (or one when none was).
    #[error("the server selected subprotocol {0:?}, which was not offered; offer it, or fix the server's Sec-WebSocket-Protocol")]
    ProtocolNotOffered(String),
    /// Subprotocols were offered and none was selected.
    #[error("subprotocols were offered and the server selected none; offer none, or make the server select one")]
    ProtocolMissing,
}

impl From<&str> for HandshakeFailure {
    fn from(why: &str) -> Self {
        HandshakeFailure::NoResponse(why.to_string())
    }
}

impl From<&String> for HandshakeFailure {
    fn from(why: &String) -> Self {
        HandshakeFailure::NoResponse(why.clone())
    }
}

impl From<String> for HandshakeFailure {
    fn from(why: String) -> Self {
        HandshakeFailure::NoResponse(why)
    }
}

/// The `Sec-WebSocket-Accept` value for `key` (RFC 6455 §4.2.2 step 5.4):
/// base64 of the SHA-1 of the key followed by [`WEBSOCKET_GUID`].
///
/// ```
/// // The example of RFC 6455 §1.3.
/// assert_eq!(wsapi_model::handshake::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &str) -> String {
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(WEBSOCKET_GUID.as_bytes());
    data_encoding::BASE64.encode(&sha1.digest().bytes())
}

/// Checks a response to the opening handshake against what was offered:
/// `Ok` with what was selected, or the first check that failed. Pure and
/// total: any `Response` gives a verdict, never a panic.
///
/// ```
/// use wsapi_model::handshake::{accept_key, check_response, HandshakeFailure, Offer, Response};
/// let key = "dGhlIHNhbXBsZSBub25jZQ==";
/// let field = |n: &str, v: &str| (n.to_string(), v.as_bytes().to_vec());
/// let mut response = Response {
///     status: 101,
///     headers: vec![field("Upgrade", "websocket"), field("Connection", "keep-alive, Upgrade"),
///                   field("Sec-WebSocket-Accept", &accept_key(key))],
///     body: vec![],
/// };
/// let offer = Offer { key, protocols: &[], extensions: &[] };
/// assert!(check_response(&response, &offer).is_ok());
/// response.headers.push(field("Sec-WebSocket-Accept", "again"));
/// assert_eq!(check_response(&response, &offer), Err(HandshakeFailure::AcceptCount(2)));
/// ```
pub fn check_response(response: &Response, offer: &Offer<'_>) -> Result<Accepted, HandshakeFailure> {
    check_status(response)?;
    check_upgrade(response)?;
    check_connection(response)?;
    check_accept(response, offer.key)?;
    let (extensions, deflate) = check_extensions(response, offer.extensions)?;
    let protocol = check_protocol(response, offer.protocols)?;
    Ok(Accepted {
        protocol,
        extensions,
        deflate,
    })
}

fn check_status(response: &Response) -> Result<(), HandshakeFailure> {
    if response.status == 101 {
        return Ok(());
    }
    let keep = response.body.len().min(MAX_BODY_EXCERPT);
    Err(HandshakeFailure::Rejected {
        status: response.status,
        response: Box::new(Response {
            status: response.status,
            headers: response.headers.clone(),
            body: response.body[..keep].to_vec(),
        }),
    })
}

/// The fields named `name` joined for a diagnostic (`None`: absent).
fn shown(response: &Response, name: &str) -> Option<String> {
    let values: Vec<String> = response
        .values(name)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// RFC 6455 §4.1 item 2: "If the response lacks an |Upgrade| header field
/// or the |Upgrade| header field contains a value that is not an ASCII
/// case-insensitive match for the value "websocket"", fail.
fn check_upgrade(response: &Response) -> Result<(), HandshakeFailure> {
    let ok = response
        .list("upgrade")
        .is_some_and(|l| !l.is_empty() && l.iter().all(|v| v.eq_ignore_ascii_case("websocket")));
    if ok {
        return Ok(());
    }
    Err(HandshakeFailure::BadUpgrade(shown(response, "upgrade")))
}

/// RFC 6455 §4.1 item 3: `Connection` must contain the token `Upgrade`
/// (ASCII case-insensitively); other tokens such as `keep-alive` may be there.
fn check_connection(response: &Response) -> Result<(), HandshakeFailure> {
    let ok = response
        .list("connection")
        .is_some_and(|l| l.iter().any(|v| v.eq_ignore_ascii_case("upgrade")));
    if ok {
        return Ok(());
    }
    Err(HandshakeFailure::BadConnection(shown(response, "connection")))
}

/// RFC 6455 §4.1 item 4 and §11.3.3 (at most once).
fn check_accept(response: &Response, key: &str) -> Result<(), HandshakeFailure> {
    let values: Vec<&[u8]> = response.values("sec-websocket-accept").collect();
    let [value] = values[..] else {
        return Err(HandshakeFailure::AcceptCount(values.len()));
    };
    let value = String::from_utf8_lossy(value);
    let value = value.trim_matches(is_ows);
    if value == accept_key(key) {
        return Ok(());
    }
    Err(HandshakeFailure::WrongAccept(value.to_string()))
}

/// RFC 6455 §4.1 item 5 and §9.1; RFC 7692 §7.1 for permessage-deflate.
fn check_extensions(
    response: &Response,
    offered: &[String],
) -> Result<(Option<String>, Option<DeflateParams>), HandshakeFailure> {
    let Some(elements) = response.list("sec-websocket-extensions") else {
        let raw = shown(response, "sec-websocket-extensions").unwrap_or_default();
        return Err(HandshakeFailure::ExtensionNotOffered(raw));
    };
    let mut names: Vec<String> = Vec::new();
    let mut deflate = None;
    for element in &elements {
        let mut parts = element.split(';').map(|p| p.trim_matches(is_ows));
        let name = parts.next().unwrap_or_default();
        let Some(offer) = offered.iter().find(|o| offer_name(o).eq_ignore_ascii_case(name)) else {
            return Err(HandshakeFailure::ExtensionNotOffered(name.to_string()));
        };
        if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return Err(HandshakeFailure::ExtensionRepeated(name.to_string()));
        }
        names.push(name.to_string());
        if name.eq_ignore_ascii_case("permessage-deflate") {
            deflate = Some(check_deflate_params(parts, offer)?);
        }
        // Other extensions' parameters are the offering driver's business:
        // the model knows the rules of permessage-deflate only.
    }
    let combined = (!elements.is_empty()).then(|| elements.join(", "));
    Ok((combined, deflate))
}

/// The extension name of an offer (`name; params`).
pub(crate) fn offer_name(offer: &str) -> &str {
    offer.split(';').next().unwrap_or_default().trim_matches(is_ows)
}

/// Whether an offer includes parameter `param` (with or without a value).
fn offer_has_param(offer: &str, param: &str) -> bool {
    offer.split(';').skip(1).any(|p| {
        p.split('=')
            .next()
            .unwrap_or_default()
            .trim_matches(is_ows)
            .eq_ignore_ascii_case(param)
    })
}

/// RFC 7692 §7.1: the client fails the connection if the response has a
/// parameter not defined for the extension, one with an invalid value, or
/// one twice; and (§7.1.2.2) `client_max_window_bits` when the offer did
/// not have it. `server_no_context_takeover`, `client_no_context_takeover`
/// and `server_max_window_bits` may be answered unasked (§7.1.1.1,
/// §7.1.1.2, §7.1.2.1).
fn check_deflate_params<'a>(
    params: impl Iterator<Item = &'a str>,
    offer: &str,
) -> Result<DeflateParams, HandshakeFailure> {
    let mut out = DeflateParams::default();
    let mut seen: Vec<String> = Vec::new();
    for param in params {
        let bad = || HandshakeFailure::BadExtensionParameter(param.to_string());
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (
                k.trim_matches(is_ows),
                Some(unquote(v.trim_matches(is_ows)).ok_or_else(bad)?),
            ),
            None => (param, None),
        };
        let key = key.to_ascii_lowercase();
        if seen.contains(&key) {
            return Err(bad());
        }
        match (key.as_str(), value) {
            ("server_no_context_takeover", None) => out.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => out.client_no_context_takeover = true,
            ("server_max_window_bits", Some(bits)) => {
                out.server_max_window_bits = Some(window_bits(bits).ok_or_else(bad)?)
            }
            ("client_max_window_bits", Some(bits)) if offer_has_param(offer, "client_max_window_bits") => {
                out.client_max_window_bits = Some(window_bits(bits).ok_or_else(bad)?);
            }
            _ => return Err(bad()),
        }
        seen.push(key);
    }
    Ok(out)
}

/// A parameter value, without the quotes of a quoted-string (RFC 7692 §7.1
/// allows both forms; no escapes are valid in the values it defines).
/// `None` for an unbalanced quote.
fn unquote(value: &str) -> Option<&str> {
    match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"'),
        None => (!value.ends_with('"')).then_some(value),
    }
}

/// RFC 7692 §7.1.2: a decimal 8 to 15 "without leading zeros".
fn window_bits(value: &str) -> Option<u8> {
    let ok = !value.starts_with('0') && !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<u8>() {
        Ok(bits @ 8..=15) if ok => Some(bits),
        _ => None,
    }
}

/// RFC 6455 §4.1 item 6 and §11.3.4; WHATWG "establish a WebSocket
/// connection" for offered-but-none.
fn check_protocol(response: &Response, offered: &[String]) -> Result<Option<String>, HandshakeFailure> {
    let values: Vec<&[u8]> = response.values("sec-websocket-protocol").collect();
    let value = match values[..] {
        [] => None,
        [value] => {
            let value = String::from_utf8_lossy(value);
            let mut elements = split_list(&value);
            let first = elements.next().map(str::to_string);
            if elements.next().is_some() {
                return Err(HandshakeFailure::ProtocolRepeated);
            }
            first
        }
        _ => return Err(HandshakeFailure::ProtocolRepeated),
    };
    match value {
        None if offered.is_empty() => Ok(None),
        None => Err(HandshakeFailure::ProtocolMissing),
        // Subprotocol names are compared exactly (they are tokens the
        // client chose; RFC 6455 §4.1 "not present in the client's handshake").
        Some(p) if offered.contains(&p) => Ok(Some(p)),
        Some(p) => Err(HandshakeFailure::ProtocolNotOffered(p)),
    }
}

/// The opening handshake's request head for `url`, offering `offer`
/// (RFC 6455 §4.1: a GET with `Host`, `Upgrade: websocket`, `Connection:
/// Upgrade`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`, and the
/// subprotocols and extensions offered), then `extra` fields as given.
/// `Host` has the port only when it is not the scheme's default.
///
/// ```
/// use wsapi_model::handshake::{request_head, Offer};
/// use wsapi_model::Url;
/// let url = Url::parse("ws://example.com:8080/chat?room=1").unwrap();
/// let offer = Offer { key: "dGhlIHNhbXBsZSBub25jZQ==", protocols: &["chat".into()], extensions: &[] };
/// let head = String::from_utf8(request_head(&url, &offer, &[("Origin", b"http://example.com")])).unwrap();
/// assert!(head.starts_with("GET /chat?room=1 HTTP/1.1\r\nHost: example.com:8080\r\n"));
/// assert!(head.contains("\r\nSec-WebSocket-Protocol: chat\r\n") && head.ends_with("Origin: http://example.com\r\n\r\n"));
/// ```
pub fn request_head(url: &Url, offer: &Offer<'_>, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let host = url.host_str().unwrap_or_default();
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    let mut head = format!(
        "GET {}{query} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
        url.path(),
        offer.key
    );
    if !offer.protocols.is_empty() {
        head.push_str(&format!("Sec-WebSocket-Protocol: {}\r\n", offer.protocols.join(", ")));
    }
    if !offer.extensions.is_empty() {
        head.push_str(&format!(
            "Sec-WebSocket-Extensions: {}\r\n",
            offer.extensions.join(", ")
        ));
    }
    let mut head = head.into_bytes();
    for (name, value) in extra {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}
