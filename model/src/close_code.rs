//! Close codes and reasons, on both sides of the API.
//!
//! * **API side** (`close(code, reason)`, WHATWG "close the WebSocket",
//!   steps 1–2): a script may only send 1000 or 3000–4999, and a reason of
//!   at most 123 UTF-8 bytes. Both checks run *before* the state is looked
//!   at, so a bad argument throws even while CLOSING or CLOSED.
//! * **Wire side** (what a server's Close frame may carry, RFC 6455 §5.5.1,
//!   §7.4.1, §7.4.2 and the IANA "WebSocket Close Code Number Registry"):
//!   1000–1003, 1007–1014 and 3000–4999 are valid; 1004, 1005, 1006, 1015,
//!   anything below 1000, 1016–2999 and 5000 and above are not. A one-byte
//!   payload, a payload over 125 bytes, or a reason that is not UTF-8 is a
//!   protocol error.
//!
//! tungstenite rejects 1014 and replaces every code it rejects by 1002
//! before handing the frame on; drivers must feed the *raw* payload to
//! [`crate::Connection::handle_close_frame`] so that this module decides.

use alloc::string::String;

/// Longest close reason, in UTF-8 bytes (RFC 6455 §5.5: 125-byte control
/// payload minus the 2-byte code).
pub const MAX_REASON_BYTES: usize = 123;

/// Why `close(code, reason)` threw.
///
/// Exhaustive: these are the exceptions the standard's `close()` throws
/// (see `spec-notes/errors.md`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CloseError {
    /// The code is neither 1000 nor in 3000..=4999 (`InvalidAccessError`).
    #[error("InvalidAccessError: close code {0} is neither 1000 nor in 3000..=4999; scripts may only send those")]
    InvalidAccess(u16),
    /// The reason is longer than 123 bytes as UTF-8 (`SyntaxError`).
    #[error("SyntaxError: close reason is {0} bytes as UTF-8, the limit is 123; shorten it")]
    Syntax(usize),
}

impl CloseError {
    /// The DOMException name a browser throws.
    pub fn dom_exception(&self) -> &'static str {
        match self {
            CloseError::InvalidAccess(_) => "InvalidAccessError",
            CloseError::Syntax(_) => "SyntaxError",
        }
    }
}

/// Whether a script may pass this code to `close()`.
pub fn is_api_close_code(code: u16) -> bool {
    code == 1000 || (3000..=4999).contains(&code)
}

/// Checks `close()`'s arguments (the steps that run before any state check).
///
/// ```
/// use wsapi_model::{check_close_args, CloseError};
/// assert!(check_close_args(Some(1000), Some("bye")).is_ok());
/// assert_eq!(check_close_args(Some(1001), None), Err(CloseError::InvalidAccess(1001)));
/// assert_eq!(check_close_args(None, Some(&"a".repeat(124))), Err(CloseError::Syntax(124)));
/// ```
pub fn check_close_args(code: Option<u16>, reason: Option<&str>) -> Result<(), CloseError> {
    if let Some(code) = code {
        if !is_api_close_code(code) {
            return Err(CloseError::InvalidAccess(code));
        }
    }
    if let Some(reason) = reason {
        if reason.len() > MAX_REASON_BYTES {
            return Err(CloseError::Syntax(reason.len()));
        }
    }
    Ok(())
}

/// Whether a code may appear in a Close frame received from the peer.
///
/// ```
/// use wsapi_model::is_valid_wire_close_code;
/// assert!(is_valid_wire_close_code(1014));
/// assert!(!is_valid_wire_close_code(1005));
/// ```
pub fn is_valid_wire_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A Close frame body: status code and UTF-8 reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// The status code.
    pub code: u16,
    /// The reason (at most 123 bytes).
    pub reason: String,
}

/// What a received Close frame's payload means.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReceivedClose {
    /// An empty payload: no status code (the close event reports 1005).
    NoStatus,
    /// A valid code and reason.
    Frame(CloseFrame),
}

/// Why a received Close frame is invalid; each fails the connection.
///
/// Exhaustive: RFC 6455 fixes what makes a Close frame invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum BadClose {
    /// A one-byte payload (RFC 6455 §5.5.1: a body starts with a 2-byte code).
    #[error("a one-byte payload; a Close body starts with a two-byte code")]
    OneByte,
    /// A control frame payload over 125 bytes (RFC 6455 §5.5).
    #[error("a payload over 125 bytes, the limit for control frames")]
    TooLong,
    /// A code that must not appear on the wire (RFC 6455 §7.4).
    #[error("code {0}, which must not be sent on the wire")]
    InvalidCode(u16),
    /// A reason that is not UTF-8 (RFC 6455 §5.5.1, §8.1).
    #[error("a reason that is not UTF-8")]
    InvalidUtf8,
}

impl BadClose {
    /// The status code we send when failing the connection for it.
    pub fn fail_code(self) -> u16 {
        match self {
            BadClose::InvalidUtf8 => 1007,
            _ => 1002,
        }
    }
}

