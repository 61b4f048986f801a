//! Constructor validation: `new WebSocket(url, protocols)`.
//!
//! WHATWG WebSocket Standard, "The WebSocket interface", constructor steps
//! 1–7 (<https://websockets.spec.whatwg.org/#dom-websocket-websocket>):
//! the URL is parsed (the `url` crate implements the WHATWG URL parser), an
//! `http`/`https` scheme becomes `ws`/`wss`, any other non-WebSocket scheme
//! and any fragment (even an empty one, `#`) is a `SyntaxError`, and the
//! protocol list must hold distinct (ASCII case-insensitively) RFC 2616
//! tokens.
//!
//! A port on the Fetch standard's bad-port list is *not* a constructor
//! error today (it was a `SecurityError` in the 2016 MDN text): Fetch
//! returns a network error, which fails the connection asynchronously. See
//! [`is_bad_port`] and `spec-notes/constructor.md`.

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use url::Url;

/// Why the constructor threw. Every variant is a `SyntaxError` DOMException
/// in a browser; [`ConstructError::dom_exception`] gives that name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConstructError {
    /// The URL did not parse (the WHATWG URL parser failed).
    #[error("SyntaxError: {input:?} is not a valid absolute URL ({cause}); give a full ws:// or wss:// URL")]
    InvalidUrl {
        /// The string that was given, with its password (if any) replaced
        /// by `***` ([`hide_password`]): errors end up in logs.
        input: String,
        /// What the URL parser said.
        cause: url::ParseError,
    },
    /// The scheme is not `ws`, `wss`, `http` or `https`.
    #[error(
        "SyntaxError: scheme {scheme:?} is not allowed; use ws:// or wss:// (http:// and https:// are mapped to them)"
    )]
    UnsupportedScheme {
        /// The scheme that was found.
        scheme: String,
    },
    /// The URL has a fragment (`#...`), which WebSocket URLs must not have.
    #[error("SyntaxError: WebSocket URLs must not have a fragment; remove the '#' and what follows it")]
    Fragment,
    /// A protocol is the empty string.
    #[error("SyntaxError: a subprotocol must not be empty; remove it or give its name")]
    EmptyProtocol,
    /// A protocol has a character that is not allowed in an RFC 2616 token.
    #[error("SyntaxError: subprotocol {0:?} is not a token; use only visible ASCII except ()<>@,;:\\\"/[]?={{}}")]
    InvalidProtocol(String),
    /// The same protocol (compared ASCII case-insensitively) is given twice.
    #[error("SyntaxError: subprotocol {0:?} is given more than once; offer each only once")]
    DuplicateProtocol(String),
    /// The user agent's own constructor threw (its exception's name and
    /// message) for arguments the standard accepts: only the wasm32 build
    /// of `wsapi`, over a browser's `WebSocket`, gives it (and reports the
    /// divergence).
    #[error("{0} (the browser's WebSocket constructor threw where the standard does not; check the page's Content-Security-Policy and the browser's console)")]
    UserAgent(String),
}

impl ConstructError {
    /// The DOMException name a browser throws for this error: always `"SyntaxError"`.
    pub fn dom_exception(&self) -> &'static str {
        "SyntaxError"
    }
}

/// Parses and normalises a WebSocket URL (constructor steps 1–4).
///
/// ```
/// use wsapi_model::parse_url;
/// assert_eq!(parse_url("http://example.com/x/../chat").unwrap().as_str(), "ws://example.com/chat");
/// assert!(parse_url("ws://example.com/#").is_err());
/// assert!(parse_url("ftp://example.com/").is_err());
/// ```
pub fn parse_url(input: &str) -> Result<Url, ConstructError> {
    let mut url = Url::parse(input).map_err(|cause| ConstructError::InvalidUrl {
        input: hide_password(input),
        cause,
    })?;
    let mapped = match url.scheme() {
        "ws" | "wss" => None,
        "http" => Some("ws"),
        "https" => Some("wss"),
        other => {
            return Err(ConstructError::UnsupportedScheme {
                scheme: other.to_string(),
            })
        }
    };
    if let Some(scheme) = mapped {
        // Both are special schemes, so the url crate always allows the change.
        let changed = url.set_scheme(scheme);
        debug_assert!(changed.is_ok());
    }
    if url.fragment().is_some() {
        return Err(ConstructError::Fragment);
    }
    Ok(url)
}

/// What stands in for a hidden password.
const HIDDEN: &str = "***";

