//! Processes (`pid=`, `pidfile=`, `cmd=`) read from /proc: CPU, resident memory, open file
//! descriptors, threads and context switches, summed over the processes watched. A process
//! that exits (or is replaced) is an event, with its exit status when /proc still shows it.

use crate::metrics::{machine_cores, machine_memory, percent, TargetMetrics};
use crate::{Batch, Limits, MonitorSpec, Opened, Probe};
use ::procfs::process::{all_processes, Process, Stat};
use brunt_metrics::TagSet;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Which processes a monitor watches.
pub(crate) enum Target {
    Pid(i32),
    PidFile(PathBuf),
    Cmd(String),
}

/// A process as last seen: its start time tells a restart under a reused pid apart.
struct Seen {
    start: u64,
    cpu_ticks: u64,
    switches: u64,
}

struct Processes {
    target: Target,
    tags: TagSet,
    m: Arc<TargetMetrics>,
    seen: HashMap<i32, Seen>,
    last: Instant,
    ticks_per_second: f64,
    page_size: f64,
    cores: f64,
    memory: Option<u64>,
}

/// What one process measured now.
struct Reading {
    pid: i32,
    stat: Stat,
    switches: u64,
    fds: u64,
}

pub(crate) fn open(
    spec: &MonitorSpec,
    target: Target,
    tags: TagSet,
    m: Arc<TargetMetrics>,
) -> Result<Opened, String> {
    let mut probe = Processes {
        target,
        tags,
        m,
        seen: HashMap::new(),
        last: Instant::now(),
        ticks_per_second: ::procfs::ticks_per_second() as f64,
        page_size: ::procfs::page_size() as f64,
        cores: machine_cores(),
        memory: machine_memory(),
    };
    let found = probe.find()?;
    if found.is_empty() {
        return Err(match &probe.target {
            Target::Pid(p) => format!("no process {p} is running"),
            Target::PidFile(f) => format!("the process in {} is not running", f.display()),
            Target::Cmd(c) => format!(
                "no running process is named '{c}' (the name /proc/PID/comm shows, at most 15 characters)"
            ),
        });
    }
    for r in found {
        probe.seen.insert(r.pid, seen(&r));
    }
    let limits = Limits {
        monitor: spec.name.clone(),
        memory_bytes: probe.memory,
        cpu_cores: Some(probe.cores),
    };
    Ok(Opened {
        probe: Box::new(probe),
        limits,
        warnings: Vec::new(),
    })
}

fn seen(r: &Reading) -> Seen {
    Seen {
        start: r.stat.starttime,
        cpu_ticks: r.stat.utime + r.stat.stime,
        switches: r.switches,
    }
}

impl Processes {
    /// The live processes watched now. Errors only where the input itself is unusable (a pid
    /// file that cannot be read or holds no pid).
    fn find(&self) -> Result<Vec<Reading>, String> {
        let pids = match &self.target {
            Target::Pid(p) => vec![*p],
            Target::PidFile(f) => vec![read_pid_file(f)?],
            Target::Cmd(name) => named_with_descendants(name),
        };
        Ok(pids.into_iter().filter_map(read).collect())
    }

    /// Says how each process that is gone ended, and forgets it.
    fn note_exits(&mut self, live: &HashSet<i32>, out: &mut Batch) {
        let mut gone: Vec<i32> = self
            .seen
            .keys()
            .filter(|p| !live.contains(p))
            .copied()
            .collect();
        gone.sort_unstable();
        for pid in gone {
            let start = self.seen.remove(&pid).map(|s| s.start);
            out.event(format!("process {pid} exited{}", how_it_ended(pid, start)));
        }
    }
}

