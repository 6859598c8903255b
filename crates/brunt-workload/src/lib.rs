//! Workload models from production access logs (`brunt model`): the log is streamed once
//! (plain or gzip; nginx/Apache combined and common, JSON lines, nginx JSON, AWS ALB, Envoy),
//! paths are normalised into routes, and the fit gives each route's share, status mix, sizes
//! and latency, the arrival curve with its peaks and burstiness, and the sessions' lengths,
//! think times and route-to-route Markov chain (docs/workload.md).
//!
//! - [`format`]: one parser per log family, lines to [`format::Record`]s.
//! - [`route`]: paths to routes (`{id}`, `{uuid}`, `{hash}`, `--route` patterns).
//! - [`fit`] and [`sessions`]: the one-pass fit, memory bounded by routes, span and
//!   concurrent visitors.
//! - [`model`]: the model as JSON; `render` prints it for people; [`script`] writes it as a
//!   k6 script.
//! - [`synth`]: logs generated from a known model (tests, benchmark, docs).

pub mod fit;
pub mod format;
pub mod model;
pub mod reader;
mod render;
pub mod route;
pub mod script;
pub mod sessions;
pub mod synth;
pub mod time;

pub use fit::{FitOptions, Fitter};
pub use format::{JsonFields, LogFormat};
pub use model::Model;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

/// `brunt model`: read an access log and print its workload model.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  brunt model access.log
  brunt model access.log.gz --format combined --out model.json
  brunt model app.jsonl --format json --field time=@timestamp --field latency=took --latency-unit ms
  brunt model access.log --route '/users/{name}/profile' --session-key ip --session-gap 10m
  brunt model access.log --script load.js --scale 0.1 --compress 24h:1h --redact")]
pub struct ModelArgs {
    /// The access log: plain text or gzip, one request a line
    pub log: PathBuf,

    /// The log's format; guessed from its first lines when not given
    #[arg(long, value_enum)]
    pub format: Option<LogFormat>,

    /// JSON logs: the key holding a field, repeatable: time, method, path, request, status,
    /// bytes, latency, client or user_agent, e.g. --field time=@timestamp
    #[arg(long = "field", value_name = "NAME=KEY")]
    pub fields: Vec<String>,

    /// Unit of the key named by --field latency=KEY: s, ms or us
    #[arg(long, value_name = "UNIT", default_value = "ms")]
    pub latency_unit: String,

    /// A route pattern tried before the automatic one, repeatable: literal segments and
    /// {name} segments, e.g. --route '/users/{name}/profile'
    #[arg(long = "route", value_name = "PATTERN")]
    pub routes: Vec<String>,

    /// What identifies a visitor's session: ip+ua, ip, or field:NAME (a JSON log's field,
    /// such as a logged session cookie)
    #[arg(long, value_name = "KEY", default_value = "ip+ua")]
    pub session_key: String,

    /// Inactivity that ends a session, in k6's duration format
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    pub session_gap: String,

    /// Most distinct routes kept; requests of further ones are counted together
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub max_routes: usize,

    /// Fail at the first line that does not parse instead of counting it
    #[arg(long)]
    pub strict: bool,

    /// Write the model as JSON to FILE
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Write a k6 script that replays the model: sessions arriving on the logged curve, routes
    /// from the Markov chain, think times, sampled URL values, thresholds from the latencies
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,

    /// The script's rates as a multiple of the logged ones, e.g. 0.1
    #[arg(
        long,
        value_name = "FACTOR",
        default_value_t = 1.0,
        requires = "script"
    )]
    pub scale: f64,

    /// Play LOGGED of the log in PLAYED, e.g. 24h:1h (rates kept, the curve squeezed)
    #[arg(long, value_name = "LOGGED:PLAYED", requires = "script")]
    pub compress: Option<String>,

    /// Replace the URL values sampled from the log (ids, query values) with synthetic ones of
    /// the same shape, in the script and in --out
    #[arg(long)]
    pub redact: bool,

    /// The URL the script requests when BASE_URL is not set
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://localhost:8080",
        requires = "script"
    )]
    pub base_url: String,

    /// Print nothing but errors and warnings
    #[arg(short, long)]
    pub quiet: bool,
}

