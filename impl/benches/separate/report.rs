//! Collects the children's figures and prints the table: one row per figure,
//! the median over the passes for each client, and in brackets its ratio to
//! the best raw async-tungstenite variant for that figure (named in the
//! second column). "Per GB" is per 10^9 bytes of payload sent (and as many
//! echoed back); MB/s is 10^6 bytes of payload per second.

use std::collections::BTreeMap;

use crate::Workload;

type Figures = BTreeMap<String, f64>;

#[derive(Default)]
pub struct Results {
    /// Every pass's figures, per client and workload.
    runs: BTreeMap<(String, Workload), Vec<Figures>>,
    /// The counting pass's `perf_syscalls` per GB, per client and workload.
    syscalls: BTreeMap<(String, Workload), f64>,
    /// The counting pass's allocations per message sent (and echoed).
    allocations: BTreeMap<(String, Workload), f64>,
}

impl Results {
    pub fn add(&mut self, client: &str, w: Workload, figures: Figures) {
        if !figures.is_empty() {
            self.runs.entry((client.to_string(), w)).or_default().push(figures);
        }
    }

    pub fn perf(&mut self, client: &str, w: Workload, figures: &Figures) {
        if let (Some(calls), Some(bytes)) = (figures.get("perf_syscalls"), figures.get("bytes")) {
            self.syscalls.insert((client.to_string(), w), calls / (bytes / 1e9));
        }
        if let (Some(allocs), Some(msgs)) = (figures.get("allocs"), figures.get("msgs")) {
            self.allocations.insert((client.to_string(), w), allocs / msgs);
        }
    }

