//! The collector: runs on the thread that called [`run`](crate::run), starts the workers, walks
//! them through init, setup, the scenarios and teardown, merges their once-a-second reports into
//! the run's totals, emits `vus`/`vus_max`, and calls the observer.

use crate::execution::{Execution, ExecutionStatus, Hook};
use crate::plan::Plan;
use crate::run::{
    Control, HookFailure, Linger, Progress, RunControl, RunEnd, RunError, RunOptions, RunOutcome,
    Sampler, Saturation, ScenarioProgress, Tick,
};
use crate::vu::{VuError, VuFactory};
use crate::worker::{worker_thread, Command, Msg, Report, ScenarioCounters, Shared};
use brunt_metrics::{builtin, Aggregator, Interval, Registry, Snapshot, TagSet};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::sync::mpsc as tmpsc;

const TICK: Duration = Duration::from_secs(1);
/// Workers report on each whole second of the test; the collector ticks a little later so that
/// a tick sees the reports of that second.
const TICK_DELAY: Duration = Duration::from_millis(20);
/// How often the start gate looks whether the run was stopped while paused.
const GATE_POLL: Duration = Duration::from_millis(50);

/// What the collector knows, merged from the workers' reports.
struct State {
    total: Snapshot,
    pending: Snapshot,
    pending_raw: Vec<brunt_metrics::RawSample>,
    latest: Vec<Option<Report>>,
    /// VUs each worker initialised before the start, until its first report.
    initialized_at_start: Vec<u64>,
    peak_active: Vec<u64>,
    saturation: Saturation,
    /// The worst lag the workers reported since the last tick, while the test runs; None when
    /// no report came (or outside the test: setup and teardown measure nothing).
    second_lag: Option<Duration>,
    counting_lag: bool,
    gauges: Aggregator,
    run_tags: TagSet,
    emitted_vus: bool,
}

impl State {
    fn absorb(&mut self, mut r: Report) {
        self.total.merge_series(&r.interval.series);
        self.pending.merge_series(&r.interval.series);
        self.pending_raw.append(&mut r.interval.raw);
        r.interval = Interval::default();
        self.note_lag(r.max_lag);
        self.note_peak(r.worker, r.peak_active_vus);
        let w = r.worker;
        self.latest[w] = Some(r);
    }

    /// Ends a second of the test: its lag counts once, however many workers reported it.
    fn close_second(&mut self) {
        if let Some(lag) = self.second_lag.take() {
            self.saturation.note_second(lag);
        }
    }

    fn note_lag(&mut self, lag: Duration) {
        if self.counting_lag {
            self.second_lag = self.second_lag.max(Some(lag));
        }
    }

    fn note_peak(&mut self, worker: usize, peak: u64) {
        self.peak_active[worker] = self.peak_active[worker].max(peak);
    }

    fn sum(&self, f: impl Fn(&Report) -> u64) -> u64 {
        self.latest.iter().flatten().map(f).sum()
    }

    /// k6's `vus` and `vus_max` samples, tagged with the run's tags.
    fn initialized(&self) -> u64 {
        self.latest
            .iter()
            .zip(&self.initialized_at_start)
            .map(|(r, base)| r.as_ref().map_or(*base, |r| r.initialized_vus))
            .sum()
    }

    fn emit_vus(&mut self, active: u64) {
        let initialized = self.initialized();
        self.gauges.add(builtin::VUS, &self.run_tags, active as f64);
        self.gauges
            .add(builtin::VUS_MAX, &self.run_tags, initialized as f64);
        self.flush_gauges();
        self.emitted_vus = true;
    }

    /// Lets each sampler add what it measured since the last tick.
    fn sample(&mut self, samplers: &mut [Sampler]) {
        for s in samplers.iter_mut() {
            s(&mut self.gauges);
        }
        self.flush_gauges();
    }

    fn flush_gauges(&mut self) {
        let mut i = self.gauges.take();
        self.total.merge_series(&i.series);
        self.pending.merge_series(&i.series);
        self.pending_raw.append(&mut i.raw);
    }

    fn counters(&self, scenario: usize) -> ScenarioCounters {
        let mut c = ScenarioCounters {
            done: true,
            ..Default::default()
        };
        for r in self.latest.iter().flatten() {
            let s = r.scenarios[scenario];
            c.iterations += s.iterations;
            c.dropped += s.dropped;
            c.active += s.active;
            c.done &= s.done;
        }
        c.done &= self.latest.iter().all(Option::is_some);
        c
    }

