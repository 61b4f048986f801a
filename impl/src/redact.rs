//! Keeping secrets out of `Debug` output (C-DEBUG): a URL's password and
//! the values of credential-bearing headers are replaced by `***`, since
//! `{:?}` output ends up in logs and panic messages.

use std::fmt;

use url::Url;

/// What stands in for a secret.
const HIDDEN: &str = "***";

/// Header names whose values are credentials (compared ASCII
/// case-insensitively), and name fragments that suggest one.
const SECRET_HEADERS: [&str; 4] = ["authorization", "proxy-authorization", "cookie", "set-cookie"];
const SECRET_FRAGMENTS: [&str; 5] = ["token", "secret", "key", "auth", "session"];

/// Whether the value of header `name` must not be shown.
pub(crate) fn is_secret_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_HEADERS.contains(&lower.as_str()) || SECRET_FRAGMENTS.iter().any(|f| lower.contains(f))
}

/// `url` with its password (if any) replaced by `***`.
pub(crate) fn url(url: &Url) -> String {
    if url.password().is_none() {
        return url.as_str().to_string();
    }
    let mut shown = url.clone();
    let _ = shown.set_password(Some(HIDDEN));
    shown.as_str().to_string()
}

/// A URL given as a string, password hidden: by the parsed URL if it
/// parses, else on the raw string (a string the parser refuses, for a bad
/// port or an empty host, may still hold `user:password@`).
pub(crate) fn url_str(s: &str) -> String {
    match Url::parse(s) {
        Ok(u) => url(&u),
        Err(_) => wsapi_model::constructor::hide_password(s),
    }
}

/// A header name as an error may show it: up to its first character that
/// is not allowed in a name. A whole line given as the name
/// (`"Authorization: Bearer ..."`) would otherwise put its value in the
/// message.
pub(crate) fn header_name(name: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    match name.find(|c: char| !allowed(c)) {
        None => name.to_string(),
        Some(end) => format!("{}<{} more bytes>", &name[..end], name.len() - end),
    }
}

/// Debug-prints headers as a list of `(name, value)` with secret values hidden.
pub(crate) struct Headers<'a, N, V>(pub &'a [(N, V)]);

impl<N: AsRef<str>, V: fmt::Debug> fmt::Debug for Headers<'_, N, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (name, value) in self.0 {
            if is_secret_header(name.as_ref()) {
                list.entry(&(name.as_ref(), HIDDEN));
            } else {
                list.entry(&(name.as_ref(), value));
            }
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_credential_headers_are_hidden() {
        assert_eq!(url_str("ws://me:hunter2@host/x"), "ws://me:***@host/x");
        assert_eq!(url_str("ws://host/x"), "ws://host/x");
        assert!(!url_str("not a url me:hunter2@x").contains("hunter2"));
        assert_eq!(url_str("ws://me:hunter2@host:99999/"), "ws://me:***@host:99999/");
        assert_eq!(header_name("X-Ok"), "X-Ok");
        assert_eq!(
            header_name("Authorization: Bearer s3cr3t"),
            "Authorization<15 more bytes>"
        );
        let headers = [
            ("Authorization", "Bearer s3cr3t"),
            ("X-Api-Key", "k3y"),
            ("Origin", "https://a"),
        ];
        let shown = format!("{:?}", Headers(&headers));
        assert!(!shown.contains("s3cr3t") && !shown.contains("k3y"), "{shown}");
        assert!(shown.contains("https://a"), "{shown}");
    }
}
