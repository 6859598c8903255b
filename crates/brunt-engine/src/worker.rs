//! Worker threads: each owns a single-threaded tokio runtime with a `LocalSet`, its VUs (which
//! need not be `Send`) and its own metrics aggregator. Every worker walks the whole plan and runs
//! its share of each scenario (see `closed_model` and `open_model`). Workers share nothing on
//! the hot path but a few atomics (shared-iteration and iteration counters) and, in a replay,
//! its clock (`brunt-clock`: the thread that wakes each logged start on time); they report to the
//! collector once a second. This file holds the thread, its messages, VU creation and the
//! per-iteration bookkeeping common to all executors.

mod closed_model;
mod open_model;
mod slot;

use crate::plan::{Executor, Plan, Scenario};
use crate::run::{HookFailure, RunControl, RunEnd};
use crate::segment::SegmentedIndex;
use crate::steps::{max_planned, merge_requirements, Step};
use crate::vu::{
    IterationCtx, IterationOutcome, ProgressBasis, ScenarioInfo, Vu, VuError, VuFactory, VuInit,
};
use brunt_clock::Clock;
use brunt_metrics::{builtin, Aggregator, Interval, Registry, SystemTag, TagSet};
use open_model::arrival_workers;
use slot::{Guarded, Slot};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc as tmpsc, watch};
use tokio::task::JoinSet;
use tokio::time::sleep_until;

/// An iteration that never suspends would starve the worker; yield after this many in a row.
const SYNC_ITERATIONS_BEFORE_YIELD: u32 = 32;
/// Period of the event-loop lag probe.
const LAG_PROBE: Duration = Duration::from_millis(10);

/// What the collector tells a worker.
pub(crate) enum Command {
    /// Worker 0 only: run `setup()` on the hook VU.
    Setup,
    /// Start the scenarios; the instant is the test start.
    Start(Instant),
    /// Worker 0 only: run `teardown()` on the hook VU.
    Teardown,
    /// Send a last report and end the thread.
    Exit,
}

/// What a worker tells the collector.
pub(crate) enum Msg {
    /// The VUs initialised, or why one could not be.
    Ready(usize, Result<u64, VuError>),
    SetupDone(Result<(), HookFailure>),
    Report(Report),
    /// The worker is done with its scenarios; with the most VUs it had active at once and its
    /// worst event-loop lag since its last report, so that a run shorter than a report period
    /// still shows its VUs and its stalls.
    ScenariosDone {
        worker: usize,
        peak_active_vus: u64,
        max_lag: Duration,
    },
    /// The worker thread panicked (a bug in a VU or the engine), with the panic message.
    Crashed(usize, String),
    TeardownDone(Option<HookFailure>),
}

/// A worker's metrics and counters since its last report; counters are cumulative.
pub(crate) struct Report {
    pub worker: usize,
    pub interval: Interval,
    pub active_vus: u64,
    /// Active VUs averaged over the time since the last report (what `vus` samples show: an
    /// instant aligned with the scheduler's ticks would miss short open-model iterations).
    pub mean_active_vus: f64,
    /// The most VUs active at once since the last report.
    pub peak_active_vus: u64,
    pub initialized_vus: u64,
    pub scenarios: Vec<ScenarioCounters>,
    pub max_lag: Duration,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ScenarioCounters {
    pub iterations: u64,
    pub dropped: u64,
    pub active: u64,
    pub done: bool,
}

/// State shared by all workers of a run.
pub(crate) struct Shared {
    pub plan: Plan,
    pub control: RunControl,
    pub workers: usize,
    pub keep_raw: bool,
    pub registry: Arc<Registry>,
    /// Create the dedicated VU for setup/teardown on worker 0.
    pub hook_vu: bool,
    scenarios: Vec<ScenarioShared>,
    /// Hands out `(idInInstance, idInTest)` pairs.
    ids: Mutex<SegmentedIndex>,
    /// One per worker: what [`instance_counts`] adds up.
    live: Box<[LiveCounts]>,
    /// A replay's timer for scheduled instants (its starts, scenario starts, stages): tokio's
    /// whole-millisecond timer would send a start up to 1 ms past its logged offset. Only a fed
    /// plan (`brunt replay`) has one: a start woken by the clock's thread costs the worker
    /// about 2.5x the CPU of one woken by tokio's timer (`quick --rate`, arrival-rate
    /// scenarios; docs/benchmarks.md), so the others keep tokio's.
    clock: Option<Clock>,
}

/// One worker's live counts for k6/execution's `exec.instance`. Only that worker writes them,
/// each on its own cache line, so the hot path stays free of contended atomics.
#[derive(Default)]
#[repr(align(64))]
struct LiveCounts {
    active: AtomicU64,
    initialized: AtomicU64,
    completed: AtomicU64,
    interrupted: AtomicU64,
}

/// Adds one to a counter that only the calling worker writes.
fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// What this instance has done so far, as k6/execution's `exec.instance` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InstanceCounts {
    /// VUs running an iteration or looping (what the `vus` metric samples).
    pub vus_active: u64,
    /// VUs initialised so far (`vus_max`), the setup/teardown VU left out.
    pub vus_initialized: u64,
    /// Iterations that ran to their end, those that threw included (k6's full iterations).
    pub iterations_completed: u64,
    /// Iterations cut short: gracefulStop/gracefulRampDown ran out, the run was stopped, or
    /// the script called `test.abort()`.
    pub iterations_interrupted: u64,
}

