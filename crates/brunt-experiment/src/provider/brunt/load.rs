//! `load`: a `brunt quick` attack or a k6 script run in the background on the engine (its own
//! threads), whose thresholds (`--threshold`, or the script's `options.thresholds`) are the
//! hypothesis *during* the fault: they are judged separately on
//! the samples of each fault phase (before, during, after), taken from the engine's
//! once-a-second intervals, so a phase boundary falls on a whole second of the load. Its
//! output also holds those seconds as the report page's points (`timeline`), the data of the
//! game-day report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use brunt_engine::{Control, RunControl, RunEnd, RunOptions, RunOutcome, Tick};
use brunt_js::RunArgs;
use brunt_metrics::{Agg, Registry, Snapshot, Thresholds};
use brunt_quick::QuickArgs;
use brunt_web::ReportData;
use clap::Parser;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::arguments;
use crate::fault_phase::FaultPhase;
use crate::live_load::LiveLoad;
use crate::provider::ActivityFailed;
use crate::runner::Context;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadArgs {
    /// `brunt quick`'s arguments: the URL and its flags.
    quick: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptArgs {
    /// The k6 script, relative to the experiment file.
    script: PathBuf,
    /// `__ENV` values, as `brunt run -e KEY=VALUE` sets them.
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Replaces the script's duration, as `--duration` does, e.g. `30s`.
    #[serde(default)]
    duration: Option<String>,
    /// Replaces the script's VUs, as `--vus` does.
    #[serde(default)]
    vus: Option<i64>,
}

/// `brunt quick`'s flags, parsed as the CLI parses them.
#[derive(Parser)]
#[command(name = "quick")]
struct QuickCommand {
    #[command(flatten)]
    args: QuickArgs,
}

/// A parsed load (boxed: the flags are large).
#[derive(Clone, Debug)]
pub enum Load {
    /// `quick`: `brunt quick`'s flags.
    Quick(Box<QuickArgs>),
    /// `script`: `brunt run`'s, for a k6 script.
    Script(Box<RunArgs>),
}

/// A load checked and ready: its thresholds and the run itself, for a thread of its own.
struct Ready {
    thresholds: Thresholds,
    run: Box<dyn FnOnce(RunOptions) -> Result<RunOutcome, String> + Send>,
}

/// What a phase of the load saw.
#[derive(Default)]
struct PhaseSamples {
    snapshot: Snapshot,
    seconds: f64,
}

impl Load {
    pub(super) fn parse(func: &str, args: &Value, base: &Path) -> Result<Self, String> {
        if func == "script" {
            return Self::parse_script(args, base);
        }
        let a: LoadArgs = arguments(args)?;
        let parsed =
            QuickCommand::try_parse_from(std::iter::once("quick".to_string()).chain(a.quick))
                .map_err(|e| {
                    let text = e.render().to_string();
                    format!(
                        "arguments.quick: {}",
                        text.lines()
                            .next()
                            .unwrap_or_default()
                            .trim_start_matches("error: ")
                    )
                })?
                .args;
        if !parsed.report.outs.is_empty() || parsed.report.summary_export.is_some() {
            return Err(
                "arguments.quick: --out and --summary-export are not written for a load in an experiment; the journal holds its figures"
                    .into(),
            );
        }
        Ok(Load::Quick(Box::new(parsed)))
    }

    fn parse_script(args: &Value, base: &Path) -> Result<Self, String> {
        let a: ScriptArgs = arguments(args)?;
        let script = base.join(&a.script);
        if !script.is_file() {
            return Err(format!(
                "arguments.script: {} is not a file (a script is relative to the experiment file)",
                script.display()
            ));
        }
        if let Some(d) = &a.duration {
            brunt_engine::parse_duration(d).map_err(|e| format!("arguments.duration: {e}"))?;
        }
        if a.vus.is_some_and(|v| v < 1) {
            return Err("arguments.vus: at least 1".into());
        }
        if let Some(k) = a.env.keys().find(|k| k.is_empty() || k.contains('=')) {
            return Err(format!("arguments.env: {k:?} is not a variable name"));
        }
        Ok(Load::Script(Box::new(RunArgs {
            script,
            env: a.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            duration: a.duration,
            vus: a.vus,
            quiet: true,
            no_summary: true,
            ..RunArgs::default()
        })))
    }

    /// Runs a script's init context and checks its options, as the experiment is validated;
    /// a quick load's target is checked when it starts (the experiment may start it).
    pub(super) fn check(&self) -> Result<(), String> {
        match self {
            Load::Quick(_) => Ok(()),
            Load::Script(args) => brunt_js::prepare(args, Arc::default(), RunControl::new())
                .map(drop)
                .map_err(|e| format!("arguments.script: {}: {e}", args.script.display())),
        }
    }

    /// Prepares the load on the experiment's `registry`; `control` stops the script's init
    /// context and the run.
    fn ready(&self, registry: &Arc<Registry>, control: &RunControl) -> Result<Ready, String> {
        match self {
            Load::Quick(args) => {
                let attack =
                    brunt_quick::prepare(args, registry.clone()).map_err(|e| format!("{e:#}"))?;
                Ok(Ready {
                    thresholds: attack.thresholds.clone(),
                    run: Box::new(move |options| attack.run(options).map_err(|e| format!("{e:#}"))),
                })
            }
            Load::Script(args) => {
                let what = args.script.display().to_string();
                let prepared = brunt_js::prepare(args, registry.clone(), control.clone())
                    .map_err(|e| format!("{what}: {e}"))?;
                let factory = prepared.factory();
                Ok(Ready {
                    thresholds: prepared.thresholds.clone(),
                    run: Box::new(move |options| {
                        brunt_engine::run(
                            &prepared.plan,
                            factory,
                            prepared.registry.clone(),
                            options,
                        )
                        .map_err(|e| format!("{what}: {e}"))
                    }),
                })
            }
        }
    }

    pub(super) async fn run(&self, ctx: &Context) -> Result<Value, ActivityFailed> {
        // The experiment's registry, which holds its monitors' metrics.
        let registry = ctx.monitors.registry().clone();
        let control = RunControl::new();
        let Ready { thresholds, run } = self.ready(&registry, &control).map_err(ActivityFailed)?;
        let phases: Arc<Mutex<BTreeMap<FaultPhase, PhaseSamples>>> = Arc::default();
        // Its seconds as the report page charts them, for the game-day report.
        let timeline = Arc::new(Mutex::new(ReportData::default()));
        ctx.live.start(registry.clone());
        let monitors = ctx.monitors.feed();
        monitors.skip();
        let observer = {
            let (phases, clock) = (phases.clone(), ctx.faults.clone());
            let (timeline, live) = (timeline.clone(), ctx.live.clone());
            let charted = registry.clone();
            let mut last = Duration::ZERO;
            Box::new(move |tick: &mut Tick<'_>| {
                // The monitors' last second is part of the load's: charted and judged with it.
                monitors.add_to(&mut tick.interval.series);
                timeline
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_interval(tick.elapsed, &tick.interval.series, &charted);
                live.push(&tick.interval.series);
                let mut phases = phases.lock().unwrap_or_else(PoisonError::into_inner);
                let p = phases.entry(clock.phase()).or_default();
                p.snapshot.merge_series(&tick.interval.series);
                p.seconds += tick.elapsed.saturating_sub(last).as_secs_f64();
                last = tick.elapsed;
                Control::Continue
            })
        };
        let options = RunOptions {
            control: control.clone(),
            observer: Some(observer),
            ..RunOptions::default()
        };
        let (done, finished) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("brunt-experiment-load".into())
            .spawn(move || {
                let _ = done.send(run(options));
            })
            .map_err(|e| ActivityFailed(format!("cannot start the load: {e}")))?;
        // An interrupted experiment drops this future: the load stops with it.
        let _stop = StopOnDrop(control, ctx.live.clone());
        let outcome = finished
            .await
            .map_err(|_| ActivityFailed("the load ended without a result".into()))?
            .map_err(ActivityFailed)?;
        match outcome.end {
            RunEnd::Crashed(e) => return Err(ActivityFailed(format!("the load crashed: {e}"))),
            RunEnd::TestAborted(why) => {
                return Err(ActivityFailed(format!("the load was aborted: {why}")))
            }
            RunEnd::Completed
            | RunEnd::Interrupted
            | RunEnd::StoppedFromApi
            | RunEnd::Aborted(_) => {}
        }

        let phases = phases.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Map::new();
        let mut crossed = Vec::new();
        for (phase, samples) in phases.iter() {
            let elapsed = Duration::from_secs_f64(samples.seconds);
            let verdicts: Map<String, Value> = thresholds
                .evaluate(&samples.snapshot, elapsed)
                .into_iter()
                .map(|r| {
                    if !r.ok {
                        crossed.push(format!("{} {} ({phase:?})", r.metric_name, r.source));
                    }
                    (
                        format!("{}: {}", r.metric_name, r.source),
                        Value::Bool(r.ok),
                    )
                })
                .collect();
            let mut figures = figures(&registry, &samples.snapshot, samples.seconds);
            figures.insert("thresholds".into(), Value::Object(verdicts));
            out.insert(
                serde_json::to_value(phase)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                Value::Object(figures),
            );
        }
        if !crossed.is_empty() {
            ctx.faults.hypothesis_failed();
        }
        let timeline = std::mem::take(
            &mut timeline
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .points,
        );
        Ok(
            json!({"phases": out, "thresholds_ok": crossed.is_empty(), "crossed": crossed,
                  "timeline": timeline}),
        )
    }
}