    /// The median of `f` over `client`'s passes of `w`.
    fn median(&self, client: &str, w: Workload, f: &Figure) -> f64 {
        if f.label.contains("(perf)") {
            return self.syscalls.get(&(client.to_string(), w)).copied().unwrap_or(f64::NAN);
        }
        if f.label.contains("(counting pass)") {
            return self
                .allocations
                .get(&(client.to_string(), w))
                .copied()
                .unwrap_or(f64::NAN);
        }
        let runs = self.runs.get(&(client.to_string(), w));
        let mut v: Vec<f64> = runs
            .into_iter()
            .flatten()
            .filter_map(|m| (f.value)(m))
            .filter(|x| x.is_finite())
            .collect();
        if v.is_empty() {
            return f64::NAN;
        }
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
}

/// One row of the table.
struct Figure {
    label: &'static str,
    higher_is_better: bool,
    value: fn(&Figures) -> Option<f64>,
}

fn get(m: &Figures, k: &str) -> Option<f64> {
    m.get(k).copied()
}

fn figures(w: Workload) -> Vec<Figure> {
    let row = |label, higher_is_better, value| Figure {
        label,
        higher_is_better,
        value,
    };
    match w {
        Workload::Small | Workload::Kib | Workload::Mib => vec![
            if w == Workload::Mib {
                row("MB/s", true, |m| Some(get(m, "bytes")? / get(m, "secs")? / 1e6))
            } else {
                row("msg/s", true, |m| Some(get(m, "msgs")? / get(m, "secs")?))
            },
            row("client CPU µs/msg", false, |m| {
                Some(get(m, "cpu")? / get(m, "msgs")? * 1e6)
            }),
            row("client CPU s/GB", false, |m| {
                Some(get(m, "cpu")? / (get(m, "bytes")? / 1e9))
            }),
            row("read+write syscalls/GB (perf)", false, |_| None),
            row("allocations per message, both ways (counting pass)", false, |_| None),
            row("/proc/self/io syscr+syscw per GB", false, |m| {
                Some(get(m, "io")? / (get(m, "bytes")? / 1e9))
            }),
            row("peak RSS MiB", false, |m| Some(get(m, "hwm")? / 1024.0)),
            row("echo server CPU % of the run (bottleneck if ~100)", false, |m| {
                Some(get(m, "server_cpu")? / get(m, "secs")? * 100.0)
            }),
        ],
        Workload::Latency => vec![
            row("round trip p50 µs (pinned)", false, |m| get(m, "p50")),
            row("round trip p99 µs (pinned)", false, |m| get(m, "p99")),
            row("context switches per round trip", false, |m| {
                Some(get(m, "csw")? / get(m, "n")?)
            }),
        ],
        Workload::LatencyUnpinned => vec![
            row("round trip p50 µs (unpinned)", false, |m| get(m, "p50")),
            row("round trip p99 µs (unpinned)", false, |m| get(m, "p99")),
        ],
        Workload::Setup | Workload::SetupPinned => vec![
            row("connections/s (open+close)", true, |m| {
                Some(get(m, "conns")? / get(m, "secs")?)
            }),
            row("client CPU µs/connection", false, |m| {
                Some(get(m, "cpu")? / get(m, "conns")? * 1e6)
            }),
        ],
        Workload::Idle => vec![row("idle RSS KiB/connection", false, |m| get(m, "idle_kib"))],
    }
}

fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "-".to_string()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

pub fn print(results: &Results, clients: &[&str], workloads: &[Workload]) {
    let mut head = String::from("| workload | figure | best raw |");
    let mut rule = String::from("|---|---|---|");
    for c in clients {
        head.push_str(&format!(" {c} |"));
        rule.push_str("---:|");
    }
    println!("{head}\n{rule}");
    for &w in workloads {
        for f in figures(w) {
            let raws = clients.iter().filter(|c| c.starts_with("raw-"));
            let best = raws
                .map(|c| (*c, results.median(c, w, &f)))
                .filter(|(_, v)| v.is_finite())
                .reduce(|a, b| {
                    let b_wins = if f.higher_is_better { b.1 > a.1 } else { b.1 < a.1 };
                    if b_wins {
                        b
                    } else {
                        a
                    }
                });
            let (best_name, best) = best.unwrap_or(("-", f64::NAN));
            let best_name = if f.label.starts_with("echo server") {
                "-"
            } else {
                best_name
            };
            let mut line = format!("| {} | {} | {best_name} |", w.name(), f.label);
            for c in clients {
                let v = results.median(c, w, &f);
                let comparable = !f.label.starts_with("echo server");
                let cell = match (v.is_finite(), comparable && best.is_finite() && best != 0.0) {
                    (false, _) => "-".to_string(),
                    (true, true) => format!("{} ({:.2})", fmt(v), v / best),
                    (true, false) => fmt(v),
                };
                line.push_str(&format!(" {cell} |"));
            }
            println!("{line}");
        }
    }
}

/// The anchor of the tokio clients' second table.
const TOKIO_ANCHOR: &str = "tokio-tungstenite";

/// A second table for the clients on tokio: each figure as a ratio to
/// tokio-tungstenite's (the targets are stated that way), and for
/// the round trip the difference in µs as well.
pub fn print_tokio_ratios(results: &Results, clients: &[&str], workloads: &[Workload]) {
    let ours: Vec<&str> = clients.iter().copied().filter(|c| c.contains("wsapi-tokio")).collect();
    if ours.is_empty() || !clients.contains(&TOKIO_ANCHOR) {
        return;
    }
    let mut head = format!("\n| workload | figure | {TOKIO_ANCHOR} |");
    let mut rule = String::from("|---|---|---:|");
    for c in &ours {
        head.push_str(&format!(" {c} / {TOKIO_ANCHOR} |"));
        rule.push_str("---:|");
    }
    println!("{head}\n{rule}");
    for &w in workloads {
        for f in figures(w) {
            let anchor = results.median(TOKIO_ANCHOR, w, &f);
            if !anchor.is_finite() || anchor == 0.0 || f.label.starts_with("echo server") {
                continue;
            }
            let mut line = format!("| {} | {} | {} |", w.name(), f.label, fmt(anchor));
            for c in &ours {
                let v = results.median(c, w, &f);
                let cell = match (v.is_finite(), w) {
                    (false, _) => "-".to_string(),
                    (true, Workload::Latency | Workload::LatencyUnpinned) => {
                        format!("{:.2} ({:+.1})", v / anchor, v - anchor)
                    }
                    (true, _) => format!("{:.2}", v / anchor),
                };
                line.push_str(&format!(" {cell} |"));
            }
            println!("{line}");
        }
    }
}
