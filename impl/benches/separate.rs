//! WebSocket clients measured the way a user runs them: the echo server in
//! another process, each client alone in a process of its own.
//!
//! `cargo bench -p wsapi --bench separate --features tokio-runtime` (without
//! the feature, the `wsapi-tokio` clients are left out). Environment:
//! `WSAPI_BENCH_PASSES` (default 7), `WSAPI_BENCH_SCALE` (default 1.0, scales
//! every workload), `WSAPI_BENCH_ONLY=wsapi,raw,small` (comma-separated
//! substrings: a term that names a client keeps the clients it matches, one
//! that names a workload keeps those workloads), `WSAPI_BENCH_PERF=0` (skip
//! the counting pass), `WSAPI_BENCH_BEFORE=PATH` (an earlier build of this
//! benchmark: its wsapi clients run in the same passes as `before-wsapi`,
//! `before-wsapi-tokio`..., for a before/after table from one run; the
//! client role's interface has not changed since issue 15).
//!
//! # Why this design
//!
//! `compare.rs` runs server and clients in one process and one runtime:
//! good for ratios, but the client's threads share the runtime with the
//! server, its allocator and its caches, and memory figures need child
//! processes anyway. Here one binary plays three roles, chosen by
//! `WSAPI_BENCH_ROLE` when it re-executes itself (`std::env::current_exe()`):
//!
//! - **orchestrator** (default): starts one echo-server child shared by all
//!   clients, then for each pass and workload runs every client as a child
//!   process (the order rotated each pass, so that none always runs first
//!   or on a warmer machine), and prints medians over the passes with the
//!   ratio of each to the best raw async-tungstenite variant of the run;
//! - **server** ([`server`]): a frame-level echo on one pinned tokio thread,
//!   cheaper per message than any client, so never the bottleneck;
//! - **client**: runs one workload with one client and prints one line of
//!   `key=value` figures ([`measure`]): wall and CPU time (`getrusage`,
//!   user + system, all threads), `/proc/self/io` syscall counts, VmHWM.
//!
//! A process per client run means every client starts from a fresh heap
//! and runtime, its CPU and memory are its own, and what one client leaves
//! behind (threads, freed pages) cannot help or hurt the next.
//!
//! Pinning: with `taskset` and two or more CPUs the server runs on the last
//! CPU throughout, and the round-trip clients on CPU 0 (so the p50/p99 are
//! of one message crossing between two cores, not of scheduler moves), as
//! are the `setup-pinned` clients (connection setup without cross-CPU
//! wake-ups between the client's own threads). The
//! throughput clients are not pinned: a client may use every core the
//! server leaves.
//!
//! Syscalls: Linux's `/proc/self/io` counts only read/write-family calls,
//! and Rust's `TcpStream` reads and writes sockets with `recvfrom`/`sendto`,
//! which it does not count: that figure sees only the runtimes' `read`s of
//! their own wake-up fds (checked with `strace -c`), not the traffic; it is
//! printed to show that. The read+write syscall figure comes from
//! one extra, untimed pass first that runs each throughput client under
//! `perf stat` counting the `read`/`write`/`readv`/`writev`/`recvfrom`/
//! `sendto`/`recvmsg`/`sendmsg` tracepoints (whole process, connect included).
//! The same pass counts each client's allocations during the transfer
//! (`measure::CountingAlloc`; counting is off in the timed passes).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

#[path = "separate/measure.rs"]
mod measure;
#[path = "separate/raw_client.rs"]
mod raw_client;
#[path = "separate/report.rs"]
mod report;
#[path = "separate/server.rs"]
mod server;
#[path = "separate/tokio_clients.rs"]
mod tokio_clients;
#[path = "separate/wsapi_client.rs"]
mod wsapi_client;

#[global_allocator]
static ALLOCATOR: measure::CountingAlloc = measure::CountingAlloc;