impl ModelArgs {
    fn fit_options(&self) -> Result<FitOptions> {
        let patterns = self
            .routes
            .iter()
            .map(|p| route::Pattern::parse(p).map_err(|e| anyhow!(e)))
            .collect::<Result<_>>()?;
        let gap = brunt_engine::parse_duration(&self.session_gap)
            .map_err(|e| anyhow!("--session-gap '{}': {e}", self.session_gap))?;
        if gap.is_zero() {
            anyhow::bail!(
                "--session-gap '{}': must be longer than 0s",
                self.session_gap
            );
        }
        if self.max_routes == 0 {
            anyhow::bail!("--max-routes: must be at least 1");
        }
        Ok(FitOptions {
            patterns,
            session_key: sessions::SessionKey::parse(&self.session_key).map_err(|e| anyhow!(e))?,
            gap_us: gap.as_micros().min(i64::MAX as u128) as i64,
            max_routes: self.max_routes,
        })
    }

    fn script_options(&self) -> Result<Option<script::ScriptOptions>> {
        if self.script.is_none() {
            return Ok(None);
        }
        if !(self.scale.is_finite() && self.scale > 0.0) {
            anyhow::bail!("--scale {}: must be more than 0, e.g. 0.1", self.scale);
        }
        if self.base_url.contains(['\'', '\\', '\n']) || !self.base_url.starts_with("http") {
            anyhow::bail!("--base-url '{}': an http:// or https:// URL", self.base_url);
        }
        Ok(Some(script::ScriptOptions {
            scale: self.scale,
            compress: self
                .compress
                .as_deref()
                .map(script::parse_compress)
                .transpose()
                .map_err(|e| anyhow!(e))?,
            redact: self.redact,
            base_url: self.base_url.trim_end_matches('/').to_string(),
        }))
    }

    fn json_fields(&self, key: &sessions::SessionKey) -> Result<JsonFields> {
        let mut fields = JsonFields::default();
        for f in &self.fields {
            fields.set(f).map_err(|e| anyhow!(e))?;
        }
        fields
            .set_latency_unit(&self.latency_unit)
            .map_err(|e| anyhow!(e))?;
        if let sessions::SessionKey::Field(name) = key {
            fields.set_session(name);
        }
        Ok(fields)
    }
}

/// Reads the log named by `args` and fits its model.
pub fn fit(args: &ModelArgs) -> Result<Model> {
    let opts = args.fit_options()?;
    let fields = args.json_fields(&opts.session_key)?;
    let source = args.log.display().to_string();
    let input = reader::open(&args.log)?;
    let mut fitter = Fitter::new(opts);
    let read = reader::read(
        &source,
        input,
        args.format,
        fields,
        args.strict,
        &mut fitter,
    )?;
    fitter
        .finish(&source, read.format.name(), read.lines)
        .map_err(|e| anyhow!(e))
}

/// `brunt model`: prints the model (and writes it with `--out`); returns the exit code.
pub fn run(args: ModelArgs) -> Result<i32> {
    // The script's flags first: a mistake in them is said before the log is read.
    let script_opts = args.script_options()?;
    let mut model = fit(&args)?;
    if args.redact {
        script::redact(&mut model);
    }
    if let (Some(path), Some(opts)) = (&args.script, &script_opts) {
        std::fs::write(path, script::script(&model, opts))
            .with_context(|| format!("--script: cannot write {}", path.display()))?;
    }
    if let Some(out) = &args.out {
        write_json(out, &model)?;
    }
    for w in &model.warnings {
        eprintln!("warning: {w}");
    }
    if model.lines.unparsed > 0 {
        eprintln!(
            "warning: {} of {} lines did not parse as {} (samples in the model)",
            model.lines.unparsed, model.lines.total, model.format
        );
    }
    if !args.quiet {
        print!("{}", render::text(&model));
    }
    Ok(0)
}

fn write_json(path: &Path, model: &Model) -> Result<()> {
    let text = serde_json::to_string_pretty(model).expect("a model serialises");
    std::fs::write(path, text + "\n")
        .with_context(|| format!("--out: cannot write {}", path.display()))
}
