//! The reporting side of a run, shared by `brunt quick` and `brunt run`: while the engine runs it
//! streams samples to `--out` sinks, redraws the progress line and checks `abortOnFail`
//! thresholds; at the end it builds the summary, writes `--summary-export`, and decides the exit
//! code with k6's numbers (and brunt's own for outputs it could not write).

use crate::budget::ErrorBudgets;
use crate::phases::{PhaseSplit, Phases};
use crate::profile_check::ProfileChecks;
use crate::progress::ProgressLine;
use crate::{
    create_file, write_file, OutSpec, OutputError, Outputs, RunFacts, SampleSink, Summary,
    SummaryOptions,
};
use brunt_engine::{Control, Observer, RunControl, RunEnd, RunOutcome, Tick};
use brunt_metrics::{builtin, Agg, Registry, Thresholds};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// k6's exit codes, where brunt's runs end the same way.
pub mod exit_code {
    pub const OK: i32 = 0;
    pub const THRESHOLDS_FAILED: i32 = 99;
    /// `setup()` ran past `setupTimeout`.
    pub const SETUP_TIMEOUT: i32 = 100;
    pub const INVALID_CONFIG: i32 = 104;
    /// Interrupted from outside (Ctrl-C, SIGTERM).
    pub const EXTERNAL_ABORT: i32 = 105;
    /// Stopped through k6's REST API (`PATCH /v1/status` with `stopped: true`).
    pub const STOPPED_FROM_API: i32 = 103;
    /// `--address` was given and the REST API could not listen there.
    pub const CANNOT_START_API: i32 = 106;
    pub const SCRIPT_EXCEPTION: i32 = 107;
    /// `test.abort()` from a script.
    pub const SCRIPT_ABORTED: i32 = 108;
    /// `exec.test.fail()`: the run went on to its end and was marked as failed.
    pub const MARKED_AS_FAILED: i32 = 110;
    /// The engine itself failed (a worker crashed).
    pub const GENERIC_ENGINE: i32 = 103;
    /// brunt's own: the run passed but an output could not be written (a full disk, a closed
    /// stdout). k6 logs such errors and exits 0, which loses results without failing CI. 74 is
    /// sysexits.h's EX_IOERR, clear of k6's codes.
    pub const OUTPUT_FAILED: i32 = 74;
    /// brunt's own: a coordinated run could not go on as one (an instance lost or was refused
    /// by its coordinator; a coordinator lost an instance under `--on-instance-loss abort`, or
    /// not every instance joined). 75 is sysexits.h's EX_TEMPFAIL, clear of k6's codes.
    pub const COORDINATION_FAILED: i32 = 75;
}

/// What the user asked to see and keep.
pub struct ReportConfig {
    pub thresholds: Thresholds,
    /// `--out` values.
    pub outs: Vec<OutSpec>,
    pub summary_export: Option<PathBuf>,
    pub summary: SummaryOptions,
    /// `-q`: no progress lines.
    pub quiet: bool,
    /// One line per scenario for the summary.
    pub scenarios: Vec<String>,
    /// `--slo-window`: project the error budgets' burn onto a window this long (e.g. 30d).
    pub slo_window: Option<Duration>,
    /// `--profile`'s end-of-run checks (soak's drift, spike's recovery), judged on these windows.
    pub profile_checks: Option<brunt_engine::profile::CheckWindows>,
    /// `--warm-up` or `--cold-cache`: the run's first stretch reported apart (and, for a
    /// warm-up, left out of thresholds and the summary's metrics).
    pub phases: Option<PhaseSplit>,
}

/// State shared between the engine's observer (collector thread) and the end of the run.
struct Live {
    registry: Arc<Registry>,
    thresholds: Arc<Thresholds>,
    outputs: Outputs,
    progress: Option<ProgressLine>,
    scenarios: Vec<String>,
    budgets: ErrorBudgets,
    checks: Option<ProfileChecks>,
    phases: Option<Phases>,
}

