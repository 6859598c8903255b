//! `brunt capacity` flags, checked and turned into a [`Settings`] before any load is sent.

use anyhow::{bail, Result};
use brunt_quick::{duration_flag, RequestArgs};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Find the highest request rate a URL sustains within its SLO: a baseline at a low rate, then
/// open-model steps (10, 20, 50, 100, 200, 500, ... requests/s) until one fails, then a search
/// between the last passing and the first failing rate (docs/capacity.md). Given a k6 script,
/// each step runs its default function (or --exec) at the step's iterations/s, its thresholds
/// as the SLO. With --concurrency,
/// closed-model steps instead, and a Universal Scalability Law fit of throughput against them.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  brunt capacity http://127.0.0.1:8080/json --slo 'http_req_duration: p(99)<300'
  brunt capacity http://127.0.0.1:8080/ --step 5s --monitor api:pid=1234 --export capacity.json
  brunt capacity http://127.0.0.1:8080/cpu/2 --concurrency 1,2,4,8,16,32
  brunt capacity checkout.js --step 30s")]
pub struct CapacityArgs {
    #[command(flatten)]
    pub request: RequestArgs,

    /// An SLO every step must meet, in k6's threshold grammar, repeatable:
    /// --slo 'http_req_duration: p(99)<300' --slo 'http_req_failed: rate<0.001'
    #[arg(long = "slo", value_name = "'METRIC: EXPR'")]
    pub slos: Vec<String>,

    /// For a script: the exported function each iteration runs (default: its default function)
    #[arg(long, value_name = "FUNCTION")]
    pub exec: Option<String>,

    /// Closed model: one step per level of VUs looping (e.g. 1,2,4,8,16,32), every level run,
    /// the lowest as the baseline; throughput is fitted to the Universal Scalability Law
    #[arg(long, value_name = "N,N,...", conflicts_with_all = ["baseline_rate", "start_rate", "max_rate", "resolution"])]
    pub concurrency: Option<String>,

    /// How long each step is measured, after its warm-up, e.g. 10s or 1m
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub step: String,

    /// Load at the step's rate before it is measured (new connections, caches), e.g. 2s or 0s
    #[arg(long, default_value = "2s", value_name = "DURATION")]
    pub warmup: String,

    /// The baseline's rate in requests/s: low enough that the target is idle; the knee is
    /// judged against its latency
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub baseline_rate: u64,

    /// The first step's rate in requests/s; later steps follow 1-2-5 (10, 20, 50, 100, ...)
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub start_rate: u64,

    /// The highest rate tried, in requests/s
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_rate: u64,

    /// Stop searching when the last passing and first failing rates are this close, e.g. 5%
    #[arg(long, default_value = "5%", value_name = "PERCENT")]
    pub resolution: String,

    /// The latency percentile watched for the knee, e.g. 99 or 95
    #[arg(long, default_value = "99", value_name = "P")]
    pub knee_percentile: String,

    /// A step fails when that percentile of http_req_duration exceeds this many times the
    /// baseline's
    #[arg(long, default_value_t = 2.0, value_name = "X")]
    pub knee_factor: f64,

    /// A step fails when more than this share of requests fail (http_req_failed), e.g. 1% or 0.1%
    #[arg(long, default_value = "1%", value_name = "PERCENT")]
    pub max_errors: String,

    /// A step fails when a monitored CPU or memory peaks above this share of its limit
    #[arg(long, default_value = "90%", value_name = "PERCENT")]
    pub max_resource: String,

    /// Most requests in flight; when all are busy, iterations are dropped and the step is
    /// judged a limit of the generator
    #[arg(long, default_value_t = 10_000)]
    pub max_vus: u64,

    /// How long requests still in flight at the end of a step may take before they are cut
    /// (and counted as failed); also lets an overloaded target drain before the next step
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub graceful_stop: String,

    /// Watch the target beside the load, as in `brunt quick` (pid=, pidfile=, cmd=, cgroup=,
    /// prometheus=); a step fails when its CPU or memory crosses --max-resource of its limit
    #[arg(long = "monitor", value_name = "[NAME:]KIND=VALUE")]
    pub monitors: Vec<brunt_monitor::MonitorSpec>,

    /// Write the capacity result as JSON to FILE (its shape: docs/capacity.md)
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,

    /// Write the result as a self-contained HTML report to FILE: latency against achieved
    /// throughput with the knee marked (and the USL curve in the closed model); `brunt report
    /// capacity.json` rebuilds it from --export
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// No line per step while the search runs
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// The search's parameters, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub step: Duration,
    pub warmup: Duration,
    pub graceful_stop: Duration,
    pub baseline_rate: u64,
    pub start_rate: u64,
    pub max_rate: u64,
    /// A fraction: 0.05 for 5%.
    pub resolution: f64,
    pub knee_percentile: f64,
    pub knee_factor: f64,
    pub max_errors: f64,
    pub max_resource: f64,
    pub max_vus: u64,
    /// `--concurrency`'s levels, ascending; empty for the open-model search.
    pub concurrency: Vec<u64>,
}

