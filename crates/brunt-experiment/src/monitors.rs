//! The system signals an experiment's `monitor` probes read: the monitors their specs name
//! (`--monitor`'s syntax) are opened once when the experiment starts, sampled by
//! brunt-monitor's thread for the experiment's life, and kept here second by second, so that a
//! probe judges a statistic over its window and a running load charts them beside its own
//! seconds in the game-day report.

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use brunt_metrics::{Aggregator, Registry, SeriesMap, Snapshot, TagSet};
use brunt_monitor::{MonitorError, MonitorSpec, Monitors};

use crate::format::Experiment;
use crate::live_load::MAX_WINDOW;

/// How long a probe waits for the first sample of a monitor opened just before it.
const FIRST_SAMPLE: Duration = Duration::from_secs(3);

#[derive(Default)]
struct Seconds {
    /// Each second's samples, the last [`MAX_WINDOW`] of them.
    kept: VecDeque<(Instant, SeriesMap)>,
    /// Samples the running load has not charted yet.
    uncharted: Snapshot,
}

/// The experiment's monitors; empty when no probe reads one.
pub struct ExperimentMonitors {
    registry: Arc<Registry>,
    /// Each spec's text and its monitor's name (the `monitor` tag of its samples).
    names: BTreeMap<String, String>,
    seconds: Arc<Mutex<Seconds>>,
    stop: Option<mpsc::Sender<()>>,
    pump: Option<JoinHandle<Monitors>>,
}

impl Default for ExperimentMonitors {
    fn default() -> Self {
        ExperimentMonitors {
            registry: Arc::new(Registry::new()),
            names: BTreeMap::new(),
            seconds: Arc::default(),
            stop: None,
            pump: None,
        }
    }
}

impl ExperimentMonitors {
    /// Opens every monitor the experiment's probes name (each checked against the real
    /// thing: the process runs, the cgroup exists, the endpoint answers) and starts sampling;
    /// the error names the first activity whose monitor cannot open, and the field.
    pub fn open(experiment: &Experiment) -> Result<(Self, Vec<String>), String> {
        let mut specs: Vec<MonitorSpec> = Vec::new();
        let mut by_spec: BTreeMap<String, String> = BTreeMap::new();
        let activities = experiment
            .hypothesis
            .iter()
            .flat_map(|(_, p)| p)
            .chain(&experiment.method)
            .chain(&experiment.rollbacks);
        for a in activities {
            if let Some(spec) = a.provider.monitor_spec(&experiment.vars) {
                let label = format!("{} {:?}: provider.arguments.monitor", a.location, a.name);
                if !by_spec.contains_key(&spec.text) {
                    by_spec.insert(spec.text.clone(), label);
                    specs.push(spec);
                }
            }
        }
        let mut monitors = ExperimentMonitors::default();
        if specs.is_empty() {
            return Ok((monitors, Vec::new()));
        }
        let opened = Monitors::start(&specs, &monitors.registry).map_err(|e| {
            let label = match &e {
                MonitorError::Spec(s) => by_spec.get(&s.spec),
                MonitorError::Unavailable { spec, .. } => by_spec.get(spec),
                MonitorError::DuplicateName(name) => specs
                    .iter()
                    .rev()
                    .find(|s| s.name == *name)
                    .and_then(|s| by_spec.get(&s.text)),
                MonitorError::Thread(_) => None,
            };
            match label {
                Some(l) => format!("{l}: {e}"),
                None => e.to_string(),
            }
        })?;
        let warnings = opened.warnings().to_vec();
        monitors.names = specs.into_iter().map(|s| (s.text, s.name)).collect();
        let (stop, stopped) = mpsc::channel::<()>();
        let (registry, seconds) = (monitors.registry.clone(), monitors.seconds.clone());
        let pump = std::thread::Builder::new()
            .name("brunt-experiment-monitors".into())
            .spawn(move || pump(opened, registry, seconds, stopped))
            .map_err(|e| format!("cannot start the monitors' thread: {e}"))?;
        monitors.stop = Some(stop);
        monitors.pump = Some(pump);
        Ok((monitors, warnings))
    }

    /// The registry the monitors' metrics are in; a load records into it too, so that its
    /// report points can carry them.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The samples a running load takes into its seconds, to chart and judge them.
    pub fn feed(&self) -> Feed {
        Feed(self.seconds.clone())
    }

    /// A statistic (`avg`, `max`, `p(95)`, `count`...) of `metric` from the monitor of `spec`
    /// over the last `window`; waits for a first sample when there is none yet.
    pub async fn stat(
        &self,
        spec: &str,
        metric: &str,
        stat: &str,
        window: Duration,
    ) -> Result<f64, String> {
        let name = self.names.get(spec).ok_or_else(|| {
            format!("monitor '{spec}' was not opened when the experiment started")
        })?;
        let selector = TagSet::new([("monitor", name.as_str())]);
        let asked = Instant::now();
        loop {
            let agg = self.registry.get(metric).and_then(|id| {
                let now = Instant::now();
                let mut snapshot = Snapshot::default();
                for (_, series) in self
                    .lock()
                    .kept
                    .iter()
                    .filter(|(t, _)| now.duration_since(*t) <= window)
                {
                    snapshot.merge_series(series);
                }
                snapshot.submetric(id, &selector)
            });
            if let Some(agg) = agg {
                return agg.stat(stat, window.as_secs_f64()).ok_or_else(|| {
                    format!(
                        "{stat} is not a statistic of {metric} (a {})",
                        agg.metric_type().as_str()
                    )
                });
            }
            if asked.elapsed() >= FIRST_SAMPLE {
                return Err(format!(
                    "monitor '{spec}' has no sample of {metric} in the last {}s",
                    window.as_secs_f64()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops sampling; returns what happened to the monitored targets (a process exited...).
    pub fn finish(&mut self) -> Vec<String> {
        drop(self.stop.take());
        match self.pump.take().and_then(|p| p.join().ok()) {
            Some(monitors) => monitors
                .finish(0)
                .events
                .iter()
                .map(ToString::to_string)
                .collect(),
            None => Vec::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Seconds> {
        self.seconds.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for ExperimentMonitors {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The monitors' samples not yet taken by a load.
pub struct Feed(Arc<Mutex<Seconds>>);

impl Feed {
    /// Adds the samples taken since the last call to `series`.
    pub fn add_to(&self, series: &mut SeriesMap) {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = std::mem::take(&mut s.uncharted);
        drop(s);
        let mut merged = Snapshot {
            series: std::mem::take(series),
        };
        merged.merge_series(&taken.series);
        *series = merged.series;
    }

    /// Drops the samples taken before a load starts.
    pub fn skip(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .uncharted = Snapshot::default();
    }
}

/// Once a second, moves what the monitors sampled into the kept seconds, until stopped.
fn pump(
    monitors: Monitors,
    registry: Arc<Registry>,
    seconds: Arc<Mutex<Seconds>>,
    stopped: mpsc::Receiver<()>,
) -> Monitors {
    let mut sampler = monitors.sampler();
    let mut agg = Aggregator::new(registry, false);
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(brunt_monitor::INTERVAL) {
        sampler(&mut agg);
        let series = agg.take().series;
        if series.is_empty() {
            continue;
        }
        let now = Instant::now();
        let mut s = seconds.lock().unwrap_or_else(PoisonError::into_inner);
        s.uncharted.merge_series(&series);
        s.kept.push_back((now, series));
        while s
            .kept
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > MAX_WINDOW)
        {
            s.kept.pop_front();
        }
    }
    monitors
}
