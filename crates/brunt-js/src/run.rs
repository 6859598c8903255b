//! `brunt run` and `brunt inspect`: k6's flags and option precedence (CLI flags > `K6_*` /
//! `BRUNT_*` environment > the script's `options` > defaults), the run through the engine,
//! thresholds, outputs, `handleSummary`, and k6's exit codes.

use crate::factory::{handle_summary, initialize, JsVuFactory};
use crate::program::{Program, ProgramConfig};
use crate::secrets::SecretSources;
use anyhow::{anyhow, Context as _};
use brunt_engine::log;
use brunt_engine::profile::{CheckWindows, Profile, Shape};
use brunt_engine::{
    parse_duration, Execution, Options, Plan, RunControl, RunEnd, RunError, RunOptions,
    ScenarioOptions, Stage, DEFAULT_EXEC,
};
use brunt_http::{
    BlockedHostnames, BlockedIps, ClientConfig, DnsConfig, LocalIps, Propagator, RateLimiter,
    RequestTracing, TraceContext,
};
use brunt_metrics::{Registry, SystemTags, Thresholds};
use brunt_monitor::{MonitorSpec, Monitors};
use brunt_output::{
    write_file, write_stderr, write_stdout, OutKind, OutSpec, OutputError, PhaseSplit,
    ReportConfig, SummaryMode, SummaryOptions,
};
use brunt_web::RunReport;
use clap::Args;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// k6's exit codes (shared with `brunt quick`).
pub use brunt_output::exit_code as exit;

/// `brunt run`: k6's `run` flags.
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// The k6 script (an ES module, CommonJS or TypeScript), e.g. `script.js` or `script.ts`.
    pub script: PathBuf,
    /// Where `https://` imports are cached, fetched once and then read from there (offline runs
    /// too); default `$XDG_CACHE_HOME/brunt/modules` or `~/.cache/brunt/modules`.
    #[arg(long, value_name = "DIR")]
    pub module_cache: Option<PathBuf>,
    /// A load profile's shape instead of the script's scenarios or stages: smoke, load, stress,
    /// soak, spike or breakpoint, with `--peak`; `--duration` scales every phase; the script's
    /// function and thresholds are kept (docs/profiles.md).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["vus", "stages", "iterations"])]
    pub profile: Option<Profile>,
    /// The profile's peak: VUs, or iterations a second for breakpoint, e.g. `--peak 200`.
    #[arg(long, value_name = "N", requires = "profile")]
    pub peak: Option<u64>,
    /// Number of VUs to run concurrently, e.g. `--vus 10`.
    #[arg(short = 'u', long)]
    pub vus: Option<i64>,
    /// How long the test runs, e.g. `--duration 30s` or `1m30s`; with `--profile`, the
    /// profile's whole length (every phase scaled alike).
    #[arg(short = 'd', long)]
    pub duration: Option<String>,
    /// Total iterations shared by the VUs, e.g. `--iterations 100`.
    #[arg(short = 'i', long)]
    pub iterations: Option<i64>,
    /// A ramping stage `DURATION:TARGET`, repeatable, e.g. `--stage 30s:10 --stage 1m:0`.
    #[arg(short = 's', long = "stage", value_name = "DURATION:TARGET")]
    pub stages: Vec<String>,
    /// An environment variable for `__ENV`, repeatable, e.g. `-e BASE_URL=http://127.0.0.1:8080`.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Pass the system environment to `__ENV` too (on by default, as in k6;
    /// `--include-system-env-vars=false` turns it off).
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub include_system_env_vars: Option<bool>,
    /// Write the end-of-test summary in k6's export format, e.g. `--summary-export out.json`.
    #[arg(long, value_name = "FILE")]
    pub summary_export: Option<PathBuf>,
    #[arg(short = 'o', long = "out", value_name = "KIND=TARGET", help = OutKind::help())]
    pub out: Vec<String>,
    /// A tag on every sample, repeatable, e.g. `--tag env=staging`.
    #[arg(long = "tag", value_name = "NAME=VALUE")]
    pub tags: Vec<String>,
    /// A threshold, repeatable, e.g. `--threshold 'http_req_duration: p(95)<500'`.
    #[arg(long = "threshold", value_name = "METRIC: EXPR")]
    pub thresholds: Vec<String>,
    /// Watch the target beside the load, repeatable: pid=PID, pidfile=PATH, cmd=NAME,
    /// cgroup=/sys/fs/cgroup/PATH or prometheus=URL[,METRIC...], named with NAME:KIND=VALUE, e.g.
    /// --monitor api:cmd=nginx; its signals are metrics (target_cpu_percent{monitor:api}, ...)
    /// usable in thresholds (docs/monitors.md); replaces the script's options.monitors
    #[arg(long = "monitor", value_name = "[NAME:]KIND=VALUE")]
    pub monitors: Vec<String>,
    /// Do not evaluate thresholds.
    #[arg(long)]
    pub no_thresholds: bool,
    /// Trend statistics in the summary, e.g. `avg,p(95),p(99.9)`.
    #[arg(long, value_name = "STATS")]
    pub summary_trend_stats: Option<String>,
    /// Fixed time unit in the summary: `s`, `ms` or `us`.
    #[arg(long, value_name = "UNIT")]
    pub summary_time_unit: Option<String>,
    /// Project the error budgets of SLO thresholds (`rate<X`, `p(N)<B`) onto a window, e.g.
    /// 30d: days until it is used up and which burn-rate alert would fire (docs/outputs.md).
    #[arg(long, value_name = "DURATION")]
    pub slo_window: Option<String>,
    /// Do not print the end-of-test summary.
    #[arg(long)]
    pub no_summary: bool,
    /// Hide the progress output (`console` messages still print, as in k6).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// No colours in the output.
    #[arg(long)]
    pub no_color: bool,
    /// Log every request and response (`--http-debug` for headers, `--http-debug=full` with bodies).
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "headers",
        value_name = "full"
    )]
    pub http_debug: Option<String>,
    /// Do not run `setup()`.
    #[arg(long)]
    pub no_setup: bool,
    /// Do not run `teardown()`.
    #[arg(long)]
    pub no_teardown: bool,
    /// `--dashboard`, `--report` and `--linger`.
    #[command(flatten)]
    pub web: brunt_web::WebArgs,
    /// `--warm-up` and `--cold-cache` (options.warmUp, options.coldCache).
    #[command(flatten)]
    pub cache_state: brunt_output::CacheStateArgs,
    /// This instance's share of the test, e.g. `--execution-segment 1/4:2/4`.
    #[arg(long, value_name = "FROM:TO")]
    pub execution_segment: Option<String>,
    /// All instances' segments, e.g. `0,1/4,1/2,3/4,1`.
    #[arg(long, value_name = "SEQUENCE")]
    pub execution_segment_sequence: Option<String>,
    /// Read no response bodies unless a request sets `responseType`.
    #[arg(long)]
    pub discard_response_bodies: bool,
    /// Accept any TLS certificate.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
    /// Open a new connection for every request.
    #[arg(long)]
    pub no_connection_reuse: bool,
    /// Open new connections for every iteration.
    #[arg(long)]
    pub no_vu_connection_reuse: bool,
    /// The `User-Agent` of requests that set none.
    #[arg(long, value_name = "UA")]
    pub user_agent: Option<String>,
    /// Redirects followed per request (k6's default 10).
    #[arg(long, value_name = "N")]
    pub max_redirects: Option<u32>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// k6's JSON config file, under the script's options, e.g. `--config k6.json`.
    #[arg(short = 'c', long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log the consolidated options before the run.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// The summary's layout: `compact` (k6's default), `full` (per group and scenario),
    /// `legacy` (k6 v0.x's) or `disabled`.
    #[arg(long, value_name = "MODE")]
    pub summary_mode: Option<String>,
    /// Requests a `http.batch()` call runs at once (k6's default 20).
    #[arg(long, value_name = "N")]
    pub batch: Option<u32>,
    /// Requests a `http.batch()` call runs at once to one host (k6's default 6).
    #[arg(long, value_name = "N")]
    pub batch_per_host: Option<u32>,
    /// Accepted for k6's scripts: brunt never reports usage.
    #[arg(long)]
    pub no_usage_report: bool,
    /// k6's JavaScript mode: `extended` (the default) or `base`, which differ, as in k6 since
    /// v0.53, only in `base` having no `global` alias of `globalThis`.
    #[arg(long, value_name = "MODE")]
    pub compatibility_mode: Option<String>,
    /// Where logs go: `stderr` (default), `stdout`, `none` or `file=PATH[,level=LEVEL]`.
    #[arg(long, value_name = "TARGET")]
    pub log_output: Option<String>,
    /// Log format: `text` (default), `json` (one object a line) or `raw` (the message alone).
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Write the script's `console.*` lines to this file instead of with the logs.
    #[arg(long, value_name = "FILE")]
    pub console_output: Option<PathBuf>,
    /// A request that gets no response throws its error instead of returning it (`throw`).
    #[arg(short = 'w', long)]
    pub throw: bool,
    /// Address ranges no request may reach, e.g. `--blacklist-ip 10.0.0.0/8,192.168.0.0/16`.
    #[arg(long, value_name = "CIDRS")]
    pub blacklist_ip: Option<String>,
    /// Host names no request may reach, e.g. `--block-hostnames '*.example.com,api.test'`.
    #[arg(long, value_name = "PATTERNS")]
    pub block_hostnames: Option<String>,
    /// At most this many requests a second across all VUs, e.g. `--rps 100` (0: no limit).
    #[arg(long, value_name = "N")]
    pub rps: Option<String>,
    /// The shortest an iteration may be: shorter ones sleep for the rest, e.g. `1s`.
    #[arg(long, value_name = "DURATION")]
    pub min_iteration_duration: Option<String>,
    /// DNS answers' lifetime, family and choice, e.g. `--dns ttl=1m,select=roundRobin,policy=onlyIPv4`
    /// (k6's default `ttl=5m,select=random,policy=preferIPv4`).
    #[arg(long, value_name = "ttl=..,select=..,policy=..")]
    pub dns: Option<String>,
    /// Source addresses of the VUs' connections, round-robin by VU, e.g.
    /// `--local-ips 192.168.0.10-192.168.0.25,10.0.0.0/30`.
    #[arg(long, value_name = "IPS")]
    pub local_ips: Option<String>,
    /// The system tags samples carry, e.g. `--system-tags status,method,name` (k6's default:
    /// proto, subproto, status, method, url, name, group, check, error, error_code, tls_version,
    /// scenario, service, expected_response; `ip` and `ocsp_status` may be added).
    #[arg(long, value_name = "TAGS")]
    pub system_tags: Option<String>,
    /// A source of `k6/secrets` values, repeatable: `file=PATH` (`key=value` lines),
    /// `mock=key=value,...` or `env[=prefix=APP_]` (environment variables; brunt's own), with
    /// `name=NAME` and `default` in its list, e.g.
    /// `--secret-source file=name=vault,default,filename=secrets.env`.
    #[arg(long = "secret-source", value_name = "TYPE=CONFIG")]
    pub secret_sources: Vec<String>,
    /// Where k6's REST API listens (status, pause/resume/stop, metrics, groups, setup data),
    /// default `localhost:6565` as k6's; `--address ''` turns it off (docs/distributed.md).
    #[arg(short = 'a', long, value_name = "HOST:PORT")]
    pub address: Option<String>,
    /// `--trace-context`, `--trace-sampling`, `--run-id-header` (options.tracing, runIdHeader).
    #[command(flatten)]
    pub trace: brunt_output::TraceArgs,
    /// Initialise the VUs, then wait to start until un-paused through the REST API
    /// (`PATCH /v1/status` with `paused: false`), as k6-operator's runners do.
    #[arg(short = 'p', long)]
    pub paused: bool,
    /// An archive's options (`brunt run archive.tar`), in place of the script's.
    #[arg(skip)]
    pub archived_options: Option<String>,
    /// An archive's compatibility mode, under `--compatibility-mode` and its variable.
    #[arg(skip)]
    pub archived_compatibility_mode: Option<String>,
    /// `--coordinator`, `--token`, `--instance-index`: join a coordinated run.
    #[command(flatten)]
    pub join: JoinArgs,
}

