//! What instances and the coordinator say to each other: JSON bodies under
//! `/v1/coordinator/`, the token as a bearer `Authorization` header.

use brunt_engine::{InstanceCounts, Progress, Saturation};
use brunt_output::SeriesRecord;
use serde::{Deserialize, Serialize};

/// Where every path of the coordinator lives.
pub const BASE: &str = "/v1/coordinator";

/// The environment variable the token falls back to, on both sides.
pub const TOKEN_ENV: &str = "BRUNT_COORDINATOR_TOKEN";

/// `POST /join`: an instance asks for its segment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The segment it claims (`--instance-index`, `JOB_COMPLETION_INDEX`); None takes the next free.
    pub index: Option<usize>,
    /// Host name and process id, for messages and the summary.
    pub name: String,
    /// SHA-256 of its local main script (`brunt run --coordinator`), checked against the
    /// coordinator's; None for `brunt agent`, which runs what the coordinator hands out.
    pub script_hash: Option<String>,
}

/// The answer to a join.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Joined {
    pub index: usize,
    pub instances: usize,
    /// This instance's `--execution-segment` and the run's `--execution-segment-sequence`.
    pub segment: String,
    pub sequence: String,
    /// Whether this instance runs `setup()` (before the start) and `teardown()` (after every
    /// instance has ended): one instance runs each, for the whole run.
    pub setup: bool,
    pub teardown: bool,
}

/// `POST /instances/{i}/ready`: its VUs are initialised (and `setup()` ran, on the instance
/// that runs it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ready {
    /// What `setup()` returned, as JSON text.
    pub setup_data: Option<String>,
    /// The instance cannot run (`setup()` failed, the script did not load): the run cannot
    /// start, and why.
    pub failed: Option<String>,
}

/// `GET /instances/{i}/start`'s answer once every instance is ready.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Start {
    /// Start this long after receiving the answer: a delay, not a wall-clock instant, so that
    /// clocks that disagree between machines do not matter.
    pub delay_ms: u64,
    /// `setup()`'s data for every VU.
    pub setup_data: Option<String>,
}

/// `POST /instances/{i}/report`: one second of the instance's aggregates (or its last).
#[derive(Serialize, Deserialize)]
pub struct Report {
    /// Since the instance's test started.
    pub elapsed_ms: u64,
    pub series: Vec<SeriesRecord>,
    pub progress: Progress,
    /// Set on the last report, after the instance's run ended.
    pub end: Option<InstanceEnd>,
}

/// How an instance's run ended.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InstanceEnd {
    pub counts: InstanceCounts,
    pub saturation: Saturation,
    /// `teardown()` failed (on the instance that ran it).
    pub teardown_error: Option<String>,
    /// The script aborted the test (`test.abort()`) or the instance crashed: the reason.
    pub aborted: Option<String>,
    /// The script called `exec.test.fail()`: the whole run exits as failed (k6's 110).
    #[serde(default)]
    pub marked_failed: bool,
}

/// The answer to a report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReportReply {
    /// Stop the run now (a threshold's `abortOnFail` on the whole, a lost instance under
    /// `--on-instance-loss abort`, the coordinator interrupted), with the reason.
    pub abort: Option<String>,
}

/// An error answer: what went wrong, said so that the instance can print it as it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refusal {
    pub error: String,
}