thread_local! {
    /// The run this worker thread belongs to.
    static INSTANCE: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

/// The live counts of the run whose worker thread calls this (a VU reading them during an
/// iteration); None on any other thread.
pub fn instance_counts() -> Option<InstanceCounts> {
    INSTANCE.with(|s| s.borrow().as_ref().map(|shared| shared.counts()))
}

struct ScenarioShared {
    /// Closed-model iteration numbers, and a fed arrival-rate scenario's; for
    /// shared-iterations also the attempts.
    next_iteration: AtomicU64,
    /// Arrival-rate VUs that may still be created beyond the pre-allocated ones.
    unplanned_left: AtomicU64,
    /// k6's `Insufficient VUs` warning was logged (once per scenario).
    warned_insufficient: AtomicBool,
    /// Workers done with this scenario (the last one reports shared-iterations' leftovers).
    finished: AtomicUsize,
}

impl Shared {
    pub fn new(
        plan: Plan,
        control: RunControl,
        workers: usize,
        keep_raw: bool,
        registry: Arc<Registry>,
        hook_vu: bool,
    ) -> Shared {
        let tuple = plan.tuple().clone();
        let scenarios = plan
            .scenarios()
            .iter()
            .map(|s| ScenarioShared {
                next_iteration: AtomicU64::new(0),
                unplanned_left: AtomicU64::new(
                    s.executor
                        .arrival_pool(&tuple)
                        .map_or(0, |(pre, max)| max - pre),
                ),
                warned_insufficient: AtomicBool::new(false),
                finished: AtomicUsize::new(0),
            })
            .collect();
        let clock = plan.feed().map(|_| Clock::new("brunt-clock"));
        Shared {
            ids: Mutex::new(tuple.index()),
            plan,
            control,
            workers,
            keep_raw,
            registry,
            hook_vu,
            scenarios,
            live: (0..workers).map(|_| LiveCounts::default()).collect(),
            clock,
        }
    }

    /// The counts of every worker added up.
    pub(crate) fn counts(&self) -> InstanceCounts {
        let mut t = InstanceCounts::default();
        for c in self.live.iter() {
            t.vus_active += c.active.load(Ordering::Relaxed);
            t.vus_initialized += c.initialized.load(Ordering::Relaxed);
            t.iterations_completed += c.completed.load(Ordering::Relaxed);
            t.iterations_interrupted += c.interrupted.load(Ordering::Relaxed);
        }
        t
    }

    fn live(&self, worker: usize) -> &LiveCounts {
        &self.live[worker]
    }

    fn next_ids(&self) -> (u64, u64) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        let (local, global) = ids.advance();
        (local as u64, global as u64)
    }
}

/// Runs `setup()` or `teardown()` within its timeout (k6's setupTimeout / teardownTimeout).
async fn hook(
    timeout: Duration,
    fut: impl Future<Output = Result<(), VuError>>,
) -> Result<(), HookFailure> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r.map_err(HookFailure::Failed),
        Err(_) => Err(HookFailure::TimedOut(timeout)),
    }
}

