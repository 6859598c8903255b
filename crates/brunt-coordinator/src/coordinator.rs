//! The coordinator's side: who has joined, the common start, the loss of instances, and the
//! merged seconds handed to the run's own observer (the reporter of `brunt run`: thresholds with
//! `abortOnFail`, progress, `--out` outputs) as if one process had run the whole test.

use crate::merge::{self, Seconds};
use crate::proto::{InstanceEnd, Joined, Ready};
use crate::segments::Segments;
use brunt_engine::{
    Control, HookFailure, InstanceCounts, Observer, Progress, RunControl, RunEnd, RunOutcome,
    Saturation, Tick, VuError,
};
use brunt_metrics::{builtin, Interval, Registry, SeriesMap, Snapshot};
use brunt_output::InstanceFacts;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long after the last instance is ready the test starts: enough for the answer to reach
/// every instance, which counts the delay from when it receives it.
const START_DELAY: Duration = Duration::from_millis(500);
/// How often the coordinator looks at the run.
const POLL: Duration = Duration::from_millis(50);

/// What to do when an instance stops reporting (`--on-instance-loss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnLoss {
    /// Finish with the other instances, keeping everything the lost one sent.
    #[default]
    Continue,
    /// Stop every instance and fail the run.
    Abort,
}

impl std::str::FromStr for OnLoss {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "continue" => Ok(OnLoss::Continue),
            "abort" => Ok(OnLoss::Abort),
            _ => Err(format!("'{s}': use continue or abort")),
        }
    }
}

/// How the coordinator runs.
pub struct Config {
    pub segments: Segments,
    /// The token instances must present.
    pub token: String,
    /// The archive (script, modules, options) that `brunt agent` downloads.
    pub archive: Vec<u8>,
    /// SHA-256 of the main script, and its name, to check `brunt run --coordinator`'s script.
    pub script_hash: String,
    pub script_name: String,
    /// Whether `setup()` and `teardown()` run (each once, on instance 0).
    pub setup: bool,
    pub teardown: bool,
    pub on_loss: OnLoss,
    /// How long to wait for every instance to join and be ready.
    pub join_timeout: Duration,
    /// An instance that sends nothing for this long after the start is lost.
    pub instance_timeout: Duration,
}

/// One instance, once it has joined.
pub(crate) struct Slot {
    pub name: String,
    pub ready: bool,
    last_report: Option<Instant>,
    /// The latest second it has reported.
    reported_up_to: u64,
    progress: Progress,
    end: Option<InstanceEnd>,
    elapsed: Duration,
    lost: Option<String>,
    requests: f64,
    errors: u64,
    iterations: f64,
    max_delay: Duration,
}

impl Slot {
    fn running(&self) -> bool {
        self.end.is_none() && self.lost.is_none()
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub slots: Vec<Option<Slot>>,
    pub setup_data: Option<String>,
    /// An instance cannot run, and why.
    pub failed: Option<String>,
    pub start_at: Option<Instant>,
    /// Why every instance must stop now; also refuses a start not yet given.
    pub abort: Option<String>,
    seconds: Seconds,
    /// The last reports' remainders (after each instance's last full second).
    last: Snapshot,
}

pub(crate) struct Shared {
    pub cfg: Config,
    pub registry: Arc<Registry>,
    state: Mutex<State>,
}

impl Shared {
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why a join is refused.
pub(crate) enum JoinRefusal {
    BadRequest(String),
    Conflict(String),
}

impl State {
    pub(crate) fn join(
        &mut self,
        cfg: &Config,
        index: Option<usize>,
        name: String,
        script_hash: Option<&str>,
    ) -> Result<Joined, JoinRefusal> {
        let n = cfg.segments.segments.len();
        if let Some(h) = script_hash.filter(|h| *h != cfg.script_hash) {
            return Err(JoinRefusal::Conflict(format!(
                "this instance's script (sha256 {h}) is not the script the coordinator runs ('{}', sha256 {}): give it the same script, or use `brunt agent`, which downloads the coordinator's",
                cfg.script_name, cfg.script_hash
            )));
        }
        if self.start_at.is_some() || self.abort.is_some() {
            return Err(JoinRefusal::Conflict(
                "the coordinated run has already started: no instance can join it now".into(),
            ));
        }
        if self.slots.is_empty() {
            self.slots = (0..n).map(|_| None).collect();
        }
        let index = match index {
            Some(i) if i >= n => {
                return Err(JoinRefusal::BadRequest(format!(
                    "instance index {i} is out of range: the coordinator runs {n} instance(s), indices 0 to {}",
                    n - 1
                )))
            }
            Some(i) => {
                if let Some(s) = &self.slots[i] {
                    return Err(JoinRefusal::Conflict(format!(
                        "instance index {i} has already joined (as {}): each instance needs its own --instance-index",
                        s.name
                    )));
                }
                i
            }
            None => self.slots.iter().position(Option::is_none).ok_or_else(|| {
                JoinRefusal::Conflict(format!("all {n} instances have already joined"))
            })?,
        };
        self.slots[index] = Some(Slot {
            name,
            ready: false,
            last_report: None,
            reported_up_to: 0,
            progress: Progress::default(),
            end: None,
            elapsed: Duration::ZERO,
            lost: None,
            requests: 0.0,
            errors: 0,
            iterations: 0.0,
            max_delay: Duration::ZERO,
        });
        Ok(Joined {
            index,
            instances: n,
            segment: cfg.segments.segments[index].clone(),
            sequence: cfg.segments.sequence.clone(),
            setup: index == 0 && cfg.setup,
            teardown: index == 0 && cfg.teardown,
        })
    }

