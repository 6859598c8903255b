//! `brunt llm URL --model NAME`: load tests of OpenAI-compatible LLM endpoints. Each VU holds
//! one stream at a time on the engine's executors (closed model `--concurrency`, open model
//! `--rate`); answers are read as they arrive (brunt-http's streaming bodies) and measured per
//! token into the `llm_*` metrics, which the summary, outputs and thresholds treat as any other.
//! Definitions: docs/llm.md.

mod args;
mod metrics;
mod reader;
mod request;
mod slo;
mod tally;
mod vu;

pub use args::LlmArgs;
pub use metrics::LlmMetrics;
pub use reader::{Failure, Measured, StreamReader, TokenSource};
pub use request::{Api, Prompt, Prompts, RequestSpec};
pub use slo::Slo;

use anyhow::{anyhow, Context, Result};
use brunt_engine::Plan;
use brunt_http::ClientConfig;
use brunt_metrics::{Registry, Thresholds};
use brunt_output::{write_stdout, ReportConfig, SummaryOptions};
use brunt_quick::{duration_flag, Load};
use brunt_web::RunReport;
use std::sync::Arc;
use std::time::Duration;

/// Runs the test and prints the summary; returns the exit code (0, 99 when a threshold failed,
/// 105 when interrupted, 74 when an output could not be written).
pub fn run(args: LlmArgs) -> Result<i32> {
    let registry = Arc::new(Registry::new());
    let metrics = LlmMetrics::register(&registry);
    let spec = spec(&args)?;
    let prompts = match &args.dataset {
        Some(path) => Prompts::from_file(path)?,
        None => Prompts::Synthetic {
            mean: args.input_tokens.max(1),
            stddev: args.input_tokens_stddev,
            seed: args.seed,
        },
    };
    // Every request is built the same way: a bad header or URL fails here, before the run.
    let first = spec.request(&prompts.get(0))?;
    brunt_quick::preflight(&first)?;
    let slo = args.slo.as_deref().map(Slo::parse).transpose()?;
    let plan =
        Plan::from_options(&load(&args)?.options("--concurrency", "--rate", "--requests")?)
            .context("invalid load options")?;
    // Before the thresholds, which may name the monitors' metrics.
    let monitors = brunt_monitor::Monitors::start(&args.monitors, &registry)?;
    let mut thresholds = Thresholds::default();
    for t in &args.thresholds {
        thresholds
            .add_cli(t, &registry)
            .with_context(|| format!("--threshold '{t}'"))?;
    }
    let summary = SummaryOptions {
        colors: !args.no_color && std::io::IsTerminal::is_terminal(&std::io::stdout()),
        ..SummaryOptions::default()
    };
    let report = RunReport::start(
        ReportConfig {
            thresholds,
            outs: args.outs.clone(),
            summary_export: args.summary_export.clone(),
            summary,
            quiet: args.quiet,
            scenarios: plan.scenario_lines(),
            slo_window: None,
        },
        &args.web,
        format!("brunt llm {} --model {}", args.url, args.model),
        registry.clone(),
        brunt_output::stop_on_signals(),
        monitors,
    )?;
    let tally = Arc::new(tally::Tally::default());
    let factory = Arc::new(vu::Shared(Arc::new(vu::LlmFactory {
        config: ClientConfig {
            timeout: spec.timeout,
            ..ClientConfig::default()
        },
        spec,
        prompts,
        metrics,
        slo,
        tally: tally.clone(),
    })));
    let outcome = brunt_engine::run(&plan, factory, registry, report.run_options())?;
    let finished = report.finish(&outcome, None, Vec::new(), |f| {
        let text = format!("{}{}", f.summary.text(), tally.text());
        write_stdout("the summary", &text)
            .err()
            .into_iter()
            .collect()
    });
    Ok(finished.exit_code())
}

fn spec(args: &LlmArgs) -> Result<RequestSpec> {
    let mut headers = Vec::new();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| anyhow!("--header '{h}': expected 'NAME: VALUE'"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    if let Some(var) = &args.api_key_env {
        let key = std::env::var(var)
            .map_err(|_| anyhow!("--api-key-env {var}: the environment variable is not set"))?;
        headers.push(("authorization".into(), format!("Bearer {key}")));
    }
    Ok(RequestSpec {
        url: RequestSpec::endpoint(&args.url, args.api),
        api: args.api,
        model: args.model.clone(),
        stream: !args.no_stream,
        max_tokens: args.max_tokens,
        ignore_eos: args.ignore_eos,
        headers,
        timeout: duration_flag("--timeout", &args.timeout)?,
    })
}

/// The load shape: `--rate` as starts per 1000 s, so that fractional rates (0.5/s) are exact.
fn load(args: &LlmArgs) -> Result<Load> {
    let rate = match args.rate {
        Some(r) if !(r > 0.0 && r.is_finite()) => {
            anyhow::bail!("--rate {r}: must be a positive number of requests per second")
        }
        Some(r) => Some((
            (r * 1000.0).round().max(1.0) as u64,
            Duration::from_secs(1000),
        )),
        None => None,
    };
    Ok(Load {
        vus: args.concurrency,
        rate,
        max_vus: args.max_concurrency,
        iterations: args.requests,
        duration: args.duration.clone(),
        graceful_stop: args.graceful_stop.clone(),
        execution_segment: None,
    })
}