/// Waits for every task of `set`; a task that panicked (a bug in a VU or here) ends the run.
async fn join_all(control: &RunControl, set: &mut JoinSet<()>) {
    while let Some(res) = set.join_next().await {
        if let Err(e) = res {
            if e.is_panic() {
                let msg = panic_message(e.into_panic().as_ref());
                control.end(RunEnd::Crashed(format!("a VU task panicked: {msg}")));
            }
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Count of `k` in `0..n` with `k % workers == index`.
fn share(n: u64, workers: usize, index: usize) -> u64 {
    if index >= workers {
        return 0;
    }
    let w = workers as u64;
    n / w + u64::from((index as u64) < n % w)
}

/// A VU with the engine's bookkeeping.
struct VuBox<V> {
    vu: V,
    /// `__ITER`.
    iterations: u64,
    /// Per scenario: this VU's iterations in it.
    per_scenario: Vec<u64>,
}

/// A scenario as one worker runs it.
struct LocalScenario {
    info: Arc<ScenarioInfo>,
    /// The scenario's tags plus `group: ""`, as k6 tags iteration samples.
    iteration_tags: TagSet,
    counters: Cell<ScenarioCounters>,
}

impl LocalScenario {
    fn update(&self, f: impl FnOnce(&mut ScenarioCounters)) {
        let mut c = self.counters.get();
        f(&mut c);
        self.counters.set(c);
    }
}

/// One worker's state, shared by its tasks.
struct Worker<F: VuFactory> {
    index: usize,
    shared: Arc<Shared>,
    factory: Arc<F>,
    metrics: Rc<RefCell<Aggregator>>,
    pool: RefCell<Vec<VuBox<F::Vu>>>,
    initialized: Cell<u64>,
    active: Cell<u64>,
    /// VU-seconds of activity since the last report, up to `active_changed`.
    active_area: Cell<f64>,
    active_changed: Cell<Instant>,
    last_report: Cell<Instant>,
    peak_active: Cell<u64>,
    max_lag: Cell<Duration>,
    scenarios: Vec<LocalScenario>,
    stop: watch::Sender<bool>,
    test_start: Cell<Instant>,
}

/// Runs a worker on the current thread until it is told to exit.
pub(crate) fn worker_thread<F: VuFactory>(
    index: usize,
    shared: Arc<Shared>,
    factory: Arc<F>,
    commands: tmpsc::UnboundedReceiver<Command>,
    out: mpsc::Sender<Msg>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = out.send(Msg::Ready(
                index,
                Err(VuError(format!(
                    "could not start the worker's runtime: {e}"
                ))),
            ));
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    let crash_out = out.clone();
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        local.block_on(&rt, worker_main(index, shared, factory, commands, out))
    }));
    if let Err(panic) = ran {
        let _ = crash_out.send(Msg::Crashed(index, panic_message(panic.as_ref())));
    }
}

