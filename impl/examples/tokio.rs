//! wsapi in a tokio program: the connection runs on the program's own
//! (here single-threaded) tokio runtime, so no other runtime's threads are
//! started. Connects to an in-process loopback echo server, prints the
//! echo and the process's thread count before and while connected. The one
//! thread wsapi keeps for the whole process, `wsapi-timers` (the model's
//! connect and closing timeouts of every connection, instead of a runtime
//! timer per connection), is not a runtime's and is not counted.
//!
//! `cargo run -p wsapi --features tokio-runtime --example tokio`

use async_tungstenite::tungstenite::Message as WsMessage;
use futures::StreamExt;
use wsapi::runtime::TcpListener;
use wsapi::{Event, WebSocket};

/// Threads of this process but wsapi's timer thread (Linux; `None` elsewhere).
fn threads() -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let not_timers = |task: &std::fs::DirEntry| {
        std::fs::read_to_string(task.path().join("comm")).map_or(true, |name| name.trim() != "wsapi-timers")
    };
    Some(tasks.flatten().filter(not_timers).count())
}

async fn echo_server() -> std::io::Result<String> {
    // Inside a tokio runtime, wsapi's listener is a tokio one.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("ws://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = async_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if matches!(msg, WsMessage::Text(_) | WsMessage::Binary(_)) && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(base)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let before = threads();
    let base = echo_server().await?;
    // No runtime given: inside a tokio runtime, wsapi uses it.
    let ws = WebSocket::new(&format!("{base}/echo"), &[] as &[&str])?;
    let mut during = None;
    while let Some(event) = ws.next_event().await {
        match event {
            Event::Open => ws.send("hello from tokio")?,
            Event::Message(m) => {
                println!("echo: {:?}", m.data);
                during = threads();
                ws.close(Some(1000), Some("bye"))?;
            }
            Event::Error(why) => return Err(format!("failed: {why:?}").into()),
            Event::Close(c) => {
                println!("closed: {} {:?} clean={}", c.code, c.reason, c.was_clean);
                if !c.was_clean {
                    return Err("unclean close".into());
                }
            }
        }
    }
    match (before, during) {
        (Some(b), Some(d)) => {
            println!("threads: {b} before connecting, {d} while connected");
            if d > b {
                return Err("wsapi started threads beside the tokio runtime".into());
            }
        }
        _ => println!("threads: not countable on this system"),
    }
    Ok(())
}
