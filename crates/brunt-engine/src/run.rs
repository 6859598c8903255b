//! Running a plan: the public entry point, its options, the once-a-second observer and the
//! outcome. The work itself happens in `worker` (VUs) and `collector` (metrics).

use crate::execution::Execution;
use crate::plan::Plan;
use crate::vu::{VuError, VuFactory};
use crate::worker::InstanceCounts;
use brunt_metrics::{Aggregator, Interval, Registry, Snapshot};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Stops a run from another thread (Ctrl-C, SIGTERM): running iterations are interrupted (not
/// counted), then `teardown()` runs and the run returns its metrics, as k6 does.
#[derive(Clone, Default)]
pub struct RunControl {
    inner: Arc<ControlInner>,
}

#[derive(Default)]
struct ControlInner {
    stopped: AtomicBool,
    reason: Mutex<Option<RunEnd>>,
    wakers: Mutex<Vec<tokio::sync::mpsc::UnboundedSender<()>>>,
}

impl RunControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends the run early, like Ctrl-C in k6. Idempotent.
    pub fn stop(&self) {
        self.end(RunEnd::Interrupted);
    }

    /// Ends the run early on a request through k6's REST API (`PATCH /v1/status` with
    /// `stopped: true`); k6 exits 103 for it.
    pub fn stop_from_api(&self) {
        self.end(RunEnd::StoppedFromApi);
    }

    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::Acquire)
    }

    /// Records why the run ends (the first reason wins) and wakes the workers.
    pub(crate) fn end(&self, why: RunEnd) {
        {
            let mut r = self.inner.reason.lock().unwrap_or_else(|e| e.into_inner());
            if r.is_none() {
                *r = Some(why);
            }
        }
        self.inner.stopped.store(true, Ordering::Release);
        for w in self
            .inner
            .wakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = w.send(());
        }
    }

    pub(crate) fn reason(&self) -> Option<RunEnd> {
        self.inner
            .reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A receiver that gets a message when the run is told to end.
    pub(crate) fn subscribe(&self) -> tokio::sync::mpsc::UnboundedReceiver<()> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if self.is_stopped() {
            let _ = tx.send(());
        }
        self.inner
            .wakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        rx
    }
}

/// What the observer returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    Continue,
    /// Stop the run now (thresholds' `abortOnFail`), with the reason to report.
    Abort(String),
}

/// Called on the collector thread about once a second, and once more at the very end.
pub type Observer = Box<dyn FnMut(&mut Tick<'_>) -> Control + Send>;

/// Adds samples from outside the VUs (system monitors) to the run's metrics. Called on the
/// collector thread before each tick's observer and before the last one, so what it adds reaches
/// thresholds, outputs and the summary as the VUs' samples do.
pub type Sampler = Box<dyn FnMut(&mut Aggregator) + Send>;

/// How to run.
pub struct RunOptions {
    /// Worker threads; 0 means one per available core.
    pub workers: usize,
    /// Keep every sample for per-sample outputs (`--out json`); they arrive in `Tick::interval`.
    pub keep_raw: bool,
    pub control: RunControl,
    pub observer: Option<Observer>,
    /// Run the VUs' `setup()` / `teardown()` hooks (k6's `--no-setup` / `--no-teardown` clear them).
    pub setup: bool,
    pub teardown: bool,
    pub samplers: Vec<Sampler>,
    /// Where the run stands, and its start gate: [`Execution::paused`] initialises the VUs and
    /// waits to be un-paused before `setup()` (k6's `--paused`).
    pub execution: Execution,
    /// Called after the scenarios end and before `teardown()` runs: a coordinated run's
    /// instance that runs `teardown()` waits there until every other instance has ended.
    pub before_teardown: Option<Box<dyn FnOnce() + Send>>,
    /// k6's `--linger`: keep the run open after the test, teardown included.
    pub linger: Option<Linger>,
}

/// k6's `--linger`: once the test has ended (its teardown run), the run stays open, the REST
/// API's `POST /v1/setup` and `POST /v1/teardown` run on the hook VU with their samples counted,
/// until `done` says so (Ctrl-C); then the run returns, and the summary and outputs follow, as
/// in k6 (whose end-of-test summary comes after the linger). A run interrupted by Ctrl-C does not
/// linger.
pub struct Linger {
    /// Called when the lingering starts (k6 prints a line).
    pub on_start: Box<dyn FnOnce() + Send>,
    /// Polled; true ends the lingering.
    pub done: Box<dyn Fn() -> bool + Send>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: 0,
            keep_raw: false,
            control: RunControl::new(),
            observer: None,
            setup: true,
            teardown: true,
            samplers: Vec::new(),
            execution: Execution::default(),
            before_teardown: None,
            linger: None,
        }
    }
}

/// One observation of a running test.
pub struct Tick<'a> {
    /// Since the test started (after setup).
    pub elapsed: Duration,
    /// What the workers reported since the last tick (take `raw` to stream it out).
    pub interval: Interval,
    /// Everything so far, including `vus` and `vus_max`.
    pub total: &'a Snapshot,
    pub progress: Progress,
    /// True for the last call, after the run has ended.
    pub is_final: bool,
}

/// Where the run stands (serializable: a coordinated run's instances send it to the coordinator).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// VUs running an iteration or looping (k6's `vus`).
    pub active_vus: u64,
    /// VUs initialised (k6's `vus_max`).
    pub initialized_vus: u64,
    /// The most VUs the plan can use.
    pub max_vus: u64,
    /// Completed iterations, all scenarios.
    pub iterations: u64,
    pub scenarios: Vec<ScenarioProgress>,
}

