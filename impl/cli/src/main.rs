//! `wsapi`: a command-line WebSocket client with the browser API's semantics.
//!
//! - `wsapi`: starts an in-process loopback echo server and runs a short
//!   live session against it, printing every event, readyState and
//!   bufferedAmount as they change.
//! - `wsapi URL [OPTIONS]`: a client; lines of standard input are sent,
//!   messages printed (see [`session`]).
//! - `wsapi echo-server`: a loopback echo server for trying the client.
//! - `wsapi scenario --base ws://127.0.0.1:PORT FILE.json`: runs an oracle
//!   scenario and prints its trace (see `../shared/oracle/README.md`).
//!
//! This program is its own package so that the library does not carry its
//! dependencies (clap, serde_json) into every program that uses it.

mod demo;
mod echo_server;
mod input;
mod judge;
mod options;
mod output;
mod scenario;
mod session;
mod slash;
mod tls;
mod trace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::options::ClientOptions;

/// Exit statuses, as `--help` lists them.
pub mod exit {
    /// The connection closed cleanly (closing handshake completed).
    pub const CLEAN: u8 = 0;
    /// The connection failed, or closed without a closing handshake.
    pub const UNCLEAN: u8 = 1;
    /// Bad arguments: URL, header, protocol, file or option value.
    pub const USAGE: u8 = 2;
    /// The connection closed cleanly, but input lines were skipped (not
    /// UTF-8, longer than `--max-message-size`, not in the `--binary`
    /// encoding): not everything given was sent.
    pub const INPUT: u8 = 3;
}

const AFTER_HELP: &str = "\
Input: each line of standard input is sent as one message once the connection is open
(lines typed or piped before that are queued); a line longer than --max-message-size,
or not UTF-8 (without --binary), is reported and skipped. At end of input (Ctrl-D, or
the end of a pipe), wsapi waits for the replies (until --max-messages arrived, or none
came for --wait seconds), closes with 1000 (or --close-code and --close-reason) and
waits for the closing handshake (bounded by --closing-timeout).

Commands, typed at a terminal (text mode): /close [CODE [REASON]] closes now, /help lists
them; a line starting with // is sent with one / less. Piped lines are always sent as they are.

Output: text messages are printed one per line on stdout (after \"< \" at a terminal),
binary ones in the --encoding (hex by default); events go to stderr as \"* ...\".
With --jsonl, stdout carries one JSON object per event instead:
  {\"event\":\"open\",\"protocol\":\"...\",\"extensions\":\"...\"}
  {\"event\":\"message\",\"type\":\"text\",\"data\":\"...\"}
  {\"event\":\"message\",\"type\":\"binary\",\"encoding\":\"hex\",\"data\":\"...\",\"length\":N}
  {\"event\":\"error\",\"kind\":\"...\",\"message\":\"...\"}
    (a rejected upgrade adds \"status\":N,\"headers\":[[\"Name\",\"value\"],...],\"body\":\"...\")
  {\"event\":\"close\",\"code\":1000,\"reason\":\"...\",\"wasClean\":true}

Exit status:
  0  the connection closed cleanly (the closing handshake completed)
  1  the connection failed, closed without a closing handshake, or stdout was closed
  2  bad arguments (URL, header, protocol, option value, unreadable or too large file)
  3  the connection closed cleanly, but input lines were not sent (reported on stderr: not
     UTF-8, longer than --max-message-size, or not in the --binary encoding)";

#[derive(Parser, Debug)]
#[command(
    name = "wsapi",
    version,
    about = "A WebSocket client with the browser API's semantics",
    long_about = "A WebSocket client with the browser API's semantics.\n\n\
                  With no arguments: a short demo session against an in-process echo server.",
    after_help = AFTER_HELP
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Connect to this ws:// or wss:// URL and send standard input's lines.
    url: Option<String>,
    #[command(flatten)]
    options: ClientOptions,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a loopback echo server (first offered subprotocol selected);
    /// prints its URL on the first line of stdout, serves until killed.
    EchoServer {
        /// The port to listen on (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Run an oracle scenario and print its JSON trace.
    Scenario {
        /// The server's base URL, e.g. ws://127.0.0.1:PORT.
        #[arg(long)]
        base: String,
        /// The scenario file.
        file: std::path::PathBuf,
    },
    /// Judge recorded traces (the oracle's format) against the model: could
    /// the standard have produced them? One trace prints the verdict and
    /// its explanation; several print a table. A SERVER.log after a trace
    /// is the server's view of it; without one, NAME.server.log beside
    /// NAME.json is used if present.
    Judge {
        /// Trace files (NAME.RUNNER.json), each optionally followed by its server log.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Do not look for NAME.server.log beside a trace.
        #[arg(long)]
        no_server_log: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(options::compat_args(std::env::args_os()));
    match (cli.command, cli.url) {
        (Some(Command::Scenario { base, file }), _) => wsapi::runtime::block_on(scenario::main(&base, &file)),
        (Some(Command::Judge { files, no_server_log }), _) => judge::main(&files, !no_server_log),
        (Some(Command::EchoServer { port }), _) => wsapi::runtime::block_on(echo_server::serve(port)),
        (None, Some(url)) => wsapi::runtime::block_on(session::main(&url, &cli.options)),
        (None, None) => wsapi::runtime::block_on(demo::main()),
    }
}