impl Probe for Processes {
    fn sample(&mut self, out: &mut Batch) {
        let now = Instant::now();
        let secs = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        let mut readings = match self.find() {
            Ok(r) => r,
            Err(e) => {
                out.event(e);
                Vec::new()
            }
        };
        if let Target::Pid(_) = self.target {
            // pid= watches one process: a later process under the same pid is another one.
            readings.retain(|r| self.seen.get(&r.pid).map(|s| s.start) == Some(r.stat.starttime));
        }
        let live: HashSet<i32> = readings
            .iter()
            .filter(|r| {
                self.seen
                    .get(&r.pid)
                    .is_none_or(|s| s.start == r.stat.starttime)
            })
            .map(|r| r.pid)
            .collect();
        self.note_exits(&live, out);
        if readings.is_empty() {
            return;
        }
        let (mut cpu_ticks, mut switches) = (0u64, 0u64);
        let (mut rss, mut fds, mut threads) = (0.0, 0.0, 0.0);
        for r in &readings {
            let before = self
                .seen
                .get(&r.pid)
                .filter(|s| s.start == r.stat.starttime);
            let restarted = match &self.target {
                Target::Cmd(name) => r.stat.comm == *name,
                _ => true,
            };
            if before.is_none() && restarted {
                out.event(format!("process {} ({}) started", r.pid, r.stat.comm));
            }
            // A process seen for the first time counts from now on.
            if let Some(b) = before {
                cpu_ticks += (r.stat.utime + r.stat.stime).saturating_sub(b.cpu_ticks);
                switches += r.switches.saturating_sub(b.switches);
            }
            rss += r.stat.rss as f64 * self.page_size;
            fds += r.fds as f64;
            threads += r.stat.num_threads as f64;
        }
        for r in &readings {
            self.seen.insert(r.pid, seen(r));
        }
        let cpu = if secs > 0.0 {
            cpu_ticks as f64 / self.ticks_per_second / secs * 100.0
        } else {
            0.0
        };
        let (m, t) = (&self.m, &self.tags);
        out.add(m.cpu_percent, t, cpu);
        out.add(m.cpu_machine_percent, t, cpu / self.cores);
        out.add(m.memory_bytes, t, rss);
        if let Some(total) = self.memory {
            out.add(m.memory_percent, t, percent(rss, total as f64));
        }
        out.add(m.fds, t, fds);
        out.add(m.threads, t, threads);
        out.add(m.context_switches, t, switches as f64);
    }
}

/// Reads one process; None when it is gone or already a zombie (it has exited).
fn read(pid: i32) -> Option<Reading> {
    let p = Process::new(pid).ok()?;
    let stat = p.stat().ok()?;
    if stat.state == 'Z' || stat.state == 'X' {
        return None;
    }
    // /proc/PID/status counts the main thread's switches only: sum every thread's.
    let switches = p
        .tasks()
        .map(|tasks| {
            tasks
                .flatten()
                .filter_map(|t| t.status().ok())
                .map(|s| {
                    s.voluntary_ctxt_switches.unwrap_or(0)
                        + s.nonvoluntary_ctxt_switches.unwrap_or(0)
                })
                .sum()
        })
        .unwrap_or(0);
    // Another user's process hides its fds: count none rather than fail the whole monitor.
    let fds = p.fd_count().unwrap_or(0) as u64;
    Some(Reading {
        pid,
        stat,
        switches,
        fds,
    })
}

/// How a process ended, as far as /proc still knows: a zombie not yet reaped by its parent keeps
/// its wait status; a reaped one tells nothing.
fn how_it_ended(pid: i32, start: Option<u64>) -> String {
    let Some(stat) = Process::new(pid).ok().and_then(|p| p.stat().ok()) else {
        return String::new();
    };
    if Some(stat.starttime) != start {
        return format!(" (pid {pid} now belongs to another process)");
    }
    match stat.exit_code {
        Some(code) if stat.state == 'Z' => describe_wait_status(code),
        _ => String::new(),
    }
}

/// A wait status as words: `with status 3` or `killed by signal 9 (SIGKILL)`.
fn describe_wait_status(status: i32) -> String {
    let signal = status & 0x7f;
    if signal == 0 {
        format!(" with status {}", (status >> 8) & 0xff)
    } else {
        let name = match signal {
            libc::SIGKILL => " (SIGKILL)",
            libc::SIGTERM => " (SIGTERM)",
            libc::SIGINT => " (SIGINT)",
            libc::SIGSEGV => " (SIGSEGV)",
            libc::SIGABRT => " (SIGABRT)",
            libc::SIGBUS => " (SIGBUS)",
            libc::SIGHUP => " (SIGHUP)",
            _ => "",
        };
        format!(" (killed by signal {signal}{name})")
    }
}

fn read_pid_file(path: &Path) -> Result<i32, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read pid file {}: {e}", path.display()))?;
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            format!(
                "pid file {} holds '{}', not a process id",
                path.display(),
                text.trim()
            )
        })
}

/// Every process named `name` and all their descendants, in pid order.
fn named_with_descendants(name: &str) -> Vec<i32> {
    let Ok(all) = all_processes() else {
        return Vec::new();
    };
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let mut stack = Vec::new();
    for p in all.flatten() {
        let Ok(stat) = p.stat() else { continue };
        children.entry(stat.ppid).or_default().push(stat.pid);
        if stat.comm == name {
            stack.push(stat.pid);
        }
    }
    let mut found = HashSet::new();
    while let Some(pid) = stack.pop() {
        if found.insert(pid) {
            stack.extend(children.get(&pid).into_iter().flatten());
        }
    }
    let mut pids: Vec<i32> = found.into_iter().collect();
    pids.sort_unstable();
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_read_as_words() {
        assert_eq!(describe_wait_status(3 << 8), " with status 3");
        assert_eq!(describe_wait_status(9), " (killed by signal 9 (SIGKILL))");
        assert_eq!(describe_wait_status(10), " (killed by signal 10)");
    }
}
