//! Seeing a run: the live web dashboard (`--dashboard`, server-sent events on 127.0.0.1) and the
//! self-contained HTML report (`--report FILE`, or `brunt report results.json`). Both are one
//! page, built into the binary with its chart library, fed by [`ReportData`].
//!
//! A front end (`quick`, `run`) flattens [`WebArgs`] into its flags, starts a [`WebSession`]
//! before the run, adds [`WebSession::output`] to its outputs (`Reporter::add_output`, or any
//! observer that calls `SampleSink::interval` each tick), and calls [`WebSession::finish`] after
//! printing the summary.

mod dashboard;
mod page;
mod report_cmd;
mod report_data;
mod session;

pub use page::render;
pub use report_cmd::{report, ReportArgs};
pub use report_data::{
    Breakdown, CheckRow, Count, Endpoint, FinalSummary, MetricRow, Point, ReportData,
};
pub use session::{RunInfo, WebArgs, WebSession, DEFAULT_PORT};