    fn progress(&self, plan: &Plan, elapsed: Duration) -> Progress {
        let tuple = plan.tuple();
        let scenarios: Vec<ScenarioProgress> = plan
            .scenarios()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let c = self.counters(i);
                let fraction = match s.total_iterations(tuple) {
                    Some(total) => ratio(c.iterations + c.dropped, total),
                    None => {
                        let run = elapsed.saturating_sub(s.start_time).as_secs_f64();
                        ratio_f(run, s.regular_duration().as_secs_f64())
                    }
                };
                ScenarioProgress {
                    name: s.name.clone(),
                    description: s.description(tuple),
                    fraction: if c.done {
                        1.0
                    } else {
                        fraction.clamp(0.0, 1.0)
                    },
                    iterations: c.iterations,
                    dropped_iterations: c.dropped,
                    active_vus: c.active,
                    done: c.done,
                    start: s.start_time,
                    duration: s.regular_duration(),
                    graceful_stop: s.graceful_stop,
                    max_vus: s.max_vus(tuple),
                    planned_iterations: s.total_iterations(tuple),
                    rate: s.rate_at(tuple, elapsed.saturating_sub(s.start_time)),
                }
            })
            .collect();
        Progress {
            active_vus: self.sum(|r| r.active_vus),
            initialized_vus: self.initialized(),
            max_vus: plan.max_vus(),
            iterations: scenarios.iter().map(|s| s.iterations).sum(),
            scenarios,
        }
    }

    fn tick(&mut self, plan: &Plan, elapsed: Duration, is_final: bool) -> Tick<'_> {
        let progress = self.progress(plan, elapsed);
        Tick {
            elapsed,
            interval: Interval {
                series: std::mem::take(&mut self.pending.series),
                raw: std::mem::take(&mut self.pending_raw),
            },
            total: &self.total,
            progress,
            is_final,
        }
    }
}

fn ratio(done: u64, total: u64) -> f64 {
    ratio_f(done as f64, total as f64)
}

fn ratio_f(done: f64, total: f64) -> f64 {
    if total > 0.0 {
        done / total
    } else {
        1.0
    }
}

/// The workers' threads and command channels.
struct Workers {
    commands: Vec<tmpsc::UnboundedSender<Command>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    fn send(&self, w: usize, c: Command) {
        let _ = self.commands[w].send(c);
    }

    fn broadcast(&self, c: impl Fn() -> Command) {
        for tx in &self.commands {
            let _ = tx.send(c());
        }
    }