/// One scenario's progress line.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ScenarioProgress {
    pub name: String,
    /// k6's description, e.g. `50 looping VUs for 10s (gracefulStop: 30s)`.
    pub description: String,
    /// 0..=1: elapsed share of the duration, or done share of the iterations.
    pub fraction: f64,
    pub iterations: u64,
    pub dropped_iterations: u64,
    pub active_vus: u64,
    pub done: bool,
    /// When it starts (`startTime`), how long it is planned to run without its graceful stop
    /// (an iteration-based executor's `maxDuration`), and its graceful stop.
    pub start: Duration,
    pub duration: Duration,
    pub graceful_stop: Duration,
    /// The most VUs it can use on this instance.
    pub max_vus: u64,
    /// An iteration-based executor's iterations on this instance.
    pub planned_iterations: Option<u64>,
    /// An arrival-rate executor's target rate now, in iterations per second.
    pub rate: Option<f64>,
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Every scenario ran to its end.
    Completed,
    /// [`RunControl::stop`] (Ctrl-C, SIGTERM).
    Interrupted,
    /// [`RunControl::stop_from_api`] (k6's REST API).
    StoppedFromApi,
    /// The observer returned [`Control::Abort`] (thresholds).
    Aborted(String),
    /// A VU returned [`IterationOutcome::AbortTest`](crate::IterationOutcome::AbortTest), or a
    /// VU could not be initialised during the run.
    TestAborted(String),
    /// A worker thread panicked (a bug); the metrics are partial.
    Crashed(String),
}

/// Signs that the load generator itself was the bottleneck.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Saturation {
    /// The worst delay seen by a worker's 10 ms ticker (event-loop lag).
    pub max_event_loop_lag: Duration,
    /// Seconds of the test in which some worker's event loop lagged more than
    /// [`Saturation::LAG_LIMIT`] (a second counts once, however many workers lagged in it).
    pub lagging_seconds: u64,
    /// Seconds of the test observed.
    pub observed_seconds: u64,
}

impl Saturation {
    pub const LAG_LIMIT: Duration = Duration::from_millis(10);

    /// A single lag this long is worth a warning by itself.
    pub const SEVERE_LAG: Duration = Duration::from_millis(100);

    /// Counts one second of the test whose worst lag, over every worker, was `lag`.
    pub fn note_second(&mut self, lag: Duration) {
        self.observed_seconds += 1;
        if lag > Self::LAG_LIMIT {
            self.lagging_seconds += 1;
        }
        self.max_event_loop_lag = self.max_event_loop_lag.max(lag);
    }

    /// Worth a warning in the summary: the event loops lagged in at least a tenth of the
    /// observed seconds, and either more than once or severely, so a lone short hiccup (start-up,
    /// a page fault) does not count.
    pub fn is_saturated(&self) -> bool {
        self.lagging_seconds > 0
            && self.lagging_seconds * 10 >= self.observed_seconds
            && (self.lagging_seconds >= 2 || self.max_event_loop_lag >= Self::SEVERE_LAG)
    }
}

/// What a finished run hands back.
#[derive(Debug)]
pub struct RunOutcome {
    /// All metrics of the run (setup and teardown included).
    pub snapshot: Snapshot,
    /// From test start (after setup) to the end of the scenarios.
    pub elapsed: Duration,
    pub end: RunEnd,
    pub saturation: Saturation,
    /// `teardown()` failed or timed out (k6 exits 101 for a timeout).
    pub teardown_error: Option<HookFailure>,
    /// Iterations completed and interrupted (k6's "0 complete and 1 interrupted iterations").
    pub counts: InstanceCounts,
}

/// How a `setup()` or `teardown()` hook went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookFailure {
    #[error("{0}")]
    Failed(VuError),
    /// It ran past `setupTimeout` / `teardownTimeout`.
    #[error("timed out after {}", crate::duration::format_duration(*.0))]
    TimedOut(Duration),
}

/// Why a run could not happen.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not initialise VU: {0}")]
    VuInit(VuError),
    #[error("setup() failed: {0}")]
    Setup(VuError),
    /// `setup()` ran past `setupTimeout` (k6 exits 100).
    #[error("setup() timed out after {}", crate::duration::format_duration(*.0))]
    SetupTimeout(Duration),
    #[error("worker thread failed: {0}")]
    Worker(String),
}

/// Runs `plan` with VUs from `factory`: initialises the planned VUs on the workers, runs
/// `setup()`, the scenarios, then `teardown()`, and returns the metrics.
pub fn run<F: VuFactory>(
    plan: &Plan,
    factory: Arc<F>,
    registry: Arc<Registry>,
    opts: RunOptions,
) -> Result<RunOutcome, RunError> {
    crate::collector::run(plan, factory, registry, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_ignores_a_lone_short_hiccup() {
        let s = |lagging, observed, max_ms| Saturation {
            max_event_loop_lag: Duration::from_millis(max_ms),
            lagging_seconds: lagging,
            observed_seconds: observed,
        };
        assert!(!s(0, 10, 5).is_saturated());
        assert!(!s(1, 6, 14).is_saturated(), "one short hiccup");
        assert!(s(1, 6, 300).is_saturated(), "one severe stall");
        assert!(s(3, 20, 15).is_saturated());
        assert!(!s(2, 100, 15).is_saturated(), "rare lags in a long run");
    }
}
