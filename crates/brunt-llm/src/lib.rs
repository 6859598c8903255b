//! `brunt llm URL --model NAME`: load tests of OpenAI-compatible LLM endpoints. Each VU holds
//! one stream at a time on the engine's executors (closed model `--concurrency`, open model
//! `--rate`); answers are read as they arrive (brunt-http's streaming bodies) and measured per
//! token into the `llm_*` metrics, which the summary, outputs and thresholds treat as any other.
//! Definitions: docs/llm.md.

mod args;
mod coldstart;
mod compat;
mod metrics;
mod ratelimit;
mod reader;
mod request;
mod slo;
mod sweep;
mod tally;
mod vu;

pub use args::LlmArgs;
pub use compat::Tool as CompatTool;
pub use metrics::LlmMetrics;
pub use ratelimit::{Budget, Headroom};
pub use reader::{load_tokenizer, Failure, Measured, StreamReader, TokenSource};
pub use request::{Api, Prompt, Prompts, RequestSpec};
pub use slo::Slo;
pub use sweep::{Sweep, Varied};

use anyhow::{anyhow, Context, Result};
use brunt_engine::arrival::Arrivals;
use brunt_engine::Plan;
use brunt_http::ClientConfig;
use brunt_metrics::{Registry, Thresholds};
use brunt_output::{write_stdout, ReportConfig, SummaryOptions};
use brunt_quick::{duration_flag, Load};
use brunt_web::RunReport;
use std::sync::Arc;
use std::time::Duration;
use tokenizers::Tokenizer;

/// Runs the test (or each step of `--sweep`) and prints the summary or the sweep's table;
/// returns the exit code (0, 99 when a threshold failed, 105 when interrupted, 74 when an output
/// could not be written).
pub fn run(args: LlmArgs) -> Result<i32> {
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
    // The flags before the network: a mistake in them is named even with the server down.
    let slo = args.slo.as_deref().map(Slo::parse).transpose()?;
    let arrivals = arrivals(&args)?;
    let tokenizer = args.tokenizer.as_deref().map(load_tokenizer).transpose()?;
    brunt_quick::check_threshold_flags("--threshold", &args.thresholds)?;
    let idles = args
        .cold_start
        .as_deref()
        .map(coldstart::parse)
        .transpose()?;
    let sweep = args.sweep.as_deref().map(Sweep::parse).transpose()?;
    if let Some(sweep) = &sweep {
        sweep::check(
            sweep,
            args.duration.is_some(),
            args.requests.is_some(),
            slo.is_some(),
        )?;
    }
    brunt_quick::preflight(&first)?;
    if let Some(idles) = idles {
        let control = brunt_output::stop_on_signals();
        let result = coldstart::measure(&spec, &prompts, &idles, args.requests, &control)?;
        write_stdout("the cold-start table", &result.text())?;
        if let Some(path) = &args.export {
            export(path, &result)?;
        }
        return Ok(if result.complete { 0 } else { EXIT_INTERRUPTED });
    }
    let Some(sweep) = sweep else {
        return run_once(&args, spec, prompts, slo, arrivals, tokenizer);
    };
    let control = brunt_output::stop_on_signals();
    let step = |phase: sweep::Phase, varied: Varied, value: f64| -> Result<sweep::Step> {
        let mut step_args = args.clone();
        match varied {
            Varied::Rate => step_args.rate = Some(value),
            Varied::Concurrency => step_args.concurrency = value as u64,
        }
        let plan = plan(&step_args)?.with_arrivals(arrivals);
        let registry = Arc::new(Registry::new());
        let metrics = LlmMetrics::register(&registry)?;
        let tally = Arc::new(tally::Tally::new(false));
        let factory = factory(
            &spec,
            &prompts,
            metrics,
            slo.clone(),
            tally.clone(),
            tokenizer.clone(),
        );
        let options = brunt_engine::RunOptions {
            control: control.clone(),
            ..brunt_engine::RunOptions::default()
        };
        let outcome = brunt_engine::run(&plan, factory, registry.clone(), options)?;
        let step = sweep::Step::measure(
            phase,
            value,
            &registry,
            &outcome.snapshot,
            outcome.elapsed,
            tally.counts(),
            slo.as_ref(),
        );
        if !args.quiet {
            eprintln!(
                "step {phase:?} {value}: {} requests, {} failed",
                step.requests, step.failed
            );
        }
        Ok(step)
    };
    let mut steps = Vec::new();
    if sweep.values.is_empty() {
        let baseline = step(sweep::Phase::Baseline, Varied::Concurrency, 1.0)?;
        let saturation = step(
            sweep::Phase::Saturation,
            Varied::Concurrency,
            args.max_concurrency as f64,
        )?;
        let (low, high) = (baseline.throughput, saturation.throughput);
        steps.extend([baseline, saturation]);
        let (mut met, mut missed) = (None, None);
        for _ in 0..sweep::SEARCH_STEPS + 2 {
            let Some(rate) = sweep::next_rate(met, missed, low, high) else {
                break;
            };
            // A baseline with no successful request leaves no rate to try.
            if control.is_stopped() || rate <= 0.0 || !rate.is_finite() {
                break;
            }
            let s = step(sweep::Phase::Search, Varied::Rate, rate)?;
            if s.slo_met == Some(true) {
                met = Some(rate);
            } else {
                missed = Some(rate);
            }
            steps.push(s);
        }
    } else {
        for &value in &sweep.values {
            if control.is_stopped() {
                break;
            }
            steps.push(step(sweep::Phase::Listed, sweep.varied, value)?);
        }
    }
    let complete = !control.is_stopped();
    let result = sweep::SweepResult::new(
        args.url.clone(),
        args.model.clone(),
        sweep.varied,
        args.slo.clone(),
        steps,
        complete,
    );
    write_stdout("the sweep's table", &result.text())?;
    if let Some(path) = &args.export {
        export(path, &result)?;
    }
    if let Some(path) = &args.web.report {
        brunt_web::llm_sweep::write_report(path, &serde_json::to_value(&result)?)?;
    }
    Ok(if complete { 0 } else { EXIT_INTERRUPTED })
}

