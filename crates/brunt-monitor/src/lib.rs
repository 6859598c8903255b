//! System signals beside the load (`--monitor`): processes and cgroups read from /proc and
//! /sys/fs/cgroup, and Prometheus endpoints scraped, once a second on a thread of their own, into
//! the run's metrics (through the engine's [`Sampler`] hook, so they reach thresholds, outputs
//! and the summary as any metric does). The same thread watches brunt's own CPU, so the summary
//! can say when the figures describe the generator rather than the target.
//!
//! A monitor whose input is wrong (no such process or cgroup, an endpoint that does not answer
//! with Prometheus text) fails [`Monitors::start`], before any load is sent; what goes wrong
//! during the run (a process exits, a scrape fails) becomes an [`Event`] and the run goes on.

mod cgroup;
mod generator;
mod metrics;
mod procfs;
mod prometheus;
mod spec;

pub use metrics::TARGET_METRICS;
pub use spec::{MonitorSpec, Source, SpecError};

use brunt_engine::Sampler;
use brunt_metrics::{MetricId, Registry, TagSet};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// How often every monitor is sampled.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Something that happened to a monitored target during the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Since the monitors started (just before the run).
    pub at: Duration,
    pub monitor: String,
    /// e.g. `process 1234 exited (killed by signal 9, SIGKILL)`.
    pub what: String,
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "at {:.1}s, {}: {}",
            self.at.as_secs_f64(),
            self.monitor,
            self.what
        )
    }
}

/// What is known of a monitor's limits, for checks that compare a signal with its ceiling.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub monitor: String,
    /// `memory.max`, or the machine's memory where nothing lower applies.
    pub memory_bytes: Option<u64>,
    /// Cores the target may use: `cpu.max` quota over period, or the machine's cores.
    pub cpu_cores: Option<f64>,
}

/// Why the monitors could not start; the message names the monitor's spec.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("monitor '{spec}': {why}")]
    Unavailable { spec: String, why: String },
    #[error("monitor name '{0}' is used twice; give each its own with NAME:KIND=VALUE")]
    DuplicateName(String),
    #[error("could not start the monitor thread: {0}")]
    Thread(String),
}

/// What the monitors saw, at the end of the run.
#[derive(Debug, Default)]
pub struct MonitorReport {
    pub events: Vec<Event>,
    /// Sentences saying the load generator itself was the limit; empty when it was not.
    pub generator: Vec<String>,
}

/// The running monitors of one run.
pub struct Monitors {
    queue: Arc<Mutex<Vec<Queued>>>,
    events: Arc<Mutex<Vec<Event>>>,
    stop: mpsc::Sender<()>,
    thread: JoinHandle<generator::GeneratorWatch>,
    limits: Vec<Limits>,
    warnings: Vec<String>,
}

/// A sample waiting for the next tick.
struct Queued {
    metric: MetricId,
    tags: TagSet,
    value: f64,
    time: SystemTime,
}

/// What one round of sampling produced.
pub(crate) struct Batch {
    samples: Vec<(MetricId, TagSet, f64)>,
    events: Vec<String>,
}

impl Batch {
    pub(crate) fn add(&mut self, metric: MetricId, tags: &TagSet, value: f64) {
        self.samples.push((metric, tags.clone(), value));
    }

    pub(crate) fn event(&mut self, what: String) {
        self.events.push(what);
    }
}

/// One monitored thing, sampled once a second on the monitor thread.
pub(crate) trait Probe: Send {
    fn sample(&mut self, out: &mut Batch);
}

/// A probe opened from a spec, with what it knows of its limits and what it could not watch.
pub(crate) struct Opened {
    pub probe: Box<dyn Probe>,
    pub limits: Limits,
    pub warnings: Vec<String>,
}

