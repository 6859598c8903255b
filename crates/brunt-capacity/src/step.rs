//! One step of the search: a constant-arrival-rate plan (open model) or a constant-vus plan
//! (closed model) on the engine, and its figures read from the same merged aggregates the
//! summary reads, counting only the ticks after the warm-up.

use crate::args::Settings;
use anyhow::{Context, Result};
use brunt_engine::{Control, Options, Plan, RunControl, RunOptions, VuFactory};
use brunt_metrics::{builtin, Registry, Snapshot, TagSet, ThresholdResult, Thresholds};
use brunt_monitor::{Limits, Monitors};
use brunt_quick::Load;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which part of the search a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Baseline,
    /// The 1-2-5 climb.
    Ladder,
    /// Bisection between the last passing and the first failing rate.
    Search,
    /// A closed-model level of `--concurrency` above the lowest (which is the baseline).
    Concurrency,
}

/// The load a step offers: requests started per second (open model) or VUs looping (closed
/// model). Flattened into a step's JSON as `"rate": 200` or `"concurrency": 8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Requests started per second (`brunt capacity URL`).
    Rate(u64),
    /// Iterations of a script's function started per second (`brunt capacity script.js`).
    #[serde(rename = "rate")]
    Iterations(u64),
    Concurrency(u64),
}

impl Level {
    pub fn value(self) -> u64 {
        match self {
            Level::Rate(n) | Level::Iterations(n) | Level::Concurrency(n) => n,
        }
    }

    /// The same kind of level at `n`.
    pub fn at(self, n: u64) -> Level {
        match self {
            Level::Rate(_) => Level::Rate(n),
            Level::Iterations(_) => Level::Iterations(n),
            Level::Concurrency(_) => Level::Concurrency(n),
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Level::Rate(n) => write!(f, "{n} requests/s"),
            Level::Iterations(n) => write!(f, "{n} iterations/s"),
            Level::Concurrency(1) => write!(f, "1 VU"),
            Level::Concurrency(n) => write!(f, "{n} VUs"),
        }
    }
}

/// What one step measured and how it was judged; a row of the table and of the JSON result.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub phase: Phase,
    /// Requests per second asked, or VUs looping.
    #[serde(flatten)]
    pub level: Level,
    /// Requests that succeeded (not counted in http_req_failed) per second of the measured part
    /// (its end includes the drain): cut and failed requests are not throughput. For a script,
    /// the iterations completed per second instead.
    pub achieved: f64,
    pub requests: u64,
    /// Mean http_req_duration (iteration_duration for a script), the latency in Little's law.
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// The --knee-percentile of http_req_duration.
    pub knee_ms: f64,
    /// p99 of http_req_scheduled_duration: latency from each request's intended start.
    pub scheduled_p99_ms: f64,
    /// http_req_failed's rate, 0..=1.
    pub error_rate: f64,
    pub dropped_iterations: u64,
    /// Requests in flight, measured: the mean of the engine's `vus` gauge over the step (each
    /// VU sends one request per iteration, so a busy VU is a request in flight).
    pub in_flight: f64,
    /// Little's law's prediction of `in_flight`: completed requests (or iterations) per second
    /// times `mean_ms`.
    pub littles_law_in_flight: f64,
    /// Set when the two disagree: then the generator or the measurement is wrong, not the target.
    pub littles_law_violation: Option<String>,
    pub monitors: Vec<MonitorPeak>,
    /// The generator's event loops lagged enough to change the figures: the summary's
    /// saturation warning, as a sentence.
    pub generator_lag: Option<String>,
    /// The --slo verdicts within this step.
    #[serde(skip)]
    pub slos: Vec<ThresholdResult>,
    pub failures: Vec<Failure>,
    /// The resource closest to its limit, or the generator, when the step failed.
    pub bottleneck: Option<String>,
}

impl Step {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A monitored target's peaks within a step, beside its known limits.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorPeak {
    pub monitor: String,
    /// Percent of one core (200 = two cores busy), the highest one-second sample.
    pub cpu_percent: Option<f64>,
    /// Cores * 100.
    pub cpu_limit_percent: Option<f64>,
    pub memory_bytes: Option<f64>,
    pub memory_limit_bytes: Option<u64>,
}

/// Why a step failed, by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// `slo`, `knee`, `errors`, `resource` or `generator`.
    pub kind: &'static str,
    pub message: String,
}