/// Joining a coordinated run (`brunt run --coordinator`, `brunt agent`), and the run's token
/// (which `brunt coordinator` takes too).
#[derive(Args, Debug, Clone, Default)]
pub struct JoinArgs {
    /// Join the coordinated run of the coordinator at this URL as one instance, e.g.
    /// `--coordinator http://10.0.0.5:6566` (docs/distributed.md).
    #[arg(long, value_name = "URL")]
    pub coordinator: Option<String>,
    /// The coordinated run's token: the one instances must present (`brunt coordinator`
    /// generates one when none is given), or the one this instance presents.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "BRUNT_COORDINATOR_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The segment this instance claims, 0 to N-1 (Kubernetes Indexed Jobs set
    /// JOB_COMPLETION_INDEX); without it the coordinator hands out the next free one.
    #[arg(long, value_name = "I", env = "JOB_COMPLETION_INDEX")]
    pub instance_index: Option<usize>,
    /// How long an instance keeps trying a coordinator it cannot reach before it gives up
    /// (default 2m).
    #[arg(long, value_name = "DURATION")]
    pub coordinator_timeout: Option<String>,
}

/// `brunt inspect`: prints the options a run of the script would use.
#[derive(Args, Debug, Clone, Default)]
pub struct InspectArgs {
    /// The k6 script.
    pub script: PathBuf,
    /// An environment variable for `__ENV`, repeatable.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Pass the system environment to `__ENV` too.
    #[arg(long)]
    pub include_system_env_vars: bool,
    /// Print the VUs and the maximum duration the test needs as well.
    #[arg(long)]
    pub execution_requirements: bool,
    /// k6's JSON config file, under the script's options.
    #[arg(short = 'c', long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// A `K6_NAME` setting, or its `BRUNT_NAME` alias (which wins when both are set).
pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(format!("BRUNT_{name}"))
        .or_else(|_| std::env::var(format!("K6_{name}")))
        .ok()
        .filter(|v| !v.is_empty())
}

pub(crate) fn env_flag(name: &str) -> bool {
    env_var(name).is_some_and(|v| matches!(v.as_str(), "1" | "true" | "TRUE" | "True"))
}

pub(crate) fn key_values(list: &[String], what: &str) -> anyhow::Result<BTreeMap<String, String>> {
    list.iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| anyhow!("invalid {what} '{kv}': use NAME=VALUE"))
        })
        .collect()
}

fn build_env(env: &[String], include_system: bool) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if include_system {
        out.extend(std::env::vars());
    }
    out.extend(key_values(env, "--env")?);
    Ok(out)
}

fn parse_stages(list: &[String], what: &str) -> anyhow::Result<Vec<Stage>> {
    list.iter()
        .flat_map(|s| s.split(','))
        .map(|s| {
            let (d, t) = s
                .split_once(':')
                .ok_or_else(|| anyhow!("invalid {what} '{s}': use DURATION:TARGET, e.g. 30s:10"))?;
            let duration = parse_duration(d).map_err(|e| anyhow!("invalid {what} '{s}': {e}"))?;
            let target: i64 = t
                .trim()
                .parse()
                .map_err(|_| anyhow!("invalid {what} '{s}': the target must be a whole number"))?;
            Ok(Stage {
                duration: Some(duration),
                target: Some(target),
            })
        })
        .collect()
}

/// The options one layer (CLI flags, or the environment) sets, as k6 options JSON.
#[derive(Default)]
struct Layer {
    engine: Options,
    /// Non-engine options this layer sets (thresholds, summaryTrendStats, ...).
    extra: Map<String, Value>,
}

