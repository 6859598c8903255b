//! A cgroup v2 directory (a container, a systemd service, a Kubernetes pod seen from its node):
//! CPU from `cpu.stat`'s `usage_usec`, throttling from its `throttled_usec`, memory from
//! `memory.current` against `memory.max`, and OOM kills from `memory.events`.

use crate::metrics::{machine_cores, machine_memory, percent, TargetMetrics};
use crate::{Batch, Limits, MonitorSpec, Opened, Probe};
use brunt_metrics::TagSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

struct Cgroup {
    dir: PathBuf,
    tags: TagSet,
    m: Arc<TargetMetrics>,
    last: Instant,
    usage_usec: u64,
    throttled_usec: u64,
    oom_kills: u64,
    has_memory: bool,
    memory_limit: Option<u64>,
    cores: f64,
    /// The directory could not be read at the last sample (it was removed): said once.
    gone: bool,
}

pub(crate) fn open(
    spec: &MonitorSpec,
    dir: &Path,
    tags: TagSet,
    m: Arc<TargetMetrics>,
) -> Result<Opened, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if !dir.join("cgroup.controllers").exists() {
        return Err(format!(
            "{} is not a cgroup v2 directory (it has no cgroup.controllers; cgroup v1 is not supported)",
            dir.display()
        ));
    }
    let cpu = std::fs::read_to_string(dir.join("cpu.stat"))
        .map_err(|e| format!("cannot read {}: {e}", dir.join("cpu.stat").display()))?;
    let mut warnings = Vec::new();
    let has_memory = dir.join("memory.current").exists();
    if !has_memory {
        warnings.push(format!(
            "{} has no memory.current (the memory controller is not enabled for it): no memory signals",
            dir.display()
        ));
    }
    let machine = machine_memory();
    // `memory.max` holds bytes, or `max` for none: then the machine is the limit.
    let memory_limit = read_u64(&dir.join("memory.max")).or(machine);
    let cores = machine_cores();
    let cpu_limit = cpu_max(&dir.join("cpu.max")).unwrap_or(cores);
    let probe = Cgroup {
        dir: dir.to_path_buf(),
        tags,
        m,
        last: Instant::now(),
        usage_usec: field(&cpu, "usage_usec").unwrap_or(0),
        throttled_usec: field(&cpu, "throttled_usec").unwrap_or(0),
        oom_kills: oom_kills(dir).unwrap_or(0),
        has_memory,
        memory_limit,
        cores,
        gone: false,
    };
    Ok(Opened {
        probe: Box::new(probe),
        limits: Limits {
            monitor: spec.name.clone(),
            memory_bytes: memory_limit,
            cpu_cores: Some(cpu_limit),
        },
        warnings,
    })
}

impl Probe for Cgroup {
    fn sample(&mut self, out: &mut Batch) {
        let now = Instant::now();
        let secs = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        let cpu = match std::fs::read_to_string(self.dir.join("cpu.stat")) {
            Ok(c) => c,
            Err(e) => {
                if !self.gone {
                    out.event(format!("cannot read {}: {e}", self.dir.display()));
                    self.gone = true;
                }
                return;
            }
        };
        if std::mem::take(&mut self.gone) {
            out.event(format!("{} can be read again", self.dir.display()));
        }
        let (m, t) = (&self.m, &self.tags);
        let usage = field(&cpu, "usage_usec").unwrap_or(self.usage_usec);
        let throttled = field(&cpu, "throttled_usec").unwrap_or(self.throttled_usec);
        let used = usage.saturating_sub(self.usage_usec) as f64 / 1e6;
        let cpu_percent = if secs > 0.0 { used / secs * 100.0 } else { 0.0 };
        out.add(m.cpu_percent, t, cpu_percent);
        out.add(m.cpu_machine_percent, t, cpu_percent / self.cores);
        out.add(
            m.cpu_throttled_seconds,
            t,
            throttled.saturating_sub(self.throttled_usec) as f64 / 1e6,
        );
        self.usage_usec = usage;
        self.throttled_usec = throttled;
        if self.has_memory {
            if let Some(current) = read_u64(&self.dir.join("memory.current")) {
                out.add(m.memory_bytes, t, current as f64);
                if let Some(limit) = self.memory_limit {
                    out.add(m.memory_percent, t, percent(current as f64, limit as f64));
                }
            }
            let kills = oom_kills(&self.dir).unwrap_or(self.oom_kills);
            let new = kills.saturating_sub(self.oom_kills);
            if new > 0 {
                out.event(format!("{new} process(es) killed by the OOM killer"));
            }
            out.add(m.oom_kills, t, new as f64);
            self.oom_kills = kills;
        }
        if let Some(pids) = read_u64(&self.dir.join("pids.current")) {
            out.add(m.threads, t, pids as f64);
        }
    }
}

/// A `key value` line's value, as in `cpu.stat` and `memory.events`.
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `cpu.max`: `QUOTA PERIOD` in microseconds, or `max PERIOD` (none), as cores.
fn cpu_max(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut parts = text.split_whitespace();
    let quota: f64 = parts.next()?.parse().ok()?;
    let period: f64 = parts.next()?.parse().ok()?;
    (period > 0.0).then(|| quota / period)
}

fn oom_kills(dir: &Path) -> Option<u64> {
    field(
        &std::fs::read_to_string(dir.join("memory.events")).ok()?,
        "oom_kill",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cgroup_key_value_files() {
        let stat = "usage_usec 1500\nuser_usec 1000\nthrottled_usec 250\n";
        assert_eq!(field(stat, "usage_usec"), Some(1500));
        assert_eq!(field(stat, "throttled_usec"), Some(250));
        assert_eq!(field(stat, "nr_periods"), None);
    }
}
