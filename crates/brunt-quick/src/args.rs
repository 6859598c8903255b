//! `brunt quick` flags, and how they become a request, a client and k6 options.

use crate::report::ReportArgs;
use anyhow::{anyhow, bail, Context, Result};
use brunt_engine::profile::{Profile, Shape};
use brunt_engine::{parse_duration, ExecutionSegment, Options, ScenarioOptions};
use brunt_http::retry::RetrySpec;
use brunt_http::{ClientConfig, HttpVersion, Request};
use clap::Args;
use std::collections::BTreeMap;
use std::time::Duration;

/// Attack one URL without a script: closed model (`--vus` connections looping, like wrk) or
/// open model (`--rate` requests per second on schedule, like vegeta and wrk2).
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  brunt quick http://127.0.0.1:8080/ --vus 50 --duration 10s
  brunt quick http://127.0.0.1:8080/api/orders -X POST -H 'Content-Type: application/json' --body @order.json
  brunt quick http://127.0.0.1:8080/ --rate 2000 --duration 30s --threshold 'http_req_scheduled_duration: p(95)<50'")]
pub struct QuickArgs {
    #[command(flatten)]
    pub request: RequestArgs,

    /// A load profile's shape instead of --vus/--rate: smoke, load, stress, soak, spike or
    /// breakpoint, with --peak; --duration scales every phase (docs/profiles.md)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["vus", "rate", "iterations"])]
    pub profile: Option<Profile>,

    /// The profile's peak: VUs, or requests a second for breakpoint, e.g. --peak 200
    #[arg(long, value_name = "N", requires = "profile")]
    pub peak: Option<u64>,

    /// Concurrent virtual users, each with its own connection (open model: VUs allocated up front)
    #[arg(short = 'u', long, default_value_t = 50)]
    pub vus: u64,

    /// How long to attack, in k6's duration format: 10s, 1m30s, 1500ms (at least 1s, as in k6);
    /// with --profile, the profile's whole length (every phase scaled alike)
    #[arg(short = 'd', long)]
    pub duration: Option<String>,

    /// Send exactly N requests in total (shared by the VUs) instead of running for a duration
    #[arg(short = 'i', long, conflicts_with = "rate")]
    pub iterations: Option<u64>,

    /// Open model: start this many requests per second on schedule, whatever the server does;
    /// latency is also measured from each request's intended start (http_req_scheduled_duration)
    #[arg(short = 'r', long)]
    pub rate: Option<u64>,

    /// Open model: most requests in flight; when all are busy, iterations are dropped and counted
    /// in dropped_iterations
    #[arg(long, default_value_t = 10_000, requires = "rate")]
    pub max_vus: u64,

    /// How long requests still in flight when the attack's time is up may take to finish before
    /// they are cut and counted as interrupted (k6's gracefulStop), e.g. 0s or 5s
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub graceful_stop: String,

    #[command(flatten)]
    pub report: ReportArgs,

    /// This instance's share of a distributed run, e.g. 1/4:2/4 (k6's execution segments)
    #[arg(long, value_name = "FROM:TO", value_parser = parse_segment)]
    pub execution_segment: Option<ExecutionSegment>,

    #[command(flatten)]
    pub trace: brunt_output::TraceArgs,

    #[command(flatten)]
    pub retry: RetryArgs,
}

/// A retry policy for every request (a retry-storm experiment): what is retried, how often, how
/// long apart, and within which budget.
#[derive(Debug, Clone, Default, Args)]
pub struct RetryArgs {
    /// Retry failed requests (no response, or 5xx unless --retry-on says otherwise): immediate,
    /// fixed (--retry-base apart) or exponential (--retry-base, doubling, up to --retry-cap);
    /// retry_amplification (requests per logical request) is in the summary, e.g. --retry exponential
    #[arg(long, value_name = "POLICY")]
    pub retry: Option<String>,

    /// Attempts in all, the first included (default 3), e.g. --retry-max 4
    #[arg(long, value_name = "N", requires = "retry")]
    pub retry_max: Option<u32>,

    /// The fixed delay, or the first exponential one (default 100ms)
    #[arg(long, value_name = "DURATION", requires = "retry")]
    pub retry_base: Option<String>,

    /// The longest exponential delay (default 10s)
    #[arg(long, value_name = "DURATION", requires = "retry")]
    pub retry_cap: Option<String>,

    /// Full jitter: each delay drawn uniformly between 0 and the computed one
    #[arg(long, requires = "retry")]
    pub retry_jitter: bool,

    /// A retry budget: retries may be at most this share of the first attempts over
    /// --retry-window (as Finagle's and gRPC's), e.g. --retry-budget 0.1 for 10% more requests
    #[arg(long, value_name = "SHARE", requires = "retry")]
    pub retry_budget: Option<f64>,

    /// The budget's sliding window (default 10s)
    #[arg(long, value_name = "DURATION", requires = "retry_budget")]
    pub retry_window: Option<String>,