/// A phase's figures: its seconds, requests, requests per second, failure rate and latency.
fn figures(registry: &Registry, snapshot: &Snapshot, seconds: f64) -> Map<String, Value> {
    let metric = |name: &str| registry.get(name).and_then(|id| snapshot.metric(id));
    let requests = match metric("http_reqs") {
        Some(Agg::Counter { sum }) => sum,
        _ => 0.0,
    };
    let failed = match metric("http_req_failed") {
        Some(Agg::Rate { passes, total }) if total > 0 => passes as f64 / total as f64,
        _ => 0.0,
    };
    let mut out = Map::new();
    out.insert("seconds".into(), json!(seconds));
    out.insert("requests".into(), json!(requests));
    out.insert(
        "rps".into(),
        json!(if seconds > 0.0 {
            requests / seconds
        } else {
            0.0
        }),
    );
    out.insert("http_req_failed".into(), json!(failed));
    if let Some(Agg::Trend(t)) = metric("http_req_duration") {
        out.insert("http_req_duration_p95".into(), json!(t.percentile(95.0)));
        out.insert("http_req_duration_max".into(), json!(t.percentile(100.0)));
    }
    out
}

/// Stops the load's run, and metric probes' view of it, when dropped, however the activity
/// ends.
struct StopOnDrop(RunControl, Arc<LiveLoad>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
        self.1.stop();
    }
}