fn cli_layer(a: &RunArgs) -> anyhow::Result<Layer> {
    let mut l = Layer::default();
    l.engine.vus = a.vus;
    l.engine.iterations = a.iterations;
    // With `--profile`, `--duration` is the profile's length, not k6's shortcut.
    if let Some(d) = a.duration.as_ref().filter(|_| a.profile.is_none()) {
        l.engine.duration = Some(parse_duration(d).map_err(|e| anyhow!("--duration: {e}"))?);
    }
    if !a.stages.is_empty() {
        l.engine.stages = Some(parse_stages(&a.stages, "--stage")?);
    }
    if !a.tags.is_empty() {
        l.engine.tags = Some(key_values(&a.tags, "--tag")?);
    }
    // Checked here so that a mistake names the flag; the options carry them from now on.
    a.trace.tracing().map_err(|e| anyhow!(e))?;
    if let Some(p) = &a.trace.trace_context {
        let mut t = Map::new();
        t.insert("propagator".into(), Value::from(p.clone()));
        if let Some(rate) = a.trace.trace_sampling {
            t.insert("sampling".into(), Value::from(rate));
        }
        l.extra.insert("tracing".into(), Value::Object(t));
    }
    // Checked here so that a mistake names the flag; each flag hides the script's other key.
    a.cache_state.split().map_err(|e| anyhow!(e))?;
    let cache_state = [&a.cache_state.warm_up, &a.cache_state.cold_cache];
    if cache_state.iter().any(|v| v.is_some()) {
        for (key, v) in ["warmUp", "coldCache"].into_iter().zip(cache_state) {
            l.extra
                .insert(key.into(), v.clone().map_or(Value::Null, Value::from));
        }
    }
    if let Some(name) = &a.trace.run_id_header {
        l.extra
            .insert("runIdHeader".into(), Value::from(name.clone()));
    }
    if let Some(list) = &a.system_tags {
        l.engine.system_tags = Some(system_tags(list, "--system-tags")?);
    }
    if let Some(s) = &a.execution_segment {
        l.extra
            .insert("executionSegment".into(), Value::from(s.clone()));
    }
    if let Some(s) = &a.execution_segment_sequence {
        l.extra
            .insert("executionSegmentSequence".into(), Value::from(s.clone()));
    }
    if let Some(s) = &a.summary_trend_stats {
        l.extra.insert(
            "summaryTrendStats".into(),
            Value::from(SummaryOptions::parse_trend_stats(s)?),
        );
    }
    if let Some(s) = &a.summary_time_unit {
        l.extra.insert(
            "summaryTimeUnit".into(),
            Value::from(SummaryOptions::parse_time_unit(s)?),
        );
    }
    if a.discard_response_bodies {
        l.extra
            .insert("discardResponseBodies".into(), Value::Bool(true));
    }
    if a.insecure_skip_tls_verify {
        l.extra
            .insert("insecureSkipTLSVerify".into(), Value::Bool(true));
    }
    if a.no_connection_reuse {
        l.extra
            .insert("noConnectionReuse".into(), Value::Bool(true));
    }
    if a.no_vu_connection_reuse {
        l.extra
            .insert("noVUConnectionReuse".into(), Value::Bool(true));
    }
    if let Some(ua) = &a.user_agent {
        l.extra.insert("userAgent".into(), Value::from(ua.clone()));
    }
    if let Some(n) = a.max_redirects {
        l.extra.insert("maxRedirects".into(), Value::from(n));
    }
    if a.throw {
        l.extra.insert("throw".into(), Value::Bool(true));
    }
    for (flag, key, list) in [
        ("--blacklist-ip", "blacklistIPs", &a.blacklist_ip),
        ("--block-hostnames", "blockHostnames", &a.block_hostnames),
    ] {
        if let Some(list) = list {
            l.extra.insert(key.into(), comma_list(list, flag, key)?);
        }
    }
    if let Some(d) = &a.dns {
        DnsConfig::parse(d).map_err(|e| anyhow!("--dns: {e}"))?;
        l.extra.insert("dns".into(), Value::from(d.clone()));
    }
    if let Some(n) = &a.rps {
        l.extra
            .insert("rps".into(), Value::from(parse_rps(n, "--rps")?));
    }
    if let Some(d) = &a.min_iteration_duration {
        l.engine.min_iteration_duration =
            Some(parse_duration(d).map_err(|e| anyhow!("--min-iteration-duration: {e}"))?);
    }
    for (flag, key, n) in [
        ("--batch", "batch", a.batch),
        ("--batch-per-host", "batchPerHost", a.batch_per_host),
    ] {
        match n {
            Some(0) => return Err(anyhow!("{flag}: must be at least 1")),
            Some(n) => {
                l.extra.insert(key.into(), Value::from(n));
            }
            None => {}
        }
    }
    Ok(l)
}

/// `--system-tags` / `K6_SYSTEM_TAGS`: a comma-separated list of k6's system tag names.
fn system_tags(list: &str, what: &str) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
    SystemTags::parse(names.iter().map(String::as_str)).map_err(|e| anyhow!("{what}: {e}"))?;
    Ok(names)
}

/// A comma-separated flag as the options' array, checked with the option's own parser.
fn comma_list(list: &str, what: &str, key: &str) -> anyhow::Result<Value> {
    let items: Vec<Value> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Value::from)
        .collect();
    match key {
        "blacklistIPs" => BlockedIps::parse(list).map(drop),
        _ => BlockedHostnames::parse(list).map(drop),
    }
    .map_err(|e| anyhow!("{what}: {e}"))?;
    Ok(Value::Array(items))
}

/// k6's `rps`: a whole number of requests a second, 0 for no limit.
fn parse_rps(v: &str, what: &str) -> anyhow::Result<u64> {
    v.trim()
        .parse()
        .map_err(|_| anyhow!("{what}: '{v}' is not a whole number of requests a second"))
}

fn env_layer() -> anyhow::Result<Layer> {
    let mut l = Layer::default();
    let int = |name: &str| -> anyhow::Result<Option<i64>> {
        env_var(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| anyhow!("K6_{name}: '{v}' is not a whole number"))
            })
            .transpose()
    };
    l.engine.vus = int("VUS")?;
    l.engine.iterations = int("ITERATIONS")?;
    if let Some(d) = env_var("DURATION") {
        l.engine.duration = Some(parse_duration(&d).map_err(|e| anyhow!("K6_DURATION: {e}"))?);
    }
    if let Some(s) = env_var("STAGES") {
        l.engine.stages = Some(parse_stages(&[s], "K6_STAGES")?);
    }
    if let Some(list) = env_var("SYSTEM_TAGS") {
        l.engine.system_tags = Some(system_tags(&list, "K6_SYSTEM_TAGS")?);
    }
    for (name, key) in [
        ("EXECUTION_SEGMENT", "executionSegment"),
        ("EXECUTION_SEGMENT_SEQUENCE", "executionSegmentSequence"),
        ("USER_AGENT", "userAgent"),
    ] {
        if let Some(v) = env_var(name) {
            l.extra.insert(key.into(), Value::from(v));
        }
    }
    if let Some(s) = env_var("SUMMARY_TREND_STATS") {
        l.extra.insert(
            "summaryTrendStats".into(),
            Value::from(SummaryOptions::parse_trend_stats(&s)?),
        );
    }
    if let Some(s) = env_var("SUMMARY_TIME_UNIT") {
        l.extra.insert(
            "summaryTimeUnit".into(),
            Value::from(SummaryOptions::parse_time_unit(&s)?),
        );
    }
    for (name, key) in [
        ("DISCARD_RESPONSE_BODIES", "discardResponseBodies"),
        ("INSECURE_SKIP_TLS_VERIFY", "insecureSkipTLSVerify"),
        ("NO_CONNECTION_REUSE", "noConnectionReuse"),
        ("NO_VU_CONNECTION_REUSE", "noVUConnectionReuse"),
    ] {
        if env_flag(name) {
            l.extra.insert(key.into(), Value::Bool(true));
        }
    }
    if let Some(n) = int("MAX_REDIRECTS")? {
        l.extra.insert("maxRedirects".into(), Value::from(n));
    }
    if env_flag("THROW") {
        l.extra.insert("throw".into(), Value::Bool(true));
    }
    for (name, key) in [
        ("BLACKLIST_IPS", "blacklistIPs"),
        ("BLOCK_HOSTNAMES", "blockHostnames"),
    ] {
        if let Some(list) = env_var(name) {
            l.extra
                .insert(key.into(), comma_list(&list, &format!("K6_{name}"), key)?);
        }
    }
    if let Some(d) = env_var("DNS") {
        DnsConfig::parse(&d).map_err(|e| anyhow!("K6_DNS: {e}"))?;
        l.extra.insert("dns".into(), Value::from(d));
    }
    if let Some(n) = env_var("RPS") {
        l.extra
            .insert("rps".into(), Value::from(parse_rps(&n, "K6_RPS")?));
    }
    if let Some(d) = env_var("MIN_ITERATION_DURATION") {
        l.engine.min_iteration_duration =
            Some(parse_duration(&d).map_err(|e| anyhow!("K6_MIN_ITERATION_DURATION: {e}"))?);
    }
    for (name, key) in [("BATCH", "batch"), ("BATCH_PER_HOST", "batchPerHost")] {
        match int(name)? {
            Some(n) if n < 1 => return Err(anyhow!("K6_{name}: must be at least 1")),
            Some(n) => {
                l.extra.insert(key.into(), Value::from(n));
            }
            None => {}
        }
    }
    Ok(l)
}

