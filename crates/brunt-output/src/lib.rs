//! End-of-test summary and k6's output formats: the text summary, `--summary-export`, the
//! handleSummary `data` object, the per-sample `--out json=` / `--out csv=` writers, brunt's
//! results file (`--out results=`), and the remote `prometheus-rw` and `influxdb` outputs.
//!
//! A run ends with [`Summary::new`] over its final snapshot; per-sample outputs are opened from
//! `--out` values with [`OutSpec`] and fed [`RawSample`](brunt_metrics::RawSample) batches.

mod budget;
pub mod compare;
mod csv;
mod errors;
mod export;
mod files;
mod go_format;
mod groups;
mod humanize;
mod instances;
mod json_lines;
mod junit;
mod outputs;
mod paint;
mod phases;
mod profile_check;
mod progress;
mod remote;
mod report;
mod results;
mod sink;
mod summary;
mod tag_cache;
mod text;
mod text_report;
mod traces;
pub mod verdict;

pub use budget::{BudgetReading, ErrorBudgets, Projection};
pub use errors::{ErrorBreakdown, ErrorCount, TLS_HINT};
pub use export::summary_export;
pub use files::{create_file, write_file, write_stderr, write_stdout};
pub use groups::{Check, Group};
pub use instances::InstanceFacts;
pub use outputs::Outputs;
pub use phases::{CacheStateArgs, PhaseReading, PhaseSplit, Phases};
pub use profile_check::{CheckResult, ProfileChecks};
pub use remote::RemoteSpec;
pub use report::{
    exit_code, saturation_note, signalled, stop_on_signals, Finished, Observed, ReportConfig,
    Reporter,
};
pub use results::{
    decode_series, encode_series, Results, ResultsEnd, ResultsError, ResultsInterval, SeriesRecord,
    RESULTS_FORMAT, RESULTS_VERSION,
};
pub use sink::{IntervalView, OutKind, OutSpec, SampleSink};
pub use summary::{RunFacts, Summary, SummaryMode, SummaryOptions, DEFAULT_TREND_STATS};
pub use text::{text_summary, TextOptions};
pub use traces::{
    announce, check_trace_url, slowest_requests, trace_link, SlowRequest, TraceArgs, SLOWEST,
};

/// A bad output option, or an output that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("--out {out}: {reason}")]
    BadOut { out: String, reason: String },
    #[error("unknown output '{kind}'; known outputs: {known}")]
    UnknownOutput { kind: String, known: String },
    /// `what` names the flag and file (`--out csv=FILE`, `--report FILE`, ...). The I/O error is
    /// in the message, not `source()`, so that it is printed once.
    #[error("cannot write {what}: {error}")]
    Io { what: String, error: std::io::Error },
    #[error("invalid summary trend stat '{0}': use avg, min, med, max, count or p(N) with N from 0 to 100")]
    TrendStat(String),
    #[error("invalid summary time unit '{0}': use s, ms or us")]
    TimeUnit(String),
    #[error("invalid --summary-mode '{0}': use compact, full, legacy or disabled")]
    SummaryMode(String),
}

impl OutputError {
    pub(crate) fn io(what: String, error: std::io::Error) -> OutputError {
        OutputError::Io { what, error }
    }
}
