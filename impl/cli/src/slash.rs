//! Slash commands, typed at a terminal in interactive mode (as in wscat):
//! `/close [CODE [REASON]]`, `/ping [TEXT]`, `/help`; a line starting with
//! `//` is sent with one `/` less. Piped input is always sent as it is.

/// What a typed line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// Send this text.
    Send(&'a str),
    /// Close with this code and reason (`None`: none given).
    Close(Option<u16>, Option<&'a str>),
    /// Send a Ping with this text as its payload (may be empty). Its length
    /// is the library's to check (at most 125 bytes).
    Ping(&'a str),
    /// Print the list of commands (`/help`, or an unknown command: its
    /// text, for the message).
    Help(Option<&'a str>),
}

/// The commands, for `/help` and unknown commands.
pub const HELP: &str = "commands: /close [CODE [REASON]] (e.g. /close 4000 bye), /ping [TEXT] (its pong shows with --show-ping), /help; //text sends /text";

/// Reads one typed line.
pub fn parse(line: &str) -> Result<Line<'_>, String> {
    let Some(command) = line.strip_prefix('/') else {
        return Ok(Line::Send(line));
    };
    if command.starts_with('/') {
        return Ok(Line::Send(command));
    }
    let (name, rest) = command.split_once(' ').unwrap_or((command, ""));
    match name {
        "close" => {
            let rest = rest.trim_start();
            if rest.is_empty() {
                return Ok(Line::Close(None, None));
            }
            let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            let code: u16 = code
                .parse()
                .map_err(|_| format!("/close wants a code (1000 or 3000-4999), got {code:?}"))?;
            Ok(Line::Close(Some(code), (!reason.is_empty()).then_some(reason)))
        }
        "ping" => Ok(Line::Ping(rest)),
        "help" => Ok(Line::Help(None)),
        _ => Ok(Line::Help(Some(line))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_commands() {
        assert_eq!(parse("hello"), Ok(Line::Send("hello")));
        assert_eq!(parse("//etc/passwd"), Ok(Line::Send("/etc/passwd")));
        assert_eq!(parse("/close"), Ok(Line::Close(None, None)));
        assert_eq!(parse("/close 4000"), Ok(Line::Close(Some(4000), None)));
        assert_eq!(
            parse("/close 4000 see you later"),
            Ok(Line::Close(Some(4000), Some("see you later")))
        );
        assert!(parse("/close soon").is_err());
        assert_eq!(parse("/ping"), Ok(Line::Ping("")));
        assert_eq!(parse("/ping are you there?"), Ok(Line::Ping("are you there?")));
        assert_eq!(parse("/pingx"), Ok(Line::Help(Some("/pingx"))));
        assert_eq!(parse("/help"), Ok(Line::Help(None)));
        assert_eq!(parse("/nope x"), Ok(Line::Help(Some("/nope x"))));
    }
}