/// `input` with the password of its user info replaced by `***`, whether
/// or not it parses as a URL: a string the parser refuses (a bad port, a
/// bad IPv6 literal, an empty host) can still hold `user:password@`, and
/// error messages end up in logs.
///
/// The parser is not asked, since it gives up on exactly these strings;
/// the rule is the WHATWG parser's view of an authority, made wider: after
/// the scheme and its slashes (or from the start, for `user:pw@host`), the
/// user info runs to the *last* `@`, and the password from the first `:`
/// before it. A password holding `/`, `?` or `#` unescaped (which the
/// parser would split at) is thus hidden whole; the price is that an
/// unparsable string with a `:` before an `@` in its path or query loses
/// that part too, which only makes an error message less detailed.
///
/// ```
/// use wsapi_model::constructor::hide_password;
/// assert_eq!(hide_password("ws://me:s3cret@host:99999/"), "ws://me:***@host:99999/");
/// assert_eq!(hide_password("me:s3cret@[::1"), "me:***@[::1");
/// assert_eq!(hide_password("ws://host/a?b=c@d"), "ws://host/a?b=c@d");
/// ```
pub fn hide_password(input: &str) -> String {
    let start = authority_start(input);
    let rest = &input[start..];
    let Some(at) = rest.rfind('@') else {
        return input.to_string();
    };
    let Some(colon) = rest[..at].find(':') else {
        return input.to_string();
    };
    let mut out = String::with_capacity(input.len());
    out.push_str(&input[..start + colon + 1]);
    out.push_str(HIDDEN);
    out.push_str(&rest[at..]);
    out
}