pub struct Reporter {
    live: Arc<Mutex<Live>>,
    thresholds: Arc<Thresholds>,
    summary_export: Option<PathBuf>,
    summary: SummaryOptions,
}

/// What was seen beside the metrics (by the monitors, or a coordinator of its instances), for
/// the summary.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Monitored targets' events, one sentence each.
    pub events: Vec<String>,
    /// Sentences saying the load generator was the limit.
    pub generator: Vec<String>,
    /// A coordinated run's instances.
    pub instances: Vec<crate::InstanceFacts>,
}

/// A finished run's summary and what decides its exit code.
pub struct Finished {
    pub summary: Summary,
    /// The run's own verdict with k6's codes: thresholds, interruption, `test.abort()`.
    pub verdict: i32,
    /// Outputs that could not be written, each message naming its flag and file; the run
    /// itself went on.
    pub failed_writes: Vec<String>,
    /// What the outputs want the user to hear that is not a failure (e.g. batches a remote
    /// backend never got, which it counts and drops by design).
    pub notes: Vec<String>,
}

impl Finished {
    /// The process exit code: the verdict, or [`exit_code::OUTPUT_FAILED`] when the run passed
    /// but some output was lost. A failed or interrupted run keeps its own code (already non-zero).
    pub fn exit_code(&self) -> i32 {
        if self.verdict == exit_code::OK && !self.failed_writes.is_empty() {
            exit_code::OUTPUT_FAILED
        } else {
            self.verdict
        }
    }
}

impl Reporter {
    /// Opens every output and creates the `--summary-export` file before the run starts, so a
    /// bad path fails before the first request rather than after the whole run.
    pub fn new(cfg: ReportConfig, registry: Arc<Registry>) -> Result<Reporter, OutputError> {
        if let Some(path) = &cfg.summary_export {
            create_file("--summary-export", path)?;
        }
        let outputs = Outputs::open(&cfg.outs, &cfg.thresholds, cfg.phases)?;
        let thresholds = Arc::new(cfg.thresholds);
        let checks = cfg.profile_checks.map(|w| ProfileChecks::new(w, &registry));
        let progress = (!cfg.quiet).then(ProgressLine::new);
        Ok(Reporter {
            live: Arc::new(Mutex::new(Live {
                registry,
                thresholds: thresholds.clone(),
                outputs,
                progress,
                scenarios: cfg.scenarios,
                budgets: ErrorBudgets::new(&thresholds, cfg.slo_window),
                checks,
                phases: cfg.phases.map(Phases::new),
            })),
            thresholds,
            summary_export: cfg.summary_export,
            summary: cfg.summary,
        })
    }

    /// True when some output wants every sample (the engine must keep them).
    pub fn wants_raw_samples(&self) -> bool {
        lock(&self.live).outputs.wants_raw()
    }

    /// Adds an output that is not an `--out` value (the live dashboard); `name` is used in
    /// messages. Call before [`observer`](Self::observer)'s first tick.
    pub fn add_output(&self, name: &str, sink: Box<dyn SampleSink>) {
        lock(&self.live).outputs.add(name, sink);
    }

    /// The engine's once-a-second observer.
    pub fn observer(&self) -> Observer {
        let live = self.live.clone();
        Box::new(move |tick: &mut Tick| lock(&live).on_tick(tick))
    }

