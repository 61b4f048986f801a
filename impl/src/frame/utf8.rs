//! UTF-8 checked as a text message arrives (RFC 6455 §8.1), so that an
//! invalid byte fails the connection when it arrives, not when the message
//! ends (Autobahn 6.4.x), and each byte is checked once.

/// How much of a growing text buffer is known to be valid UTF-8.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Utf8Check {
    /// `text[..valid]` is valid UTF-8; what follows is at most the start of
    /// one character cut by a frame or read boundary.
    valid: usize,
}

impl Utf8Check {
    /// Checks the bytes of `text` past those checked before. `false` if
    /// they cannot be UTF-8 whatever follows; a character cut at the end is
    /// accepted until [`Utf8Check::is_complete`].
    pub(crate) fn update(&mut self, text: &[u8]) -> bool {
        match std::str::from_utf8(&text[self.valid..]) {
            Ok(_) => {
                self.valid = text.len();
                true
            }
            // `error_len` is `None` only when the bytes so far are the
            // start of a valid character.
            Err(e) => {
                self.valid += e.valid_up_to();
                e.error_len().is_none()
            }
        }
    }

    /// Whether all of `text` (checked by [`Utf8Check::update`]) is valid:
    /// no character is left cut at the end of the message.
    pub(crate) fn is_complete(&self, text: &[u8]) -> bool {
        self.valid == text.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` in pieces of `step`; the index of the piece that failed.
    fn first_failure(bytes: &[u8], step: usize) -> Option<usize> {
        let mut check = Utf8Check::default();
        let mut text = Vec::new();
        for (i, piece) in bytes.chunks(step).enumerate() {
            text.extend_from_slice(piece);
            if !check.update(&text) {
                return Some(i);
            }
        }
        (!check.is_complete(&text)).then_some(usize::MAX)
    }

    #[test]
    fn characters_cut_anywhere_are_accepted() {
        let text = "κόσμε €𝄞 ascii".as_bytes();
        for step in 1..=text.len() {
            assert_eq!(first_failure(text, step), None, "step {step}");
        }
    }

    #[test]
    fn an_invalid_byte_fails_in_the_piece_that_carries_it() {
        // Autobahn 6.4.1: a code point over U+10FFFF starts in the second
        // piece; it must fail there, not at the end of the message.
        let mut bytes = "κόσμε".as_bytes().to_vec();
        let cut = bytes.len();
        bytes.extend_from_slice(&[0xf4, 0x90, 0x80, 0x80]);
        bytes.extend_from_slice(b"edited");
        assert_eq!(first_failure(&bytes, cut + 1), Some(1));
        // A lone continuation byte, a surrogate, an overlong form.
        // Each fails on the first byte that no valid text can have there.
        for (bad, at) in [(&[0x80][..], 0), (&[0xed, 0xa0, 0x80], 1), (&[0xc0, 0xaf], 0)] {
            assert_eq!(first_failure(bad, 1), Some(at), "{bad:x?}");
        }
    }

    #[test]
    fn a_character_cut_at_the_end_of_the_message_is_incomplete() {
        assert_eq!(first_failure(&[b'a', 0xe2, 0x82], 1), Some(usize::MAX));
    }
}