impl CapacityArgs {
    /// Every flag checked; each error names its flag and value.
    pub fn settings(&self) -> Result<Settings> {
        let step = duration_flag("--step", &self.step)?;
        if step < Duration::from_secs(1) {
            bail!("--step '{}': a step must last at least 1s", self.step);
        }
        let s = Settings {
            step,
            warmup: duration_flag("--warmup", &self.warmup)?,
            graceful_stop: duration_flag("--graceful-stop", &self.graceful_stop)?,
            baseline_rate: self.baseline_rate,
            start_rate: self.start_rate,
            max_rate: self.max_rate,
            resolution: percent_flag("--resolution", &self.resolution)?,
            knee_percentile: percentile_flag(&self.knee_percentile)?,
            knee_factor: self.knee_factor,
            max_errors: percent_flag("--max-errors", &self.max_errors)?,
            max_resource: percent_flag("--max-resource", &self.max_resource)?,
            max_vus: self.max_vus,
            concurrency: match &self.concurrency {
                Some(list) => concurrency_flag(list)?,
                None => Vec::new(),
            },
        };
        if s.baseline_rate == 0 {
            bail!("--baseline-rate: must be at least 1 request/s");
        }
        if s.start_rate <= s.baseline_rate {
            bail!(
                "--start-rate {}: must be above --baseline-rate {} (the baseline is the idle reference)",
                s.start_rate,
                s.baseline_rate
            );
        }
        if s.max_rate < s.start_rate {
            bail!(
                "--max-rate {}: must be at least --start-rate {}",
                s.max_rate,
                s.start_rate
            );
        }
        if !(s.resolution > 0.0 && s.resolution < 1.0) {
            bail!(
                "--resolution '{}': must be between 0% and 100%, e.g. 5%",
                self.resolution
            );
        }
        if !(s.knee_factor.is_finite() && s.knee_factor > 1.0) {
            bail!(
                "--knee-factor {}: must be more than 1, e.g. 2",
                self.knee_factor
            );
        }
        if s.max_resource <= 0.0 {
            bail!(
                "--max-resource '{}': must be more than 0%",
                self.max_resource
            );
        }
        if s.max_vus == 0 {
            bail!("--max-vus: must be at least 1");
        }
        // The SLOs' grammar before the target is tried; their metrics are checked once the
        // monitors have registered theirs.
        brunt_quick::check_threshold_flags("--slo", &self.slos)?;
        Ok(s)
    }
}

/// `1,2,4,8`: at least three distinct levels (the USL has three parameters), ascending.
fn concurrency_flag(list: &str) -> Result<Vec<u64>> {
    let mut levels = Vec::new();
    for item in list.split(',') {
        match item.trim().parse::<u64>() {
            Ok(n) if n >= 1 => levels.push(n),
            _ => bail!(
                "--concurrency '{list}': '{}' is not a number of VUs (1 or more), e.g. 1,2,4,8",
                item.trim()
            ),
        }
    }
    levels.sort_unstable();
    levels.dedup();
    if levels.len() < 3 {
        bail!("--concurrency '{list}': give at least three levels, e.g. 1,2,4,8 (the USL fit has three parameters)");
    }
    Ok(levels)
}

/// `5%`, `5` (both five percent) or `0.1%` as a fraction.
fn percent_flag(flag: &str, value: &str) -> Result<f64> {
    let number = value.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => Ok(p / 100.0),
        _ => bail!("{flag} '{value}': expected a percentage, e.g. 5%"),
    }
}

/// `99`, `99.9` or `p(99)`.
fn percentile_flag(value: &str) -> Result<f64> {
    let v = value.trim();
    let number = v
        .strip_prefix("p(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(v);
    match number.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p),
        _ => bail!("--knee-percentile '{value}': expected a percentile between 0 and 100, e.g. 99"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CapacityArgs,
    }

    fn settings(extra: &[&str]) -> Result<Settings> {
        let mut argv = vec!["brunt", "http://127.0.0.1:1/"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().args.settings()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.step, Duration::from_secs(10));
        assert_eq!((s.baseline_rate, s.start_rate), (5, 10));
        assert_eq!((s.resolution, s.max_errors), (0.05, 0.01));
        assert_eq!((s.knee_percentile, s.knee_factor), (99.0, 2.0));
        assert!(s.concurrency.is_empty(), "open model by default");
        let closed = settings(&["--concurrency", "8, 1,2,4"]).unwrap();
        assert_eq!(closed.concurrency, [1, 2, 4, 8]);
        assert_eq!(
            settings(&["--knee-percentile", "p(95)"])
                .unwrap()
                .knee_percentile,
            95.0
        );
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (argv, flag) in [
            (&["--start-rate", "5"][..], "--start-rate"),
            (&["--max-rate", "5", "--start-rate", "20"], "--max-rate"),
            (&["--baseline-rate", "0"], "--baseline-rate"),
            (&["--resolution", "0%"], "--resolution"),
            (&["--resolution", "lots"], "--resolution"),
            (&["--knee-factor", "1"], "--knee-factor"),
            (&["--knee-percentile", "p(101)"], "--knee-percentile"),
            (&["--max-errors=-1%"], "--max-errors"),
            (&["--step", "500ms"], "--step"),
            (&["--warmup", "soon"], "--warmup"),
            (&["--concurrency", "1,2,x"], "--concurrency '1,2,x': 'x'"),
            (&["--concurrency", "0,1,2"], "--concurrency"),
            (&["--concurrency", "4,4,2"], "at least three levels"),
        ] {
            let e = settings(argv).expect_err(flag).to_string();
            assert!(e.contains(flag), "{argv:?}: {e}");
        }
    }
}
