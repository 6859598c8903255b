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

/// The metrics process and cgroup monitors emit (name, type, value type), in the order of
/// [`TargetMetrics`]' fields; public so that other parts can check a signal's name and type.
pub const TARGET_METRICS: [(&str, MetricType, ValueType); 9] = {
    use MetricType::{Counter, Trend};
    use ValueType::{Data, Default};
    [
        ("target_cpu_percent", Trend, Default),
        ("target_cpu_machine_percent", Trend, Default),
        ("target_memory_bytes", Trend, Data),
        ("target_memory_percent", Trend, Default),
        ("target_fds", Trend, Default),
        ("target_threads", Trend, Default),
        ("target_context_switches", Counter, Default),
        ("target_oom_kills", Counter, Default),
        ("target_cpu_throttled_seconds", Counter, Default),
    ]
};

impl TargetMetrics {
    pub fn register(registry: &Registry) -> TargetMetrics {
        let [cpu_percent, cpu_machine_percent, memory_bytes, memory_percent, fds, threads, context_switches, oom_kills, cpu_throttled_seconds] =
            TARGET_METRICS.map(|(name, t, v)| {
                registry
                    .register(name, t, v)
                    .expect("monitor metric names are valid and brunt's own")
            });
        TargetMetrics {
            cpu_percent,
            cpu_machine_percent,
            memory_bytes,
            memory_percent,
            fds,
            threads,
            context_switches,
            oom_kills,
            cpu_throttled_seconds,
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