async fn worker_main<F: VuFactory>(
    index: usize,
    shared: Arc<Shared>,
    factory: Arc<F>,
    mut commands: tmpsc::UnboundedReceiver<Command>,
    out: mpsc::Sender<Msg>,
) {
    INSTANCE.with(|s| *s.borrow_mut() = Some(shared.clone()));
    let metrics = Rc::new(RefCell::new(Aggregator::new(
        shared.registry.clone(),
        shared.keep_raw,
    )));
    let run_tags = shared.plan.tags().clone();
    let scenarios = shared
        .plan
        .scenarios()
        .iter()
        .map(|s| local_scenario(s, &shared, &run_tags))
        .collect();
    let (stop, _) = watch::channel(false);
    let w = Rc::new(Worker {
        index,
        shared: shared.clone(),
        factory,
        metrics,
        pool: RefCell::new(Vec::new()),
        initialized: Cell::new(0),
        active: Cell::new(0),
        active_area: Cell::new(0.0),
        active_changed: Cell::new(Instant::now()),
        last_report: Cell::new(Instant::now()),
        peak_active: Cell::new(0),
        max_lag: Cell::new(Duration::ZERO),
        scenarios,
        stop,
        test_start: Cell::new(Instant::now()),
    });

    // Initialise this worker's share of the planned VUs before the test starts, as k6 does.
    let mut hook_vu = None;
    let ready = (|| {
        for _ in 0..w.planned_vus() {
            let vu = w.create_vu()?;
            w.pool.borrow_mut().push(vu);
        }
        if index == 0 && shared.hook_vu {
            hook_vu = Some(w.factory.create(VuInit {
                id_in_instance: 0,
                id_in_test: 0,
                worker: 0,
                metrics: w.metrics.clone(),
            })?);
        }
        Ok(w.initialized.get())
    })();
    let failed = ready.is_err();
    let _ = out.send(Msg::Ready(index, ready));
    if failed {
        return;
    }

    let mut background = JoinSet::new();
    while let Some(cmd) = commands.recv().await {
        match cmd {
            Command::Setup => {
                let res = match &mut hook_vu {
                    // Ctrl-C interrupts setup(), as in k6.
                    Some(vu) => {
                        let mut stop = shared.control.subscribe();
                        tokio::select! {
                            r = hook(shared.plan.setup_timeout(), vu.setup()) => r,
                            _ = stop.recv() => Err(HookFailure::Failed(VuError("setup() was interrupted".into()))),
                        }
                    }
                    None => Ok(()),
                };
                let _ = out.send(Msg::SetupDone(res));
            }
            Command::Start(test_start) => {
                w.test_start.set(test_start);
                w.active_changed.set(test_start);
                w.last_report.set(test_start);
                background.spawn_local(w.clone().report_loop(out.clone()));
                background.spawn_local(w.clone().lag_probe());
                background.spawn_local(w.clone().watch_stop());
                let mut scenarios = JoinSet::new();
                for i in 0..w.scenarios.len() {
                    scenarios.spawn_local(w.clone().run_scenario(i));
                }
                join_all(&shared.control, &mut scenarios).await;
                let _ = out.send(Msg::ScenariosDone {
                    worker: index,
                    peak_active_vus: w.peak_active.get(),
                    max_lag: w.max_lag.replace(Duration::ZERO),
                });
            }
            Command::Teardown => {
                let res = match &mut hook_vu {
                    Some(vu) => hook(shared.plan.teardown_timeout(), vu.teardown()).await,
                    None => Ok(()),
                };
                let _ = out.send(Msg::TeardownDone(res.err()));
            }
            Command::Exit => break,
        }
    }
    background.abort_all();
    let _ = out.send(Msg::Report(w.report()));
    INSTANCE.with(|s| s.borrow_mut().take());
}

fn local_scenario(
    s: &Scenario,
    shared: &Shared,
    run_tags: &std::collections::BTreeMap<String, String>,
) -> LocalScenario {
    let tuple = shared.plan.tuple();
    let iteration_index = match &s.executor {
        Executor::SharedIterations { vus, .. } => tuple.for_value(*vus),
        Executor::ConstantArrivalRate { max_vus, .. }
        | Executor::RampingArrivalRate { max_vus, .. } => tuple.for_value(*max_vus),
        _ => None,
    }
    .unwrap_or_else(|| tuple.clone())
    .index();
    // Each worker builds its own tag sets so their reference counts are not shared between
    // threads on the hot path.
    let system = shared.plan.system_tags();
    let tags = TagSet::new(
        run_tags
            .iter()
            .chain(s.tags.iter())
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(
                system
                    .has(SystemTag::Scenario)
                    .then_some(("scenario", s.name.as_str())),
            ),
    );
    let iteration_tags = match system.has(SystemTag::Group) {
        true => tags.with([("group", "")]),
        false => tags.clone(),
    };
    let progress_basis = match s.total_iterations(tuple) {
        Some(n) => ProgressBasis::Iterations(n),
        None => ProgressBasis::Time(s.regular_duration()),
    };
    LocalScenario {
        info: Arc::new(ScenarioInfo {
            name: s.name.clone(),
            executor: s.executor.name(),
            exec: s.exec().to_string(),
            env: s.env.clone(),
            tags,
            iteration_index,
            progress_basis,
        }),
        iteration_tags,
        counters: Cell::new(ScenarioCounters::default()),
    }
}

impl<F: VuFactory> Worker<F> {
    fn spec(&self, si: usize) -> &Scenario {
        &self.shared.plan.scenarios()[si]
    }

    /// This worker's share of the VUs planned at any one time (k6 initialises those up front).
    fn planned_vus(&self) -> u64 {
        let tuple = self.shared.plan.tuple();
        let workers = self.shared.workers;
        let per: Vec<(Duration, Vec<Step>)> = self
            .shared
            .plan
            .scenarios()
            .iter()
            .map(|s| {
                let steps = s
                    .requirements(tuple)
                    .into_iter()
                    .map(|st| {
                        let planned = if s.executor.is_arrival_rate() {
                            share(st.planned, arrival_workers(st.planned, workers), self.index)
                        } else {
                            share(st.planned, workers, self.index)
                        };
                        Step::new(st.offset, planned)
                    })
                    .collect();
                (s.start_time, steps)
            })
            .collect();
        max_planned(&merge_requirements(&per))
    }