/// Parses a received Close frame's payload (RFC 6455 §5.5.1).
///
/// ```
/// use wsapi_model::{parse_close_payload, BadClose, ReceivedClose};
/// assert_eq!(parse_close_payload(&[]), Ok(ReceivedClose::NoStatus));
/// assert_eq!(parse_close_payload(&[0x03, 0xed]), Err(BadClose::InvalidCode(1005)));
/// ```
pub fn parse_close_payload(payload: &[u8]) -> Result<ReceivedClose, BadClose> {
    match payload.len() {
        0 => return Ok(ReceivedClose::NoStatus),
        1 => return Err(BadClose::OneByte),
        n if n > 125 => return Err(BadClose::TooLong),
        _ => {}
    }
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    if !is_valid_wire_close_code(code) {
        return Err(BadClose::InvalidCode(code));
    }
    let reason = core::str::from_utf8(&payload[2..]).map_err(|_| BadClose::InvalidUtf8)?;
    Ok(ReceivedClose::Frame(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// The Close frame `close(code, reason)` sends (WHATWG "close the WebSocket",
/// step 3.3): no body when neither is given; code 1000 when only a reason is.
pub fn close_frame_for(code: Option<u16>, reason: Option<&str>) -> Option<CloseFrame> {
    match (code, reason) {
        (None, None) => None,
        (code, reason) => Some(CloseFrame {
            code: code.unwrap_or(1000),
            reason: reason.unwrap_or("").into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    // WHATWG close() step 1 (WPT Close-1005.any.js, Close-Reason-124Bytes.any.js, close-invalid-code).
    #[test]
    fn api_codes() {
        for ok in [1000, 3000, 3999, 4000, 4999] {
            assert!(check_close_args(Some(ok), None).is_ok(), "{ok}");
        }
        for bad in [0, 999, 1001, 1002, 1005, 1006, 1015, 2999, 5000, 65535] {
            assert_eq!(check_close_args(Some(bad), None), Err(CloseError::InvalidAccess(bad)));
            assert_eq!(CloseError::InvalidAccess(bad).dom_exception(), "InvalidAccessError");
        }
    }

    // WHATWG close() step 2: reason limit counted in UTF-8 bytes, checked after the code.
    #[test]
    fn api_reasons() {
        assert!(check_close_args(Some(1000), Some(&"a".repeat(123))).is_ok());
        assert_eq!(
            check_close_args(Some(1000), Some(&"a".repeat(124))),
            Err(CloseError::Syntax(124))
        );
        assert_eq!(
            check_close_args(None, Some(&"é".repeat(62))),
            Err(CloseError::Syntax(124))
        );
        assert!(check_close_args(None, Some(&"é".repeat(61))).is_ok());
        // the code is checked first
        assert_eq!(
            check_close_args(Some(1), Some(&"a".repeat(200))),
            Err(CloseError::InvalidAccess(1))
        );
    }

    // RFC 6455 §7.4.1/§7.4.2 and the IANA registry (1012-1014 registered).
    #[test]
    fn wire_codes() {
        let valid: Vec<u16> = (0..=u16::MAX).filter(|c| is_valid_wire_close_code(*c)).collect();
        assert_eq!(valid.len(), 4 + 8 + 2000);
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!is_valid_wire_close_code(bad), "{bad}");
        }
        for good in [1000, 1001, 1002, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4999] {
            assert!(is_valid_wire_close_code(good), "{good}");
        }
    }

    // RFC 6455 §5.5.1: payload shapes.
    #[test]
    fn payloads() {
        assert_eq!(parse_close_payload(&[3]), Err(BadClose::OneByte));
        assert_eq!(
            parse_close_payload(&[0x03, 0xe8, 0xc3, 0x28]),
            Err(BadClose::InvalidUtf8)
        );
        assert_eq!(BadClose::InvalidUtf8.fail_code(), 1007);
        assert_eq!(BadClose::OneByte.fail_code(), 1002);
        let mut long = alloc::vec![0x03, 0xe8];
        long.extend(core::iter::repeat_n(b'a', 124));
        assert_eq!(parse_close_payload(&long), Err(BadClose::TooLong));
        long.pop();
        assert!(parse_close_payload(&long).is_ok());
        assert_eq!(
            parse_close_payload(&[0x0f, 0xa1, b'b', b'y', b'e']),
            Ok(ReceivedClose::Frame(CloseFrame {
                code: 4001,
                reason: "bye".into()
            }))
        );
    }

    // WHATWG "close the WebSocket" step 3.3: body rules.
    #[test]
    fn frames_sent() {
        assert_eq!(close_frame_for(None, None), None);
        assert_eq!(
            close_frame_for(None, Some("why")),
            Some(CloseFrame {
                code: 1000,
                reason: "why".into()
            })
        );
        assert_eq!(
            close_frame_for(Some(4000), None),
            Some(CloseFrame {
                code: 4000,
                reason: "".into()
            })
        );
    }
}
