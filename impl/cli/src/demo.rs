//! The default session: echo server + client, every change printed.

use std::process::ExitCode;

use wsapi::{Event, WebSocket};

/// `println!` that ends the program quietly once stdout is gone (`wsapi |
/// head`), as a program killed by SIGPIPE would, instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

fn state(ws: &WebSocket) -> String {
    format!(
        "readyState={:?} bufferedAmount={}",
        ws.ready_state(),
        ws.buffered_amount()
    )
}

pub async fn main() -> ExitCode {
    let base = match crate::echo_server::start(0).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("could not start the loopback echo server: {e}");
            return ExitCode::from(2);
        }
    };
    let url = format!("{base}/demo");
    say!("loopback echo server on {base}");
    let ws = match WebSocket::new(&url, &["demo"]) {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    say!("new WebSocket({url:?})            {}", state(&ws));
    match ws.send("too early") {
        Err(e) => say!("send() before open -> {e}"),
        Ok(()) => say!("send() before open -> ok?!"),
    }
    let mut echoed = 0;
    let mut code = ExitCode::FAILURE;
    while let Some(event) = ws.next_event().await {
        match &event {
            Event::Open => {
                say!("event open  protocol={:?}        {}", ws.protocol(), state(&ws));
                for msg in ["hello", "héllo 🌍"] {
                    ws.send(msg).expect("open");
                    say!("send({msg:?})                   {}", state(&ws));
                }
                ws.send(vec![0u8, 1, 2, 3]).expect("open");
                say!("send([0, 1, 2, 3])                {}", state(&ws));
            }
            Event::Message(m) => {
                echoed += 1;
                let data = match m.data.as_text() {
                    Some(text) => format!("text {text:?}"),
                    None => format!("binary {:?}", m.data.as_bytes()),
                };
                say!("event message {data}  {}", state(&ws));
                if echoed == 3 {
                    if let Err(e) = ws.close(Some(999), None) {
                        say!("close(999) -> {e}");
                    }
                    ws.close(Some(1000), Some("demo done")).expect("valid arguments");
                    say!("close(1000, \"demo done\")         {}", state(&ws));
                    ws.send("after close").expect("not CONNECTING");
                    say!("send() while CLOSING             {} (counted, not sent)", state(&ws));
                }
            }
            Event::Error(why) => say!("event error: {why}   {}", state(&ws)),
            Event::Close(c) => {
                say!(
                    "event close code={} reason={:?} wasClean={}  {}",
                    c.code,
                    c.reason,
                    c.was_clean,
                    state(&ws)
                );
                if c.was_clean {
                    code = ExitCode::SUCCESS;
                }
            }
        }
    }
    code
}