/// Exit code of a sweep or cold-start measurement cut short by Ctrl-C or SIGTERM (k6's).
const EXIT_INTERRUPTED: i32 = 105;

/// Writes `--export FILE`.
fn export(path: &std::path::Path, value: &impl serde::Serialize) -> Result<()> {
    let json = serde_json::to_string_pretty(value)?;
    std::fs::write(path, json + "\n")
        .with_context(|| format!("--export {}: cannot write the file", path.display()))
}

/// One run with the summary, outputs, thresholds and dashboard of any brunt run.
fn run_once(
    args: &LlmArgs,
    spec: RequestSpec,
    prompts: Prompts,
    slo: Option<Slo>,
    arrivals: Arrivals,
    tokenizer: Option<Arc<Tokenizer>>,
) -> Result<i32> {
    let registry = Arc::new(Registry::new());
    let metrics = LlmMetrics::register(&registry)?;
    let plan = plan(args)?.with_arrivals(arrivals);
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
            profile_checks: None,
            phases: None,
        },
        &args.web,
        format!("brunt llm {} --model {}", args.url, args.model),
        registry.clone(),
        brunt_output::stop_on_signals(),
        monitors,
    )?;
    let tally = Arc::new(tally::Tally::new(args.metrics_compat.is_some()));
    let factory = factory(&spec, &prompts, metrics, slo, tally.clone(), tokenizer);
    let outcome = brunt_engine::run(&plan, factory, registry, report.run_options())?;
    let compat = args
        .metrics_compat
        .map(|tool| compat::Report::new(tool, &tally.records(), outcome.elapsed.as_secs_f64()));
    let finished = report.finish(&outcome, None, Vec::new(), |f| {
        let extra = compat.as_ref().map_or(String::new(), compat::Report::text);
        let text = format!("{}{}{extra}", f.summary.text(), tally.text());
        write_stdout("the summary", &text)
            .err()
            .into_iter()
            .collect()
    });
    if let (Some(path), Some(compat)) = (&args.export, &compat) {
        export(path, &serde_json::json!({"metrics_compat": compat.json()}))?;
    }
    Ok(finished.exit_code())
}

fn factory(
    spec: &RequestSpec,
    prompts: &Prompts,
    metrics: LlmMetrics,
    slo: Option<Slo>,
    tally: Arc<tally::Tally>,
    tokenizer: Option<Arc<Tokenizer>>,
) -> Arc<vu::Shared> {
    Arc::new(vu::Shared(Arc::new(vu::LlmFactory {
        config: ClientConfig {
            timeout: spec.timeout,
            ..ClientConfig::default()
        },
        spec: spec.clone(),
        prompts: prompts.clone(),
        metrics,
        slo,
        tally,
        tokenizer,
    })))
}

fn plan(args: &LlmArgs) -> Result<Plan> {
    Plan::from_options(&load(args)?.options("--concurrency", "--rate", "--requests")?)
        .context("invalid load options")
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

/// How `--rate` spaces its starts: gamma gaps of shape `--burstiness` from `--seed` (a
/// different stream than the prompts'), or the fixed schedule for `inf`.
fn arrivals(args: &LlmArgs) -> Result<Arrivals> {
    match args.burstiness {
        b if b == f64::INFINITY => Ok(Arrivals::Ticker),
        b if b > 0.0 && b.is_finite() => Ok(Arrivals::Gamma {
            burstiness: b,
            seed: args.seed ^ 0xA5A5_5A5A_0F0F_F0F0,
        }),
        b => anyhow::bail!("--burstiness {b}: must be a positive number or inf"),
    }
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