    fn create_vu(&self) -> Result<VuBox<F::Vu>, VuError> {
        let (id_in_instance, id_in_test) = self.shared.next_ids();
        let vu = self.factory.create(VuInit {
            id_in_instance,
            id_in_test,
            worker: self.index,
            metrics: self.metrics.clone(),
        })?;
        self.initialized.set(self.initialized.get() + 1);
        bump(&self.shared.live(self.index).initialized);
        Ok(VuBox {
            vu,
            iterations: 0,
            per_scenario: vec![0; self.scenarios.len()],
        })
    }

    /// An idle VU, or a new one; a VU that cannot be created ends the run.
    fn take_vu(&self) -> Option<VuBox<F::Vu>> {
        if let Some(vu) = self.pool.borrow_mut().pop() {
            return Some(vu);
        }
        match self.create_vu() {
            Ok(vu) => Some(vu),
            Err(e) => {
                self.shared
                    .control
                    .end(RunEnd::TestAborted(format!("could not initialise VU: {e}")));
                None
            }
        }
    }

    /// Adds the activity up to now to the running area.
    fn account_active(&self, now: Instant) {
        let since = now.saturating_duration_since(self.active_changed.replace(now));
        self.active_area
            .set(self.active_area.get() + self.active.get() as f64 * since.as_secs_f64());
    }

    /// Counts a VU of scenario `si` into (`1`) or out of (`-1`) the active ones, for the worker
    /// and for the scenario.
    fn set_active(&self, si: usize, delta: i64) {
        self.account_active(Instant::now());
        let a = self.active.get().saturating_add_signed(delta);
        self.active.set(a);
        self.shared
            .live(self.index)
            .active
            .store(a, Ordering::Relaxed);
        if a > self.peak_active.get() {
            self.peak_active.set(a);
        }
        self.scenarios[si].update(|c| c.active = c.active.saturating_add_signed(delta));
    }

    fn report(&self) -> Report {
        let now = Instant::now();
        self.account_active(now);
        let span = now.saturating_duration_since(self.last_report.replace(now));
        let area = self.active_area.replace(0.0);
        let mean_active_vus = if span.is_zero() {
            self.active.get() as f64
        } else {
            area / span.as_secs_f64()
        };
        let peak = self.peak_active.replace(self.active.get());
        Report {
            worker: self.index,
            interval: self.metrics.borrow_mut().take(),
            active_vus: self.active.get(),
            mean_active_vus,
            peak_active_vus: peak,
            initialized_vus: self.initialized.get(),
            scenarios: self.scenarios.iter().map(|s| s.counters.get()).collect(),
            max_lag: self.max_lag.replace(Duration::ZERO),
        }
    }

    async fn report_loop(self: Rc<Self>, out: mpsc::Sender<Msg>) {
        let start = self.test_start.get() + Duration::from_secs(1);
        let mut every = tokio::time::interval_at(start.into(), Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if out.send(Msg::Report(self.report())).is_err() {
                return;
            }
        }
    }

    async fn lag_probe(self: Rc<Self>) {
        loop {
            let before = Instant::now();
            tokio::time::sleep(LAG_PROBE).await;
            let lag = before.elapsed().saturating_sub(LAG_PROBE);
            if lag > self.max_lag.get() {
                self.max_lag.set(lag);
            }
        }
    }