/// The consolidated options: the script's JSON with the env and CLI layers over it.
struct Consolidated {
    engine: Options,
    json: Map<String, Value>,
}

/// k6's order: defaults < config file < the script's options < environment < CLI flags.
fn consolidate(
    config: Map<String, Value>,
    script_json: &str,
    env: Layer,
    cli: Layer,
) -> anyhow::Result<Consolidated> {
    let script: Value = serde_json::from_str(script_json).context("the script's options")?;
    let mut json = config;
    if let Value::Object(m) = script {
        json.extend(m);
    }
    let mut script_engine_json = json.clone();
    // Segments are validated by the engine's options type; layer them in before parsing.
    for layer in [&env, &cli] {
        for k in ["executionSegment", "executionSegmentSequence"] {
            if let Some(v) = layer.extra.get(k) {
                script_engine_json.insert(k.into(), v.clone());
            }
        }
    }
    let script_engine = Options::from_json(&Value::Object(script_engine_json).to_string())
        .map_err(|e| anyhow!("invalid option {e}"))?;
    let engine = script_engine.apply(env.engine).apply(cli.engine);
    for layer in [env.extra, cli.extra] {
        json.extend(layer);
    }
    if let Value::Object(eng) = serde_json::to_value(&engine)? {
        for k in ["duration", "iterations", "stages", "scenarios"] {
            json.remove(k);
        }
        json.extend(eng);
    }
    Ok(Consolidated { engine, json })
}

/// Replaces the consolidated scenarios (or shortcuts) with the profile's one scenario. It runs
/// the function the script's scenarios ran (with the `env` and `tags` of a single scenario);
/// scenarios that run different functions are refused, since a profile has one shape.
fn apply_profile(c: &mut Consolidated, shape: &Shape) -> Result<(), String> {
    let own: Vec<&ScenarioOptions> = c.engine.scenarios.iter().flat_map(|s| s.values()).collect();
    let mut execs: Vec<&str> = own
        .iter()
        .map(|s| s.exec.as_deref().unwrap_or(DEFAULT_EXEC))
        .collect();
    execs.sort_unstable();
    execs.dedup();
    if execs.len() > 1 {
        return Err(format!(
            "--profile {}: the script's scenarios run different functions ({}); a profile gives one function one shape, so run the script once per function with a scenario of its own",
            shape.profile,
            execs.join(", ")
        ));
    }
    let exec = execs
        .first()
        .filter(|e| **e != DEFAULT_EXEC)
        .map(|e| e.to_string());
    let mut scenario = shape.scenario(exec);
    if let [single] = own[..] {
        scenario.env = single.env.clone();
        scenario.tags = single.tags.clone();
    }
    c.engine = Options {
        vus: None,
        duration: None,
        iterations: None,
        stages: None,
        scenarios: Some(BTreeMap::from([(shape.profile.to_string(), scenario)])),
        ..c.engine.clone()
    };
    for k in ["vus", "duration", "iterations", "stages", "scenarios"] {
        c.json.remove(k);
    }
    if let Ok(Value::Object(eng)) = serde_json::to_value(&c.engine) {
        c.json.extend(eng);
    }
    Ok(())
}

/// The config file (`--config`, `K6_CONFIG`): k6's JSON options, an object. Keys k6 keeps for
/// its cloud and extensions (`collectors`, `ext`, `cloud`) are not options and are dropped.
fn config_file(flag: Option<&Path>) -> anyhow::Result<Map<String, Value>> {
    let Some(path) = flag
        .map(Path::to_path_buf)
        .or_else(|| env_var("CONFIG").map(PathBuf::from))
    else {
        return Ok(Map::new());
    };
    let what = format!("--config {}", path.display());
    let text = std::fs::read_to_string(&path).with_context(|| format!("{what}: cannot read it"))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| anyhow!("{what}: invalid JSON: {e}"))?;
    let Value::Object(mut map) = value else {
        return Err(anyhow!(
            "{what}: the file must hold a JSON object of k6 options"
        ));
    };
    for k in ["collectors", "ext", "cloud"] {
        map.remove(k);
    }
    Ok(map)
}

/// `--compatibility-mode` (else `K6_COMPATIBILITY_MODE`, else an archive's mode): whether `global`
/// aliases `globalThis`. Since k6 v0.53 that alias is the only difference between k6's `extended`
/// mode (its default) and `base`; `experimental_enhanced` (TypeScript types in `.js` files) is
/// refused, naming the way brunt reads TypeScript.
fn global_alias(a: &RunArgs) -> Result<bool, String> {
    let mode = a
        .compatibility_mode
        .clone()
        .or_else(|| env_var("COMPATIBILITY_MODE"))
        .or_else(|| a.archived_compatibility_mode.clone());
    match mode {
        None => Ok(true),
        Some(m) if m == "extended" => Ok(true),
        Some(m) if m == "base" => Ok(false),
        Some(m) if m == "experimental_enhanced" => Err(format!(
            "--compatibility-mode '{m}' is not supported: brunt strips TypeScript types from .ts files; rename the script to .ts"
        )),
        Some(m) => Err(format!(
            "--compatibility-mode '{m}': expected 'extended' (the default) or 'base'"
        )),
    }
}

/// Loads the script and runs its init context once, reading its options.
/// `interrupt` stops the init context (and every later one of the run) wherever it runs.
fn load(
    script: &Path,
    env: BTreeMap<String, String>,
    registry: Arc<Registry>,
    interrupt: RunControl,
    module_cache: Option<PathBuf>,
    secrets: SecretSources,
    global_alias: bool,
) -> Result<Arc<Program>, anyhow::Error> {
    // `console` output always prints, as in k6 (`-q` only hides progress).
    let config = ProgramConfig {
        env,
        console: true,
        interrupt,
        module_cache: module_cache.unwrap_or_else(crate::remote::default_cache_dir),
        secrets,
        global_alias,
    };
    let program = Program::new(script, registry.clone(), config)?;
    if let Err(e) = initialize(&program) {
        return Err(match program.abort_reason() {
            Some(reason) => InitAborted(reason).into(),
            None => e.into(),
        });
    }
    Ok(program)
}

/// Hands the consolidated options the program reads while it runs (response bodies, redirects,
/// `--http-debug`, `exec.test.options`, the run's tags).
fn configure(
    program: &Program,
    c: &Consolidated,
    http: &ClientConfig,
    http_debug: Option<&str>,
    plan: &Plan,
) {
    let shared = &program.shared;
    // The client refuses a user agent that is no header value; the log then has none to show.
    if let Ok(ua) = http::HeaderValue::from_str(&http.user_agent) {
        let _ = shared.user_agent.set(ua);
    }
    if c.json.get("discardResponseBodies").and_then(Value::as_bool) == Some(true) {
        shared.discard_bodies.store(true, Ordering::Relaxed);
    }
    if c.json.get("noVUConnectionReuse").and_then(Value::as_bool) == Some(true) {
        shared.no_vu_connection_reuse.store(true, Ordering::Relaxed);
    }
    if c.json.get("throw").and_then(Value::as_bool) == Some(true) {
        shared.throw.store(true, Ordering::Relaxed);
    }
    shared
        .system_tags
        .store(plan.system_tags().bits(), Ordering::Relaxed);
    if let Some(n) = c.json.get("maxRedirects").and_then(Value::as_u64) {
        shared.max_redirects.store(n as u32, Ordering::Relaxed);
    }
    shared.http_debug.store(
        match http_debug {
            None => 0,
            Some("full") => 2,
            Some(_) => 1,
        },
        Ordering::Relaxed,
    );
    program.set_options_json(Value::Object(c.json.clone()).to_string());
    program.set_run_tags(plan.tags());
}

