//! Run plan, k6 executors, VU scheduling and execution segments.
//!
//! - [`Options`] is k6's options JSON; [`Plan::from_options`] maps the shortcuts onto scenarios
//!   as k6 does and validates everything before anything runs.
//! - [`run`] drives a [`VuFactory`]'s VUs through the plan on one thread per worker, each with
//!   a single-threaded event loop, and reports metrics once a second to an observer.
//! - [`segment`] partitions the work between instances (`--execution-segment`).

pub mod arrival;
mod collector;
pub mod duration;
mod options;
mod plan;
mod run;
pub mod segment;
pub mod steps;
mod vu;
mod worker;

pub use duration::{format_duration, parse_duration, DurationError};
pub use options::{Options, OptionsError, ScenarioOptions, Stage};
pub use plan::{Executor, Plan, PlanError, Scenario, DEFAULT_EXEC, DEFAULT_SCENARIO};
pub use run::{
    run, Control, Observer, Progress, RunControl, RunEnd, RunError, RunOptions, RunOutcome,
    Saturation, ScenarioProgress, Tick,
};
pub use segment::{ExecutionSegment, ExecutionTuple, SegmentSequence};
pub use vu::{
    IterationCtx, IterationOutcome, ScenarioInfo, Vu, VuError, VuFactory, VuInit, WorkerMetrics,
};