    pub(crate) fn slot(&mut self, index: usize) -> Option<&mut Slot> {
        self.slots.get_mut(index).and_then(Option::as_mut)
    }

    pub(crate) fn ready(&mut self, index: usize, ready: Ready) -> bool {
        let Some(slot) = self.slot(index) else {
            return false;
        };
        slot.ready = true;
        if ready.setup_data.is_some() {
            self.setup_data = ready.setup_data;
        }
        if let Some(e) = ready.failed {
            self.failed.get_or_insert(e);
        }
        true
    }

    /// Adds one report of instance `index`; false for an index that never joined.
    pub(crate) fn report(
        &mut self,
        index: usize,
        elapsed: Duration,
        series: SeriesMap,
        progress: Progress,
        end: Option<InstanceEnd>,
    ) -> bool {
        let now = Instant::now();
        let Some(slot) = self.slots.get_mut(index).and_then(Option::as_mut) else {
            return false;
        };
        let part = Snapshot { series };
        let stat = |id: brunt_metrics::MetricId, name: &str| {
            part.metric(id).and_then(|a| a.stat(name, 0.0))
        };
        slot.requests += stat(builtin::HTTP_REQS, "count").unwrap_or(0.0);
        slot.errors += stat(builtin::HTTP_REQ_FAILED, "passes").unwrap_or(0.0) as u64;
        slot.iterations += stat(builtin::ITERATIONS, "count").unwrap_or(0.0);
        slot.last_report = Some(now);
        slot.progress = progress;
        slot.elapsed = elapsed;
        if let Some(end) = end {
            // `test.abort()` (or a crash) on one instance ends the whole test, as in k6.
            if let Some(why) = &end.aborted {
                self.abort
                    .get_or_insert_with(|| format!("instance {index}: {why}"));
            }
            slot.end = Some(end);
            self.last.merge_instance(&part.series);
            return true;
        }
        let second = (elapsed.as_secs_f64().round() as u64).max(1);
        slot.reported_up_to = second;
        let delay = self.seconds.add(second, &part.series, now);
        slot.max_delay = slot.max_delay.max(delay);
        true
    }