/// Fails before any VU is created when the process could not hold the run's VUs: the memory
/// mappings of the stacks of all it may have and, when the script opens connections, a socket
/// for each VU initialised before the test (arrival-rate VUs beyond those may never be needed).
fn check_limits(program: &Program, plan: &Plan) -> Result<(), String> {
    crate::stack::check_room(plan.max_vus())?;
    if program.shared.connects.load(Ordering::Relaxed) {
        brunt_http::check_open_files(plan.planned_vus())?;
    }
    Ok(())
}

/// A script loaded and configured as `brunt run` would (its options over the config file and
/// the `K6_*` environment, no run flags), for a caller that builds its own plans around the
/// script's function: `brunt capacity script.js`.
pub struct LoadedScript {
    pub program: Arc<Program>,
    pub factory: Arc<JsVuFactory>,
    pub registry: Arc<Registry>,
    /// The consolidated options: tags, timeouts and the scenarios as the script wrote them.
    pub options: Options,
    /// The script's `thresholds`, as written (k6's options JSON).
    pub thresholds: Option<Value>,
}

/// Loads `script`, runs its init context once and consolidates its options; errors name the
/// script and what failed (init, options).
pub fn load_script(script: &Path, control: RunControl) -> anyhow::Result<LoadedScript> {
    let env = build_env(&[], true)?;
    let registry = Arc::new(Registry::new());
    let program = load(
        script,
        env,
        registry.clone(),
        control,
        None,
        SecretSources::default(),
        true,
    )
    .map_err(|e| anyhow!("could not initialize '{}': {e:#}", script.display()))?;
    let c = consolidate(
        config_file(None)?,
        &program.script_options(),
        env_layer()?,
        Layer::default(),
    )
    .with_context(|| format!("the options of '{}'", script.display()))?;
    let http = http_config(&c.json)?;
    let plan = Plan::from_options(&c.engine)
        .map_err(|e| anyhow!("the options of '{}': {e}", script.display()))?;
    configure(&program, &c, &http, env_var("HTTP_DEBUG").as_deref(), &plan);
    let factory = Arc::new(JsVuFactory::new(
        program.clone(),
        http,
        [plan.setup_timeout(), plan.teardown_timeout()],
    ));
    Ok(LoadedScript {
        program,
        factory,
        registry,
        thresholds: c.json.get("thresholds").cloned(),
        options: c.engine,
    })
}

/// `exec.test.abort()` in the init context: k6 exits 108, not 107.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct InitAborted(String);

/// An error in the script (init, setup): k6's exit 107 with the message and stack.
pub(crate) fn script_error(e: impl std::fmt::Display) -> i32 {
    log_error(e);
    exit::SCRIPT_EXCEPTION
}

pub(crate) fn config_error(e: impl std::fmt::Display) -> i32 {
    log_error(e);
    exit::INVALID_CONFIG
}

pub(crate) fn log_error(e: impl std::fmt::Display) {
    log::error(&e.to_string());
}

/// The run's logger from `--log-output`, `--log-format`, `--verbose`, `--no-color` and
/// `--console-output` (or their `K6_*` variables); an error names the flag.
fn log_config(a: &RunArgs) -> Result<log::Config, String> {
    let output = match a.log_output.clone().or_else(|| env_var("LOG_OUTPUT")) {
        Some(o) => o.parse().map_err(|e| format!("--log-output: {e}"))?,
        None => log::Output::default(),
    };
    let format = match a.log_format.clone().or_else(|| env_var("LOG_FORMAT")) {
        Some(f) => f.parse().map_err(|e| format!("--log-format: {e}"))?,
        None => log::Format::default(),
    };
    Ok(log::Config {
        output,
        format,
        verbose: a.verbose || env_flag("VERBOSE"),
        no_color: a.no_color || env_flag("NO_COLOR"),
        console_output: a
            .console_output
            .clone()
            .or_else(|| env_var("CONSOLE_OUTPUT").map(PathBuf::from)),
    })
}

/// `brunt inspect`: prints the consolidated options as JSON.
pub fn inspect(mut args: InspectArgs) -> anyhow::Result<i32> {
    let mut module_cache = None;
    let archive = crate::archive::open(&mut args.script, &mut args.env, &mut module_cache)?;
    let env = build_env(&args.env, args.include_system_env_vars)?;
    let program = match load(
        &args.script,
        env,
        Arc::new(Registry::new()),
        brunt_output::stop_on_signals(),
        module_cache,
        SecretSources::default(),
        true,
    ) {
        Ok(v) => v,
        Err(e) => return Ok(script_error(e)),
    };
    let config = match config_file(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return Ok(config_error(format!("{e:#}"))),
    };
    let script_options = match &archive {
        Some(a) => a.options.clone(),
        None => program.script_options(),
    };
    let c = match consolidate(config, &script_options, env_layer()?, Layer::default()) {
        Ok(c) => c,
        Err(e) => return Ok(config_error(e)),
    };
    let mut out = Value::Object(c.json);
    if args.execution_requirements {
        let plan = match Plan::from_options(&c.engine) {
            Ok(p) => p,
            Err(e) => return Ok(config_error(e)),
        };
        // k6's shape, which k6-operator's initializer reads: the options with the two added.
        out["totalDuration"] = brunt_engine::format_duration(plan.max_duration()).into();
        out["maxVUs"] = plan.max_vus().into();
    }
    // A reader that stops early (`| head`) gets an error message and exit 74, not a panic.
    let text = format!("{}\n", serde_json::to_string_pretty(&out)?);
    if let Err(e) = write_stdout("the options", &text) {
        log_error(e);
        return Ok(exit::OUTPUT_FAILED);
    }
    Ok(exit::OK)
}