    /// Statuses to retry, comma-separated, 0 for no response (default: 0 and every 5xx), e.g.
    /// --retry-on 0,502,503
    #[arg(long, value_name = "STATUSES", requires = "retry")]
    pub retry_on: Option<String>,
}

impl RetryArgs {
    /// The policy the flags ask for; None without `--retry`. Errors name the flag.
    pub fn spec(&self) -> Result<Option<RetrySpec>> {
        let Some(policy) = &self.retry else {
            return Ok(None);
        };
        let backoff = policy
            .parse()
            .map_err(|e: String| anyhow!("--retry: {e}"))?;
        let mut spec = RetrySpec::new(backoff);
        let duration = |flag: &str, v: &Option<String>, default: Duration| {
            v.as_deref().map_or(Ok(default), |v| duration_flag(flag, v))
        };
        spec.base = duration("--retry-base", &self.retry_base, spec.base)?;
        spec.cap = duration("--retry-cap", &self.retry_cap, spec.cap)?;
        spec.window = duration("--retry-window", &self.retry_window, spec.window)?;
        spec.max_attempts = self.retry_max.unwrap_or(spec.max_attempts);
        spec.jitter = self.retry_jitter;
        spec.budget = self.retry_budget;
        if let Some(list) = &self.retry_on {
            spec.on = list
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse::<u16>()
                        .ok()
                        .filter(|n| *n < 600)
                        .ok_or_else(|| {
                            anyhow!("--retry-on '{list}': '{s}' is not an HTTP status (or 0)")
                        })
                })
                .collect::<Result<_>>()?;
        }
        spec.check().map_err(|e| anyhow!("--retry-{e}"))?;
        Ok(Some(spec))
    }
}

/// The one request a scriptless attack sends, and its client: shared by `brunt quick` and
/// `brunt capacity`.
#[derive(Debug, Clone, Args)]
pub struct RequestArgs {
    /// The URL to attack, e.g. http://127.0.0.1:8080/json
    pub url: String,

    /// HTTP method, e.g. -X POST
    #[arg(short = 'X', long, default_value = "GET")]
    pub method: String,

    /// Request body: a string, or @FILE to read it from a file, e.g. --body @order.json
    #[arg(long)]
    pub body: Option<String>,

    #[command(flatten)]
    pub client: ClientArgs,
}

/// How every request to the target goes out: headers, timeout, protocol and TLS checks; part of
/// [`RequestArgs`], and `brunt replay`'s (whose requests come from a log).
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// A request header, repeatable: -H 'Authorization: Bearer abc' -H 'Accept: application/json'
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,

    /// Per-request timeout, e.g. 5s (k6's default: 60s)
    #[arg(long, default_value = "60s")]
    pub timeout: String,

    /// Speak HTTP/2 (prior knowledge on http://, ALPN on https://)
    #[arg(long)]
    pub http2: bool,

    /// Accept any TLS certificate (self-signed test servers)
    #[arg(short = 'k', long)]
    pub insecure: bool,
}

