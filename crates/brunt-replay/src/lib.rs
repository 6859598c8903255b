//! `brunt replay LOG --target URL`: sends an access log's requests to a target at their logged
//! times (divided by `--speed`), as an open-model run on the engine: the log is the arrival
//! feed of a constant-arrival-rate scenario (`Plan::with_feed`), each request goes out on
//! `brunt quick`'s VU and request path, latency is also measured from its intended start
//! (`http_req_scheduled_duration`), and the summary, thresholds and outputs are the usual ones
//! (docs/workload.md).
//!
//! - [`scan`]: the first pass: format, span, request count, and every reason the log cannot
//!   be replayed, said before the first request.
//! - [`feed`]: the second pass, streamed on a thread of its own into a bounded window: logged
//!   requests with their offsets, `name` (`METHOD ROUTE`) and `logged_status` tags, kept or
//!   repeated by `--rate-scale`, restarted by `--loop`.
//! - [`routes`]: the per-route latency table after the summary.

pub mod feed;
pub mod routes;
pub mod scan;

use anyhow::{anyhow, bail, Context, Result};
use brunt_engine::{format_duration, Plan};
use brunt_metrics::{MetricType, Registry, ValueType};
use brunt_output::write_stdout;
use brunt_quick::{duration_flag, ClientArgs, Load, QuickFactory, ReportArgs, RequestArgs};
use brunt_workload::format::{JsonFields, LogFormat};
use brunt_workload::route::Pattern;
use clap::Args;
use feed::{LogFeed, Settings};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The trend of each request's lag from its intended start to the moment its VU sends it.
pub const REPLAY_LAG: &str = "replay_lag";
/// VUs created up front; more are made as needed, up to `--max-vus`.
const PRE_ALLOCATED_VUS: u64 = 50;

/// Replay an access log against a target: each logged request (method, path and query; headers
/// and body when a JSON log holds them) at its logged time, as an open-model run.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  brunt replay access.log --target http://127.0.0.1:8080
  brunt replay access.log.gz --target https://staging.example.com --speed 2x --rate-scale 0.5
  brunt replay app.jsonl --format json --field headers=req_headers --target http://127.0.0.1:8080
  brunt replay access.log --target http://127.0.0.1:8080 --loop --duration 2h --threshold 'http_req_failed: rate<0.01'")]
pub struct ReplayArgs {
    /// The access log: plain text or gzip, one request a line
    pub log: PathBuf,

    /// Where to send the requests: scheme, host and port (a path is put before every logged
    /// path), e.g. http://127.0.0.1:8080
    #[arg(long, value_name = "URL")]
    pub target: String,

    /// The log's format; guessed from its first lines when not given
    #[arg(long, value_enum)]
    pub format: Option<LogFormat>,

    /// JSON logs: the key holding a field, repeatable: time, method, path, request, status,
    /// headers (an object of request headers), body (the request body), e.g. --field time=ts
    #[arg(long = "field", value_name = "NAME=KEY")]
    pub fields: Vec<String>,

    /// A route pattern tried before the automatic one when naming requests, repeatable, e.g.
    /// --route '/users/{name}/profile'
    #[arg(long = "route", value_name = "PATTERN")]
    pub routes: Vec<String>,

    /// Most distinct routes named; requests of further ones are named '(other routes)'
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub max_routes: usize,

    /// Play the log this many times faster: 2x halves every gap, 0.5x doubles it
    #[arg(long, value_name = "FACTOR", default_value = "1x")]
    pub speed: String,

    /// Send this share of the logged requests: under 1, a random share (from --seed) is kept;
    /// over 1, each request goes out that many times on average, the copies spread evenly
    /// over the gap to the next logged request
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0)]
    pub rate_scale: f64,

    /// The seed of --rate-scale's choices
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// Start the log again at its end (one mean gap later), until --duration: a soak test
    #[arg(long = "loop", requires = "duration")]
    pub looped: bool,

    /// Stop after this long, in k6's duration format (the log's whole span by default)
    #[arg(short = 'd', long)]
    pub duration: Option<String>,

    /// Most requests in flight; when all are busy, requests are dropped and counted in
    /// dropped_iterations
    #[arg(long, default_value_t = 10_000)]
    pub max_vus: u64,

    /// How long requests still in flight at the end may take to finish before they are cut
    /// and counted as interrupted (k6's gracefulStop)
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub graceful_stop: String,

    /// -H sets a header on every request, over a logged one of the same name
    #[command(flatten)]
    pub client: ClientArgs,

    /// Fail at the first line that cannot be replayed instead of counting it
    #[arg(long)]
    pub strict: bool,

    /// --threshold may name replay_lag (the send lag) and a route: 'http_req_duration{name:GET /a}: p(95)<200'
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `--speed`: `2x`, `0.5x` or a bare factor, more than 0.
fn parse_speed(s: &str) -> Result<f64> {
    match s.strip_suffix(['x', 'X']).unwrap_or(s).parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => bail!("--speed '{s}': a factor more than 0, e.g. 2x or 0.5x"),
    }
}

impl ReplayArgs {
    /// The target with the -H headers, as `brunt quick`'s flags would make it (checked).
    fn request_args(&self) -> RequestArgs {
        RequestArgs {
            url: self.target.clone(),
            method: "GET".into(),
            body: None,
            client: self.client.clone(),
        }
    }