/// What a client child runs; sizes at scale 1.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Workload {
    /// 1,000,000 × 16 B text, sent without waiting while a concurrent reader receives the echoes.
    Small,
    /// 1,000,000 × 1 KiB text, the same way.
    Kib,
    /// 1,024 × 1 MiB binary (1 GiB), the same way: MB/s and the peak resident memory.
    Mib,
    /// 10,000 sequential round trips of 16 B, pinned.
    Latency,
    /// The same, not pinned: the client's threads go where the scheduler puts them.
    LatencyUnpinned,
    /// 1,000 sequential connect + handshake + close.
    Setup,
    /// The same with the client pinned to one CPU: every thread of the
    /// client then shares that CPU, so handing work from one thread or task
    /// to another costs no cross-CPU wake-up (see `BENCHMARKS.md`).
    SetupPinned,
    /// 1,000 idle connections held open: resident KiB per connection.
    Idle,
}

impl Workload {
    pub const ALL: [Workload; 8] = [
        Workload::Small,
        Workload::Kib,
        Workload::Mib,
        Workload::Latency,
        Workload::LatencyUnpinned,
        Workload::Setup,
        Workload::SetupPinned,
        Workload::Idle,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Small => "small",
            Workload::Kib => "kib",
            Workload::Mib => "mib",
            Workload::Latency => "latency",
            Workload::LatencyUnpinned => "latency-unpinned",
            Workload::Setup => "setup",
            Workload::SetupPinned => "setup-pinned",
            Workload::Idle => "idle",
        }
    }

    /// How many messages, round trips or connections, at scale 1.
    fn count(self) -> usize {
        match self {
            Workload::Small | Workload::Kib => 1_000_000,
            Workload::Mib => 1024,
            Workload::Latency | Workload::LatencyUnpinned => 10_000,
            Workload::Setup | Workload::SetupPinned | Workload::Idle => 1000,
        }
    }

    pub fn is_throughput(self) -> bool {
        matches!(self, Workload::Small | Workload::Kib | Workload::Mib)
    }

    /// The message a throughput workload sends, and whether it is text.
    pub fn payload(self) -> (Vec<u8>, bool) {
        match self {
            Workload::Small => (b"0123456789abcdef".to_vec(), true),
            Workload::Kib => (vec![b'x'; 1024], true),
            _ => (vec![7u8; 1 << 20], false),
        }
    }
}

/// The clients, in the order of the table's columns.
pub const CLIENTS: &[&str] = &[
    "wsapi",
    "wsapi-sink",
    "wsapi-task",
    #[cfg(feature = "tokio-runtime")]
    "wsapi-tokio",
    #[cfg(feature = "tokio-runtime")]
    "wsapi-tokio-task",
    #[cfg(feature = "tokio-runtime")]
    "wsapi-tokio-sink",
    "raw-split",
    "raw-bilock",
    "raw-select",
    "tokio-tungstenite",
    "fastwebsockets",
];

/// The wsapi clients of an earlier build (`WSAPI_BENCH_BEFORE`) that run
/// alongside, named `before-` and the earlier build's own name.
const BEFORE_CLIENTS: &[&str] = &["wsapi", "wsapi-sink", "wsapi-task", "wsapi-tokio", "wsapi-tokio-sink"];

/// Whether `client` runs `workload`: the `-sink` variants and the other raw
/// shapes differ from their base client only while streaming.
fn runs(client: &str, workload: Workload) -> bool {
    let client = client.strip_prefix("before-").unwrap_or(client);
    let streaming_only = client.ends_with("-sink") || client == "raw-bilock" || client == "raw-select";
    workload.is_throughput() || !streaming_only
}

/// A 2-worker multi-thread tokio runtime (the machine has 2 cores, as
/// async-std's default pool there).
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn env_number<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    match std::env::var("WSAPI_BENCH_ROLE").as_deref() {
        Ok("server") => server::main(),
        Ok("client") => client_main(),
        _ => orchestrate(),
    }
}