/// Little's law holds when measured and predicted in-flight agree within this share of the
/// larger, or within [`LITTLE_SLACK`] requests (the `vus` gauge is a whole number each second).
const LITTLE_TOLERANCE: f64 = 0.25;
const LITTLE_SLACK: f64 = 1.0;

/// Runs steps of one workload (a request, or a script's function), sharing the registry,
/// monitors and Ctrl-C of the search.
pub(crate) struct Runner<'a, F: VuFactory> {
    pub factory: Arc<F>,
    /// The options every step's scenario goes into: a script's tags and timeouts (empty for a
    /// URL).
    pub options: Options,
    /// The script's function each iteration runs; None for a URL.
    pub exec: Option<String>,
    pub registry: Arc<Registry>,
    pub monitors: &'a Monitors,
    pub control: RunControl,
    pub settings: &'a Settings,
    pub slos: &'a Thresholds,
}

impl<F: VuFactory> Runner<'_, F> {
    /// The level of an open-model step at `rate`: requests or iterations per second.
    pub(crate) fn rate(&self, rate: u64) -> Level {
        match self.exec {
            Some(_) => Level::Iterations(rate),
            None => Level::Rate(rate),
        }
    }

    /// Offers `level` for the warm-up and the step, and measures the step.
    pub(crate) fn run(&self, phase: Phase, level: Level) -> Result<Step> {
        let s = self.settings;
        let (vus, rate, max_vus) = match level {
            // VUs cost next to nothing (QuickFactory is CHEAP_INIT): more start as needed.
            Level::Rate(r) => (
                (r / 10).clamp(1, s.max_vus),
                Some((r, Duration::from_secs(1))),
                s.max_vus,
            ),
            // A script VU runs an init context, and more start only in the background while
            // iterations are dropped: one per iteration a second covers iterations up to 1 s.
            Level::Iterations(r) => (
                r.clamp(1, s.max_vus),
                Some((r, Duration::from_secs(1))),
                s.max_vus,
            ),
            Level::Concurrency(n) => (n, None, n),
        };
        let load = Load {
            vus,
            rate,
            max_vus,
            iterations: None,
            duration: Some(brunt_engine::format_duration(s.warmup + s.step)),
            graceful_stop: brunt_engine::format_duration(s.graceful_stop),
            execution_segment: None,
        };
        let mut step = load.options("--max-vus", "rate", "iterations")?;
        for scenario in step.scenarios.iter_mut().flat_map(|m| m.values_mut()) {
            scenario.exec = self.exec.clone();
        }
        let options = Options {
            scenarios: step.scenarios,
            vus: None,
            duration: None,
            iterations: None,
            stages: None,
            ..self.options.clone()
        };
        let plan = Plan::from_options(&options).context("invalid step plan")?;
        let measured = Arc::new(Mutex::new((Snapshot::default(), InFlight::default())));
        let sink = measured.clone();
        let from = s.warmup + Duration::from_millis(500);
        let opts = RunOptions {
            control: self.control.clone(),
            samplers: vec![self.monitors.sampler()],
            observer: Some(Box::new(move |tick| {
                // A tick holds the second before it: count it when most of it is past the warm-up.
                if tick.is_final || tick.elapsed >= from {
                    let mut m = sink.lock().unwrap_or_else(|e| e.into_inner());
                    m.0.merge_series(&tick.interval.series);
                    m.1.add(&tick.interval.series);
                }
                Control::Continue
            })),
            ..RunOptions::default()
        };
        let outcome = brunt_engine::run(&plan, self.factory.clone(), self.registry.clone(), opts)
            .with_context(|| format!("the step at {level} could not run"))?;
        let (snapshot, in_flight) =
            std::mem::take(&mut *measured.lock().unwrap_or_else(|e| e.into_inner()));
        let seconds = outcome
            .elapsed
            .saturating_sub(s.warmup)
            .as_secs_f64()
            .max(1e-3);
        let lag = brunt_output::saturation_note(&outcome);
        Ok(self.measure(phase, level, &snapshot, in_flight.mean(), seconds, lag))
    }

    fn measure(
        &self,
        phase: Phase,
        level: Level,
        snap: &Snapshot,
        in_flight: f64,
        seconds: f64,
        generator_lag: Option<String>,
    ) -> Step {
        let stat = |metric, name: &str| {
            snap.metric(metric)
                .and_then(|a| a.stat(name, seconds))
                .unwrap_or(0.0)
        };
        let requests = stat(builtin::HTTP_REQS, "count") as u64;
        let knee = format!("p({})", self.settings.knee_percentile);
        let error_rate = stat(builtin::HTTP_REQ_FAILED, "rate");
        // A busy VU is in an iteration: for a URL that is one request, for a script its function
        // (think time included).
        let (busy, achieved) = match self.exec {
            None => (
                builtin::HTTP_REQ_DURATION,
                requests as f64 * (1.0 - error_rate) / seconds,
            ),
            Some(_) => (
                builtin::ITERATION_DURATION,
                stat(builtin::ITERATIONS, "count") / seconds,
            ),
        };
        let mean_ms = stat(busy, "avg");
        // Requests cut at the end have no duration: only completed ones enter Little's law.
        let completed = stat(busy, "count");
        let predicted = completed / seconds * mean_ms / 1000.0;
        Step {
            phase,
            level,
            achieved,
            requests,
            mean_ms,
            p50_ms: stat(builtin::HTTP_REQ_DURATION, "p(50)"),
            p95_ms: stat(builtin::HTTP_REQ_DURATION, "p(95)"),
            p99_ms: stat(builtin::HTTP_REQ_DURATION, "p(99)"),
            knee_ms: stat(builtin::HTTP_REQ_DURATION, &knee),
            scheduled_p99_ms: stat(builtin::HTTP_REQ_SCHEDULED_DURATION, "p(99)"),
            error_rate,
            dropped_iterations: stat(builtin::DROPPED_ITERATIONS, "count") as u64,
            in_flight,
            littles_law_in_flight: predicted,
            littles_law_violation: littles_law(in_flight, predicted),
            monitors: self
                .monitors
                .limits()
                .iter()
                .map(|l| self.peak(snap, l))
                .collect(),
            generator_lag,
            slos: self.slos.evaluate(snap, Duration::from_secs_f64(seconds)),
            failures: Vec::new(),
            bottleneck: None,
        }
    }

    fn peak(&self, snap: &Snapshot, limits: &Limits) -> MonitorPeak {
        let tags = TagSet::new([("monitor", limits.monitor.as_str())]);
        let max = |name: &str| {
            let id = self.registry.get(name)?;
            snap.submetric(id, &tags)?.stat("max", 1.0)
        };
        MonitorPeak {
            monitor: limits.monitor.clone(),
            cpu_percent: max("target_cpu_percent"),
            cpu_limit_percent: limits.cpu_cores.map(|c| c * 100.0),
            memory_bytes: max("target_memory_bytes"),
            memory_limit_bytes: limits.memory_bytes,
        }
    }
}

