//! `wsapi URL`: lines from stdin are sent, messages printed; end of input
//! closes cleanly. Exit status: 0 clean close, 1 unclean or failed, 2 bad
//! arguments.

use std::io::BufRead;
use std::process::ExitCode;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use wsapi::{Event, WebSocket};

pub async fn main(url: &str, protocols: &[String], headers: &[String], proxy: Option<&str>) -> ExitCode {
    let mut builder = WebSocket::builder(url).protocols(protocols);
    if let Some(proxy) = proxy {
        builder = builder.proxy(proxy);
    }
    for h in headers {
        let Some((name, value)) = h.split_once(':') else {
            eprintln!("--header wants `Name: value`, got {h:?}");
            return ExitCode::from(2);
        };
        builder = builder.header(name.trim(), value.trim());
    }
    let ws = match builder.connect() {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // stdin is read on a plain thread: runtime-agnostic, and it may block.
    let (tx, mut lines) = mpsc::unbounded::<Option<String>>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) => {
                    if tx.unbounded_send(Some(l)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = tx.unbounded_send(None);
    });
    let mut opened = false;
    let mut pending: Vec<String> = Vec::new();
    loop {
        futures::select! {
            event = ws.next_event().fuse() => match event {
                Some(Event::Open) => {
                    opened = true;
                    eprintln!("* open (protocol {:?}, extensions {:?})", ws.protocol(), ws.extensions());
                    for l in pending.drain(..) {
                        let _ = ws.send(l);
                    }
                }
                Some(Event::Message(m)) => match m.data.as_text() {
                    Some(t) => println!("{t}"),
                    None => println!("<binary {} bytes: {:02x?}>", m.data.len(), &m.data.as_bytes()[..m.data.len().min(32)]),
                },
                Some(Event::Error(why)) => eprintln!("* error: {why:?}"),
                Some(Event::Close(c)) => {
                    eprintln!("* close {} {:?} wasClean={}", c.code, c.reason, c.was_clean);
                    return if c.was_clean { ExitCode::SUCCESS } else { ExitCode::FAILURE };
                }
                None => return ExitCode::FAILURE,
            },
            line = lines.next() => match line.flatten() {
                Some(l) if opened => { let _ = ws.send(l); }
                Some(l) => pending.push(l),
                None => { let _ = ws.close(Some(1000), None); }
            },
        }
    }
}
