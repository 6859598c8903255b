//! The workload model: what `brunt model` prints and writes with `--out` (JSON, `kind:
//! brunt-workload-model`), and what `--script` turns into a k6 script.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    pub kind: String,
    pub version: u32,
    /// The log file as given.
    pub source: String,
    pub format: String,
    pub lines: Lines,
    /// First and last timestamp (RFC 3339, UTC) and the seconds between.
    pub span: Span,
    pub requests: u64,
    /// Most requested first.
    pub routes: Vec<Route>,
    /// Requests past the route limit, folded together (a log of unnormalised paths).
    pub other_routes: u64,
    pub arrival: Arrival,
    pub sessions: Sessions,
    /// Clock jumps and other things worth knowing about the log.
    pub warnings: Vec<String>,
}

/// Lines read, parsed, and a few of those that were not, with why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lines {
    pub total: u64,
    pub parsed: u64,
    pub unparsed: u64,
    pub samples: Vec<Unparsed>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unparsed {
    pub line: u64,
    pub reason: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Span {
    pub start: String,
    pub end: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Route {
    pub method: String,
    /// The normalised path, e.g. `/api/orders/{id}`.
    pub path: String,
    pub requests: u64,
    /// Of all parsed requests, 0..1.
    pub share: f64,
    /// Requests by status code.
    pub status: BTreeMap<u16, u64>,
    /// Response body bytes, when logged.
    pub bytes: Option<Percentiles>,
    /// Milliseconds, when logged.
    pub latency_ms: Option<Percentiles>,
    /// Up to [`crate::fit::SAMPLES`] distinct values seen for each placeholder of the path, in
    /// order of the placeholders.
    pub path_values: Vec<Vec<String>>,
    /// Up to that many distinct values seen for each query parameter.
    pub query: BTreeMap<String, Vec<String>>,
    /// Share of this route's requests that had each query parameter.
    pub query_share: BTreeMap<String, f64>,
}

impl Route {
    /// `GET /api/orders/{id}`.
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Arrival {
    /// The minute of `per_minute[0]` (RFC 3339).
    pub first_minute: String,
    /// Requests in each minute from the first to the last, gaps included.
    pub per_minute: Vec<u64>,
    pub mean_per_second: f64,
    pub peak_per_second: f64,
    /// Busiest minute over the mean minute.
    pub peak_to_mean: f64,
    /// Index of dispersion (variance / mean) of per-second counts within each minute, so the
    /// curve's own rise and fall is left out: about 1 for Poisson arrivals, above for bursts,
    /// below for paced traffic. None for logs shorter than a full minute's worth of seconds.
    pub dispersion: Option<f64>,
    /// `poisson`, `bursty` or `paced`, from the dispersion.
    pub pattern: String,
    /// The busiest minutes, busiest first.
    pub peak_minutes: Vec<PeakMinute>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeakMinute {
    pub minute: String,
    pub requests: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sessions {
    /// What identifies a session: `ip+user-agent`, `ip` or `field:NAME`.
    pub key: String,
    /// The inactivity that ends a session, seconds.
    pub gap_seconds: f64,
    pub count: u64,
    pub requests_per_session: Percentiles,
    /// Time between one request of a session and the next, milliseconds.
    pub think_time_ms: Option<Percentiles>,
    /// The think-time distribution as 21 quantiles (0%, 5%, ... 100%), milliseconds: the
    /// script draws from it.
    pub think_time_quantiles_ms: Vec<f64>,
    /// Markov chain of routes: from a route (or `START`) to the next (or `END`), most
    /// taken first; `probability` is of the `from` row.
    pub transitions: Vec<Transition>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transition {
    pub from: String,
    pub to: String,
    pub count: u64,
    pub probability: f64,
}

/// A chain state that is not a route.
pub const START: &str = "START";
pub const END: &str = "END";