/// The mean of the engine's `vus` gauge over the measured ticks that carry one.
#[derive(Debug, Default)]
struct InFlight {
    sum: f64,
    ticks: u32,
}

impl InFlight {
    fn add(&mut self, series: &brunt_metrics::SeriesMap) {
        let vus = series
            .iter()
            .filter(|((id, _), _)| *id == builtin::VUS)
            .filter_map(|(_, agg)| agg.stat("value", 1.0));
        for v in vus {
            self.sum += v;
            self.ticks += 1;
        }
    }

    fn mean(&self) -> f64 {
        if self.ticks == 0 {
            0.0
        } else {
            self.sum / f64::from(self.ticks)
        }
    }
}

/// Checks Little's law (in flight = throughput x latency): a sentence when the measured and the
/// predicted in-flight disagree.
fn littles_law(measured: f64, predicted: f64) -> Option<String> {
    let gap = (measured - predicted).abs();
    (gap > LITTLE_SLACK && gap > LITTLE_TOLERANCE * measured.max(predicted)).then(|| {
        format!(
            "Little's law does not hold: {measured:.1} requests in flight measured, but throughput x mean latency gives {predicted:.1}; the generator or the measurement is wrong, not the target"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn littles_law_allows_the_gauges_rounding_and_flags_a_real_gap() {
        assert_eq!(littles_law(8.0, 7.6), None);
        assert_eq!(littles_law(0.0, 0.4), None, "a whole-number gauge under 1");
        let v = littles_law(16.0, 9.0).unwrap();
        assert!(v.contains("16.0 requests in flight measured"), "{v}");
        assert!(v.contains("gives 9.0"), "{v}");
    }

    #[test]
    fn levels_print_and_serialise_by_kind() {
        assert_eq!(Level::Concurrency(1).to_string(), "1 VU");
        assert_eq!(Level::Rate(200).to_string(), "200 requests/s");
        let json = serde_json::to_value(Level::Concurrency(8)).unwrap();
        assert_eq!(json, serde_json::json!({"concurrency": 8}));
    }
}