    /// Builds the summary and writes `--summary-export`. The caller prints the summary (or hands
    /// its data to `handleSummary`).
    ///
    /// `definition_order` lists group and check paths in the order the script first ran them
    /// (empty without a script).
    pub fn finish(
        self,
        outcome: &RunOutcome,
        setup_data: Option<serde_json::Value>,
        definition_order: Vec<String>,
        observed: Observed,
    ) -> Finished {
        let mut guard = lock(&self.live);
        let live = &mut *guard;
        if let Some(p) = live.progress.take() {
            p.finish();
        }
        let (mut failed_writes, notes) = live.outputs.finish();
        let (vus_min, vus_max) = vus_range(&outcome.snapshot);
        let facts = RunFacts {
            elapsed: outcome.elapsed,
            vus_min,
            vus_max,
            iterations_complete: outcome.counts.iterations_completed,
            iterations_interrupted: outcome.counts.iterations_interrupted,
            scenarios: live.scenarios.clone(),
            saturation: saturation_note(outcome),
            generator: observed.generator,
            events: observed.events,
            error_budget: live.budgets.readings(outcome.elapsed),
            profile_checks: live
                .checks
                .as_ref()
                .map(ProfileChecks::results)
                .unwrap_or_default(),
            phases: live
                .phases
                .as_ref()
                .map(|p| p.readings(outcome.elapsed))
                .unwrap_or_default(),
            excluded: live
                .phases
                .as_ref()
                .map_or(Duration::ZERO, Phases::excluded),
            setup_data,
            definition_order,
            instances: observed.instances,
            is_stdout_tty: std::io::stdout().is_terminal(),
            is_stderr_tty: std::io::stderr().is_terminal(),
        };
        // With a warm-up, the metrics and thresholds are those of the rest of the run.
        let judged = live
            .phases
            .as_ref()
            .and_then(|p| p.judged(outcome.elapsed))
            .map_or(&outcome.snapshot, |(s, _)| s);
        let summary = Summary::new(
            judged,
            &live.registry,
            &self.thresholds,
            facts,
            self.summary.clone(),
        );
        if let Some(path) = &self.summary_export {
            if let Err(e) = write_file("--summary-export", path, summary.export_json()) {
                failed_writes.push(e.to_string());
            }
        }
        let verdict = exit_code_for(
            &outcome.end,
            summary.thresholds_failed() || summary.profile_checks_failed(),
        );
        Finished {
            summary,
            verdict,
            failed_writes,
            notes,
        }
    }
}

impl Live {
    fn on_tick(&mut self, tick: &mut Tick) -> Control {
        if let Some(p) = &mut self.phases {
            p.observe(tick.elapsed, &tick.interval.series);
        }
        let total: &brunt_metrics::Snapshot = tick.total;
        let (judged, judged_elapsed) = self
            .phases
            .as_ref()
            .and_then(|p| p.judged(tick.elapsed))
            .unwrap_or((total, tick.elapsed));
        let warming_up = self
            .phases
            .as_ref()
            .is_some_and(|p| p.leaves_out(tick.elapsed));
        if !warming_up {
            // An error budget is an SLO threshold's: what thresholds leave out, it does too.
            self.budgets.observe(tick.elapsed, &tick.interval.series);
        }
        if let Some(c) = &mut self.checks {
            c.observe(tick.elapsed, &tick.interval.series);
        }
        if let Some(p) = &mut self.progress {
            p.update(tick);
        }
        for e in self.outputs.tick(
            tick,
            (judged, judged_elapsed),
            &self.registry,
            &self.scenarios,
        ) {
            // Said now, as k6 does, so that a long run's user need not wait for the end.
            let say = || eprintln!("error: {e}; the run goes on without this output");
            match &self.progress {
                Some(p) => p.suspend(say),
                None => say(),
            }
        }
        if tick.is_final {
            return Control::Continue;
        }
        match self.thresholds.abort_reason(judged, judged_elapsed) {
            Some(reason) => {
                // Logged when it happens, as k6 does; the summary follows.
                let say = || brunt_engine::log::error(&reason);
                match &self.progress {
                    Some(p) => p.suspend(say),
                    None => say(),
                }
                Control::Abort(reason)
            }
            None => Control::Continue,
        }
    }
}

/// k6's verdict: `test.abort()` 108 (the script's own verdict comes first, as in k6), an abort
/// by threshold or a failed threshold 99, an interruption 105 (unless a threshold failed, which CI
/// cares about more).
fn exit_code_for(end: &RunEnd, thresholds_failed: bool) -> i32 {
    match end {
        RunEnd::TestAborted(_) => exit_code::SCRIPT_ABORTED,
        RunEnd::Aborted(_) => exit_code::THRESHOLDS_FAILED,
        _ if thresholds_failed => exit_code::THRESHOLDS_FAILED,
        RunEnd::Interrupted => exit_code::EXTERNAL_ABORT,
        RunEnd::StoppedFromApi => exit_code::STOPPED_FROM_API,
        RunEnd::Crashed(_) => exit_code::GENERIC_ENGINE,
        RunEnd::Completed => exit_code::OK,
    }
}

