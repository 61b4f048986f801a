//! What the client sends: files named on the command line, then the lines
//! of standard input, decoded as text or binary.
//!
//! Standard input is read on a plain thread: runtime-agnostic, and a read
//! may block for as long as the person at the terminal likes.

use std::io::BufRead;

use futures::channel::mpsc;
use wsapi::Message;

use crate::options::{ClientOptions, Encoding};

/// One item of input, in order.
pub enum Item {
    /// A message to send.
    Send(Message),
    /// A line that could not be decoded (its number and why); not sent.
    Bad(usize, String),
    /// The end of standard input.
    End,
}

/// The `--file` contents, each one binary message; `Err` names the unreadable file.
pub fn files(opts: &ClientOptions) -> Result<Vec<Message>, String> {
    opts.files
        .iter()
        .map(|p| {
            std::fs::read(p)
                .map(Message::from)
                .map_err(|e| format!("--file {}: cannot read: {e}", p.display()))
        })
        .collect()
}

/// Starts reading standard input; items arrive on the returned channel,
/// `End` last.
pub fn stdin_lines(binary: Option<Encoding>) -> mpsc::UnboundedReceiver<Item> {
    let (tx, rx) = mpsc::unbounded();
    std::thread::spawn(move || {
        for (index, line) in std::io::stdin().lock().lines().enumerate() {
            let item = match line {
                Ok(line) => decode(binary, index + 1, line),
                Err(e) => Item::Bad(index + 1, format!("unreadable ({e}); input ends here")),
            };
            let stop = matches!(&item, Item::Bad(_, why) if why.ends_with("input ends here"));
            if tx.unbounded_send(item).is_err() || stop {
                break;
            }
        }
        let _ = tx.unbounded_send(Item::End);
    });
    rx
}

fn decode(binary: Option<Encoding>, number: usize, line: String) -> Item {
    match binary {
        None => Item::Send(Message::from(line)),
        Some(encoding) => match encoding.decode(&line) {
            Ok(bytes) => Item::Send(Message::from(bytes)),
            Err(why) => Item::Bad(number, why),
        },
    }
}
