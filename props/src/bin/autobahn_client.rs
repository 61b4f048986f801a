//! The Autobahn|Testsuite client: runs every case the fuzzing server offers
//! against `wsapi`, echoing each message as it came, then asks the server
//! to write its reports. Uses only the public API of `wsapi`.
//!
//! ```text
//! autobahn_client ws://127.0.0.1:9001 [AGENT]
//! ```
//!
//! Run by `.ci/autobahn.sh`, which starts the server and checks the report.

use std::process::ExitCode;
use std::time::Duration;

use wsapi::runtime::block_on;
use wsapi::{Event, WebSocket};

/// Opens `url` and answers every message with the same message (text as
/// text, binary as binary), until the close event. Returns the text of the
/// last message received (what `/getCaseCount` answers).
async fn run_session(url: &str) -> Result<Option<String>, String> {
    let ws = WebSocket::builder(url)
        // Autobahn's 9.x cases send messages and frames of 16 MiB.
        .max_message_size(Some(64 << 20))
        .closing_timeout(Duration::from_secs(10))
        .connect()
        .map_err(|e| format!("{url}: {e}"))?;
    let mut last_text = None;
    while let Some(event) = ws.next_event().await {
        match event {
            Event::Message(m) => {
                last_text = m.data.as_text().map(str::to_owned);
                // After a failure a browser drops what is sent (the send
                // fails with InvalidState only before open): ignore errors.
                let _ = ws.send(m.data);
            }
            Event::Open | Event::Error(_) => {}
            Event::Close(_) => break,
        }
    }
    Ok(last_text)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(base) = args.next() else {
        eprintln!("usage: autobahn_client ws://HOST:PORT [AGENT]");
        return ExitCode::from(2);
    };
    let agent = args.next().unwrap_or_else(|| "wsapi".to_string());
    let result = block_on(async {
        let count = run_session(&format!("{base}/getCaseCount"))
            .await?
            .and_then(|text| text.trim().parse::<u32>().ok())
            .ok_or("the server did not say how many cases it has")?;
        eprintln!("autobahn: {count} cases");
        for case in 1..=count {
            run_session(&format!("{base}/runCase?case={case}&agent={agent}")).await?;
            if case % 50 == 0 {
                eprintln!("autobahn: {case}/{count}");
            }
        }
        run_session(&format!("{base}/updateReports?agent={agent}")).await?;
        Ok::<u32, String>(count)
    });
    match result {
        Ok(count) => {
            eprintln!("autobahn: ran {count} cases, reports updated");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("autobahn client: {why}");
            ExitCode::FAILURE
        }
    }
}
