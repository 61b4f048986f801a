//! What the client sends: files named on the command line, then the lines
//! of standard input, decoded as text or binary.
//!
//! Standard input is read on a plain thread: runtime-agnostic, and a read
//! may block for as long as the person at the terminal likes.
//!
//! A line is read as bytes, and at most one message's worth of it is kept
//! (`--max-message-size`, in the line's encoding): the rest of a longer
//! line is read and dropped, so a 1 GiB line costs the limit, not 1 GiB.
//! A line that cannot be sent (too long, not UTF-8 in text mode, not in the
//! `--binary` encoding) is reported and skipped; the session then exits
//! with [`crate::exit::INPUT`].

use std::io::{self, BufRead};

use futures::channel::mpsc;
use wsapi::Message;

use crate::options::{ClientOptions, Encoding};

/// One item of input, in order.
pub enum Item {
    /// A message to send.
    Send(Message),
    /// A line that could not be sent (its number and why); skipped.
    Bad(usize, String),
    /// The end of standard input.
    End,
}

/// The `--file` contents, each one binary message; `Err` names the
/// unreadable (or too large) file.
pub fn files(opts: &ClientOptions) -> Result<Vec<Message>, String> {
    opts.files
        .iter()
        .map(|p| {
            let too_large = |len: u64| {
                format!(
                    "--file {}: {len} bytes, over --max-message-size ({})",
                    p.display(),
                    opts.max_message_size
                )
            };
            // Checked before reading, so that a huge file is not read whole
            // to be refused.
            let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            if len > opts.max_message_size as u64 {
                return Err(too_large(len));
            }
            let bytes = std::fs::read(p).map_err(|e| format!("--file {}: cannot read: {e}", p.display()))?;
            if bytes.len() > opts.max_message_size {
                return Err(too_large(bytes.len() as u64));
            }
            Ok(Message::from(bytes))
        })
        .collect()
}

/// Starts reading standard input; items arrive on the returned channel,
/// `End` last. No message longer than `max_message` bytes is made.
pub fn stdin_lines(binary: Option<Encoding>, max_message: usize) -> mpsc::UnboundedReceiver<Item> {
    let (tx, rx) = mpsc::unbounded();
    std::thread::spawn(move || {
        let send = |item| tx.unbounded_send(item).is_ok();
        read_items(&mut std::io::stdin().lock(), binary, max_message, send);
        let _ = tx.unbounded_send(Item::End);
    });
    rx
}

/// Reads `input` line by line and hands each item to `send` (until it
/// returns `false`); an unreadable input ends it.
fn read_items(
    input: &mut impl BufRead,
    binary: Option<Encoding>,
    max_message: usize,
    mut send: impl FnMut(Item) -> bool,
) {
    let cap = line_cap(binary, max_message);
    let mut line = Vec::new();
    for number in 1.. {
        let item = match read_line(input, cap, &mut line) {
            Ok(Line::End) => return,
            Ok(Line::Kept) => decode(binary, max_message, number, std::mem::take(&mut line)),
            Ok(Line::TooLong(len)) => Item::Bad(
                number,
                format!("{len} bytes, longer than a message may be (--max-message-size {max_message})"),
            ),
            Err(e) => {
                send(Item::Bad(number, format!("unreadable ({e}); input ends here")));
                return;
            }
        };
        if !send(item) {
            return;
        }
    }
}

/// The longest input line that can hold a message of `max_message` bytes
/// in `binary`'s encoding (hex may put a space between byte pairs).
fn line_cap(binary: Option<Encoding>, max_message: usize) -> usize {
    match binary {
        None => max_message,
        Some(Encoding::Hex) => max_message.saturating_mul(3),
        Some(Encoding::Base64) => max_message.div_ceil(3).saturating_mul(4),
    }
}

/// How [`read_line`] ended.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A line (without its `\n` or `\r\n`) is in the buffer.
    Kept,
    /// The line was longer than the cap: this many bytes, dropped.
    TooLong(usize),
    /// The input ended, with no line.
    End,
}

