//! `wsapi URL`: the client. Input (files, then standard input's lines) is
//! sent once the connection is open; lines read before that are queued, so
//! a pipe that ends while CONNECTING still has everything sent.
//!
//! At the end of input the session does not close at once, since replies
//! to the last messages may still be on their way and a browser-style
//! socket drops messages that arrive after `close()`. It waits until
//! everything is written and then until `--max-messages` messages arrived
//! or none came for `--wait`, then closes with 1000 and waits for the
//! closing handshake (the model bounds that by the closing timeout).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use wsapi::{Event, Message, WebSocket};

use crate::exit;
use crate::input::{self, Item};
use crate::options::ClientOptions;
use crate::output::Printer;
use crate::slash;

/// How long to wait for replies after piped input ends, by default.
const PIPED_WAIT: Duration = Duration::from_secs(2);

pub async fn main(url: &str, opts: &ClientOptions) -> ExitCode {
    let started = opts
        .builder(url)
        .and_then(|b| b.connect().map_err(|e| e.to_string()))
        .and_then(|ws| Ok((ws, input::files(opts)?)));
    let (ws, files) = match started {
        Ok(started) => started,
        Err(why) => {
            eprintln!("wsapi: {why}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let interactive = std::io::stdin().is_terminal();
    let wait = opts
        .wait
        .unwrap_or(if interactive { Duration::ZERO } else { PIPED_WAIT });
    let session = Session {
        ws,
        printer: Printer::new(opts.jsonl, opts.encoding),
        // Binary input lines are decoded before they get here: commands are
        // for text lines only.
        slash_commands: interactive && !opts.binary,
        close_code: opts.close_code,
        close_reason: opts.close_reason.clone(),
        wait,
        max_messages: opts.max_messages,
        pending: files,
        opened: false,
        input_done: false,
        received: 0,
        quiet_since: Instant::now(),
        unsent_lines: 0,
    };
    session
        .run(input::stdin_lines(opts.binary_input(), opts.max_message_size))
        .await
}

struct Session {
    ws: WebSocket,
    printer: Printer,
    /// Typed lines starting with `/` are commands (see [`slash`]).
    slash_commands: bool,
    /// What closes the connection at the end of input (checked already).
    close_code: u16,
    close_reason: String,
    wait: Duration,
    max_messages: Option<u64>,
    /// Input waiting for the open event.
    pending: Vec<Message>,
    opened: bool,
    input_done: bool,
    received: u64,
    /// When the last message arrived (or input ended): the start of `--wait`.
    quiet_since: Instant,
    /// Input lines reported and skipped: the exit status says so.
    unsent_lines: usize,
}

impl Session {
    async fn run(mut self, mut input: futures::channel::mpsc::UnboundedReceiver<Item>) -> ExitCode {
        let mut input_open = true;
        loop {
            let draining = self.opened && self.input_done && self.ws.ready_state() == wsapi::ReadyState::Open;
            if draining && self.replies_done() {
                let reason = (!self.close_reason.is_empty()).then_some(self.close_reason.as_str());
                let _ = self.ws.close(Some(self.close_code), reason);
                continue;
            }
            // Wakes the loop to look again at the end of `--wait`.
            let tick = if draining {
                self.wait
                    .saturating_sub(self.quiet_since.elapsed())
                    .max(Duration::from_millis(10))
            } else {
                Duration::from_secs(3600)
            };
            futures::select! {
                event = self.ws.next_event().fuse() => match event {
                    Some(Event::Open) => {
                        self.opened = true;
                        self.printer.open(&self.ws);
                        for m in std::mem::take(&mut self.pending) {
                            let _ = self.ws.send(m);
                        }
                        self.quiet_since = Instant::now();
                    }
                    Some(Event::Message(m)) => {
                        self.received += 1;
                        self.quiet_since = Instant::now();
                        self.printer.message(&m);
                    }
                    Some(Event::Error(why)) => self.printer.error(&why),
                    Some(Event::Close(c)) => {
                        self.printer.close(&c);
                        return ExitCode::from(match (c.was_clean, self.unsent_lines) {
                            (false, _) => exit::UNCLEAN,
                            (true, 0) => exit::CLEAN,
                            (true, _) => exit::INPUT,
                        });
                    }
                    None => return ExitCode::from(exit::UNCLEAN),
                },
                item = input.next() => match item {
                    Some(Item::Send(m)) => self.typed(m),
                    Some(Item::Bad(line, why)) => {
                        self.unsent_lines += 1;
                        eprintln!("wsapi: input line {line} not sent: {why}");
                    }
                    Some(Item::End) | None => {
                        if input_open {
                            input_open = false;
                            self.input_done = true;
                            self.quiet_since = Instant::now();
                        }
                    }
                },
                _ = wsapi::runtime::sleep(tick).fuse() => {}
            }
        }
    }

    /// A line of input: sent (now, or once open), or a slash command run.
    fn typed(&mut self, m: Message) {
        let m = match m.as_text().filter(|t| self.slash_commands && t.starts_with('/')) {
            None => m,
            Some(text) => match slash::parse(text) {
                Ok(slash::Line::Send(text)) => Message::from(text.to_string()),
                Ok(slash::Line::Close(code, reason)) => {
                    if let Err(e) = self.ws.close(code, reason) {
                        eprintln!("wsapi: /close: {e}");
                    }
                    return;
                }
                Ok(slash::Line::Ping(payload)) => {
                    // Refused before the open event, after close, and over
                    // 125 bytes: said on a line, and the session goes on.
                    if let Err(e) = self.ws.ping(payload) {
                        eprintln!("wsapi: /ping: {e}");
                    }
                    return;
                }
                Ok(slash::Line::Help(unknown)) => {
                    if let Some(line) = unknown {
                        eprintln!("wsapi: unknown command {line:?} (not sent)");
                    }
                    eprintln!("wsapi: {}", slash::HELP);
                    return;
                }
                Err(why) => {
                    eprintln!("wsapi: {why}");
                    return;
                }
            },
        };
        if self.opened {
            let _ = self.ws.send(m);
        } else {
            self.pending.push(m);
        }
    }

    /// After the end of input: whether the replies are all in, i.e. all
    /// input is written and either `--max-messages` arrived or none came
    /// for `--wait`.
    fn replies_done(&self) -> bool {
        if self.ws.buffered_amount() > 0 {
            return false;
        }
        match self.max_messages {
            Some(max) if self.received >= max => true,
            _ => self.quiet_since.elapsed() >= self.wait,
        }
    }
}