    fn join(self) {
        drop(self.commands);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

pub(crate) fn run<F: VuFactory>(
    plan: &Plan,
    factory: Arc<F>,
    registry: Arc<Registry>,
    mut opts: RunOptions,
) -> Result<RunOutcome, RunError> {
    let workers = if opts.workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.workers
    };
    let control = opts.control.clone();
    let execution = opts.execution.clone();
    // A paused or lingering run may be asked for setup() or teardown() through the REST API.
    let hook_vu = opts.setup || opts.teardown || execution.is_paused() || opts.linger.is_some();
    let shared = Arc::new(Shared::new(
        plan.clone(),
        control.clone(),
        workers,
        opts.keep_raw,
        registry.clone(),
        hook_vu,
    ));
    execution.attach(shared.clone());
    execution.set_status(ExecutionStatus::InitVus);
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut pool = Workers {
        commands: Vec::new(),
        threads: Vec::new(),
    };
    for index in 0..workers {
        let (ctx, crx) = tmpsc::unbounded_channel();
        let (shared, factory, out) = (shared.clone(), factory.clone(), tx.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("brunt-worker-{index}"))
            .spawn(move || worker_thread(index, shared, factory, crx, out));
        match spawned {
            Ok(t) => {
                pool.commands.push(ctx);
                pool.threads.push(t);
            }
            Err(e) => {
                pool.broadcast(|| Command::Exit);
                pool.join();
                return Err(RunError::Worker(e.to_string()));
            }
        }
    }
    drop(tx);

    let run_tags = TagSet::new(plan.tags().iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut state = State {
        total: Snapshot::default(),
        pending: Snapshot::default(),
        pending_raw: Vec::new(),
        latest: (0..workers).map(|_| None).collect(),
        initialized_at_start: vec![0; workers],
        peak_active: vec![0; workers],
        saturation: Saturation::default(),
        second_lag: None,
        counting_lag: false,
        gauges: Aggregator::new(registry, opts.keep_raw),
        run_tags,
        emitted_vus: false,
    };

    // Every worker initialises its VUs; the first error fails the run.
    let mut init_error: Option<VuError> = None;
    let mut ready = 0;
    while ready < workers {
        match rx.recv() {
            Ok(Msg::Crashed(w, m)) => {
                ready += 1;
                init_error.get_or_insert(VuError(format!("worker {w} panicked: {m}")));
            }
            Ok(Msg::Ready(worker, r)) => {
                ready += 1;
                match r {
                    Ok(n) => state.initialized_at_start[worker] = n,
                    Err(e) => {
                        init_error.get_or_insert(e);
                    }
                }
            }
            Ok(_) => {}
            Err(_) => {
                init_error.get_or_insert(VuError("a worker thread ended unexpectedly".into()));
            }
        }
    }
    // Ctrl-C while the VUs initialise or setup() runs interrupts them and ends the run there, as
    // in k6: no test and no teardown, but the summary and outputs of what ran. So does a stop
    // through the REST API.
    let interrupted = |control: &RunControl| {
        matches!(
            control.reason(),
            Some(RunEnd::Interrupted | RunEnd::StoppedFromApi)
        )
    };
    if let Some(e) = init_error.filter(|_| !interrupted(&control)) {
        pool.broadcast(|| Command::Exit);
        pool.join();
        return Err(RunError::VuInit(e));
    }
    execution.set_status(ExecutionStatus::InitDone);

    // `--paused`: wait here, VUs ready, running the hooks the REST API asks for, until resumed.
    if execution.is_paused() {
        execution.set_status(ExecutionStatus::PausedBeforeRun);
        while let Some((hook, reply)) = execution.wait_at_gate(GATE_POLL, || control.is_stopped()) {
            let _ = reply.send(run_hook(&pool, &rx, &mut state, hook));
        }
    }

    execution.set_status(ExecutionStatus::Started);
    if opts.setup && !control.is_stopped() {
        execution.set_status(ExecutionStatus::Setup);
        pool.send(0, Command::Setup);
        let res = wait_for(&rx, &mut state, |m| match m {
            Msg::SetupDone(r) => Some(r),
            _ => None,
        });
        let res = res.unwrap_or_else(|why| {
            Err(HookFailure::Failed(VuError(format!(
                "during setup(): {why}"
            ))))
        });
        match res {
            Err(failure) if !interrupted(&control) => {
                pool.broadcast(|| Command::Exit);
                pool.join();
                return Err(match failure {
                    HookFailure::Failed(e) => RunError::Setup(e),
                    HookFailure::TimedOut(d) => RunError::SetupTimeout(d),
                });
            }
            _ => {}
        }
    }

    let test_start = Instant::now();
    let started = !interrupted(&control);
    state.counting_lag = true;
    if started {
        execution.mark_started(test_start);
        execution.set_status(ExecutionStatus::Running);
        pool.broadcast(|| Command::Start(test_start));
    }
    let mut next_tick = test_start + TICK + TICK_DELAY;
    let mut done = vec![!started; workers];
    while !done.iter().all(|d| *d) {
        let wait = next_tick.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Msg::Report(r)) => state.absorb(r),
            Ok(Msg::ScenariosDone {
                worker,
                peak_active_vus,
                max_lag,
            }) => {
                done[worker] = true;
                state.note_peak(worker, peak_active_vus);
                state.note_lag(max_lag);
            }
            Ok(Msg::Crashed(w, m)) => {
                done[w] = true;
                control.end(RunEnd::Crashed(format!("worker {w} panicked: {m}")));
            }
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                next_tick += TICK;
                state.close_second();
                let mean: f64 = state
                    .latest
                    .iter()
                    .flatten()
                    .map(|r| r.mean_active_vus)
                    .sum();
                state.sample(&mut opts.samplers);
                state.emit_vus(mean.round() as u64);
                let mut tick = state.tick(plan, next_tick - TICK - TICK_DELAY - test_start, false);
                if let Some(obs) = &mut opts.observer {
                    if let Control::Abort(reason) = obs(&mut tick) {
                        control.end(RunEnd::Aborted(reason));
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let elapsed = test_start.elapsed();
    execution.mark_ended();
    state.close_second();
    state.counting_lag = false;
    if !state.emitted_vus {
        // A run shorter than a second: report the VUs it had at its peak.
        let peak = state.peak_active.iter().sum();
        state.emit_vus(peak);
    }

    let mut teardown_error = None;
    if opts.teardown && started {
        if let Some(wait) = opts.before_teardown.take() {
            wait();
        }
        execution.set_status(ExecutionStatus::Teardown);
        pool.send(0, Command::Teardown);
        teardown_error = wait_for(&rx, &mut state, |m| match m {
            Msg::TeardownDone(e) => Some(e),
            _ => None,
        })
        .unwrap_or_else(|why| {
            Some(HookFailure::Failed(VuError(format!(
                "during teardown(): {why}"
            ))))
        });
    }

    execution.set_status(if interrupted(&control) {
        ExecutionStatus::Interrupted
    } else {
        ExecutionStatus::Ended
    });
    // How the test ended; the signal that ends a linger does not change it.
    let mut end = control.reason();
    if let Some(linger) = opts.linger.take() {
        if end != Some(RunEnd::Interrupted) {
            let observer = &mut opts.observer;
            linger_for_hooks(&pool, &rx, &mut state, &execution, linger, |state| {
                if let Some(obs) = observer.as_mut() {
                    // The test is over: what the observer says now stops nothing.
                    let _ = obs(&mut state.tick(plan, elapsed, false));
                }
            });
        }
    }
    pool.broadcast(|| Command::Exit);
    // Each worker sends a last report before its thread ends; the channel closes after that.
    for msg in rx.iter() {
        if let Msg::Report(r) = msg {
            state.absorb(r);
        }
    }
    pool.join();

    state.sample(&mut opts.samplers);
    let mut last = state.tick(plan, elapsed, true);
    if let Some(obs) = &mut opts.observer {
        if let Control::Abort(reason) = obs(&mut last) {
            control.end(RunEnd::Aborted(reason.clone()));
            end.get_or_insert(RunEnd::Aborted(reason));
        }
    }
    Ok(RunOutcome {
        snapshot: state.total,
        elapsed,
        end: end.unwrap_or(RunEnd::Completed),
        saturation: state.saturation,
        teardown_error,
        counts: shared.counts(),
    })
}

/// `--linger`: serves the hooks the REST API asks for until the linger is done. The workers'
/// reports go on arriving (the test's last ones, a hook's samples): each second that brought some
/// is handed to `observe` as a tick, so the API's metrics, the dashboard and the outputs see
/// them, and the summary counts them, as in k6.
fn linger_for_hooks(
    pool: &Workers,
    rx: &mpsc::Receiver<Msg>,
    state: &mut State,
    execution: &Execution,
    linger: Linger,
    mut observe: impl FnMut(&mut State),
) {
    execution.set_lingering(true);
    (linger.on_start)();
    let mut next_tick = Instant::now() + TICK;
    // The teardown's samples may wait for a tick already.
    let mut fresh = true;
    while !(linger.done)() {
        let poll_until = Instant::now() + GATE_POLL;
        if let Some((hook, reply)) =
            execution.wait_at_gate(GATE_POLL, || Instant::now() >= poll_until)
        {
            let _ = reply.send(run_hook(pool, rx, state, hook));
            fresh = true;
        }
        while let Ok(msg) = rx.try_recv() {
            if let Msg::Report(r) = msg {
                fresh |= !r.interval.series.is_empty();
                state.absorb(r);
            }
        }
        if Instant::now() >= next_tick {
            next_tick += TICK;
            if std::mem::take(&mut fresh) {
                observe(state);
            }
        }
    }
    execution.set_lingering(false);
}

/// Runs a hook the REST API asked for on worker 0's hook VU (k6's `POST /v1/setup` and
/// `POST /v1/teardown`); its samples count in the run.
fn run_hook(
    pool: &Workers,
    rx: &mpsc::Receiver<Msg>,
    state: &mut State,
    hook: Hook,
) -> Result<(), String> {
    let (command, name) = match hook {
        Hook::Setup => (Command::Setup, "setup"),
        Hook::Teardown => (Command::Teardown, "teardown"),
    };
    pool.send(0, command);
    let failure = wait_for(rx, state, |m| match m {
        Msg::SetupDone(r) => Some(r.err()),
        Msg::TeardownDone(e) => Some(e),
        _ => None,
    })?;
    match failure {
        None => Ok(()),
        Some(e) => Err(format!("{name}() failed: {e}")),
    }
}

/// Waits for the message `pick` selects, absorbing reports meanwhile; an
/// error says why it cannot come.
fn wait_for<T>(
    rx: &mpsc::Receiver<Msg>,
    state: &mut State,
    pick: impl Fn(Msg) -> Option<T>,
) -> Result<T, String> {
    loop {
        match rx
            .recv()
            .map_err(|_| "the worker threads ended".to_string())?
        {
            Msg::Report(r) => state.absorb(r),
            Msg::Crashed(w, m) => return Err(format!("worker {w} panicked: {m}")),
            other => {
                if let Some(t) = pick(other) {
                    return Ok(t);
                }
            }
        }
    }
}
