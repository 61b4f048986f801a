//! `wsapi`: a command-line WebSocket client with the browser API's semantics.
//!
//! - `wsapi`: starts an in-process loopback echo server and runs a short
//!   live session against it, printing every event, readyState and
//!   bufferedAmount as they change.
//! - `wsapi URL [--protocol P]... [--header K:V]... [--proxy URL]`: interactive client.
//! - `wsapi scenario --base ws://127.0.0.1:PORT FILE.json`: runs an oracle
//!   scenario and prints its trace (see `../shared/oracle/README.md`).

mod demo;
mod echo_server;
mod interactive;
mod scenario;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "wsapi",
    version,
    about = "A WebSocket client with the browser API's semantics"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Connect to this URL and send stdin lines (interactive mode).
    url: Option<String>,
    /// A subprotocol to offer (repeatable).
    #[arg(long = "protocol", short = 'p')]
    protocols: Vec<String>,
    /// An extra request header, as `Name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
    /// Tunnel through this HTTP proxy (CONNECT), as
    /// `http://[user:password@]host[:port]`.
    #[arg(long)]
    proxy: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an oracle scenario and print its JSON trace.
    Scenario {
        /// The server's base URL, e.g. ws://127.0.0.1:PORT.
        #[arg(long)]
        base: String,
        /// The scenario file.
        file: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match (cli.command, cli.url) {
        (Some(Command::Scenario { base, file }), _) => wsapi::runtime::block_on(scenario::main(&base, &file)),
        (None, Some(url)) => wsapi::runtime::block_on(interactive::main(
            &url,
            &cli.protocols,
            &cli.headers,
            cli.proxy.as_deref(),
        )),
        (None, None) => wsapi::runtime::block_on(demo::main()),
    }
}