    /// True when every instance but `index` has ended or been lost: `teardown()` may run.
    /// Asking counts as a sign of life: the instance waits there without reporting.
    pub(crate) fn others_done(&mut self, index: usize) -> bool {
        if let Some(slot) = self.slot(index) {
            slot.last_report = Some(Instant::now());
        }
        self.slots
            .iter()
            .enumerate()
            .all(|(i, s)| i == index || s.as_ref().is_none_or(|s| !s.running()))
    }
}

/// Why a coordinated run could not run.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("cannot listen on {address}: {error}")]
    Listen {
        address: String,
        error: std::io::Error,
    },
    #[error("{0}")]
    Join(String),
    /// An instance cannot run: `setup()` failed, or the script did not load.
    #[error("the run cannot start: {0}")]
    InstanceFailed(String),
    #[error("interrupted before the instances started")]
    Interrupted,
}

/// A coordinated run that ended: its outcome as one run's, with each instance's part.
pub struct Coordinated {
    pub outcome: RunOutcome,
    pub instances: Vec<InstanceFacts>,
    pub setup_data: Option<String>,
    /// An instance was lost and `--on-instance-loss abort` stopped the run.
    pub lost_abort: bool,
    /// An instance's script called `exec.test.fail()`.
    pub marked_failed: bool,
}

/// A coordinator serving instances on a thread of its own.
pub struct Coordinator {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl Coordinator {
    /// Listens on `address` (`host:port`) and serves instances from now on; the run is
    /// driven by [`Coordinator::run`].
    pub fn start(
        address: &str,
        cfg: Config,
        registry: Arc<Registry>,
    ) -> Result<Coordinator, CoordinatorError> {
        let shared = Arc::new(Shared {
            cfg,
            registry,
            state: Mutex::new(State::default()),
        });
        let addr = crate::server::serve(address, shared.clone()).map_err(|error| {
            CoordinatorError::Listen {
                address: address.to_string(),
                error,
            }
        })?;
        Ok(Coordinator { shared, addr })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for every instance to join and be ready, starts them together, hands each merged
    /// second to `observer` (which may abort the whole run), and returns when every instance
    /// has ended or been lost. `control` stops the run (Ctrl-C): the instances are told to stop.
    pub fn run(
        &self,
        mut observer: Observer,
        control: &RunControl,
    ) -> Result<Coordinated, CoordinatorError> {
        self.wait_until_ready(control)?;
        let cfg = &self.shared.cfg;
        let start_at = Instant::now() + START_DELAY;
        self.shared.state().start_at = Some(start_at);
        let mut total = Snapshot::default();
        let mut end: Option<RunEnd> = None;
        let mut lost_abort = false;
        let mut last_elapsed = Duration::ZERO;
        loop {
            std::thread::sleep(POLL);
            let now = Instant::now();
            let mut guard = self.shared.state();
            let st = &mut *guard;
            if control.is_stopped() && st.abort.is_none() {
                st.abort = Some("the coordinator was interrupted".into());
                end.get_or_insert(RunEnd::Interrupted);
            }
            for (i, slot) in st.slots.iter_mut().enumerate() {
                let Some(slot) = slot.as_mut().filter(|s| s.running()) else {
                    continue;
                };
                let heard = slot.last_report.unwrap_or(start_at).max(start_at);
                let silent = now.saturating_duration_since(heard);
                if now > start_at && silent > cfg.instance_timeout {
                    let why = format!(
                        "instance {i} ({}) was lost: no report for {:.0}s, {:.0}s into the test",
                        slot.name,
                        silent.as_secs_f64(),
                        now.saturating_duration_since(start_at).as_secs_f64()
                    );
                    brunt_engine::log::error(&why);
                    slot.lost = Some(format!(
                        "no report for {:.0}s, {:.0}s into the test",
                        silent.as_secs_f64(),
                        now.saturating_duration_since(start_at).as_secs_f64()
                    ));
                    if cfg.on_loss == OnLoss::Abort && !lost_abort {
                        lost_abort = true;
                        st.abort.get_or_insert(format!(
                            "{why}; --on-instance-loss abort stops the run"
                        ));
                        end.get_or_insert(RunEnd::Interrupted);
                    }
                }
            }
            let done = st.slots.iter().flatten().all(|s| !s.running());
            loop {
                let up_to: Vec<u64> = st
                    .slots
                    .iter()
                    .flatten()
                    .filter(|s| s.running())
                    .map(|s| s.reported_up_to)
                    .collect();
                let Some((second, series)) = st.seconds.pop_ready(up_to.into_iter(), now, done)
                else {
                    break;
                };
                let progress =
                    merge::progress(st.slots.iter().flatten().map(|s| s.progress.clone()));
                total.merge_series(&series);
                last_elapsed = Duration::from_secs(second);
                let mut tick = Tick {
                    elapsed: last_elapsed,
                    interval: Interval {
                        series,
                        raw: Vec::new(),
                    },
                    total: &total,
                    progress,
                    is_final: false,
                };
                if let Control::Abort(reason) = observer(&mut tick) {
                    if st.abort.is_none() {
                        st.abort = Some(reason.clone());
                        end.get_or_insert(RunEnd::Aborted(reason));
                    }
                }
            }
            if !done {
                continue;
            }
            let last = std::mem::take(&mut st.last).series;
            total.merge_series(&last);
            let elapsed = st
                .slots
                .iter()
                .flatten()
                .map(|s| s.elapsed)
                .max()
                .unwrap_or_default()
                .max(last_elapsed);
            let progress = merge::progress(st.slots.iter().flatten().map(|s| s.progress.clone()));
            let mut tick = Tick {
                elapsed,
                interval: Interval {
                    series: last,
                    raw: Vec::new(),
                },
                total: &total,
                progress,
                is_final: true,
            };
            let _ = observer(&mut tick);
            return Ok(self.outcome(st, total, elapsed, end, lost_abort));
        }
    }

    /// Phase one: joins and readiness, `setup()` on instance 0, the join timeout.
    fn wait_until_ready(&self, control: &RunControl) -> Result<(), CoordinatorError> {
        let cfg = &self.shared.cfg;
        let begin = Instant::now();
        loop {
            std::thread::sleep(POLL);
            let mut st = self.shared.state();
            if let Some(e) = st.failed.clone() {
                st.abort = Some(format!("the run cannot start: {e}"));
                return Err(CoordinatorError::InstanceFailed(e));
            }
            if control.is_stopped() {
                st.abort = Some("the coordinator was interrupted".into());
                return Err(CoordinatorError::Interrupted);
            }
            let n = cfg.segments.segments.len();
            let ready = st.slots.iter().flatten().filter(|s| s.ready).count();
            if ready == n {
                return Ok(());
            }
            if begin.elapsed() > cfg.join_timeout {
                let missing: Vec<String> = (0..n)
                    .filter(|i| {
                        !st.slots
                            .get(*i)
                            .is_some_and(|s| s.as_ref().is_some_and(|s| s.ready))
                    })
                    .map(|i| i.to_string())
                    .collect();
                let why = format!(
                    "instance(s) {} did not join and get ready within --join-timeout {}s ({ready} of {n} ready)",
                    missing.join(", "),
                    cfg.join_timeout.as_secs_f64()
                );
                st.abort = Some(why.clone());
                return Err(CoordinatorError::Join(why));
            }
        }
    }

    fn outcome(
        &self,
        st: &State,
        snapshot: Snapshot,
        elapsed: Duration,
        end: Option<RunEnd>,
        lost_abort: bool,
    ) -> Coordinated {
        let mut counts = InstanceCounts::default();
        let mut saturation = Saturation::default();
        let mut teardown_error = None;
        let mut end = end;
        let mut marked_failed = false;
        let mut instances = Vec::new();
        for (index, slot) in st.slots.iter().enumerate() {
            let Some(s) = slot else { continue };
            let e = s.end.clone().unwrap_or_default();
            counts.iterations_completed += e.counts.iterations_completed;
            counts.iterations_interrupted += e.counts.iterations_interrupted;
            counts.vus_initialized += e.counts.vus_initialized;
            if e.saturation.lagging_seconds >= saturation.lagging_seconds {
                saturation = e.saturation.clone();
            }
            if let Some(t) = e.teardown_error {
                teardown_error = Some(HookFailure::Failed(VuError(t)));
            }
            if let Some(reason) = e.aborted {
                end.get_or_insert(RunEnd::TestAborted(reason));
            }
            marked_failed |= e.marked_failed;
            instances.push(InstanceFacts {
                index,
                name: s.name.clone(),
                segment: self.shared.cfg.segments.segments[index].clone(),
                requests: s.requests as u64,
                errors: s.errors,
                iterations: s.iterations as u64,
                lost: s.lost.clone(),
                max_event_loop_lag_ms: e.saturation.max_event_loop_lag.as_secs_f64() * 1000.0,
                lagging_seconds: e.saturation.lagging_seconds,
                max_report_delay_ms: s.max_delay.as_secs_f64() * 1000.0,
            });
        }
        Coordinated {
            outcome: RunOutcome {
                snapshot,
                elapsed,
                end: end.unwrap_or(RunEnd::Completed),
                saturation,
                teardown_error,
                counts,
            },
            instances,
            setup_data: st.setup_data.clone(),
            lost_abort,
            marked_failed,
        }
    }
}

/// A token for a run that was given none: 128 random bits from the thread's CSPRNG, in hex.
pub fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}