    fn json_fields(&self) -> Result<JsonFields> {
        let mut fields = JsonFields::default();
        for f in &self.fields {
            fields.set(f).map_err(|e| anyhow!(e))?;
        }
        Ok(fields)
    }
}

/// Replays the log and prints the summary; returns the exit code (0, 99 when a threshold
/// failed, 105 when interrupted, 74 when an output could not be written).
pub fn run(args: ReplayArgs) -> Result<i32> {
    // Every flag first: a mistake in one is said before the log is read.
    let speed = parse_speed(&args.speed)?;
    if !(args.rate_scale.is_finite() && args.rate_scale > 0.0) {
        bail!(
            "--rate-scale {}: must be more than 0, e.g. 0.5 or 2",
            args.rate_scale
        );
    }
    if args.max_routes == 0 {
        bail!("--max-routes: must be at least 1");
    }
    let duration = args
        .duration
        .as_deref()
        .map(|d| match duration_flag("--duration", d)? {
            d if d.is_zero() => bail!(
                "--duration '{}': must be longer than 0s",
                args.duration.as_deref().unwrap_or_default()
            ),
            d => Ok(d),
        })
        .transpose()?;
    let patterns = args
        .routes
        .iter()
        .map(|p| Pattern::parse(p).map_err(|e| anyhow!(e)))
        .collect::<Result<Vec<_>>>()?;
    let fields = args.json_fields()?;
    args.report.check()?;
    let request_args = args.request_args();
    let base = request_args.request()?;
    let config = request_args.client_config()?;
    let target = base.url().as_str().trim_end_matches('/').to_string();
    let headers = base
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();

    let facts = scan::scan(&args.log, args.format, fields.clone(), args.strict)?;
    for w in &facts.warnings {
        eprintln!("warning: {}: {w}", args.log.display());
    }
    let span = Duration::from_micros((facts.last_us - facts.first_us) as u64).div_f64(speed);
    // A loop's passes start one mean gap apart, so the seam looks like the rest of the log.
    let gap = match facts.requests {
        n if n > 1 => span.div_f64((n - 1) as f64),
        _ => Duration::from_secs(1),
    };
    // How long requests are fed: --duration (required with --loop), else the whole span.
    let played = duration.unwrap_or(span + Duration::from_millis(1));
    // The scenario's own length in whole seconds (k6's shortest is 1s); the feed's end ends
    // it sooner.
    let length = Duration::from_secs(played.as_secs_f64().ceil().max(1.0) as u64);
    let rate = (facts.requests as f64 * args.rate_scale / span.as_secs_f64().max(1.0)).ceil();
    let plan = Plan::from_options(
        &Load {
            vus: PRE_ALLOCATED_VUS,
            rate: Some((rate.max(1.0) as u64, Duration::from_secs(1))),
            max_vus: args.max_vus.max(1),
            iterations: None,
            duration: Some(format_duration(length)),
            graceful_stop: args.graceful_stop.clone(),
            execution_segment: None,
        }
        .options("--max-vus", "--rate-scale", "--iterations")?,
    )
    .context("invalid load options")?;
    brunt_http::check_open_files(plan.planned_vus()).map_err(anyhow::Error::msg)?;
    brunt_quick::preflight(&base)?;

    let registry = Arc::new(Registry::new());
    let lag = registry.register(REPLAY_LAG, MetricType::Trend, ValueType::Time)?;
    let watched = args.report.monitors_and_thresholds(&registry)?;
    let description = format!(
        "replay: {} requests of {} ({}) over {} at {speed}x, rate-scale {}{}",
        facts.requests,
        args.log.display(),
        facts.format.name(),
        format_duration(span),
        args.rate_scale,
        if args.looped { ", looped" } else { "" }
    );
    let report = args.report.start(
        registry.clone(),
        watched,
        format!(
            "brunt replay {} --target {}",
            args.log.display(),
            args.target
        ),
        vec![description],
        None,
    )?;
    let feed = LogFeed::start(Settings {
        log: args.log.clone(),
        format: facts.format,
        fields,
        patterns,
        max_routes: args.max_routes,
        target,
        headers,
        speed,
        rate_scale: args.rate_scale,
        seed: args.seed,
        first_us: facts.first_us,
        period: args.looped.then_some(span + gap),
        until: played,
    })?;
    let plan = plan.with_feed(feed.clone());
    let factory = Arc::new(QuickFactory::new(base, config).with_send_lag(lag));
    let outcome = brunt_engine::run(&plan, factory, registry, report.run_options())?;
    let table = routes::table(&outcome);
    let lines = routes::unparsed(&facts.lines, &args.log);
    let finished = report.finish(&outcome, None, Vec::new(), |f| {
        let text = format!("{}{table}{lines}", f.summary.text());
        write_stdout("the summary", &text)
            .err()
            .into_iter()
            .collect()
    });
    if let Some(e) = feed.error() {
        eprintln!(
            "error: the replay stopped reading {}: {e}",
            args.log.display()
        );
        return Ok(finished.exit_code().max(1));
    }
    Ok(finished.exit_code())
}