/// The client role: `WSAPI_BENCH_CLIENT`, `WSAPI_BENCH_WORKLOAD`, `WSAPI_BENCH_ADDR`, `WSAPI_BENCH_N`.
fn client_main() {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} not set"));
    let (client, addr) = (var("WSAPI_BENCH_CLIENT"), var("WSAPI_BENCH_ADDR"));
    let name = var("WSAPI_BENCH_WORKLOAD");
    let workload = *Workload::ALL.iter().find(|w| w.name() == name).expect("workload");
    let n: usize = var("WSAPI_BENCH_N").parse().expect("n");
    if std::env::var_os("WSAPI_BENCH_ALLOCS").is_some() {
        measure::count_allocations();
    }
    match client.as_str() {
        "wsapi" => wsapi_client::run_default(workload, &addr, n, false),
        "wsapi-sink" => wsapi_client::run_default(workload, &addr, n, true),
        "wsapi-task" => wsapi_client::run_in_task(workload, &addr, n),
        #[cfg(feature = "tokio-runtime")]
        "wsapi-tokio" => wsapi_client::run_tokio(workload, &addr, n, false),
        #[cfg(feature = "tokio-runtime")]
        "wsapi-tokio-task" => wsapi_client::run_tokio_task(workload, &addr, n),
        #[cfg(feature = "tokio-runtime")]
        "wsapi-tokio-sink" => wsapi_client::run_tokio(workload, &addr, n, true),
        "raw-split" => raw_client::run(workload, &addr, n, raw_client::Shape::Split),
        "raw-bilock" => raw_client::run(workload, &addr, n, raw_client::Shape::BiLock),
        "raw-select" => raw_client::run(workload, &addr, n, raw_client::Shape::Select),
        "tokio-tungstenite" => tokio_clients::tokio_tungstenite(workload, &addr, n),
        "fastwebsockets" => tokio_clients::fastwebsockets(workload, &addr, n),
        other => panic!("unknown client {other}"),
    }
}

/// `taskset -c CPU` as a command prefix, when pinning is possible.
fn pin(cpu: &str) -> Vec<String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let has_taskset = Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if cpus >= 2 && has_taskset {
        let cpu = if cpu == "last" {
            (cpus - 1).to_string()
        } else {
            cpu.to_string()
        };
        vec!["taskset".into(), "-c".into(), cpu]
    } else {
        Vec::new()
    }
}

/// A command running this binary, behind `prefix` (taskset, perf).
fn own_command(prefix: &[String]) -> Command {
    command(&std::env::current_exe().expect("own path"), prefix)
}

/// A command running `exe` (this benchmark's binary, or an earlier build of it) behind `prefix`.
fn command(exe: &std::path::Path, prefix: &[String]) -> Command {
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.env_remove("WSAPI_BENCH_ROLE");
    cmd
}

/// The echo-server child and its address.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    /// CPU seconds the server has used so far: its runtime is its main
    /// thread, whose time on CPU `/proc/PID/schedstat` gives in ns.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/schedstat", self.child.id())).unwrap_or_default();
        let ns: f64 = stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        ns * 1e-9
    }
}