fn vus_range(snapshot: &brunt_metrics::Snapshot) -> (u64, u64) {
    let max = match snapshot.metric(builtin::VUS_MAX) {
        Some(Agg::Gauge { max, .. }) if max.is_finite() => max as u64,
        _ => 0,
    };
    match snapshot.metric(builtin::VUS) {
        Some(Agg::Gauge { min, .. }) if min.is_finite() => (min as u64, max),
        _ => (0, max),
    }
}

/// A sentence saying that, and why, the load generator was the bottleneck of this run, and by
/// how much its lag could have changed the measured figures. None when it did not lag often, or
/// when its lag is small beside what the run measured: a tenth of the median request duration
/// (or of the median iteration, without requests), so that a sleeping script or a slow target
/// does not warn of delays that cannot matter.
pub fn saturation_note(outcome: &RunOutcome) -> Option<String> {
    let s = &outcome.saturation;
    if !s.is_saturated() {
        return None;
    }
    let lag_ms = s.max_event_loop_lag.as_secs_f64() * 1000.0;
    let (name, median) = [builtin::HTTP_REQ_DURATION, builtin::ITERATION_DURATION]
        .into_iter()
        .find_map(|id| {
            let median = outcome.snapshot.metric(id)?.stat("med", 0.0)?;
            let name = match id {
                builtin::HTTP_REQ_DURATION => "request duration",
                _ => "iteration duration",
            };
            Some((name, median))
        })?;
    (lag_ms >= median / 10.0).then(|| {
        format!(
            "the load generator was saturated: its event loop lagged over {} ms in {} of {} second(s), up to {lag_ms:.0} ms, beside a median {name} of {}; measured durations may include up to {lag_ms:.0} ms of generator delay and the achieved rate may be below what the target can take",
            brunt_engine::Saturation::LAG_LIMIT.as_millis(),
            s.lagging_seconds,
            s.observed_seconds,
            crate::humanize::duration(median, None),
        )
    })
}

/// A run control that the first Ctrl-C or SIGTERM stops (the run still writes its summary and
/// outputs, as k6 does); a second one exits at once with k6's code for an external abort. Make it
/// before the script's init context runs, so a signal interrupts that too. The signals are
/// caught from the moment this returns.
pub fn stop_on_signals() -> RunControl {
    let control = RunControl::new();
    let Some((rt, mut signals)) = Signals::watch() else {
        return control;
    };
    let watched = control.clone();
    std::thread::spawn(move || {
        rt.block_on(async move {
            for n in 0.. {
                if !signals.next().await {
                    return;
                }
                if n == 0 && watched.is_stopped() {
                    // The front end stopped the control after the run: the signal belongs to
                    // what follows it (a lingering dashboard).
                    return;
                }
                if n > 0 {
                    eprintln!("\nstopping now");
                    std::process::exit(exit_code::EXTERNAL_ABORT);
                }
                eprintln!("\nstopping: finishing iterations and writing the summary (press Ctrl-C again to quit at once)");
                watched.stop();
            }
        });
    });
    control
}

/// A flag that the first Ctrl-C or SIGTERM from now on sets: what ends k6's `--linger` (a pod
/// being deleted gets SIGTERM). Never set when signals cannot be watched.
pub fn signalled() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    if let Some((rt, mut signals)) = Signals::watch() {
        let set = flag.clone();
        std::thread::spawn(move || {
            rt.block_on(async move {
                if signals.next().await {
                    set.store(true, Ordering::SeqCst);
                }
            })
        });
    }
    flag
}

