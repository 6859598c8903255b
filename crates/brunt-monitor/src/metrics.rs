//! The `target_*` metrics that process and cgroup monitors emit, and the machine facts their
//! percentages are relative to.

use brunt_metrics::{MetricId, MetricType, Registry, ValueType};

pub(crate) struct TargetMetrics {
    /// CPU used, in percent of one core (200 = two cores busy), as `top` shows it.
    pub cpu_percent: MetricId,
    /// CPU used, in percent of the whole machine.
    pub cpu_machine_percent: MetricId,
    pub memory_bytes: MetricId,
    pub memory_percent: MetricId,
    pub fds: MetricId,
    pub threads: MetricId,
    pub context_switches: MetricId,
    pub oom_kills: MetricId,
    pub cpu_throttled_seconds: MetricId,
}

impl TargetMetrics {
    pub fn register(registry: &Registry) -> TargetMetrics {
        let reg = |name, t, v| {
            registry
                .register(name, t, v)
                .expect("monitor metric names are valid and brunt's own")
        };
        use MetricType::{Counter, Trend};
        use ValueType::{Data, Default};
        TargetMetrics {
            cpu_percent: reg("target_cpu_percent", Trend, Default),
            cpu_machine_percent: reg("target_cpu_machine_percent", Trend, Default),
            memory_bytes: reg("target_memory_bytes", Trend, Data),
            memory_percent: reg("target_memory_percent", Trend, Default),
            fds: reg("target_fds", Trend, Default),
            threads: reg("target_threads", Trend, Default),
            context_switches: reg("target_context_switches", Counter, Default),
            oom_kills: reg("target_oom_kills", Counter, Default),
            cpu_throttled_seconds: reg("target_cpu_throttled_seconds", Counter, Default),
        }
    }
}

/// Cores online on the machine.
pub(crate) fn machine_cores() -> f64 {
    // SAFETY: sysconf reads a system setting and has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    n.max(1) as f64
}

/// The machine's memory (`MemTotal`), when /proc/meminfo can be read.
pub(crate) fn machine_memory() -> Option<u64> {
    use ::procfs::Current;
    ::procfs::Meminfo::current().ok().map(|m| m.mem_total)
}

/// Percent of `total` that `used` is.
pub(crate) fn percent(used: f64, total: f64) -> f64 {
    if total > 0.0 {
        used * 100.0 / total
    } else {
        0.0
    }
}