impl Monitors {
    /// Opens every monitor (each checked against the real thing: the process exists, the cgroup
    /// is a readable v2 directory, the endpoint answers with Prometheus text), registers their
    /// metrics in `registry` (so thresholds can name them) and starts sampling. With no specs it
    /// only watches the generator itself.
    pub fn start(
        specs: &[MonitorSpec],
        registry: &Arc<Registry>,
    ) -> Result<Monitors, MonitorError> {
        let mut names = std::collections::HashSet::new();
        for s in specs {
            if !names.insert(s.name.as_str()) {
                return Err(MonitorError::DuplicateName(s.name.clone()));
            }
        }
        let mut probes = Vec::new();
        let mut limits = Vec::new();
        let mut warnings = Vec::new();
        // Registered with the first process or cgroup monitor, so that a threshold on them
        // without one fails as a threshold on an unknown metric does.
        let mut target_metrics: Option<Arc<metrics::TargetMetrics>> = None;
        for spec in specs {
            let unavailable = |why: String| MonitorError::Unavailable {
                spec: spec.text.clone(),
                why,
            };
            let tags = TagSet::new([("monitor", spec.name.as_str())]);
            let mut target = || {
                target_metrics
                    .get_or_insert_with(|| Arc::new(metrics::TargetMetrics::register(registry)))
                    .clone()
            };
            let opened = match &spec.source {
                Source::Pid(p) => procfs::open(spec, procfs::Target::Pid(*p), tags, target()),
                Source::PidFile(f) => {
                    procfs::open(spec, procfs::Target::PidFile(f.clone()), tags, target())
                }
                Source::Cmd(c) => {
                    procfs::open(spec, procfs::Target::Cmd(c.clone()), tags, target())
                }
                Source::Cgroup(path) => cgroup::open(spec, path, tags, target()),
                Source::Prometheus { url, metrics } => {
                    prometheus::open(spec, url, metrics, tags, registry.clone())
                }
            }
            .map_err(unavailable)?;
            probes.push((spec.name.clone(), opened.probe));
            limits.push(opened.limits);
            warnings.extend(
                opened
                    .warnings
                    .into_iter()
                    .map(|w| format!("monitor '{}': {w}", spec.text)),
            );
        }
        let queue = Arc::new(Mutex::new(Vec::new()));
        let events = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = mpsc::channel();
        let (q, ev) = (queue.clone(), events.clone());
        let thread = std::thread::Builder::new()
            .name("brunt-monitor".into())
            .spawn(move || sample_loop(probes, q, ev, stopped))
            .map_err(|e| MonitorError::Thread(e.to_string()))?;
        Ok(Monitors {
            queue,
            events,
            stop,
            thread,
            limits,
            warnings,
        })
    }

    /// Signals a monitor could not watch (e.g. a cgroup without the memory controller); the run
    /// goes on without them.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Each monitor's known limits, in the order of the specs.
    pub fn limits(&self) -> &[Limits] {
        &self.limits
    }

    /// The engine hook that moves what was sampled into the run's metrics on each tick.
    pub fn sampler(&self) -> Sampler {
        let queue = self.queue.clone();
        Box::new(move |agg| {
            let taken = std::mem::take(&mut *lock(&queue));
            for q in taken {
                agg.add_at(q.metric, &q.tags, q.value, || q.time);
            }
        })
    }

    /// Stops sampling and says what happened: the targets' events and whether the generator
    /// was the limit. `dropped_iterations` is the run's count, which means the generator could
    /// not keep an open model's schedule.
    pub fn finish(self, dropped_iterations: u64) -> MonitorReport {
        let _ = self.stop.send(());
        let watch = self.thread.join().ok();
        let mut generator: Vec<String> = watch.and_then(|w| w.note_text()).into_iter().collect();
        if dropped_iterations > 0 {
            generator.push(format!(
                "{dropped_iterations} iteration(s) were dropped: the generator had no free VU when the schedule started them (raise maxVUs or --max-vus), so the achieved rate is below the rate asked"
            ));
        }
        let events = std::mem::take(&mut *lock(&self.events));
        MonitorReport { events, generator }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn sample_loop(
    mut probes: Vec<(String, Box<dyn Probe>)>,
    queue: Arc<Mutex<Vec<Queued>>>,
    events: Arc<Mutex<Vec<Event>>>,
    stopped: mpsc::Receiver<()>,
) -> generator::GeneratorWatch {
    let start = Instant::now();
    let mut watch = generator::GeneratorWatch::new();
    let mut next = start + INTERVAL;
    loop {
        match stopped.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return watch,
        }
        next += INTERVAL;
        watch.sample();
        let time = SystemTime::now();
        for (name, probe) in &mut probes {
            let mut batch = Batch {
                samples: Vec::new(),
                events: Vec::new(),
            };
            probe.sample(&mut batch);
            lock(&queue).extend(
                batch
                    .samples
                    .into_iter()
                    .map(|(metric, tags, value)| Queued {
                        metric,
                        tags,
                        value,
                        time,
                    }),
            );
            let at = start.elapsed();
            lock(&events).extend(batch.events.into_iter().map(|what| Event {
                at,
                monitor: name.clone(),
                what,
            }));
        }
    }
}
