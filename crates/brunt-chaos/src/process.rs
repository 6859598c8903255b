//! The standard Prometheus `process_*` metrics (the names and meanings every
//! Prometheus client library exports, Toxiproxy's Go one included), read from
//! Linux's `/proc`. Elsewhere, or when `/proc` cannot be read, the families are
//! left out rather than reported as zero.

use std::fmt::Write;

/// Linux reports CPU times and the start time in clock ticks of this fixed
/// rate (`USER_HZ`), whatever the kernel's internal tick.
const TICKS_PER_SECOND: f64 = 100.0;

/// Appends the process families to a Prometheus text exposition.
pub(crate) fn render(out: &mut String) {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .as_deref()
        .and_then(|s| s.rsplit_once(')'))
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // `fields[0]` is field 3 of proc(5): utime is 14, stime 15, starttime 22, vsize 23.
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());

    if let (Some(user), Some(system)) = (field(14), field(15)) {
        let seconds = (user + system) as f64 / TICKS_PER_SECOND;
        family(
            out,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            seconds,
        );
    }
    if let Some(rss) = status_kib("VmRSS") {
        family(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            (rss * 1024) as f64,
        );
    }
    if let Some(vsize) = field(23) {
        family(
            out,
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            vsize as f64,
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        family(
            out,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            fds.count() as f64,
        );
    }
    if let Some(max) = max_open_files() {
        family(
            out,
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            max as f64,
        );
    }
    if let (Some(start), Some(boot)) = (field(22), boot_time()) {
        let seconds = boot as f64 + start as f64 / TICKS_PER_SECOND;
        family(
            out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            seconds,
        );
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

/// A `kB` line of `/proc/self/status`.
fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// The soft limit on open files, from `/proc/self/limits`.
fn max_open_files() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// When the machine booted, in seconds since the Unix epoch.
fn boot_time() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}
