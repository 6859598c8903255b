//! What the engine drives: a virtual user, created on the worker thread that owns it, running
//! one iteration at a time as a future on that worker's event loop, so it can suspend (await a
//! response, sleep) without blocking the worker.

use crate::segment::SegmentedIndex;
use brunt_metrics::{Aggregator, TagSet};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The worker's aggregator, shared by all VUs of that worker (single-threaded, so no lock).
/// Borrow it only to add samples, never across an `.await`: the worker drains it every second.
pub type WorkerMetrics = Rc<RefCell<Aggregator>>;

/// A VU could not be created or a hook failed; the message is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VuError(pub String);

/// Creates VUs. Shared by all workers; `create` runs on the worker thread that will own the VU.
pub trait VuFactory: Send + Sync + 'static {
    type Vu: Vu;
    /// True when `create` is cheap enough to call on the scheduling path (no script to
    /// evaluate, as in `brunt quick`). Open-model executors then start an iteration that finds
    /// no free VU on a new one, up to `maxVUs`, instead of dropping it and initialising a VU in
    /// the background as k6 does for script VUs.
    const CHEAP_INIT: bool = false;
    fn create(&self, init: VuInit) -> Result<Self::Vu, VuError>;
}

/// Identity and metrics handed to a new VU.
pub struct VuInit {
    /// k6's `vu.idInInstance`: 1-based and unique in this instance; 0 for the VU that runs
    /// `setup()` and `teardown()`.
    pub id_in_instance: u64,
    /// k6's `vu.idInTest`: unique across all instances of a segmented test.
    pub id_in_test: u64,
    /// Index of the worker thread that owns the VU.
    pub worker: usize,
    pub metrics: WorkerMetrics,
}

/// A virtual user. Its futures run on one worker thread only (it need not be `Send`).
///
/// Dropping an `iteration` future before it completes must be safe: the engine does so at the
/// end of `gracefulStop`/`gracefulRampDown` and on interruption, and may then run further
/// iterations on the same VU (in a later scenario).
pub trait Vu: 'static {
    /// Runs one iteration of the scenario's `exec` function.
    fn iteration(&mut self, ctx: &IterationCtx) -> impl Future<Output = IterationOutcome>;

    /// k6's `setup()`: run once, before the scenarios, on a dedicated VU (id 0) of worker 0.
    /// Keep its result (k6's setup data) wherever the other VUs can read it, e.g. in the factory.
    /// An error fails the run with [`RunError::Setup`](crate::RunError::Setup).
    fn setup(&mut self) -> impl Future<Output = Result<(), VuError>> {
        async { Ok(()) }
    }

    /// k6's `teardown()`: run once on the same dedicated VU after the scenarios have ended,
    /// however they ended. Its error is reported in [`RunOutcome`](crate::RunOutcome).
    fn teardown(&mut self) -> impl Future<Output = Result<(), VuError>> {
        async { Ok(()) }
    }
}

/// How an iteration ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IterationOutcome {
    Completed,
    /// The iteration threw: it still counts in `iterations`, and the VU goes on (as in k6).
    Failed,
    /// `test.abort()`: the whole run stops, this iteration is not counted.
    AbortTest(String),
}

/// A scenario as its VUs see it (k6/execution's `scenario` and the VU's tags and env).
#[derive(Debug)]
pub struct ScenarioInfo {
    pub name: String,
    /// k6's executor name, e.g. `constant-vus`.
    pub executor: &'static str,
    /// The exported function to run.
    pub exec: String,
    /// The scenario's `env`, to be layered over the run's environment.
    pub env: BTreeMap<String, String>,
    /// The run's tags, the scenario's `tags` and `scenario: <name>`; samples should carry them.
    pub tags: TagSet,
    /// Maps this instance's iteration numbers to the whole test's (execution segments).
    pub(crate) iteration_index: SegmentedIndex,
    pub(crate) progress_basis: ProgressBasis,
}

/// What a scenario's progress is measured against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ProgressBasis {
    /// Elapsed share of this regular duration.
    Time(Duration),
    /// Share of this many iterations (on this instance).
    Iterations(u64),
}

/// Everything an iteration needs to know about where it runs. One per VU activation; the
/// counters are updated before each iteration.
#[derive(Debug)]
pub struct IterationCtx {
    pub scenario: Arc<ScenarioInfo>,
    /// When the test started (after setup).
    pub test_start: Instant,
    /// When this scenario started (test start + startTime).
    pub scenario_start: Instant,
    /// k6's `scenario.iterationInInstance`: 0-based, unique in this scenario on this instance.
    pub iteration_in_scenario: u64,
    /// k6's `__ITER`: 0-based count of this VU's iterations, across scenarios.
    pub vu_iteration: u64,
    /// k6's `vu.iterationInScenario`: 0-based count of this VU's iterations in this scenario.
    pub vu_iteration_in_scenario: u64,
    /// Open-model executors: how late the iteration started relative to its intended start,
    /// which is stamped when the iteration is scheduled, not when a VU picks it up. Add it to a
    /// request's duration to get the latency a user on that schedule would see.
    pub scheduled_lag: Option<Duration>,
    /// What the plan's [`ArrivalFeed`](crate::arrival::ArrivalFeed) gave this iteration
    /// (`brunt replay`'s logged request); None for computed schedules.
    pub payload: Option<crate::arrival::Payload>,
}

/// k6's `scenario.progress` as one iteration sees it: a duration-based scenario's progress moves
/// with the clock while the iteration runs, an iteration-based one's is fixed when it starts.
#[derive(Debug, Clone, Copy)]
pub struct IterationProgress {
    basis: ProgressBasis,
    scenario_start: Instant,
    iteration_in_scenario: u64,
}

impl IterationProgress {
    /// 0..=1: the elapsed share of a duration-based scenario, or the share of an iteration-based
    /// one's iterations started before this one.
    pub fn now(&self) -> f64 {
        let p = match self.basis {
            ProgressBasis::Time(d) if d.is_zero() => 1.0,
            ProgressBasis::Time(d) => self.scenario_start.elapsed().as_secs_f64() / d.as_secs_f64(),
            ProgressBasis::Iterations(0) => 1.0,
            ProgressBasis::Iterations(n) => self.iteration_in_scenario as f64 / n as f64,
        };
        p.clamp(0.0, 1.0)
    }
}

impl IterationCtx {
    /// k6's `scenario.progress` for this iteration, to be read at any moment while it runs.
    pub fn scenario_progress(&self) -> IterationProgress {
        IterationProgress {
            basis: self.scenario.progress_basis,
            scenario_start: self.scenario_start,
            iteration_in_scenario: self.iteration_in_scenario,
        }
    }

    /// k6's `scenario.iterationInTest`: this iteration's number in the whole (segmented) test.
    pub fn iteration_in_test(&self) -> u64 {
        let n = self.iteration_in_scenario as i64 + 1;
        (self.scenario.iteration_index.unscaled_of(n) - 1).max(0) as u64
    }
}
