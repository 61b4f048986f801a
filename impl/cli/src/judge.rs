//! `wsapi judge TRACE.json [SERVER.log] ...`: could the standard have
//! produced these traces? (`wsapi_model::judge`; the format is in
//! `spec-notes/trace-format.md`.)

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use wsapi_model::judge::{judge, Explanation, Verdict};
use wsapi_model::{Event, Input, Step, Transmit};

use crate::trace::{parse, ParseError};

/// `println!` that stops quietly when stdout is closed (`| head`).
macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// Largest trace or log file read (a hostile file is refused beyond).
const MAX_FILE_BYTES: u64 = 256 << 20;

struct Judged {
    name: String,
    runner: String,
    verdict: Verdict,
    millis: f64,
    entries: usize,
    /// "line" or "entry": what positions count.
    unit: &'static str,
}

fn read(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("{}: larger than {} bytes", path.display(), MAX_FILE_BYTES));
    }
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn sibling_log(trace: &Path) -> Option<PathBuf> {
    let name = trace.file_name()?.to_str()?;
    let stem = name.strip_suffix(".json")?;
    let log = trace.with_file_name(format!("{stem}.server.log"));
    log.is_file().then_some(log)
}

fn judge_file(trace: &Path, log: Option<&Path>) -> Result<Judged, String> {
    let text = read(trace)?;
    let log_text = match log {
        Some(l) => Some(read(l)?),
        None => None,
    };
    let file = parse(&text, log_text.as_deref()).map_err(|e: ParseError| format!("{}: {e}", trace.display()))?;
    let started = Instant::now();
    let verdict = judge(&file.trace);
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let name = if file.scenario.is_empty() {
        trace.file_stem().and_then(|s| s.to_str()).unwrap_or("?").to_string()
    } else {
        file.scenario
    };
    Ok(Judged {
        name,
        runner: file.runner,
        verdict,
        millis,
        entries: file.trace.entries.len(),
        unit: if file.by_entry { "entry" } else { "line" },
    })
}

