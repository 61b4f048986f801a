//! What a client child measures about itself: wall time, CPU time
//! (`getrusage(RUSAGE_SELF)`, user + system), the `/proc/self/io` syscall
//! counters and resident memory (`/proc/self/status`), and the one line of
//! `key=value` figures it prints for the orchestrator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The benchmark's allocator: the system's, counting allocations (and
/// reallocations) only in the untimed counting pass ([`count_allocations`]),
/// so that the timed passes pay one relaxed load of a flag that never changes.
pub struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Counts every allocation from now on (the counting pass only: a shared
/// counter bounces between the cores of a multi-threaded client).
pub fn count_allocations() {
    COUNTING.store(true, Relaxed);
}

fn allocations() -> u64 {
    ALLOCATIONS.load(Relaxed)
}

fn counted() {
    if COUNTING.load(Relaxed) {
        ALLOCATIONS.fetch_add(1, Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; counting touches
// only an atomic.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted();
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// The process's counters at one instant; [`Snapshot::since`] gives deltas.
pub struct Snapshot {
    at: Instant,
    cpu: f64,
    io: u64,
    allocs: u64,
}

/// What happened between a [`Snapshot`] and now.
pub struct Span {
    pub secs: f64,
    /// CPU seconds of the whole process (all its threads), user + system.
    pub cpu: f64,
    /// `syscr + syscw` of `/proc/self/io`. Linux counts only read/write-family
    /// calls there (`read`, `readv`, `write`, `writev`...), not `recvfrom`/`sendto`,
    /// which is what Rust's `TcpStream` uses: see the module doc of `separate`.
    pub io: u64,
    /// Allocations made (counted in the counting pass only, else 0).
    pub allocs: u64,
}

impl Snapshot {
    pub fn now() -> Snapshot {
        Snapshot {
            at: Instant::now(),
            cpu: cpu_seconds(),
            io: io_syscalls(),
            allocs: allocations(),
        }
    }

    pub fn since(&self) -> Span {
        Span {
            secs: self.at.elapsed().as_secs_f64(),
            cpu: cpu_seconds() - self.cpu,
            io: io_syscalls().saturating_sub(self.io),
            allocs: allocations() - self.allocs,
        }
    }
}

fn usage() -> libc::rusage {
    // SAFETY: getrusage only writes the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    }
}

/// Context switches of the whole process since it started (every thread,
/// voluntary and not): for the round trip, the threads woken per message.
fn context_switches() -> f64 {
    let usage = usage();
    (usage.ru_nvcsw + usage.ru_nivcsw) as f64
}

fn cpu_seconds() -> f64 {
    let usage = usage();
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn io_syscalls() -> u64 {
    let text = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    field("syscr:") + field("syscw:")
}

/// A `/proc/self/status` figure in KiB (`VmRSS:`, `VmHWM:`).
pub fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix(key)).map(str::to_string))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// (p50, p99) in µs.
pub fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// The line a client child prints: `figures key=value ...`, always with the
/// process's context switches so far (`csw`) and peak resident memory
/// (`hwm`, KiB) last.
pub fn print_figures(pairs: &[(&str, f64)]) {
    let mut line = String::from("figures");
    for (k, v) in pairs {
        line.push_str(&format!(" {k}={v}"));
    }
    line.push_str(&format!(" csw={} hwm={}", context_switches(), status_kib("VmHWM:")));
    println!("{line}");
}

/// Figures of a throughput run of `msgs` messages of `size` bytes.
pub fn print_throughput(span: Span, msgs: usize, size: usize) {
    print_figures(&[
        ("secs", span.secs),
        ("cpu", span.cpu),
        ("io", span.io as f64),
        ("msgs", msgs as f64),
        ("bytes", (msgs * size) as f64),
        ("allocs", span.allocs as f64),
    ]);
}