/// Where the authority of `input` starts: after `scheme:` and any slashes
/// (the WHATWG parser takes `ws:user:pw@host` and `ws:\\host` too), or at 0
/// when there is no scheme.
fn authority_start(input: &str) -> usize {
    let scheme_end = input.find(':').filter(|&i| {
        let scheme = &input[..i];
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    match scheme_end {
        // `user:pw@host` has no slashes after its "scheme": that is a user.
        Some(i) if input[i + 1..].starts_with(['/', '\\']) => {
            i + 1 + input[i + 1..].len() - input[i + 1..].trim_start_matches(['/', '\\']).len()
        }
        Some(i) if is_special_scheme(&input[..i]) => i + 1,
        _ => 0,
    }
}

/// Schemes the WHATWG parser reads an authority for even without slashes.
fn is_special_scheme(scheme: &str) -> bool {
    ["ws", "wss", "http", "https", "ftp", "file"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
}

/// RFC 2616 token characters (what `Sec-WebSocket-Protocol` values must be).
fn is_token_char(c: char) -> bool {
    matches!(c, '!'..='~')
        && !matches!(
            c,
            '(' | ')' | '<' | '>' | '@' | ',' | ';' | ':' | '\\' | '"' | '/' | '[' | ']' | '?' | '=' | '{' | '}'
        )
}

/// Validates the protocol list (constructor steps 5–6) and returns it in
/// order, as it will be sent in `Sec-WebSocket-Protocol`.
///
/// ```
/// use wsapi_model::validate_protocols;
/// assert!(validate_protocols(&["chat", "superchat"]).is_ok());
/// assert!(validate_protocols(&["chat", "CHAT"]).is_err()); // duplicates, case-insensitive
/// assert!(validate_protocols(&["a b"]).is_err());
/// ```
///
/// Duplicates are found with a set of lowercased names: O(n log n), so a
/// hostile caller with tens of thousands of names costs milliseconds (the
/// pairwise check it replaces took seconds).
pub fn validate_protocols<S: AsRef<str>>(protocols: &[S]) -> Result<Vec<String>, ConstructError> {
    let mut out: Vec<String> = Vec::with_capacity(protocols.len());
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for p in protocols {
        let p = p.as_ref();
        if p.is_empty() {
            return Err(ConstructError::EmptyProtocol);
        }
        if !p.chars().all(is_token_char) {
            return Err(ConstructError::InvalidProtocol(p.to_string()));
        }
        // Tokens are ASCII (checked above), so ASCII lowercase is the
        // case-insensitive comparison the standard asks for.
        if !seen.insert(p.to_ascii_lowercase()) {
            return Err(ConstructError::DuplicateProtocol(p.to_string()));
        }
        out.push(p.to_string());
    }
    Ok(out)
}

/// The Fetch standard's bad ports (<https://fetch.spec.whatwg.org/#bad-port>),
/// port 0 included. Sorted, for binary search.
pub const BAD_PORTS: &[u16] = &[
    0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109,
    110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531,
    532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060,
    5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
];

/// Whether Fetch blocks this port. A WebSocket to a blocked port fails
/// asynchronously (error event, close 1006) without touching the network.
///
/// ```
/// assert!(wsapi_model::is_bad_port(25));
/// assert!(!wsapi_model::is_bad_port(8080));
/// ```
pub fn is_bad_port(port: u16) -> bool {
    BAD_PORTS.binary_search(&port).is_ok()
}

/// Whether the URL's effective port (explicit, or the scheme's default) is blocked.
pub fn url_port_is_blocked(url: &Url) -> bool {
    url.port_or_known_default().is_some_and(is_bad_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    // WHATWG WebSocket, constructor step 1: parse failure is a SyntaxError (WPT Create-invalid-urls.any.js).
    #[test]
    fn invalid_urls_are_syntax_errors() {
        for bad in [
            "ws://[::1/",
            "",
            "not a url",
            "ws://",
            "/relative",
            "ws://exa mple.com/",
        ] {
            let err = parse_url(bad).unwrap_err();
            assert!(matches!(err, ConstructError::InvalidUrl { .. }), "{bad}: {err:?}");
            assert_eq!(err.dom_exception(), "SyntaxError");
        }
    }

    // Errors end up in logs: a URL the parser refuses keeps no password in
    // the error, whatever made it fail.
    #[test]
    fn an_unparsable_url_keeps_no_password() {
        for bad in [
            "ws://me:SECRET@host:99999/",
            "ws://me:SECRET@[::1/",
            "ws://me:SECRET@/",
            "ws://me:SE/CR?E#T@h:x/",
            "ws:me:SECRET@h:99999",
            "wss:\\\\me:SECRET@h:99999",
        ] {
            let err = parse_url(bad).unwrap_err();
            let shown = alloc::format!("{err} {err:?}");
            assert!(!shown.contains("SECRET") && !shown.contains("SE/CR"), "{bad}: {shown}");
            assert!(shown.contains("me:***@"), "{bad}: {shown}");
        }
        // No scheme (a proxy given as `user:pw@host`).
        assert_eq!(hide_password("me:SECRET@[::1"), "me:***@[::1");
        assert_eq!(hide_password("ws://host:1/p"), "ws://host:1/p");
        assert_eq!(hide_password("ws://user@host/"), "ws://user@host/");
        assert_eq!(hide_password("not a url"), "not a url");
    }

    // Constructor steps 2-3: http/https map to ws/wss, other schemes throw (WPT Create-non-absolute-url / Create-url-with-http).
    #[test]
    fn schemes() {
        assert_eq!(parse_url("http://h/a").unwrap().as_str(), "ws://h/a");
        assert_eq!(parse_url("https://h/a").unwrap().as_str(), "wss://h/a");
        assert_eq!(parse_url("https://h:443/a").unwrap().as_str(), "wss://h/a");
        assert_eq!(parse_url("http://h:8080/").unwrap().port(), Some(8080));
        assert_eq!(parse_url("WS://H/").unwrap().as_str(), "ws://h/");
        for bad in ["ftp://h/", "file:///x", "data:,x", "javascript:1", "mailto:a@b"] {
            assert!(
                matches!(parse_url(bad), Err(ConstructError::UnsupportedScheme { .. })),
                "{bad}"
            );
        }
    }

    // Constructor step 4: any fragment, even an empty one, is a SyntaxError (WPT Create-url-with-fragment? / websockets index.bs).
    #[test]
    fn fragments() {
        assert_eq!(parse_url("ws://h/#"), Err(ConstructError::Fragment));
        assert_eq!(parse_url("ws://h/p#frag"), Err(ConstructError::Fragment));
        assert!(parse_url("ws://h/p?q=%23").is_ok());
    }

    // Constructor step 6: protocols must be distinct tokens (WPT Create-protocols-repeated*.any.js, Create-invalid-protocol*).
    #[test]
    fn protocols() {
        assert_eq!(validate_protocols::<&str>(&[]).unwrap(), Vec::<String>::new());
        assert_eq!(validate_protocols(&[""]), Err(ConstructError::EmptyProtocol));
        for bad in ["a b", "a,b", "a;b", "é", "a\tb", "a\u{7f}", "{x}", "a=b"] {
            assert!(
                matches!(validate_protocols(&[bad]), Err(ConstructError::InvalidProtocol(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            validate_protocols(&["a", "a"]),
            Err(ConstructError::DuplicateProtocol(_))
        ));
        assert!(matches!(
            validate_protocols(&["chat", "Chat"]),
            Err(ConstructError::DuplicateProtocol(_))
        ));
        assert_eq!(validate_protocols(&["x-1.0", "!#$%&'*+-.^_`|~"]).unwrap().len(), 2);
    }

    // Many names (issue 12: the pairwise check took 3.7 s for 30,000): every
    // distinct name is kept in order, and a duplicate at the very end, in
    // another case, is still found and named as written.
    #[test]
    fn many_protocols() {
        let names: Vec<String> = (0..50_000).map(|i| alloc::format!("p{i}")).collect();
        assert_eq!(validate_protocols(&names).unwrap(), names);
        let mut with_dup = names.clone();
        with_dup.push("P49999".into());
        assert_eq!(
            validate_protocols(&with_dup),
            Err(ConstructError::DuplicateProtocol("P49999".into()))
        );
    }

    // Fetch "bad port": sorted list, 0 included, 80/443 not.
    #[test]
    fn bad_ports() {
        assert!(BAD_PORTS.windows(2).all(|w| w[0] < w[1]));
        for p in [0, 1, 22, 25, 6000, 10080] {
            assert!(is_bad_port(p));
        }
        for p in [80, 443, 8080, 6001, 65535] {
            assert!(!is_bad_port(p));
        }
        assert!(url_port_is_blocked(&parse_url("ws://h:25/").unwrap()));
        assert!(!url_port_is_blocked(&parse_url("ws://h/").unwrap()));
    }
}
