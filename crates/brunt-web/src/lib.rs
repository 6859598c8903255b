//! Seeing a run: the live web dashboard (`--dashboard`, server-sent events on 127.0.0.1) and the
//! self-contained HTML report (`--report FILE`, or `brunt report results.json`). Both are one
//! page, built into the binary with its chart library, fed by [`ReportData`].
//!
//! A front end (`quick`, `run`) flattens [`WebArgs`] into its flags and drives its run through a
//! [`RunReport`], which feeds the reporter's outputs and the [`WebSession`] and finishes both.
//! [`game_day`] draws a chaos experiment's journal on the same page, [`capacity`] a capacity
//! search's result, [`llm_sweep`] an LLM sweep's steps.

pub mod capacity;
mod dashboard;
pub mod game_day;
pub mod llm_sweep;
mod page;
mod report_cmd;
mod report_data;
mod run_report;
mod session;

pub use page::render;
pub use report_cmd::{report, ReportArgs};
pub use report_data::{
    Breakdown, CheckRow, Count, Endpoint, FinalSummary, MetricRow, Overlay, Point, ReportData,
};
pub use run_report::RunReport;
pub use session::{RunInfo, WebArgs, WebSession, DEFAULT_PORT};
