//! The default session: echo server + client, every change printed.

use std::process::ExitCode;

use wsapi::{Event, WebSocket};

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
    println!("loopback echo server on {base}");
    let ws = match WebSocket::new(&url, &["demo"]) {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!("new WebSocket({url:?})            {}", state(&ws));
    match ws.send("too early") {
        Err(e) => println!("send() before open -> {e}"),
        Ok(()) => println!("send() before open -> ok?!"),
    }
    let mut echoed = 0;
    let mut code = ExitCode::FAILURE;
    while let Some(event) = ws.next_event().await {
        match &event {
            Event::Open => {
                println!("event open  protocol={:?}        {}", ws.protocol(), state(&ws));
                for msg in ["hello", "héllo 🌍"] {
                    ws.send(msg).expect("open");
                    println!("send({msg:?})                   {}", state(&ws));
                }
                ws.send(vec![0u8, 1, 2, 3]).expect("open");
                println!("send([0, 1, 2, 3])                {}", state(&ws));
            }
            Event::Message(m) => {
                echoed += 1;
                let data = match m.data.as_text() {
                    Some(text) => format!("text {text:?}"),
                    None => format!("binary {:?}", m.data.as_bytes()),
                };
                println!("event message {data}  {}", state(&ws));
                if echoed == 3 {
                    if let Err(e) = ws.close(Some(999), None) {
                        println!("close(999) -> {e}");
                    }
                    ws.close(Some(1000), Some("demo done")).expect("valid arguments");
                    println!("close(1000, \"demo done\")         {}", state(&ws));
                    ws.send("after close").expect("not CONNECTING");
                    println!("send() while CLOSING             {} (counted, not sent)", state(&ws));
                }
            }
            Event::Error(why) => println!("event error: {why}   {}", state(&ws)),
            Event::Close(c) => {
                println!(
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
