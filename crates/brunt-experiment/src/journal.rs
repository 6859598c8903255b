//! `journal.json`, in Chaos Toolkit's journal format, so tools that read chaos journals read
//! brunt's.

use serde::Serialize;
use serde_json::Value;

/// The version of chaostoolkit-lib whose behaviour and journal brunt follows.
pub const CHAOSLIB_VERSION: &str = "1.44.0";

/// How an experiment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ran to the end (the hypothesis may still have deviated).
    Completed,
    /// A steady-state probe failed to run.
    Failed,
    /// The run broke on an unexpected error.
    Aborted,
    /// Stopped by Ctrl-C or SIGTERM.
    Interrupted,
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Journal {
    /// The chaostoolkit-lib version whose journal this matches.
    #[serde(rename = "chaoslib-version")]
    pub chaoslib_version: &'static str,
    /// The brunt that ran it.
    #[serde(rename = "brunt-version")]
    pub brunt_version: &'static str,
    /// The experiment as written.
    pub experiment: Value,
    /// ISO 8601 start time (UTC).
    pub start: String,
    /// ISO 8601 end time (UTC).
    pub end: String,
    /// Seconds from start to end.
    pub duration: f64,
    /// How it ended.
    pub status: Status,
    /// The steady state after the method was not met.
    pub deviated: bool,
    /// The hypothesis' results.
    pub steady_states: SteadyStates,
    /// The method's activities, in the order they started.
    pub run: Vec<Run>,
    /// The rollbacks, in the order they started.
    pub rollbacks: Vec<Run>,
}

/// The steady-state hypothesis before and after the method.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SteadyStates {
    /// Before the method (`null` without a hypothesis).
    pub before: Option<SteadyState>,
    /// After the method (`null` when the method did not run or there is no hypothesis).
    pub after: Option<SteadyState>,
    /// Checks during the method (Chaos Toolkit's continuous strategy; empty).
    pub during: Vec<SteadyState>,
}

/// One pass over the hypothesis' probes; it stops at the first probe out of tolerance.
#[derive(Clone, Debug, Serialize)]
pub struct SteadyState {
    /// Every probe ran and was within its tolerance.
    pub steady_state_met: bool,
    /// The probes that ran.
    pub probes: Vec<Run>,
}

/// One activity's run.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// The activity as written.
    pub activity: Value,
    /// What the provider returned (`null` when it failed).
    pub output: Value,
    /// ISO 8601 start time.
    pub start: String,
    /// `succeeded` or `failed`; absent for the activity an interruption cut short, as in
    /// Chaos Toolkit's journal.
    #[serde(skip_serializing_if = "RunStatus::is_interrupted")]
    pub status: RunStatus,
    /// Why it failed, as lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<Vec<String>>,
    /// ISO 8601 end time.
    pub end: String,
    /// Seconds it ran (pauses excluded).
    pub duration: f64,
    /// Whether the output was within the tolerance (steady-state probes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance_met: Option<bool>,
}

/// Whether an activity ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// It ran and returned.
    Succeeded,
    /// It could not run or its provider failed.
    Failed,
    /// Ctrl-C or SIGTERM stopped it (not written to the journal).
    Interrupted,
}

impl RunStatus {
    fn is_interrupted(&self) -> bool {
        *self == RunStatus::Interrupted
    }
}

/// Now, as Python's `datetime.now(timezone.utc).isoformat()` writes it.
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}
