//! One step of the search: a constant-arrival-rate plan on the engine, and its figures read from
//! the same merged aggregates the summary reads, counting only the ticks after the warm-up.

use crate::args::Settings;
use anyhow::{Context, Result};
use brunt_engine::{Control, Plan, RunControl, RunOptions};
use brunt_metrics::{builtin, Registry, Snapshot, TagSet, ThresholdResult, Thresholds};
use brunt_monitor::{Limits, Monitors};
use brunt_quick::{Load, QuickFactory};
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
}

/// What one step measured and how it was judged; a row of the table and of the JSON result.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub phase: Phase,
    /// Requests per second asked.
    pub rate: u64,
    /// Requests that succeeded (not counted in http_req_failed) per second of the measured part
    /// (its end includes the drain): cut and failed requests are not throughput.
    pub achieved: f64,
    pub requests: u64,
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

/// Runs steps against one request, sharing the registry, monitors and Ctrl-C of the search.
pub(crate) struct Runner<'a> {
    pub factory: Arc<QuickFactory>,
    pub registry: Arc<Registry>,
    pub monitors: &'a Monitors,
    pub control: RunControl,
    pub settings: &'a Settings,
    pub slos: &'a Thresholds,
}

impl Runner<'_> {
    /// Sends `rate` requests/s for the warm-up and the step, and measures the step.
    pub(crate) fn run(&self, phase: Phase, rate: u64) -> Result<Step> {
        let s = self.settings;
        let load = Load {
            // VUs cost next to nothing (QuickFactory is CHEAP_INIT): more start as needed.
            vus: (rate / 10).clamp(1, s.max_vus),
            rate: Some((rate, Duration::from_secs(1))),
            max_vus: s.max_vus,
            iterations: None,
            duration: Some(brunt_engine::format_duration(s.warmup + s.step)),
            graceful_stop: brunt_engine::format_duration(s.graceful_stop),
            execution_segment: None,
        };
        let plan = Plan::from_options(&load.options("--max-vus", "rate", "iterations")?)
            .context("invalid step plan")?;
        let measured = Arc::new(Mutex::new(Snapshot::default()));
        let sink = measured.clone();
        let from = s.warmup + Duration::from_millis(500);
        let opts = RunOptions {
            control: self.control.clone(),
            samplers: vec![self.monitors.sampler()],
            observer: Some(Box::new(move |tick| {
                // A tick holds the second before it: count it when most of it is past the warm-up.
                if tick.is_final || tick.elapsed >= from {
                    let mut m = sink.lock().unwrap_or_else(|e| e.into_inner());
                    m.merge_series(&tick.interval.series);
                }
                Control::Continue
            })),
            ..RunOptions::default()
        };
        let outcome = brunt_engine::run(&plan, self.factory.clone(), self.registry.clone(), opts)
            .with_context(|| format!("the step at {rate} requests/s could not run"))?;
        let snapshot = std::mem::take(&mut *measured.lock().unwrap_or_else(|e| e.into_inner()));
        let seconds = outcome
            .elapsed
            .saturating_sub(s.warmup)
            .as_secs_f64()
            .max(1e-3);
        let lag = brunt_output::saturation_note(&outcome);
        Ok(self.measure(phase, rate, &snapshot, seconds, lag))
    }

    fn measure(
        &self,
        phase: Phase,
        rate: u64,
        snap: &Snapshot,
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
        Step {
            phase,
            rate,
            achieved: requests as f64 * (1.0 - error_rate) / seconds,
            requests,
            p50_ms: stat(builtin::HTTP_REQ_DURATION, "p(50)"),
            p95_ms: stat(builtin::HTTP_REQ_DURATION, "p(95)"),
            p99_ms: stat(builtin::HTTP_REQ_DURATION, "p(99)"),
            knee_ms: stat(builtin::HTTP_REQ_DURATION, &knee),
            scheduled_p99_ms: stat(builtin::HTTP_REQ_SCHEDULED_DURATION, "p(99)"),
            error_rate,
            dropped_iterations: stat(builtin::DROPPED_ITERATIONS, "count") as u64,
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
