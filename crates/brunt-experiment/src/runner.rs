//! The run, in Chaos Toolkit's order: steady state before (a gate), the method, steady state
//! after (deviation), then the rollbacks as the strategy says. [`run`] is the whole order in one
//! function, to be read beside chaoslib's `Runner._run`.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::activity::{Activity, Kind, Pause, ProbeMode};
use crate::fault_phase::{FaultClock, FaultPhase};
use crate::format::Experiment;
use crate::journal::{self, Journal, Run, RunStatus, Status, SteadyState, SteadyStates};
use crate::live_load::LiveLoad;
use crate::monitors::ExperimentMonitors;
use crate::provider::ActivityFailed;
use crate::started::StartedProcesses;
use crate::substitute::Vars;

/// When rollbacks are played (`--rollback-strategy`, or the experiment's
/// `runtime.rollbacks.strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RollbackStrategy {
    /// Unless a steady-state probe failed to run (brunt also plays them after an interruption).
    #[default]
    Default,
    /// Always.
    Always,
    /// Never.
    Never,
    /// Only when the steady state after the method deviated.
    Deviated,
}

/// The phases of a run, reported as they start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The hypothesis, as a gate before the method.
    SteadyStateBefore,
    /// The method's actions and probes.
    Method,
    /// The hypothesis again, to see whether the system deviated.
    SteadyStateAfter,
    /// The rollbacks.
    Rollbacks,
}

impl Phase {
    /// How the phase is named in messages.
    pub fn label(self) -> &'static str {
        match self {
            Phase::SteadyStateBefore => "steady state before",
            Phase::Method => "method",
            Phase::SteadyStateAfter => "steady state after",
            Phase::Rollbacks => "rollbacks",
        }
    }
}

/// What a run reports as it goes.
pub enum Event<'a> {
    /// A phase starts.
    Phase(Phase),
    /// An activity of a phase finished.
    Activity(Phase, &'a Run),
}

/// State the activities share: the substitution values, which the toxiproxy extension extends.
pub struct Context {
    vars: Mutex<Vars>,
    /// The faults' phase, for loads' per-phase verdicts.
    pub faults: Arc<FaultClock>,
    /// The running load's last seconds, for metric probes.
    pub live: Arc<LiveLoad>,
    /// The processes the experiment started, by name.
    pub started: StartedProcesses,
    /// The monitors `monitor` probes read, sampled for the experiment's life.
    pub monitors: ExperimentMonitors,
}

impl Context {
    /// A context over resolved configuration and secrets, and the experiment's monitors.
    pub fn new(vars: Vars, monitors: ExperimentMonitors) -> Self {
        Context {
            vars: Mutex::new(vars),
            faults: Arc::default(),
            live: Arc::default(),
            started: StartedProcesses::default(),
            monitors,
        }
    }

