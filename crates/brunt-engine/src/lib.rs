//! Run plan, k6 executors, VU scheduling and execution segments.
//!
//! - [`Options`] is k6's options JSON; [`Plan::from_options`] maps the shortcuts onto scenarios
//!   as k6 does (`iterations` → shared-iterations, `duration` → constant-vus, `stages` →
//!   ramping-vus, `vus` alone → one shared iteration per VU, nothing → 1 VU × 1 iteration),
//!   applies k6's defaults and validates everything before anything runs; every error names
//!   the option (`scenarios.foo.rate: ...`).
//! - [`run`] drives a [`VuFactory`]'s VUs through the plan: one OS thread per worker, each
//!   with a current-thread tokio runtime and a `LocalSet`. Every worker owns a share of each
//!   scenario's VUs (closed model) or scheduled iterations (open model), so VUs never cross
//!   threads and need not be `Send`. An iteration is a future polled on its worker; dropping
//!   it (gracefulStop, gracefulRampDown, Ctrl-C) interrupts it.
//! - The hot path takes no lock, sends no message and allocates nothing per iteration: the
//!   engine adds `iterations` and `iteration_duration` to the worker's own aggregator, which
//!   the worker hands to the collector once a second. The collector (the thread that called
//!   [`run`]) merges those, adds `vus`/`vus_max`, and calls the observer with a [`Tick`].
//! - `setup()`/`teardown()`: [`Vu::setup`] and [`Vu::teardown`] run on a dedicated VU (id 0)
//!   on worker 0, before and after the scenarios; their samples count in the run.
//! - [`segment`] partitions VUs, iterations and arrival rates between instances
//!   (`--execution-segment`) with k6's striping, so instances covering `0:1` do the work of one.
//! - [`execution`] is where the run stands (k6's execution status, live VU counts) and its
//!   start gate (`--paused`), for k6's REST API to read and steer.
//! - [`log`] is the run's logger (k6's formats and outputs), used by every part that logs.
//! - [`profile`] holds the load profiles (`--profile`): smoke, load, stress, soak, spike and
//!   breakpoint as one scenario each, scaled to `--duration`.
//! - [`server_thread`] runs a side server (dashboard, REST API, coordinator) on a thread of its own.
//! - [`steps`] and [`arrival`] hold the pure schedules (ramping-vus VU counts, arrival-rate
//!   start times) that the workers follow.

pub mod arrival;
mod collector;
pub mod duration;
pub mod execution;
pub mod log;
mod options;
mod plan;
pub mod profile;
mod run;
pub mod segment;
pub mod server_thread;
pub mod steps;
mod vu;
mod worker;

pub use duration::{format_duration, parse_duration, DurationError};
pub use execution::{Execution, ExecutionStatus, Hook, PauseError};
pub use options::{Options, OptionsError, ScenarioOptions, Stage};
pub use plan::{Executor, Plan, PlanError, Scenario, DEFAULT_EXEC, DEFAULT_SCENARIO};
pub use run::{
    run, Control, HookFailure, Linger, Observer, Progress, RunControl, RunEnd, RunError,
    RunOptions, RunOutcome, Sampler, Saturation, ScenarioProgress, Tick,
};
pub use segment::{ExecutionSegment, ExecutionTuple, SegmentSequence};
pub use vu::{
    IterationCtx, IterationOutcome, IterationProgress, ScenarioInfo, Vu, VuError, VuFactory,
    VuInit, WorkerMetrics,
};
pub use worker::{instance_counts, InstanceCounts};