    /// Turns the run's cross-thread stop into this worker's local stop signal.
    async fn watch_stop(self: Rc<Self>) {
        let mut rx = self.shared.control.subscribe();
        let _ = rx.recv().await;
        self.stop.send_replace(true);
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sleeps until `at` (on the replay's clock, else tokio's timer); false if the run was
    /// stopped first (which takes any alarm off the clock).
    async fn sleep_until(&self, at: Instant) -> bool {
        if self.stopped() {
            return false;
        }
        if Instant::now() >= at {
            return true;
        }
        let mut rx = self.stop.subscribe();
        // A replay wakes on its high-resolution clock; every other run on tokio's timer.
        let timer = async {
            match &self.shared.clock {
                Some(clock) => clock.sleep_until(at).await,
                None => sleep_until(at.into()).await,
            }
        };
        tokio::select! {
            _ = timer => !self.stopped(),
            _ = rx.wait_for(|s| *s) => false,
        }
    }

    /// Waits for every task of `set` to end, or until `deadline`, or until the run is stopped.
    async fn drain_until(&self, set: &mut JoinSet<()>, deadline: Instant) {
        let mut rx = self.stop.subscribe();
        tokio::select! {
            _ = join_all(&self.shared.control, set) => {}
            _ = sleep_until(deadline.into()) => {}
            _ = rx.wait_for(|s| *s) => {}
        }
    }

    async fn run_scenario(self: Rc<Self>, si: usize) {
        let spec = self.spec(si).clone();
        let start = self.test_start.get() + spec.start_time;
        if self.sleep_until(start).await {
            if spec.executor.is_arrival_rate() {
                self.clone().run_arrival(si, start).await;
            } else {
                self.clone().run_closed(si, start).await;
            }
        }
        self.scenarios[si].update(|c| c.done = true);
    }

    fn drop_iterations(&self, si: usize, n: u64) {
        let sc = &self.scenarios[si];
        self.metrics
            .borrow_mut()
            .add(builtin::DROPPED_ITERATIONS, &sc.info.tags, n as f64);
        sc.update(|c| c.dropped += n);
    }

    fn iteration_ctx(&self, si: usize, start: Instant) -> IterationCtx {
        IterationCtx {
            scenario: self.scenarios[si].info.clone(),
            test_start: self.test_start.get(),
            scenario_start: start,
            iteration_in_scenario: 0,
            vu_iteration: 0,
            vu_iteration_in_scenario: 0,
            scheduled_lag: None,
            payload: None,
        }
    }

    /// Runs one iteration with its bookkeeping; false when the VU must stop (interrupted or
    /// test aborted). `suspended` tells whether the iteration ever yielded to the event loop.
    async fn iterate(
        &self,
        si: usize,
        slot: &Slot,
        vb: &mut VuBox<F::Vu>,
        ctx: &mut IterationCtx,
        suspended: &mut bool,
    ) -> bool {
        ctx.vu_iteration = vb.iterations;
        ctx.vu_iteration_in_scenario = vb.per_scenario[si];
        let began = Instant::now();
        // The iteration future lives in this block only, so it is gone before the bookkeeping.
        let (outcome, was_suspended) = {
            let mut guarded = Guarded {
                fut: pin!(vb.vu.iteration(ctx)),
                slot,
                suspended: false,
            };
            let outcome = (&mut guarded).await;
            (outcome, guarded.suspended)
        };
        *suspended = was_suspended;
        vb.iterations += 1;
        vb.per_scenario[si] += 1;
        match outcome {
            None => {
                bump(&self.shared.live(self.index).interrupted);
                false
            }
            Some(IterationOutcome::AbortTest(reason)) => {
                bump(&self.shared.live(self.index).interrupted);
                self.shared.control.end(RunEnd::TestAborted(reason));
                false
            }
            Some(IterationOutcome::Completed | IterationOutcome::Failed) => {
                bump(&self.shared.live(self.index).completed);
                let sc = &self.scenarios[si];
                let ms = began.elapsed().as_secs_f64() * 1000.0;
                self.metrics.borrow_mut().add_all(
                    &sc.iteration_tags,
                    &[
                        (builtin::ITERATIONS, 1.0),
                        (builtin::ITERATION_DURATION, ms),
                    ],
                );
                sc.update(|c| c.iterations += 1);
                // k6's minIterationDuration: pad after the metrics, interruptible.
                let min = self.shared.plan.min_iteration_duration();
                let rest = if min.is_zero() {
                    Duration::ZERO
                } else {
                    min.saturating_sub(began.elapsed())
                };
                rest.is_zero()
                    || Guarded {
                        fut: pin!(tokio::time::sleep(rest)),
                        slot,
                        suspended: false,
                    }
                    .await
                    .is_some()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_split_vus_across_workers() {
        for n in 0..50u64 {
            for workers in 1..6 {
                let sum: u64 = (0..workers).map(|w| share(n, workers, w)).sum();
                assert_eq!(sum, n);
            }
        }
    }
}