/// Ctrl-C (SIGINT) and SIGTERM, caught from the moment they are watched.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Registers the handlers now, on a runtime of their own; None when signals cannot be watched.
    fn watch() -> Option<(tokio::runtime::Runtime, Signals)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        #[cfg(unix)]
        let signals = {
            use tokio::signal::unix::{signal, SignalKind};
            let _in_rt = rt.enter();
            Signals {
                int: signal(SignalKind::interrupt()).ok()?,
                term: signal(SignalKind::terminate()).ok()?,
            }
        };
        #[cfg(not(unix))]
        let signals = Signals {};
        Some((rt, signals))
    }

    /// The next signal; false when they can no longer be watched.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        {
            tokio::select! {
                r = self.int.recv() => r.is_some(),
                r = self.term.recv() => r.is_some(),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.is_ok()
        }
    }
}

fn lock(live: &Mutex<Live>) -> std::sync::MutexGuard<'_, Live> {
    live.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An outcome whose generator lagged 30 ms in 5 of 10 seconds, with `metric` samples.
    fn lagging_run(metric: brunt_metrics::MetricId, value_ms: f64) -> RunOutcome {
        let registry = Arc::new(Registry::new());
        let mut agg = brunt_metrics::Aggregator::new(registry, false);
        for _ in 0..100 {
            agg.add(metric, &brunt_metrics::TagSet::empty(), value_ms);
        }
        let mut snapshot = brunt_metrics::Snapshot::default();
        snapshot.merge_series(&agg.take().series);
        RunOutcome {
            snapshot,
            elapsed: Duration::from_secs(10),
            end: RunEnd::Completed,
            saturation: brunt_engine::Saturation {
                max_event_loop_lag: Duration::from_millis(30),
                lagging_seconds: 5,
                observed_seconds: 10,
            },
            teardown_error: None,
            counts: Default::default(),
        }
    }

    #[test]
    fn generator_lag_warns_only_when_it_could_change_the_figures() {
        let fast = saturation_note(&lagging_run(builtin::HTTP_REQ_DURATION, 2.0)).unwrap();
        assert!(fast.contains("in 5 of 10 second(s), up to 30 ms"), "{fast}");
        assert!(fast.contains("median request duration of 2ms"), "{fast}");
        assert_eq!(
            saturation_note(&lagging_run(builtin::HTTP_REQ_DURATION, 800.0)),
            None,
            "30 ms beside 800 ms requests"
        );
        assert_eq!(
            saturation_note(&lagging_run(builtin::ITERATION_DURATION, 1000.0)),
            None,
            "a sleeping script"
        );
    }

    #[test]
    fn exit_codes_follow_k6() {
        assert_eq!(exit_code_for(&RunEnd::Completed, false), 0);
        assert_eq!(exit_code_for(&RunEnd::Completed, true), 99);
        assert_eq!(exit_code_for(&RunEnd::Aborted("p95".into()), true), 99);
        assert_eq!(exit_code_for(&RunEnd::Interrupted, false), 105);
        assert_eq!(exit_code_for(&RunEnd::Interrupted, true), 99);
        assert_eq!(exit_code_for(&RunEnd::StoppedFromApi, false), 103);
        assert_eq!(exit_code_for(&RunEnd::TestAborted("x".into()), false), 108);
        assert_eq!(exit_code_for(&RunEnd::TestAborted("x".into()), true), 108);
    }

    #[test]
    fn a_lost_output_fails_a_run_that_passed_and_keeps_a_failed_runs_code() {
        let finished = |verdict, failed: &[&str]| Finished {
            summary: Summary::new(
                &brunt_metrics::Snapshot::default(),
                &Registry::new(),
                &Thresholds::default(),
                RunFacts::default(),
                SummaryOptions::default(),
            ),
            verdict,
            failed_writes: failed.iter().map(|s| s.to_string()).collect(),
            notes: vec!["a note is not a failure".into()],
        };
        assert_eq!(finished(0, &[]).exit_code(), 0);
        assert_eq!(finished(0, &["x"]).exit_code(), exit_code::OUTPUT_FAILED);
        assert_eq!(finished(99, &["x"]).exit_code(), 99);
        assert_eq!(finished(105, &["x"]).exit_code(), 105);
    }
}