/// Reads one line into `line` (cleared first), keeping at most `cap`
/// bytes of it: the rest of a longer line is read and dropped, so that a
/// huge line never sits in memory. The last line may lack its `\n`.
fn read_line(input: &mut impl BufRead, cap: usize, line: &mut Vec<u8>) -> io::Result<Line> {
    line.clear();
    let mut len = 0usize;
    let mut any = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !any {
                return Ok(Line::End);
            }
            break;
        }
        any = true;
        let (part, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], true),
            None => (buf, false),
        };
        // One byte past the cap is kept: a `\r` before the `\n` is not content.
        let room = (cap.saturating_add(1)).saturating_sub(line.len());
        line.extend_from_slice(&part[..part.len().min(room)]);
        len += part.len();
        let used = part.len() + usize::from(done);
        input.consume(used);
        if done {
            break;
        }
    }
    if line.last() == Some(&b'\r') && len <= cap.saturating_add(1) {
        line.pop();
        len -= 1;
    }
    if len > cap {
        line.clear();
        return Ok(Line::TooLong(len));
    }
    Ok(Line::Kept)
}

fn decode(binary: Option<Encoding>, max_message: usize, number: usize, line: Vec<u8>) -> Item {
    match binary {
        None => match String::from_utf8(line) {
            Ok(text) => Item::Send(Message::from(text)),
            Err(_) => Item::Bad(
                number,
                "not UTF-8, so not a text message (send binary data with --binary hex|base64, or --file)".into(),
            ),
        },
        Some(encoding) => {
            let Ok(text) = std::str::from_utf8(&line) else {
                return Item::Bad(number, format!("not {}: not even UTF-8", encoding.name()));
            };
            match encoding.decode(text) {
                Ok(bytes) if bytes.len() > max_message => Item::Bad(
                    number,
                    format!(
                        "{} bytes once decoded, longer than a message may be (--max-message-size {max_message})",
                        bytes.len()
                    ),
                ),
                Ok(bytes) => Item::Send(Message::from(bytes)),
                Err(why) => Item::Bad(number, why),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(input: &[u8], binary: Option<Encoding>, max: usize) -> Vec<Result<Message, String>> {
        let mut out = Vec::new();
        read_items(&mut io::BufReader::with_capacity(7, input), binary, max, |item| {
            match item {
                Item::Send(m) => out.push(Ok(m)),
                Item::Bad(n, why) => out.push(Err(format!("{n}: {why}"))),
                Item::End => unreachable!(),
            }
            true
        });
        out
    }

    #[test]
    fn lines_are_kept_up_to_the_limit_and_longer_ones_reported() {
        let got = items(b"12345\r\nabcdef\n123\r\r\n\nlast", None, 5);
        assert_eq!(got[0], Ok(Message::from("12345")));
        assert_eq!(
            got[1],
            Err("2: 6 bytes, longer than a message may be (--max-message-size 5)".into())
        );
        assert_eq!(got[2], Ok(Message::from("123\r")));
        assert_eq!(got[3], Ok(Message::from("")));
        assert_eq!(got[4], Ok(Message::from("last")));
        assert_eq!(got.len(), 5);
        // A line of one byte over, with `\r\n`, is still too long.
        assert!(items(b"123456\r\n", None, 5)[0].is_err());
    }

    #[test]
    fn non_utf8_text_is_reported_and_the_next_line_still_sent() {
        let got = items(b"\xff\xfe\nok\n", None, 100);
        assert!(got[0].as_ref().is_err_and(|e| e.starts_with("1: not UTF-8")), "{got:?}");
        assert_eq!(got[1], Ok(Message::from("ok")));
    }

    #[test]
    fn binary_lines_are_capped_in_their_encoding_and_once_decoded() {
        assert_eq!(
            items(b"0a 0b 0c\n", Some(Encoding::Hex), 3),
            [Ok(Message::from(vec![10, 11, 12]))]
        );
        assert!(items(b"0a0b0c0d\n", Some(Encoding::Hex), 3)[0].is_err());
        assert_eq!(
            items(b"AAAA\n", Some(Encoding::Base64), 3),
            [Ok(Message::from(vec![0, 0, 0]))]
        );
        assert!(items(b"AAAAAA==\n", Some(Encoding::Base64), 3)[0].is_err());
        assert!(items(b"\xff\n", Some(Encoding::Hex), 3)[0].is_err());
    }
}
