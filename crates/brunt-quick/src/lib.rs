//! `brunt quick URL`: a flat-rate attack without a script. Each iteration sends one prebuilt
//! request; closed-model runs (`--vus`, `--duration`/`--iterations`) loop VUs as wrk does, open-model
//! runs (`--rate`) start requests on schedule whatever the server does, as vegeta and wrk2 do, and
//! report latency from each request's intended start (`http_req_scheduled_duration`).

mod args;
mod report;
mod vu;

pub use args::{duration_flag, ClientArgs, Load, QuickArgs, RequestArgs, RetryArgs};
pub use report::{check_threshold_flags, ReportArgs};
pub use vu::{FedRequest, QuickFactory};

use anyhow::{Context, Result};
use brunt_engine::{Plan, RunOptions, RunOutcome};
use brunt_metrics::{Registry, Thresholds};
use brunt_output::write_stdout;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// How long the reachability check before the attack waits for a connection.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(3);

/// An attack checked and ready to run, without a reporter: `brunt quick` wraps it in its
/// summary and outputs, `brunt experiment`'s load runs it in the background and judges its
/// thresholds per phase of the experiment.
pub struct Attack {
    plan: Plan,
    factory: Arc<QuickFactory>,
    registry: Arc<Registry>,
    /// The `--threshold` flags, checked against the registry.
    pub thresholds: Thresholds,
    /// The `--monitor` flags, started (their metrics are in the registry).
    pub monitors: brunt_monitor::Monitors,
}

/// Checks the flags, resolves the target and fails fast when it cannot be reached; the
/// attack records into `registry` (an experiment's, which holds its monitors' metrics too).
pub fn prepare(args: &QuickArgs, registry: Arc<Registry>) -> Result<Attack> {
    let request = args.request.request()?;
    // The flags first: a mistake in them is said before the network is tried.
    let plan = Plan::from_options(&args.options()?).context("invalid load options")?;
    // A socket per VU initialised up front; `--max-vus` beyond those may never be needed.
    brunt_http::check_open_files(plan.planned_vus()).map_err(anyhow::Error::msg)?;
    let retry = args.retry.spec()?;
    let mut config = args.request.client_config()?;
    let tracing = args.trace.tracing().map_err(|e| anyhow::anyhow!(e))?;
    if !tracing.is_empty() {
        brunt_output::announce(&tracing);
        config.tracing = Some(Arc::new(tracing));
    }
    preflight(&request)?;
    // Before the thresholds, which may name the retry metrics.
    let mut factory = QuickFactory::new(request, config);
    if let Some(spec) = retry {
        let retries = brunt_http::retry::Retries::new(&registry)?;
        factory = factory.with_retry(retries.policy(spec), retries.metrics());
    }
    let (monitors, mut thresholds) = args.report.monitors_and_thresholds(&registry)?;
    if let Some(shape) = args.shape()? {
        shape.add_thresholds(&mut thresholds, &registry)?;
    }
    let factory = Arc::new(factory);
    Ok(Attack {
        plan,
        factory,
        registry,
        thresholds,
        monitors,
    })
}

impl Attack {
    /// The registry the attack's samples are recorded in.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Runs it on the engine to the end of its plan or until `options.control` stops it.
    pub fn run(self, options: RunOptions) -> Result<RunOutcome> {
        Ok(brunt_engine::run(
            &self.plan,
            self.factory,
            self.registry,
            options,
        )?)
    }
}

/// Runs the attack and prints the summary; returns the process exit code (0, or 99 when a
/// threshold failed, 105 when interrupted, 74 when an output could not be written).
pub fn run(args: QuickArgs) -> Result<i32> {
    args.report.check()?;
    let Attack {
        plan,
        factory,
        registry,
        thresholds,
        monitors,
    } = prepare(&args, Arc::new(Registry::new()))?;
    let report = args.report.start(
        registry.clone(),
        (monitors, thresholds),
        format!("brunt quick {} {}", args.request.method, args.request.url),
        plan.scenario_lines(),
        args.shape()?.and_then(|s| s.check_windows()),
    )?;
    let outcome = brunt_engine::run(&plan, factory, registry, report.run_options())?;
    let finished = report.finish(&outcome, None, Vec::new(), |f| {
        write_stdout("the summary", &f.summary.text())
            .err()
            .into_iter()
            .collect()
    });
    Ok(finished.exit_code())
}

/// Fails fast, with the reason, when the target cannot be reached at all: an attack on a host that
/// refuses every connection would only measure errors.
pub fn preflight(request: &brunt_http::Request) -> Result<()> {
    let url = request.url();
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve host '{host}' of {url}"))?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, PREFLIGHT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => anyhow::bail!("cannot reach {host}:{port} ({url}): {e}"),
        None => anyhow::bail!("host '{host}' of {url} resolves to no address"),
    }
}