/// `blacklistIPs` or `blockHostnames` from the options (an array of strings), parsed.
fn blocked(v: &Value, key: &str) -> anyhow::Result<(BlockedIps, BlockedHostnames)> {
    let list = match v {
        Value::Array(a) => a
            .iter()
            .map(|s| {
                s.as_str()
                    .ok_or_else(|| anyhow!("{key}: each entry must be a string"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
            .join(","),
        Value::String(s) => s.clone(),
        _ => return Err(anyhow!("{key}: must be an array of strings")),
    };
    let mut out = (BlockedIps::default(), BlockedHostnames::default());
    match key {
        "blacklistIPs" => out.0 = BlockedIps::parse(&list).map_err(|e| anyhow!("{key}: {e}"))?,
        _ => out.1 = BlockedHostnames::parse(&list).map_err(|e| anyhow!("{key}: {e}"))?,
    }
    Ok(out)
}

/// k6's `dns` option: the flag's string, or the options' object
/// (`{ttl: '1m', select: 'first', policy: 'any'}`).
fn dns_option(v: &Value) -> Result<DnsConfig, String> {
    match v {
        Value::String(s) => DnsConfig::parse(s),
        Value::Object(m) => {
            let parts = m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok(format!("{k}={s}")),
                    Value::Number(n) => Ok(format!("{k}={n}")),
                    _ => Err(format!("{k}: must be a string")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            DnsConfig::parse(&parts.join(","))
        }
        _ => Err(
            "must be an object such as {ttl: '5m', select: 'random', policy: 'preferIPv4'}".into(),
        ),
    }
}

/// HTTP client settings from the consolidated options; an error names the option.
fn http_config(json: &Map<String, Value>) -> anyhow::Result<ClientConfig> {
    let mut c = ClientConfig::default();
    if let Some(ua) = json.get("userAgent").and_then(Value::as_str) {
        c.user_agent = ua.to_string();
    }
    if let Some(true) = json.get("insecureSkipTLSVerify").and_then(Value::as_bool) {
        c.insecure_skip_verify = true;
    }
    if let Some(true) = json.get("noConnectionReuse").and_then(Value::as_bool) {
        c.reuse_connections = false;
    }
    if let Some(n) = json.get("batchPerHost").and_then(Value::as_u64) {
        c.max_idle_per_host = n as usize;
    }
    if let Some(v) = json.get("blacklistIPs") {
        c.blocked_ips = Arc::new(blocked(v, "blacklistIPs")?.0);
    }
    if let Some(v) = json.get("blockHostnames") {
        c.blocked_hostnames = Arc::new(blocked(v, "blockHostnames")?.1);
    }
    if let Some(v) = json.get("dns") {
        c.dns = dns_option(v).map_err(|e| anyhow!("dns: {e}"))?;
    }
    if let Some(v) = json.get("rps") {
        let n = v
            .as_f64()
            .filter(|n| *n >= 0.0)
            .ok_or_else(|| anyhow!("rps: must be a number of requests a second, not {v}"))?;
        c.rps = RateLimiter::new(n).map(Arc::new);
    }
    let mut tracing = RequestTracing::default();
    if let Some(v) = json.get("tracing").filter(|v| !v.is_null()) {
        tracing.context = Some(trace_option(v).map_err(|e| anyhow!("tracing: {e}"))?);
    }
    if let Some(v) = json.get("runIdHeader").filter(|v| !v.is_null()) {
        let name = v
            .as_str()
            .ok_or_else(|| anyhow!("runIdHeader: must be a header name, not {v}"))?;
        tracing.run_id =
            Some(RequestTracing::run_id_header(name).map_err(|e| anyhow!("runIdHeader: {e}"))?);
    }
    if !tracing.is_empty() {
        c.tracing = Some(Arc::new(tracing));
    }
    Ok(c)
}

/// brunt's `options.warmUp` and `options.coldCache` (`--warm-up`, `--cold-cache`): durations
/// such as '30s'; k6 warns of options it does not know and runs the script, so it runs there too.
fn cache_state_option(json: &Map<String, Value>) -> Result<Option<PhaseSplit>, String> {
    let mut values = [None, None];
    for (slot, key) in values.iter_mut().zip(["warmUp", "coldCache"]) {
        *slot = match json.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(v) => return Err(format!("{key}: must be a duration such as '30s', not {v}")),
        };
    }
    PhaseSplit::parse(values[0], values[1], ["warmUp", "coldCache"])
}

/// brunt's `options.tracing`: `{ propagator: 'w3c'|'b3'|'jaeger', sampling: 0.1 }`, the
/// http-instrumentation-tempo jslib's options, applied to every request of the run.
fn trace_option(v: &Value) -> Result<TraceContext, String> {
    let Value::Object(o) = v else {
        return Err(format!(
            "must be an object such as {{ propagator: 'w3c', sampling: 0.1 }}, not {v}"
        ));
    };
    if let Some(k) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "propagator" | "sampling"))
    {
        return Err(format!("unknown field '{k}'; fields: propagator, sampling"));
    }
    let propagator: Propagator = o
        .get("propagator")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("propagator: give one of {}", Propagator::NAMES))?
        .parse()
        .map_err(|e| format!("propagator: {e}"))?;
    let sampling = match o.get("sampling") {
        None | Some(Value::Null) => 1.0,
        Some(s) => s
            .as_f64()
            .ok_or_else(|| format!("sampling: must be a number from 0 to 1, not {s}"))?,
    };
    TraceContext::new(propagator, sampling).map_err(|e| format!("sampling: {e}"))
}

/// Writes what `handleSummary` returned: `stdout`, `stderr` or a file per key. Every key is
/// written even when one fails, as k6 does; returns the writes that failed.
fn write_handle_summary(map: &Value) -> anyhow::Result<Vec<OutputError>> {
    let Value::Object(m) = map else {
        return Err(anyhow!(
            "handleSummary() must return an object mapping outputs to content"
        ));
    };
    let failed = m.iter().filter_map(|(k, v)| {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let written = match k.as_str() {
            "stdout" => write_stdout("handleSummary()'s output", &text),
            "stderr" => write_stderr("handleSummary()'s output", &text),
            path => write_file("handleSummary()'s file", Path::new(path), text),
        };
        written.err()
    });
    Ok(failed.collect())
}

/// The monitors to run: `--monitor` flags, or else the script's `options.monitors`, brunt's
/// extension (k6 ignores it): a list of specs, or an object from names to specs
/// (`{ api: 'pid=1234' }` is `api:pid=1234`).
fn monitor_specs(flags: &[String], option: Option<&Value>) -> Result<Vec<MonitorSpec>, String> {
    let texts: Vec<String> = match option {
        _ if !flags.is_empty() => flags.to_vec(),
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!(
                    "options.monitors[{i}] must be a string such as 'pid=1234', not {other}"
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Object(named)) => named
            .iter()
            .map(|(name, v)| match v {
                Value::String(s) => Ok(format!("{name}:{s}")),
                other => Err(format!(
                    "options.monitors.{name} must be a string such as 'pid=1234', not {other}"
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "options.monitors must be a list of specs or an object of named specs, not {other}"
            ))
        }
    };
    texts
        .iter()
        .map(|t| t.parse::<MonitorSpec>().map_err(|e| e.to_string()))
        .collect()
}

/// The script as k6's REST API sees it: `setup()`'s data and the groups' order.
struct ApiScript {
    factory: Arc<JsVuFactory>,
    program: Arc<Program>,
}

impl brunt_api::Script for ApiScript {
    fn setup_data(&self) -> Option<String> {
        self.factory.setup_data().map(|d| d.to_string())
    }

    fn set_setup_data(&self, json: Option<String>) {
        self.factory.set_setup_data(json);
    }

    fn definition_order(&self) -> Vec<String> {
        self.program.definition_order()
    }
}

/// Starts k6's REST API at `--address` (or `K6_ADDRESS`; k6's `localhost:6565` when neither is
/// given, `''` for none). As k6: an address given that cannot be bound ends the run with 106;
/// the default one only warns.
fn start_api(args: &RunArgs, surface: brunt_api::ControlSurface) -> Result<(), i32> {
    let given = args.address.clone().or_else(|| env_var("ADDRESS"));
    let address = given
        .clone()
        .unwrap_or_else(|| brunt_api::DEFAULT_ADDRESS.to_string());
    if address.is_empty() {
        return Ok(());
    }
    match brunt_api::serve(&address, surface) {
        Ok(_) => Ok(()),
        Err(e) if given.is_some() => {
            log_error(format!("Error from API server: --address {address}: {e}"));
            Err(exit::CANNOT_START_API)
        }
        Err(e) => {
            log::warn(&format!("Error from API server: {address}: {e}"));
            Ok(())
        }
    }
}

/// `--linger`: k6's line when it starts (not with `--quiet`), over at Ctrl-C or SIGTERM.
fn lingering(quiet: bool) -> brunt_engine::Linger {
    let signalled = brunt_output::signalled();
    brunt_engine::Linger {
        on_start: Box::new(move || {
            if !quiet {
                let _ = write_stdout(
                    "the linger notice",
                    "The test is done, but --linger was enabled, so brunt is waiting for Ctrl+C to continue...\n",
                );
            }
        }),
        done: Box::new(move || signalled.load(Ordering::SeqCst)),
    }
}

/// `brunt run`: runs the script and returns k6's exit code.
/// A script loaded, its init context run, its options consolidated and checked, its monitors
/// started: ready to run on the engine. `brunt run` adds its reporter; an experiment's load
/// runs it in the background and judges the thresholds per phase itself.
pub struct Prepared {
    pub program: Arc<Program>,
    pub registry: Arc<Registry>,
    pub plan: Plan,
    /// The script's `options.thresholds` and the `--threshold` flags (none with
    /// `--no-thresholds`).
    pub thresholds: Thresholds,
    pub monitors: Monitors,
    /// The consolidated options, as k6 options JSON.
    pub options: Map<String, Value>,
    /// The windows of `--profile`'s end-of-run checks (soak's drift, spike's recovery).
    pub profile_checks: Option<CheckWindows>,
    http: ClientConfig,
    local_ips: Option<LocalIps>,
}

impl Prepared {
    /// The VU factory of the run (it holds `setup()`'s data once the run has started).
    pub fn factory(&self) -> Arc<JsVuFactory> {
        Arc::new(
            JsVuFactory::new(
                self.program.clone(),
                self.http.clone(),
                [self.plan.setup_timeout(), self.plan.teardown_timeout()],
            )
            .with_local_ips(self.local_ips.clone()),
        )
    }

    /// The client settings the options ask for (`handleSummary` uses them too).
    pub fn http(&self) -> &ClientConfig {
        &self.http
    }
}

/// Why a script cannot run: k6's exit code and what to log, or an error of brunt's own.
#[derive(Debug)]
pub enum PrepareError {
    Exit { code: i32, message: String },
    Other(anyhow::Error),
}

impl std::fmt::Display for PrepareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrepareError::Exit { message, .. } => f.write_str(message),
            PrepareError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

fn config_failure(e: impl std::fmt::Display) -> PrepareError {
    PrepareError::Exit {
        code: exit::INVALID_CONFIG,
        message: e.to_string(),
    }
}

/// Loads the script, runs its init context and checks its options and flags, into
/// `registry`; `control` interrupts the init context and is the run's to stop.
pub fn prepare(
    args: &RunArgs,
    registry: Arc<Registry>,
    control: RunControl,
) -> Result<Prepared, PrepareError> {
    let include_system = args
        .include_system_env_vars
        .or_else(|| env_var("INCLUDE_SYSTEM_ENV_VARS").map(|v| v != "false" && v != "0"))
        .unwrap_or(true);
    let env = build_env(&args.env, include_system).map_err(PrepareError::Other)?;
    let global_alias = global_alias(args).map_err(config_failure)?;
    let config =
        config_file(args.config.as_deref()).map_err(|e| config_failure(format!("{e:#}")))?;
    let cli = cli_layer(args).map_err(config_failure)?;
    let local_ips = match args.local_ips.clone().or_else(|| env_var("LOCAL_IPS")) {
        Some(list) => {
            Some(LocalIps::parse(&list).map_err(|e| config_failure(format!("--local-ips: {e}")))?)
        }
        None => None,
    };
    // As k6 v2: `K6_SECRET_SOURCE` is one spec, replaced by the flags when any is given; set
    // but empty, it is an error (env_var would skip it).
    let env_spec = std::env::var("BRUNT_SECRET_SOURCE")
        .or_else(|_| std::env::var("K6_SECRET_SOURCE"))
        .ok();
    let secret_specs = match (args.secret_sources.is_empty(), env_spec) {
        (true, Some(spec)) => vec![spec],
        _ => args.secret_sources.clone(),
    };
    let secrets = SecretSources::parse(&secret_specs)
        .map_err(|e| config_failure(format!("--secret-source: {e}")))?;
    let program = match load(
        &args.script,
        env,
        registry.clone(),
        control.clone(),
        args.module_cache.clone(),
        secrets,
        global_alias,
    ) {
        Ok(p) => p,
        Err(_) if control.is_stopped() => {
            return Err(PrepareError::Exit {
                code: exit::EXTERNAL_ABORT,
                message: "interrupted while the init context ran; the test did not start".into(),
            })
        }
        Err(e) => {
            return Err(match e.downcast_ref::<InitAborted>() {
                Some(reason) => PrepareError::Exit {
                    code: exit::SCRIPT_ABORTED,
                    message: format!("could not initialize '{}': {reason}", args.script.display()),
                },
                None => PrepareError::Exit {
                    code: exit::SCRIPT_EXCEPTION,
                    message: e.to_string(),
                },
            })
        }
    };
    let script_options = args
        .archived_options
        .clone()
        .unwrap_or_else(|| program.script_options());
    let mut c = consolidate(
        config,
        &script_options,
        env_layer().map_err(config_failure)?,
        cli,
    )
    .map_err(config_failure)?;
    let shape = args
        .profile
        .map(|p| p.shape(args.peak, args.duration.as_deref()))
        .transpose()
        .map_err(config_failure)?;
    if let Some(shape) = &shape {
        apply_profile(&mut c, shape).map_err(config_failure)?;
    }
    if log::enabled(log::Level::Debug) {
        log::debug(&format!("options: {}", Value::Object(c.json.clone())));
    }
    let http = http_config(&c.json).map_err(config_failure)?;
    if let Some(t) = &http.tracing {
        brunt_output::announce(t);
    }
    let plan = Plan::from_options(&c.engine).map_err(config_failure)?;
    // As k6: a scenario whose function the script does not export is a configuration error.
    plan.check_exec(|f| program.has_export(f)).map_err(|e| {
        config_failure(format!(
            "There were problems with the specified script configuration: {e}"
        ))
    })?;
    check_limits(&program, &plan).map_err(config_failure)?;
    // Before the thresholds, which may name the monitors' metrics.
    let specs = monitor_specs(&args.monitors, c.json.get("monitors")).map_err(config_failure)?;
    let monitors = Monitors::start(&specs, &registry).map_err(config_failure)?;
    let no_thresholds = args.no_thresholds || env_flag("NO_THRESHOLDS");
    let mut thresholds = Thresholds::default();
    if !no_thresholds {
        // The retry metrics are registered on a `retry` param's first use; a threshold on one
        // needs them now.
        let named = |name: &str| {
            c.json
                .get("thresholds")
                .and_then(|t| t.as_object())
                .is_some_and(|t| t.keys().any(|k| k.starts_with(name)))
                || args
                    .thresholds
                    .iter()
                    .any(|t| t.trim_start().starts_with(name))
        };
        if brunt_http::retry::METRIC_NAMES.iter().any(|m| named(m)) {
            program.shared.retries().map_err(config_failure)?;
        }
        if let Some(t) = c.json.get("thresholds") {
            thresholds
                .add_options(t, &registry)
                .map_err(config_failure)?;
        }
        for t in &args.thresholds {
            thresholds.add_cli(t, &registry).map_err(config_failure)?;
        }
        if let Some(shape) = &shape {
            shape
                .add_thresholds(&mut thresholds, &registry)
                .map_err(config_failure)?;
        }
    }
    let http_debug = args.http_debug.clone().or_else(|| env_var("HTTP_DEBUG"));
    configure(&program, &c, &http, http_debug.as_deref(), &plan);
    Ok(Prepared {
        program,
        registry,
        plan,
        thresholds,
        monitors,
        options: c.json,
        profile_checks: shape.and_then(|s| s.check_windows()),
        http,
        local_ips,
    })
}

pub fn run(mut args: RunArgs) -> anyhow::Result<i32> {
    if args.join.coordinator.is_some() {
        return crate::coordinated::instance(args, true);
    }
    log::start_clock();
    let archive = crate::archive::open(&mut args.script, &mut args.env, &mut args.module_cache)?;
    crate::archive::apply(&mut args, archive.as_ref());
    let summary_mode = match start_logging(&args) {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    let control = brunt_output::stop_on_signals();
    let prepared = match prepare(&args, Arc::new(Registry::new()), control.clone()) {
        Ok(p) => p,
        Err(PrepareError::Exit { code, message }) => {
            log_error(message);
            return Ok(code);
        }
        Err(PrepareError::Other(e)) => return Err(e),
    };
    let factory = prepared.factory();
    let execution = if args.paused || env_flag("PAUSED") {
        Execution::paused()
    } else {
        Execution::default()
    };
    let view = brunt_api::LiveView::default();
    let surface = brunt_api::ControlSurface {
        execution: execution.clone(),
        control: control.clone(),
        registry: prepared.registry.clone(),
        thresholds: prepared.thresholds.clone(),
        view: view.clone(),
        script: Arc::new(ApiScript {
            factory: factory.clone(),
            program: prepared.program.clone(),
        }),
    };
    if let Err(code) = start_api(&args, surface) {
        return Ok(code);
    }
    let (report, reporting) = match start_report(&args, prepared, summary_mode, control) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let mut opts = RunOptions {
        workers: args.workers.unwrap_or(0),
        setup: !(args.no_setup || env_flag("NO_SETUP")),
        teardown: !(args.no_teardown || env_flag("NO_TEARDOWN")),
        execution,
        linger: (args.web.linger || env_flag("LINGER")).then(|| lingering(args.quiet)),
        ..report.run_options()
    };
    opts.observer = Some(view.observe(opts.observer.take()));
    let (plan, registry, program) = (&reporting.plan, &reporting.registry, &reporting.program);
    let outcome = match brunt_engine::run(plan, factory.clone(), registry.clone(), opts) {
        Ok(o) => o,
        Err(RunError::Setup(_) | RunError::VuInit(_)) if program.abort_reason().is_some() => {
            log_error(program.abort_reason().unwrap_or_default());
            return Ok(exit::SCRIPT_ABORTED);
        }
        Err(e @ RunError::SetupTimeout(_)) => {
            log_error(&e);
            return Ok(exit::SETUP_TIMEOUT);
        }
        Err(RunError::Setup(e)) if e.0.starts_with(crate::factory::TIMED_OUT) => {
            log_error(&e);
            return Ok(exit::SETUP_TIMEOUT);
        }
        Err(RunError::VuInit(e)) | Err(RunError::Setup(e)) => return Ok(script_error(e)),
        Err(e) => return Err(e.into()),
    };
    let setup_data = factory.setup_data().map(|d| d.to_string());
    Ok(finish_run(
        &args,
        report,
        &reporting,
        &outcome,
        setup_data,
        summary_mode,
    ))
}

/// Configures the run's logger from the flags and reads `--summary-mode`; an error is k6's
/// exit code for a bad configuration, already logged.
pub(crate) fn start_logging(args: &RunArgs) -> Result<SummaryMode, i32> {
    if let Err(e) = log_config(args).and_then(|c| log::configure(&c)) {
        return Err(config_error(e));
    }
    match args
        .summary_mode
        .clone()
        .or_else(|| env_var("SUMMARY_MODE"))
    {
        Some(m) => m.parse::<SummaryMode>().map_err(config_error),
        None => Ok(SummaryMode::default()),
    }
}

/// What a run keeps of its [`Prepared`] script once its report has started.
pub(crate) struct Reporting {
    pub program: Arc<Program>,
    pub registry: Arc<Registry>,
    pub plan: Plan,
    pub http: ClientConfig,
}

/// Starts the run's report (thresholds, `--out` outputs, `--summary-export`, the summary's
/// options, `--slo-window`, the dashboard and `--report`) from the flags and the consolidated
/// options, as `brunt run` and `brunt coordinator` both report.
pub(crate) fn start_report(
    args: &RunArgs,
    prepared: Prepared,
    summary_mode: SummaryMode,
    control: RunControl,
) -> Result<(RunReport, Reporting), i32> {
    let Prepared {
        program,
        registry,
        plan,
        thresholds,
        monitors,
        options: json,
        profile_checks,
        http,
        ..
    } = prepared;
    let mut trend_stats = SummaryOptions::default().trend_stats;
    if let Some(Value::Array(a)) = json.get("summaryTrendStats") {
        trend_stats = a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
    }
    let time_unit = json
        .get("summaryTimeUnit")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();

    let slo_window = match args.slo_window.as_deref().map(brunt_engine::parse_duration) {
        None => None,
        Some(Ok(w)) if !w.is_zero() => Some(w),
        Some(_) => {
            return Err(config_error(format!(
                "--slo-window '{}': expected a duration such as 30d or 7d",
                args.slo_window.as_deref().unwrap_or_default()
            )))
        }
    };
    let phases = match cache_state_option(&json) {
        Ok(p) => p,
        Err(e) => return Err(config_error(e)),
    };
    let outs: Vec<String> = if args.out.is_empty() {
        env_var("OUT").map(|o| vec![o]).unwrap_or_default()
    } else {
        args.out.clone()
    };
    let mut specs = Vec::new();
    for o in &outs {
        match o.parse::<OutSpec>() {
            Ok(s) => specs.push(s),
            Err(e) => return Err(config_error(e)),
        }
    }
    // k6's --linger (K6_LINGER): the engine lingers after the test and before the summary, as
    // k6 does (`run`'s RunOptions), so the page needs no linger of its own.
    let web = brunt_web::WebArgs {
        linger: false,
        ..args.web.clone()
    };
    let report = RunReport::start(
        ReportConfig {
            thresholds,
            outs: specs,
            summary_export: args
                .summary_export
                .clone()
                .or_else(|| env_var("SUMMARY_EXPORT").map(PathBuf::from)),
            summary: SummaryOptions {
                trend_stats,
                time_unit,
                colors: !(args.no_color || env_flag("NO_COLOR")) && std::io::stdout().is_terminal(),
                mode: summary_mode,
                quiet: args.quiet,
                // Set from --trace-url by the run's report.
                trace_url: None,
            },
            quiet: args.quiet,
            scenarios: plan.scenario_lines(),
            slo_window,
            profile_checks,
            phases,
        },
        &web,
        format!("brunt run {}", args.script.display()),
        registry.clone(),
        control,
        monitors,
    )
    .map_err(|e| config_error(format!("{e:#}")))?;
    Ok((
        report,
        Reporting {
            program,
            registry,
            plan,
            http,
        },
    ))
}

/// After the run: logs how it ended, writes the summary (or hands it to `handleSummary`) and
/// every output, and returns k6's exit code.
pub(crate) fn finish_run(
    args: &RunArgs,
    report: RunReport,
    reporting: &Reporting,
    outcome: &brunt_engine::RunOutcome,
    setup_data: Option<String>,
    summary_mode: SummaryMode,
) -> i32 {
    let Reporting {
        program,
        registry,
        http,
        ..
    } = reporting;
    if let Some(e) = &outcome.teardown_error {
        crate::factory::log_exception(&crate::ScriptError::plain(format!(
            "teardown() failed: {e}"
        )));
    }
    match &outcome.end {
        RunEnd::Crashed(e) => log_error(format!("the run crashed: {e}")),
        // `test.abort()`'s message (with where it was called), as k6 logs it.
        RunEnd::TestAborted(reason) => log_error(reason),
        RunEnd::StoppedFromApi => log_error("test run stopped from REST API"),
        _ => {}
    }
    let setup_data = setup_data.and_then(|j| serde_json::from_str(&j).ok());
    let no_summary =
        args.no_summary || env_flag("NO_SUMMARY") || summary_mode == SummaryMode::Disabled;
    let mut summary_exit = None;
    let finished = report.finish(outcome, setup_data, program.definition_order(), |f| {
        let summary = &f.summary;
        if program.has_export("handleSummary") {
            let metrics = std::rc::Rc::new(std::cell::RefCell::new(
                brunt_metrics::Aggregator::new(registry.clone(), false),
            ));
            let returned =
                handle_summary(program, metrics, summary.data().to_string(), http.clone())
                    .map_err(|e| anyhow!("handleSummary() failed: {e}"))
                    .and_then(|json| match json {
                        Some(json) => write_handle_summary(
                            &serde_json::from_str(&json).unwrap_or(Value::Null),
                        ),
                        None => Ok(Vec::new()),
                    });
            match returned {
                Ok(failed) => return failed,
                // The text summary stands in for a handleSummary() that failed.
                Err(e) => summary_exit = Some(script_error(e)),
            }
        }
        if no_summary {
            return Vec::new();
        }
        write_stdout("the summary", &summary.text())
            .err()
            .into_iter()
            .collect()
    });
    let code = match (&outcome.end, summary_exit) {
        (RunEnd::Completed, Some(code)) if finished.verdict == exit::OK => code,
        _ => finished.exit_code(),
    };
    // `exec.test.fail()`: k6 exits 110 even when thresholds failed too (110 beats 99).
    if program.shared.marked_failed.load(Ordering::SeqCst)
        && matches!(code, exit::OK | exit::THRESHOLDS_FAILED)
    {
        log_error("test run was marked as failed");
        return exit::MARKED_AS_FAILED;
    }
    code
}