fn start_server() -> Server {
    let mut child = own_command(&pin("last"))
        .env("WSAPI_BENCH_ROLE", "server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    let port: u16 = line.trim().parse().expect("server prints its port");
    Server {
        child,
        addr: format!("127.0.0.1:{port}"),
    }
}

/// Which pass a client child runs in.
#[derive(Clone, Copy)]
enum Pass<'a> {
    /// Timed: nothing counted that would cost the client.
    Timed,
    /// Untimed: allocations counted, and syscalls under `perf stat` writing to `perf`.
    Counting { perf: Option<&'a std::path::Path> },
}

/// Runs one client child; returns its figures (and the perf syscall count in a counting pass).
fn run_client(client: &str, workload: Workload, server: &Server, pass: Pass<'_>) -> BTreeMap<String, f64> {
    let perf = match pass {
        Pass::Counting { perf } => perf,
        Pass::Timed => None,
    };
    let addr = &server.addr;
    let mut prefix = if matches!(workload, Workload::Latency | Workload::SetupPinned) {
        pin("0")
    } else {
        Vec::new()
    };
    if let Some(out) = perf {
        let events = [
            "read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg",
        ]
        .map(|e| format!("syscalls:sys_enter_{e}"))
        .join(",");
        let out = out.display().to_string();
        prefix.extend(["perf", "stat", "-x,", "-e", &events, "-o", &out, "--"].map(String::from));
    }
    let n = ((workload.count() as f64 * env_number("WSAPI_BENCH_SCALE", 1.0)) as usize).max(1);
    let server_cpu = server.cpu_seconds();
    let (exe, own_name) = match client.strip_prefix("before-") {
        Some(name) => (
            std::env::var_os("WSAPI_BENCH_BEFORE")
                .expect("before-* clients need WSAPI_BENCH_BEFORE")
                .into(),
            name,
        ),
        None => (std::env::current_exe().expect("own path"), client),
    };
    let mut cmd = command(&exe, &prefix);
    if matches!(pass, Pass::Counting { .. }) {
        cmd.env("WSAPI_BENCH_ALLOCS", "1");
    }
    let output = cmd
        .env("WSAPI_BENCH_ROLE", "client")
        .env("WSAPI_BENCH_CLIENT", own_name)
        .env("WSAPI_BENCH_WORKLOAD", workload.name())
        .env("WSAPI_BENCH_ADDR", addr)
        .env("WSAPI_BENCH_N", n.to_string())
        .output()
        .expect("client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().find(|l| l.starts_with("figures")) else {
        eprintln!(
            "{client} {}: no figures ({}): {}",
            workload.name(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        return BTreeMap::new();
    };
    let mut figures: BTreeMap<String, f64> = line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect();
    figures.insert("server_cpu".into(), server.cpu_seconds() - server_cpu);
    figures.insert("n".into(), n as f64);
    if let Some(out) = perf {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        let counts: Vec<f64> = text
            .lines()
            .filter(|l| l.contains("syscalls:sys_enter_"))
            .filter_map(|l| l.split(',').next()?.parse().ok())
            .collect();
        if !counts.is_empty() {
            figures.insert("perf_syscalls".into(), counts.iter().sum());
        }
    }
    figures
}

/// Whether `name` passes the `WSAPI_BENCH_ONLY` terms that concern its kind (`names`).
fn selected(name: &str, names: &[&str]) -> bool {
    let only = std::env::var("WSAPI_BENCH_ONLY").unwrap_or_default();
    let terms: Vec<&str> = only
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && names.iter().any(|n| n.contains(t)))
        .collect();
    terms.is_empty() || terms.iter().any(|t| name.contains(t))
}

fn orchestrate() {
    let passes = env_number("WSAPI_BENCH_PASSES", 7usize).max(1);
    let scale: f64 = env_number("WSAPI_BENCH_SCALE", 1.0);
    let workload_names = Workload::ALL.map(Workload::name);
    let before: Vec<String> = match std::env::var_os("WSAPI_BENCH_BEFORE") {
        Some(_) => BEFORE_CLIENTS.iter().map(|c| format!("before-{c}")).collect(),
        None => Vec::new(),
    };
    let every: Vec<&str> = CLIENTS
        .iter()
        .copied()
        .chain(before.iter().map(String::as_str))
        .collect();
    let clients: Vec<&str> = every.iter().copied().filter(|c| selected(c, &every)).collect();
    let workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| selected(w.name(), &workload_names))
        .collect();
    let mut server = start_server();
    println!(
        "separate-process echo benchmark: scale {scale}, {passes} passes (medians), server at {}",
        server.addr
    );
    let mut results = report::Results::default();
    let perf_ok = Command::new("perf")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if env_number("WSAPI_BENCH_PERF", 1) != 0 {
        // The untimed counting pass: allocations, and syscalls when perf runs.
        let out = std::env::temp_dir().join(format!("wsapi-bench-perf-{}.txt", std::process::id()));
        let perf = perf_ok.then_some(out.as_path());
        for &w in workloads.iter().filter(|w| w.is_throughput()) {
            for &c in clients.iter().filter(|c| runs(c, w)) {
                let figures = run_client(c, w, &server, Pass::Counting { perf });
                results.perf(c, w, &figures);
            }
        }
        let _ = std::fs::remove_file(out);
    }
    for pass in 0..passes {
        for &w in &workloads {
            let mut order: Vec<&str> = clients.iter().copied().filter(|c| runs(c, w)).collect();
            let len = order.len().max(1);
            order.rotate_left(pass % len);
            for c in order {
                results.add(c, w, run_client(c, w, &server, Pass::Timed));
            }
        }
        eprintln!("pass {} of {passes} done", pass + 1);
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
    report::print(&results, &clients, &workloads);
    report::print_tokio_ratios(&results, &clients, &workloads);
}
