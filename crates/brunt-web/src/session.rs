//! `--dashboard`, `--report` and `--linger` on `quick` and `run`: the flags, and the web session a
//! run feeds through the reporter.

use crate::dashboard::{self, Shared, Update};
use crate::{page, ReportData};
use anyhow::{Context, Result};
use brunt_engine::RunOutcome;
use brunt_metrics::{RawSample, Registry, Thresholds};
use brunt_output::verdict::VerdictView;
use brunt_output::{saturation_note, write_file, IntervalView, OutputError, SampleSink, Summary};
use clap::Args;
use serde_json::json;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// The dashboard's default port (k6's web dashboard uses the same).
pub const DEFAULT_PORT: u16 = 5665;

/// Seeing a run: a live dashboard while it runs, an HTML report when it ends.
#[derive(Debug, Clone, Default, Args)]
pub struct WebArgs {
    /// Serve a live dashboard on 127.0.0.1 while the test runs (its URL is printed at start)
    #[arg(long)]
    pub dashboard: bool,

    /// Port of the dashboard, e.g. --dashboard-port 8088 (0 picks a free one)
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_PORT, requires = "dashboard")]
    pub dashboard_port: u16,

    /// Keep the process (the dashboard; with `run`, k6's REST API) up after the test until Ctrl-C,
    /// as k6's --linger; `run` waits before its summary, as k6, so that `POST /v1/teardown`
    /// through the API counts in it
    #[arg(short = 'l', long)]
    pub linger: bool,

    /// Write a self-contained HTML report (charts, thresholds, tables) to FILE at the end,
    /// e.g. --report report.html
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Link the slowest requests' trace ids (summary, report) to a tracing backend, with
    /// {trace_id} in the URL, e.g. --trace-url 'https://tempo.example/trace/{trace_id}'
    #[arg(long, value_name = "URL")]
    pub trace_url: Option<String>,
}

/// What the page says about the run before it starts.
pub struct RunInfo {
    /// e.g. `brunt quick http://127.0.0.1:8080/`
    pub title: String,
    /// One line per scenario.
    pub scenarios: Vec<String>,
    /// Evaluated each second for the dashboard's threshold table.
    pub thresholds: Thresholds,
}

/// A run's dashboard and report.
pub struct WebSession {
    args: WebArgs,
    shared: Arc<Shared>,
    thresholds: Thresholds,
    url: Option<String>,
}

impl WebSession {
    /// Starts the dashboard (when asked for) and prints its URL; `None` when none of
    /// `--dashboard`, `--report` and `--linger` was given.
    pub fn start(args: &WebArgs, info: RunInfo) -> Result<Option<WebSession>> {
        if !args.dashboard && args.report.is_none() && !args.linger {
            return Ok(None);
        }
        if let Some(path) = &args.report {
            // Fail before the run, not after it, when the report cannot be written.
            brunt_output::create_file("--report", path)?;
        }
        let mut data = ReportData::new(info.title, info.scenarios);
        data.trace_url = args.trace_url.clone();
        let shared = Shared::new(data);
        let url = if args.dashboard {
            let addr =
                dashboard::serve(args.dashboard_port, shared.clone()).with_context(|| {
                    format!(
                        "--dashboard-port {}: cannot listen on 127.0.0.1:{}",
                        args.dashboard_port, args.dashboard_port
                    )
                })?;
            let url = format!("http://{addr}/");
            eprintln!("dashboard: {url}");
            Some(url)
        } else {
            None
        };
        Ok(Some(WebSession {
            args: args.clone(),
            shared,
            thresholds: info.thresholds,
            url,
        }))
    }

    /// The dashboard's address, when it is served.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The output to add to the run's reporter (`Reporter::add_output`).
    pub fn output(&self) -> Box<dyn SampleSink> {
        Box::new(WebSink {
            shared: self.shared.clone(),
            thresholds: self.thresholds.clone(),
        })
    }

    /// After the summary: final verdicts and `notes` (output problems) on the page, and
    /// `--report` written.
    pub fn finish(
        &self,
        outcome: &RunOutcome,
        summary: &Summary,
        notes: &[String],
    ) -> Result<(), OutputError> {
        {
            let mut data = self.shared.lock();
            data.thresholds = summary.threshold_results().to_vec();
            data.phases = summary.phases().to_vec();
            let tables = data.summary.get_or_insert_with(Default::default);
            tables.saturation = saturation_note(outcome);
            tables.notes = notes.to_vec();
        }
        self.shared.publish(Update::Final);
        if let Some(path) = &self.args.report {
            let html = page::render(&self.shared.lock());
            write_file("--report", path, html)?;
            eprintln!("report: {}", path.display());
        }
        Ok(())
    }

    /// With `--linger`, keeps the process (and the dashboard) up until Ctrl-C.
    pub fn linger(self) {
        if self.args.linger {
            match &self.url {
                Some(url) => eprintln!("dashboard: still serving {url}; press Ctrl-C to exit"),
                None => eprintln!("linger: waiting for Ctrl-C"),
            }
            wait_for_ctrl_c();
        }
    }
}

fn wait_for_ctrl_c() {
    if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        let _ = rt.block_on(tokio::signal::ctrl_c());
    }
}

/// Feeds the page a point per tick; the run's end fills in its tables.
struct WebSink {
    shared: Arc<Shared>,
    thresholds: Thresholds,
}

impl SampleSink for WebSink {
    fn write(&mut self, _: &[RawSample], _: &Registry) -> io::Result<()> {
        Ok(())
    }

    fn wants_raw(&self) -> bool {
        false
    }

    fn interval(&mut self, view: &IntervalView<'_>) -> io::Result<()> {
        let thresholds = self.thresholds.evaluate(view.judged, view.judged_elapsed);
        let update = {
            let mut data = self.shared.lock();
            let point = data.push_interval(view.elapsed, view.series, view.registry);
            let worded: Vec<VerdictView> = thresholds.iter().map(VerdictView::from).collect();
            let update = json!({ "point": point, "thresholds": worded }).to_string();
            data.thresholds = thresholds;
            if view.is_final {
                data.finish(view.judged, view.registry, view.judged_elapsed);
            }
            update
        };
        self.shared.publish(Update::Point(update));
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}