impl RequestArgs {
    /// The first request flag set to other than its default, for refusing them where there is
    /// no request to shape (`brunt capacity script.js`).
    pub fn flags_given(&self) -> Option<&'static str> {
        [
            (self.method != "GET", "-X/--method"),
            (!self.client.headers.is_empty(), "-H/--header"),
            (self.body.is_some(), "--body"),
            (self.client.timeout != "60s", "--timeout"),
            (self.client.http2, "--http2"),
            (self.client.insecure, "-k/--insecure"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

/// Default attack length when neither --duration nor --iterations is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

impl QuickArgs {
    /// `--profile` at `--peak`, scaled to `--duration`; None without `--profile`.
    pub fn shape(&self) -> Result<Option<Shape>> {
        self.profile
            .map(|p| p.shape(self.peak, self.duration.as_deref()))
            .transpose()
            .map_err(|e| anyhow!(e))
    }

    /// The k6 options the flags stand for: one scenario named `default`, as k6 names the
    /// scenario of its shortcuts (or named after `--profile`).
    pub(crate) fn options(&self) -> Result<Options> {
        if let Some(shape) = self.shape()? {
            let scenario = ScenarioOptions {
                graceful_stop: Some(duration_flag("--graceful-stop", &self.graceful_stop)?),
                ..shape.scenario(None)
            };
            return Ok(Options {
                scenarios: Some(BTreeMap::from([(shape.profile.to_string(), scenario)])),
                execution_segment: self.execution_segment,
                ..Options::default()
            });
        }
        Load {
            vus: self.vus,
            rate: self.rate.map(|r| (r, Duration::from_secs(1))),
            max_vus: self.max_vus,
            iterations: self.iterations,
            duration: self.duration.clone(),
            graceful_stop: self.graceful_stop.clone(),
            execution_segment: self.execution_segment,
        }
        .options("--vus", "--rate", "--iterations")
    }
}

impl RequestArgs {
    /// The request every iteration sends.
    pub fn request(&self) -> Result<Request> {
        let method = http::Method::from_bytes(self.method.as_bytes())
            .map_err(|_| anyhow!("--method: '{}' is not an HTTP method", self.method))?;
        let mut req = Request::new(method, &self.url)
            .map_err(|e| anyhow!("URL '{}': {}", self.url, e.message))?;
        for h in &self.client.headers {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| anyhow!("--header '{h}': expected 'NAME: VALUE'"))?;
            req.set_header(name.trim(), value.trim())
                .map_err(|e| anyhow!("--header '{h}': {}", e.message))?;
        }
        if let Some(body) = &self.body {
            let bytes = match body.strip_prefix('@') {
                Some(path) => std::fs::read(path)
                    .with_context(|| format!("--body @{path}: cannot read the file"))?,
                None => body.clone().into_bytes(),
            };
            req.set_body(bytes);
        }
        // The attack never reads bodies or headers (but a redirect's Location): drop them as
        // they arrive, still counting their bytes.
        req.discard_body = true;
        req.discard_headers = true;
        Ok(req)
    }

    pub fn client_config(&self) -> Result<ClientConfig> {
        Ok(ClientConfig {
            timeout: duration_flag("--timeout", &self.client.timeout)?,
            insecure_skip_verify: self.client.insecure,
            http_version: if self.client.http2 {
                HttpVersion::Http2
            } else {
                HttpVersion::Auto
            },
            ..ClientConfig::default()
        })
    }
}

/// A load shape without a script, as `quick` and `llm` take it from their flags: closed model
/// (`vus` looping for a duration, or sharing `iterations`) or open model (`rate` starts per time
/// unit, up to `max_vus` in flight).
#[derive(Debug, Clone)]
pub struct Load {
    pub vus: u64,
    /// Starts per time unit, e.g. (1, 2s) for one start every two seconds.
    pub rate: Option<(u64, Duration)>,
    pub max_vus: u64,
    pub iterations: Option<u64>,
    /// k6's duration format; default 10s for duration-based runs.
    pub duration: Option<String>,
    pub graceful_stop: String,
    pub execution_segment: Option<ExecutionSegment>,
}

impl Load {
    /// The k6 options of one scenario named `default`; errors name the flags given (`vus`,
    /// `rate`, `iterations` are the caller's names for those fields).
    pub fn options(
        &self,
        vus_flag: &str,
        rate_flag: &str,
        iterations_flag: &str,
    ) -> Result<Options> {
        if self.vus == 0 {
            bail!("{vus_flag}: must be at least 1");
        }
        let duration = self
            .duration
            .as_deref()
            .map(|d| duration_flag("--duration", d))
            .transpose()?;
        let vus = Some(self.vus as i64);
        let graceful_stop = Some(duration_flag("--graceful-stop", &self.graceful_stop)?);
        let scenario = match (self.rate, self.iterations) {
            (Some((rate, time_unit)), _) => {
                if rate == 0 {
                    bail!("{rate_flag}: must be more than 0 per second");
                }
                ScenarioOptions {
                    executor: Some("constant-arrival-rate".into()),
                    rate: Some(rate as i64),
                    time_unit: Some(time_unit),
                    duration: Some(duration.unwrap_or(DEFAULT_DURATION)),
                    pre_allocated_vus: Some(self.vus.min(self.max_vus) as i64),
                    max_vus: Some(self.max_vus as i64),
                    ..ScenarioOptions::default()
                }
            }
            (None, Some(iterations)) => {
                if iterations == 0 {
                    bail!("{iterations_flag}: must be at least 1");
                }
                ScenarioOptions {
                    executor: Some("shared-iterations".into()),
                    vus: Some(self.vus.min(iterations) as i64),
                    iterations: Some(iterations as i64),
                    max_duration: duration,
                    ..ScenarioOptions::default()
                }
            }
            (None, None) => ScenarioOptions {
                executor: Some("constant-vus".into()),
                vus,
                duration: Some(duration.unwrap_or(DEFAULT_DURATION)),
                ..ScenarioOptions::default()
            },
        };
        let scenario = ScenarioOptions {
            graceful_stop,
            ..scenario
        };
        Ok(Options {
            scenarios: Some(BTreeMap::from([("default".to_string(), scenario)])),
            execution_segment: self.execution_segment,
            ..Options::default()
        })
    }
}

fn parse_segment(s: &str) -> Result<ExecutionSegment, String> {
    ExecutionSegment::parse(s).map_err(|e| e.to_string())
}

/// A duration flag in k6's format; the error names the flag and value.
pub fn duration_flag(flag: &str, value: &str) -> Result<Duration> {
    parse_duration(value).map_err(|e| anyhow!("{flag} '{value}': {e}"))
}
