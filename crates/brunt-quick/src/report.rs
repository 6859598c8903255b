//! The summary, threshold, output and monitor flags of the scriptless runs (`brunt quick`,
//! `brunt replay`), and the report they open.

use crate::duration_flag;
use anyhow::{Context, Result};
use brunt_metrics::{Registry, Thresholds};
use brunt_output::{OutKind, OutSpec, PhaseSplit, ReportConfig, SummaryOptions};
use brunt_web::RunReport;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A pass/fail criterion in k6's grammar, repeatable: --threshold 'http_req_duration: p(95)<500'
    /// (exit code 99 when one fails)
    #[arg(long = "threshold", value_name = "'METRIC: EXPR'")]
    pub thresholds: Vec<String>,

    /// Write k6's end-of-test summary export (JSON) to FILE
    #[arg(long, value_name = "FILE")]
    pub summary_export: Option<PathBuf>,

    #[arg(short = 'o', long = "out", value_name = "KIND=TARGET", help = OutKind::help())]
    pub outs: Vec<OutSpec>,

    /// Project the error budgets of SLO thresholds (`rate<X`, `p(N)<B`) onto a window, e.g.
    /// 30d: days until it is used up and which burn-rate alert would fire (docs/outputs.md)
    #[arg(long, value_name = "DURATION")]
    pub slo_window: Option<String>,

    /// Trend statistics in the summary, e.g. avg,p(95),p(99.9),max
    #[arg(long, value_name = "STATS")]
    pub summary_trend_stats: Option<String>,

    /// No progress line
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// No colours in the summary
    #[arg(long)]
    pub no_color: bool,

    /// Watch the target beside the load, repeatable: pid=PID, pidfile=PATH, cmd=NAME,
    /// cgroup=/sys/fs/cgroup/PATH or prometheus=URL[,METRIC...], named with NAME:KIND=VALUE, e.g.
    /// --monitor api:cmd=nginx; its signals are metrics (target_cpu_percent{monitor:api}, ...)
    /// usable in thresholds (docs/monitors.md)
    #[arg(long = "monitor", value_name = "[NAME:]KIND=VALUE")]
    pub monitors: Vec<brunt_monitor::MonitorSpec>,

    /// `--warm-up` and `--cold-cache`: the run's first stretch left out, or reported apart.
    #[command(flatten)]
    pub cache_state: brunt_output::CacheStateArgs,

    #[command(flatten)]
    pub web: brunt_web::WebArgs,
}

/// The grammar of each `flag` value (`--threshold`, `capacity`'s `--slo`), checked without a
/// registry so that a command names a mistake before it tries the network; whether each metric
/// exists is checked when the thresholds are added.
pub fn check_threshold_flags(flag: &str, values: &[String]) -> Result<()> {
    for t in values {
        Thresholds::check_cli(t).with_context(|| format!("{flag} '{t}'"))?;
    }
    Ok(())
}

impl ReportArgs {
    /// Starts the `--monitor`s, whose metrics join `registry`, then reads the `--threshold`s,
    /// which may name them (or any metric registered before).
    pub fn monitors_and_thresholds(
        &self,
        registry: &Arc<Registry>,
    ) -> Result<(brunt_monitor::Monitors, Thresholds)> {
        let monitors = brunt_monitor::Monitors::start(&self.monitors, registry)?;
        let mut thresholds = Thresholds::default();
        for t in &self.thresholds {
            thresholds
                .add_cli(t, registry)
                .with_context(|| format!("--threshold '{t}'"))?;
        }
        Ok((monitors, thresholds))
    }

    /// `--slo-window`, longer than 0s.
    pub fn slo_window(&self) -> Result<Option<Duration>> {
        self.slo_window
            .as_deref()
            .map(|w| match duration_flag("--slo-window", w)? {
                d if d.is_zero() => {
                    anyhow::bail!("--slo-window '{w}': must be longer than 0s, e.g. 30d")
                }
                d => Ok(d),
            })
            .transpose()
    }

    /// `--warm-up` or `--cold-cache`, checked (read before anything else is tried).
    pub fn phases(&self) -> Result<Option<PhaseSplit>> {
        self.cache_state.split().map_err(anyhow::Error::msg)
    }

    /// `--slo-window`, `--warm-up`, `--cold-cache` and the `--threshold`s' grammar checked:
    /// called before anything else is tried, so a bad flag is named before the network is.
    pub fn check(&self) -> Result<()> {
        self.slo_window()?;
        self.phases()?;
        check_threshold_flags("--threshold", &self.thresholds)
    }

    /// Opens the run's report (outputs, summary export, dashboard) over `registry`, headed by
    /// `title`, its scenarios described by `scenarios`.
    pub fn start(
        &self,
        registry: Arc<Registry>,
        (monitors, thresholds): (brunt_monitor::Monitors, Thresholds),
        title: String,
        scenarios: Vec<String>,
        profile_checks: Option<brunt_engine::profile::CheckWindows>,
    ) -> Result<RunReport> {
        let slo_window = self.slo_window()?;
        let phases = self.phases()?;
        let summary = SummaryOptions {
            trend_stats: match &self.summary_trend_stats {
                Some(list) => SummaryOptions::parse_trend_stats(list)?,
                None => SummaryOptions::default().trend_stats,
            },
            colors: !self.no_color && std::io::IsTerminal::is_terminal(&std::io::stdout()),
            ..SummaryOptions::default()
        };
        RunReport::start(
            ReportConfig {
                thresholds,
                outs: self.outs.clone(),
                summary_export: self.summary_export.clone(),
                summary,
                quiet: self.quiet,
                scenarios,
                slo_window,
                profile_checks,
                phases,
            },
            &self.web,
            title,
            registry,
            brunt_output::stop_on_signals(),
            monitors,
        )
    }
}