/// Runs the command.
pub fn main(files: &[PathBuf], auto_log: bool) -> ExitCode {
    // Pair each trace with the log that follows it, or its sibling.
    let mut pairs: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    for f in files {
        let is_log = f.extension().is_some_and(|e| e == "log");
        match (is_log, pairs.last_mut()) {
            (true, Some((_, log @ None))) => *log = Some(f.clone()),
            (true, _) => {
                eprintln!("wsapi judge: {} is a log with no trace before it", f.display());
                return ExitCode::from(2);
            }
            (false, _) => pairs.push((f.clone(), None)),
        }
    }
    let explicit: Vec<bool> = pairs.iter().map(|(_, l)| l.is_some()).collect();
    for (i, (t, l)) in pairs.iter_mut().enumerate() {
        if !explicit[i] && auto_log {
            *l = sibling_log(t);
        }
    }
    let mut results = Vec::new();
    for (t, l) in &pairs {
        match judge_file(t, l.as_deref()) {
            Ok(j) => results.push(j),
            Err(e) => {
                eprintln!("wsapi judge: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let [one] = &results[..] {
        print_one(one);
    } else {
        out!("| scenario | runner | verdict | rule | first observation not allowed |");
        out!("|---|---|---|---|---|");
        for j in &results {
            let (verdict, rule, what) = match &j.verdict {
                Verdict::Allowed(_) => ("allowed".to_string(), String::new(), String::new()),
                Verdict::NotAllowed(r) => {
                    let t = r.telling();
                    let mut what = format!(
                        "{} {}: {}; the model allows {}",
                        j.unit,
                        t.at,
                        t.observed,
                        t.allowed.join(" or ")
                    );
                    if t.at != r.at {
                        what.push_str(&format!(" (no explanation at all reaches {} {})", j.unit, r.at));
                    }
                    (
                        "**not allowed**".to_string(),
                        format!("`{}` (`{}`)", t.rule.id, t.rule.note),
                        what,
                    )
                }
                Verdict::Undecided { at, bound, .. } => (
                    "undecided".to_string(),
                    String::new(),
                    format!("{} {at}: bound reached: {bound}", j.unit),
                ),
            };
            out!(
                "| {} | {} | {verdict} | {rule} | {} |",
                j.name,
                j.runner,
                what.replace('|', "\\|")
            );
        }
    }
    if results.iter().all(|j| j.verdict.is_allowed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_one(j: &Judged) {
    out!(
        "{} ({}): {} observations judged in {:.1} ms",
        j.name,
        j.runner,
        j.entries,
        j.millis
    );
    match &j.verdict {
        Verdict::Allowed(explanations) => {
            out!("ALLOWED: the standard can produce this trace. One explanation per socket (a journal that replays):");
            for e in explanations {
                print_explanation(e);
            }
        }
        Verdict::NotAllowed(r) => {
            out!(
                "NOT ALLOWED at {} {} (socket {}): {}",
                j.unit,
                r.at,
                r.socket,
                r.observed
            );
            out!(
                "  no server behaviour or timing explains it; the model allows there: {}",
                r.allowed.join(" or ")
            );
            out!("  rule `{}`: {}", r.rule.id, r.rule.text);
            out!("  spec-notes/{}; {}", r.rule.note, r.rule.source);
            if let Some(s) = &r.simplest {
                out!(
                    "The simplest explanations (the server ends the connection only right before the event that shows it) fail earlier, at {} {}: {}",
                    j.unit, s.at, s.observed
                );
                out!("  the model allows there: {}", s.allowed.join(" or "));
                out!("  rule `{}`: {}", s.rule.id, s.rule.text);
                out!("  spec-notes/{}; {}", s.rule.note, s.rule.source);
            }
        }
        Verdict::Undecided { socket, at, bound } => {
            out!(
                "UNDECIDED at {} {at} (socket {socket}): the search reached a bound ({bound})",
                j.unit
            );
        }
    }
}

fn print_explanation(e: &Explanation) {
    match &e.url {
        None => out!("socket {}: the constructor threw, as the model's does", e.socket),
        Some(url) => {
            out!("socket {}: new WebSocket({url:?}, {:?})", e.socket, e.protocols);
            for step in &e.steps {
                let line = match step {
                    Step::Input { input, .. } => match input {
                        Input::Send(_) | Input::Close { .. } | Input::SetBinaryType(_) => {
                            format!("  call    {input:?}")
                        }
                        Input::Turn => "  hidden  an event-loop turn".to_string(),
                        Input::Message(m) => format!(
                            "  hidden  the server sends a {} message (#{})",
                            if m.text { "text" } else { "binary" },
                            m.id + 1
                        ),
                        Input::CloseFrame(p) if p.len() >= 2 => format!(
                            "  hidden  the server sends Close {} {:?}",
                            u16::from_be_bytes([p[0], p[1]]),
                            String::from_utf8_lossy(&p[2..])
                        ),
                        Input::CloseFrame(_) => "  hidden  the server sends a Close frame with no body".to_string(),
                        other => format!("  hidden  {other:?}"),
                    },
                    Step::Event(Some(ev)) => format!(
                        "  event   {}",
                        match ev {
                            Event::Open => "open".to_string(),
                            Event::Message { data, .. } => format!("message #{}", data.id + 1),
                            Event::Error(r) => format!("error ({})", r.kind()),
                            Event::Close(c) => format!("close {} {:?} wasClean {}", c.code, c.reason, c.was_clean),
                        }
                    ),
                    Step::Event(None) => "  hidden  an event-loop turn runs a task with no event".to_string(),
                    Step::Transmit(Some(t)) => match t {
                        Transmit::Message(m) => format!(
                            "  sends   a {} message of {} bytes",
                            if m.text { "text" } else { "binary" },
                            m.len
                        ),
                        Transmit::Close(f) => format!("  sends   Close {f:?}"),
                        Transmit::Connect { .. } => "  sends   the opening handshake".to_string(),
                        other => format!("  does    {other:?}"),
                    },
                    Step::Transmit(None) => continue,
                };
                out!("{line}");
            }
        }
    }
}