    /// A snapshot of the values now.
    pub fn vars(&self) -> Vars {
        self.vars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records a proxy's listen port as `<name>_PORT`, in the configuration and in the
    /// environment of processes started later, as the toxiproxy extension does.
    pub fn set_proxy_port(&self, proxy: &str, listen: &str) {
        let port = listen.rsplit(':').next().unwrap_or_default().to_string();
        let key = format!("{proxy}_PORT");
        let mut vars = self.vars.lock().unwrap_or_else(PoisonError::into_inner);
        vars.configuration
            .insert(key.clone(), Value::String(port.clone()));
        vars.env.insert(key, port);
    }
}

/// Runs an experiment inside a [`tokio::task::LocalSet`] (background activities are local
/// tasks); `stop` (Ctrl-C, SIGTERM) interrupts the hypothesis and the method, after
/// which the rollbacks still run.
pub async fn run(
    experiment: &Experiment,
    ctx: &Arc<Context>,
    strategy: RollbackStrategy,
    stop: &CancellationToken,
    report: &dyn Fn(Event<'_>),
) -> Journal {
    let started = Instant::now();
    let mut journal = Journal {
        chaoslib_version: journal::CHAOSLIB_VERSION,
        brunt_version: env!("CARGO_PKG_VERSION"),
        experiment: experiment.raw.clone(),
        start: journal::now(),
        end: String::new(),
        duration: 0.0,
        status: Status::Completed,
        deviated: false,
        steady_states: SteadyStates::default(),
        run: Vec::new(),
        rollbacks: Vec::new(),
    };
    let probes = experiment
        .hypothesis
        .as_ref()
        .map(|(_, p)| p.as_slice())
        .unwrap_or_default();

    'experiment: {
        if !probes.is_empty() {
            report(Event::Phase(Phase::SteadyStateBefore));
            let Some(before) = until_stopped(
                stop,
                steady_state(probes, ctx, Phase::SteadyStateBefore, report),
            )
            .await
            else {
                journal.status = Status::Interrupted;
                break 'experiment;
            };
            let met = before.steady_state_met;
            journal.status = hypothesis_status(&before);
            journal.steady_states.before = Some(before);
            if !met {
                break 'experiment;
            }
        }
        report(Event::Phase(Phase::Method));
        let (runs, interrupted) =
            activities(&experiment.method, ctx, Phase::Method, stop, report).await;
        journal.run = runs;
        if ctx.faults.has_hypothesis_failed() {
            // A load's thresholds and probes with a mode are the hypothesis during the fault.
            journal.deviated = true;
        }
        if interrupted {
            journal.status = Status::Interrupted;
            break 'experiment;
        }
        if !probes.is_empty() {
            report(Event::Phase(Phase::SteadyStateAfter));
            let Some(after) = until_stopped(
                stop,
                steady_state(probes, ctx, Phase::SteadyStateAfter, report),
            )
            .await
            else {
                journal.status = Status::Interrupted;
                break 'experiment;
            };
            if !after.steady_state_met {
                journal.deviated = true;
                journal.status = hypothesis_status(&after);
            }
            journal.steady_states.after = Some(after);
        }
    }

    if plays_rollbacks(strategy, journal.status, journal.deviated) {
        report(Event::Phase(Phase::Rollbacks));
        // Rollbacks undo faults: a second signal does not cut them short.
        let never = CancellationToken::new();
        journal.rollbacks =
            activities(&experiment.rollbacks, ctx, Phase::Rollbacks, &never, report)
                .await
                .0;
        ctx.faults.rolled_back();
    }
    journal.end = journal::now();
    journal.duration = started.elapsed().as_secs_f64();
    journal
}

/// Chaos Toolkit's rule, except that an interrupted run still plays its rollbacks under the
/// default strategy (brunt never leaves a fault behind on Ctrl-C).
fn plays_rollbacks(strategy: RollbackStrategy, status: Status, deviated: bool) -> bool {
    match strategy {
        RollbackStrategy::Always => true,
        RollbackStrategy::Never => false,
        RollbackStrategy::Default => status != Status::Failed,
        RollbackStrategy::Deviated => deviated,
    }
}

/// `failed` when a probe could not run, else `completed` (a probe out of tolerance is not a
/// failure of the run).
fn hypothesis_status(state: &SteadyState) -> Status {
    if state.probes.iter().any(|p| p.status == RunStatus::Failed) {
        Status::Failed
    } else {
        Status::Completed
    }
}

/// Runs the hypothesis' probes in order, stopping at the first that fails or is out of tolerance.
async fn steady_state(
    probes: &[Activity],
    ctx: &Context,
    phase: Phase,
    report: &dyn Fn(Event<'_>),
) -> SteadyState {
    let mut state = SteadyState {
        steady_state_met: true,
        probes: Vec::new(),
    };
    for probe in probes {
        let mut run = execute(probe, ctx, false).await.1;
        let met = match (run.status, &probe.tolerance) {
            (RunStatus::Succeeded, Some(t)) => t.check(&run.output, ctx).await,
            (RunStatus::Succeeded, None) => true,
            _ => false,
        };
        run.tolerance_met = Some(met);
        report(Event::Activity(phase, &run));
        state.probes.push(run);
        if !met {
            state.steady_state_met = false;
            break;
        }
    }
    state
}

/// Runs a list of activities in order (the method, the rollbacks); a `background` one runs
/// beside the next ones and is waited for at the end. Returns the runs in the order they
/// started, and whether `stop` cut the list short (background activities are then abandoned
/// and a process they started is killed).
async fn activities(
    list: &[Activity],
    ctx: &Arc<Context>,
    phase: Phase,
    stop: &CancellationToken,
    report: &dyn Fn(Event<'_>),
) -> (Vec<Run>, bool) {
    let mut done: Vec<(Instant, Run)> = Vec::new();
    // The activity in the foreground, recorded as cut short when `stop` fires during it.
    let current: std::cell::RefCell<Option<(Instant, String, &Activity)>> = Default::default();
    let mut background: Vec<JoinHandle<(Instant, Run)>> = Vec::new();
    // Probes with a mode sample until the other activities have ended.
    let finished = CancellationToken::new();
    let mut sampling: Vec<JoinHandle<(Instant, Run)>> = Vec::new();
    let all = async {
        for a in list {
            let fault = phase == Phase::Method && a.kind == Kind::Action && a.provider.is_fault();
            if let Some((mode, every)) = a.mode {
                let (a, ctx, finished) = (a.clone(), ctx.clone(), finished.clone());
                sampling.push(tokio::task::spawn_local(async move {
                    sample(&a, &ctx, mode, every, &finished).await
                }));
            } else if a.background {
                let (a, ctx) = (a.clone(), ctx.clone());
                background.push(tokio::task::spawn_local(async move {
                    execute(&a, &ctx, fault).await
                }));
            } else {
                current.replace(Some((Instant::now(), journal::now(), a)));
                let run = execute(a, ctx, fault).await;
                current.replace(None);
                report(Event::Activity(phase, &run.1));
                done.push(run);
            }
        }
        for list in [&mut background, &mut sampling] {
            while let Some(handle) = list.first_mut() {
                let joined = handle.await;
                list.remove(0);
                if let Ok(run) = joined {
                    report(Event::Activity(phase, &run.1));
                    done.push(run);
                }
            }
            finished.cancel();
        }
    };
    let interrupted = until_stopped(stop, all).await.is_none();
    if let Some((started, start, a)) = current.take().filter(|_| interrupted) {
        let run = Run {
            activity: a.raw.clone(),
            output: Value::Null,
            start,
            status: RunStatus::Interrupted,
            exception: None,
            end: journal::now(),
            duration: started.elapsed().as_secs_f64(),
            tolerance_met: None,
        };
        report(Event::Activity(phase, &run));
        done.push((started, run));
    }
    for handle in background.into_iter().chain(sampling) {
        handle.abort();
    }
    done.sort_by_key(|(started, _)| *started);
    (done.into_iter().map(|(_, run)| run).collect(), interrupted)
}

/// Runs one activity with its pauses; a provider's failure is a failed run, not an error.
/// A `fault` (an action of the method) moves the fault clock while it runs.
async fn execute(a: &Activity, ctx: &Context, fault: bool) -> (Instant, Run) {
    let paused = pause(a.pause_before.as_ref(), ctx).await;
    let started = Instant::now();
    let start = journal::now();
    let result = match paused {
        Ok(()) => {
            let _active = fault
                .then(|| ctx.faults.start(a.provider.is_timed_fault()))
                .flatten();
            a.provider.run(ctx, None).await
        }
        Err(e) => Err(ActivityFailed(format!("pauses.before: {e}"))),
    };
    let end = journal::now();
    let duration = started.elapsed().as_secs_f64();
    let result = match (result, pause(a.pause_after.as_ref(), ctx).await) {
        (Ok(_), Err(e)) => Err(ActivityFailed(format!("pauses.after: {e}"))),
        (r, _) => r,
    };
    let (output, status, exception) = match result {
        Ok(v) => (v, RunStatus::Succeeded, None),
        Err(e) => (
            Value::Null,
            RunStatus::Failed,
            Some(vec![format!("ActivityFailed: {e}\n")]),
        ),
    };
    let run = Run {
        activity: a.raw.clone(),
        output,
        start,
        status,
        exception,
        end,
        duration,
        tolerance_met: None,
    };
    (started, run)
}

/// Samples a probe with a mode at its interval until `finished`: always (`continuous`) or
/// while a fault is active (`on-fault`). Its run lists every sample; it fails, and the
/// hypothesis during the fault with it, when a sample is out of tolerance or none was taken.
async fn sample(
    a: &Activity,
    ctx: &Context,
    mode: ProbeMode,
    every: Duration,
    finished: &CancellationToken,
) -> (Instant, Run) {
    let started = Instant::now();
    let start = journal::now();
    let mut samples = Vec::new();
    let mut out_of_tolerance = 0;
    while !finished.is_cancelled() {
        let phase = ctx.faults.phase();
        if mode == ProbeMode::Continuous || phase == FaultPhase::During {
            let at = journal::now();
            let result = a.provider.run(ctx, None).await;
            let (output, met, exception) = match result {
                Ok(output) => {
                    let met = match &a.tolerance {
                        Some(t) => t.check(&output, ctx).await,
                        None => true,
                    };
                    (output, met, None)
                }
                Err(e) => (Value::Null, false, Some(e.0)),
            };
            out_of_tolerance += usize::from(!met);
            samples.push(serde_json::json!({
                "start": at, "phase": phase, "output": output, "tolerance_met": met,
                "exception": exception,
            }));
        }
        tokio::select! {
            () = finished.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
    }
    let failure = if samples.is_empty() {
        Some("no sample was taken: no fault was active while the method ran".to_string())
    } else if out_of_tolerance > 0 {
        Some(format!(
            "{out_of_tolerance} of {} samples out of tolerance",
            samples.len()
        ))
    } else {
        None
    };
    if failure.is_some() {
        ctx.faults.hypothesis_failed();
    }
    let run = Run {
        activity: a.raw.clone(),
        output: serde_json::json!({"mode": mode, "samples": samples}),
        start,
        status: if failure.is_some() {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        },
        exception: failure.map(|f| vec![format!("ActivityFailed: {f}\n")]),
        end: journal::now(),
        duration: started.elapsed().as_secs_f64(),
        tolerance_met: None,
    };
    (started, run)
}

/// Sleeps for a pause, resolving a `${name}` first.
async fn pause(p: Option<&Pause>, ctx: &Context) -> Result<(), String> {
    let seconds = match p {
        None => return Ok(()),
        Some(Pause::Seconds(s)) => *s,
        Some(Pause::Placeholder(name)) => match ctx.vars().substitute_str(name) {
            Value::Number(n) => n.as_f64().unwrap_or(0.0),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("{name} is {s:?}, not a number of seconds"))?,
            other => return Err(format!("{name} is {other}, not a number of seconds")),
        },
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("{seconds} is not a number of seconds"));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    Ok(())
}

/// `None` when `stop` fires first.
async fn until_stopped<T>(stop: &CancellationToken, f: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        biased;
        () = stop.cancelled() => None,
        v = f => Some(v),
    }
}
