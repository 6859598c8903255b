//! One driver for everything a run shows and keeps, shared by `brunt quick` and `brunt run`: the
//! reporter (progress line, `--out` outputs, `abortOnFail`, summary, `--summary-export`, exit
//! code), the dashboard and `--report`, and the Ctrl-C/SIGTERM handling that still writes them.

use crate::{RunInfo, WebArgs, WebSession};
use anyhow::Result;
use brunt_engine::{RunControl, RunEnd, RunOptions, RunOutcome};
use brunt_metrics::{builtin, Registry};
use brunt_monitor::Monitors;
use brunt_output::{Finished, Observed, OutputError, ReportConfig, Reporter};
use std::sync::Arc;

pub struct RunReport {
    reporter: Reporter,
    web: Option<WebSession>,
    control: RunControl,
    monitors: Monitors,
    instances: Vec<brunt_output::InstanceFacts>,
}

impl RunReport {
    /// Opens the outputs, creates the `--summary-export` and `--report` files and starts the
    /// dashboard (so bad paths and ports fail before the first request). `title` heads the page;
    /// `control` is the run's stop, made by [`brunt_output::stop_on_signals`] so that the first
    /// Ctrl-C or SIGTERM stops the run gracefully.
    pub fn start(
        cfg: ReportConfig,
        web: &WebArgs,
        title: String,
        registry: Arc<Registry>,
        control: RunControl,
        monitors: Monitors,
    ) -> Result<RunReport> {
        if let Some(t) = &web.trace_url {
            brunt_output::check_trace_url(t).map_err(anyhow::Error::msg)?;
        }
        let mut cfg = cfg;
        cfg.summary.trace_url = web.trace_url.clone();
        let web = WebSession::start(
            web,
            RunInfo {
                title,
                scenarios: cfg.scenarios.clone(),
                thresholds: cfg.thresholds.clone(),
            },
        )?;
        let reporter = Reporter::new(cfg, registry)?;
        if let Some(web) = &web {
            reporter.add_output("dashboard", web.output());
        }
        for w in monitors.warnings() {
            eprintln!("warning: {w}; the run goes on without it");
        }
        Ok(RunReport {
            reporter,
            web,
            control,
            monitors,
            instances: Vec::new(),
        })
    }

    /// A coordinated run's instances, for the summary's `brunt.instances` and its block.
    pub fn set_instances(&mut self, instances: Vec<brunt_output::InstanceFacts>) {
        self.instances = instances;
    }

    /// Engine options that feed this report: its observer, whether samples must be kept, the
    /// monitors' samples, and the stop control the signals drive. Set the rest with struct update syntax.
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            keep_raw: self.reporter.wants_raw_samples(),
            observer: Some(self.reporter.observer()),
            control: self.control.clone(),
            samplers: vec![self.monitors.sampler()],
            ..RunOptions::default()
        }
    }

    /// After the run: builds the summary and writes `--summary-export`, lets `present` show it
    /// (print it, or hand it to `handleSummary`; it returns the writes that failed), and
    /// finishes the page (`--report`, final verdicts). Every output is attempted even when one
    /// fails; each failure is printed here, naming its file, and fails the exit code
    /// ([`Finished::exit_code`]). Then `--linger` waits.
    pub fn finish(
        self,
        outcome: &RunOutcome,
        setup_data: Option<serde_json::Value>,
        definition_order: Vec<String>,
        present: impl FnOnce(&Finished) -> Vec<OutputError>,
    ) -> Finished {
        let dropped = outcome
            .snapshot
            .metric(builtin::DROPPED_ITERATIONS)
            .and_then(|a| a.stat("count", 0.0))
            .unwrap_or(0.0);
        let seen = self.monitors.finish(dropped as u64);
        let observed = Observed {
            events: seen.events.iter().map(ToString::to_string).collect(),
            generator: seen.generator,
            instances: self.instances.clone(),
        };
        let page_events = [&observed.events[..], &observed.generator[..]].concat();
        let mut finished = self
            .reporter
            .finish(outcome, setup_data, definition_order, observed);
        let failed = present(&finished);
        // After the summary, as k6 logs it; an abortOnFail stop said its own line already.
        if !matches!(outcome.end, RunEnd::Aborted(_)) {
            if let Some(line) = finished.summary.crossed_line() {
                brunt_engine::log::error(&line);
            }
        }
        finished
            .failed_writes
            .extend(failed.iter().map(ToString::to_string));
        if let Some(web) = &self.web {
            // The run is over: a signal from now on ends --linger, not the run.
            self.control.stop();
            let page_notes = [
                &finished.failed_writes[..],
                &finished.notes[..],
                &page_events[..],
            ]
            .concat();
            if let Err(e) = web.finish(outcome, &finished.summary, &page_notes) {
                finished.failed_writes.push(e.to_string());
            }
        }
        for note in &finished.notes {
            eprintln!("warning: {note}");
        }
        for e in &finished.failed_writes {
            eprintln!("error: {e}");
        }
        if let Some(web) = self.web {
            web.linger();
        }
        finished
    }
}
