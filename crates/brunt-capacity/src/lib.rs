//! `brunt capacity URL`: finds the highest request rate a target sustains within its SLO. A
//! baseline at a low rate, then open-model steps up a 1-2-5 ladder until one fails, then
//! bisection to `--resolution`. Each step is one constant-arrival-rate plan on the engine with
//! `brunt quick`'s VU, and every figure is read from the engine's merged aggregates, as the
//! summary's are. Why a step failed is kept by name (SLO, knee, errors, resource, generator);
//! docs/capacity.md explains the loop and the result's JSON. With `--concurrency`, closed-model
//! steps (constant-vus plans) at each level instead, fitted to the Universal Scalability Law.

mod args;
mod judge;
mod result;
mod search;
mod step;
mod usl;

pub use args::{CapacityArgs, Settings};
pub use result::{CapacityResult, FirstFailure, Verdict, KIND, VERSION};
pub use step::{Failure, Level, MonitorPeak, Phase, Step};
pub use usl::{Peak, Residual, UslFit};

use anyhow::{bail, Context, Result};
use brunt_engine::{Options, RunControl, VuFactory, DEFAULT_EXEC};
use brunt_metrics::{Registry, Thresholds};
use std::path::Path;
use std::sync::Arc;

/// Exit code of a search cut short by Ctrl-C or SIGTERM (k6's).
const EXIT_INTERRUPTED: i32 = 105;

/// Runs the search, prints the table and verdict, writes `--export`; returns the exit code (0, or
/// 105 when interrupted).
pub fn run(args: CapacityArgs) -> Result<i32> {
    let settings = args.settings()?;
    let control = brunt_output::stop_on_signals();
    let target = &args.request.url;
    if !target.contains("://") && (target.ends_with(".js") || Path::new(target).is_file()) {
        if let Some(flag) = args.request.flags_given() {
            bail!("{flag}: a request flag, for a URL; the script {target} makes its own requests");
        }
        let script = brunt_js::load_script(Path::new(target), control.clone())?;
        let exec = args.exec.clone().unwrap_or(DEFAULT_EXEC.to_string());
        if !script.program.has_export(&exec) {
            bail!(
                "--exec {exec}: {target} exports no function '{exec}' to run at each step's rate"
            );
        }
        let workload = Workload {
            factory: script.factory,
            registry: script.registry,
            options: script.options,
            exec: Some(exec.clone()),
            thresholds: script.thresholds,
            target: result::Target::Script {
                script: target.clone(),
                exec,
            },
        };
        return search_workload(&args, &settings, control, workload);
    }
    if let Some(exec) = &args.exec {
        bail!("--exec {exec}: names a script's function; {target} is not a script");
    }
    let request = args.request.request()?;
    brunt_quick::preflight(&request)?;
    let workload = Workload {
        factory: Arc::new(brunt_quick::QuickFactory::new(
            request,
            args.request.client_config()?,
        )),
        registry: Arc::new(Registry::new()),
        options: Options::default(),
        exec: None,
        thresholds: None,
        target: result::Target::Request {
            method: args.request.method.clone(),
            url: target.clone(),
        },
    };
    search_workload(&args, &settings, control, workload)
}

/// What each step runs: a request, or a script's function with its options and thresholds.
struct Workload<F> {
    factory: Arc<F>,
    registry: Arc<Registry>,
    options: Options,
    exec: Option<String>,
    /// A script's `thresholds`, judged as SLOs beside `--slo`.
    thresholds: Option<serde_json::Value>,
    target: result::Target,
}

/// Starts the monitors and SLOs, runs the baseline then the search (or the closed-model levels),
/// prints the result and writes `--export` and `--report`.
fn search_workload<F: VuFactory>(
    args: &CapacityArgs,
    settings: &Settings,
    control: RunControl,
    w: Workload<F>,
) -> Result<i32> {
    let registry = w.registry;
    // Before the SLOs, which may name the monitors' metrics.
    let monitors = brunt_monitor::Monitors::start(&args.monitors, &registry)?;
    for warning in monitors.warnings() {
        eprintln!("warning: {warning}");
    }
    let mut slos = Thresholds::default();
    if let Some(t) = &w.thresholds {
        slos.add_options(t, &registry)
            .context("the script's thresholds")?;
    }
    for t in &args.slos {
        slos.add_cli(t, &registry)
            .with_context(|| format!("--slo '{t}'"))?;
    }
    let runner = step::Runner {
        factory: w.factory,
        options: w.options,
        exec: w.exec,
        registry: registry.clone(),
        monitors: &monitors,
        control,
        settings,
        slos: &slos,
    };
    let progress = |s: &Step| {
        if !args.quiet {
            let kinds: Vec<&str> = s.failures.iter().map(|f| f.kind).collect();
            eprintln!(
                "{:?} {}: achieved {:.1}/s, p({}) {:.2} ms, errors {:.2}%: {}",
                s.phase,
                s.level,
                s.achieved,
                settings.knee_percentile,
                s.knee_ms,
                s.error_rate * 100.0,
                if kinds.is_empty() {
                    "pass".to_string()
                } else {
                    kinds.join(", ")
                }
            );
        }
    };

    let closed = !settings.concurrency.is_empty();
    // Steps the generator failed and that were run again, as notes of the result.
    let mut repeats = Vec::new();
    let baseline = measure(
        &runner,
        Phase::Baseline,
        match settings.concurrency.first() {
            Some(&n) => Level::Concurrency(n),
            None => runner.rate(settings.baseline_rate),
        },
        None,
        &progress,
        &mut repeats,
    )?;
    if runner.control.is_stopped() {
        return Ok(EXIT_INTERRUPTED);
    }
    if !baseline.passed() {
        let why: Vec<String> = baseline
            .failures
            .iter()
            .map(|f| format!("{}: {}", f.kind, f.message))
            .collect();
        let flag = if closed {
            "--concurrency"
        } else {
            "--baseline-rate"
        };
        bail!(
            "the baseline at {flag} {} already fails ({}); fix the target, the --slo or lower {flag} before searching",
            baseline.level,
            why.join("; "),
        );
    }

    let mut steps = Vec::new();
    let complete = if closed {
        run_levels(
            &runner,
            &baseline,
            &settings.concurrency[1..],
            &mut steps,
            &progress,
            &mut repeats,
        )?
    } else {
        search(&runner, &baseline, &mut steps, &progress, &mut repeats)?
    };

    let dropped = steps.iter().map(|s| s.dropped_iterations).sum();
    let report = monitors.finish(dropped);
    let mut notes: Vec<String> = repeats
        .into_iter()
        .chain(report.generator)
        .chain(report.events.iter().map(|e| e.to_string()))
        .collect();
    let usl = if closed {
        let points: Vec<(u64, f64)> = std::iter::once(&baseline)
            .chain(&steps)
            .map(|s| (s.level.value(), s.achieved))
            .collect();
        match UslFit::fit(&points) {
            Ok(fit) => Some(fit),
            Err(why) => {
                notes.push(why);
                None
            }
        }
    } else {
        None
    };
    let result = CapacityResult {
        kind: KIND,
        version: VERSION,
        model: if closed { "closed" } else { "open" },
        target: w.target,
        settings: result::SettingsJson::new(settings, &slo_sources(&slos)),
        verdict: Verdict::new(&baseline, &steps, complete),
        baseline,
        steps,
        usl,
        notes,
    };
    print!("{}", result.text());
    let json = serde_json::to_value(&result)?;
    if let Some(path) = &args.export {
        std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("--export {}: cannot write the file", path.display()))?;
    }
    if let Some(path) = &args.report {
        brunt_web::capacity::write_report(path, &json)?;
        eprintln!("report: {}", path.display());
    }
    Ok(if complete { 0 } else { EXIT_INTERRUPTED })
}

/// Runs a step at `level` and judges it. A step that the generator alone failed measured brunt,
/// not the target, and on a shared host that is most often a stall of a second or two (another
/// VM, a build beside it): the step runs once more and the second run stands, with a note in
/// `repeats`. A generator that cannot keep up fails the second run too, and the verdict says so.
fn measure<F: VuFactory>(
    runner: &step::Runner<F>,
    phase: Phase,
    level: Level,
    baseline: Option<&Step>,
    progress: &dyn Fn(&Step),
    repeats: &mut Vec<String>,
) -> Result<Step> {
    let mut s = runner.run(phase, level)?;
    if runner.control.is_stopped() {
        return Ok(s);
    }
    judge::judge(&mut s, baseline, runner.settings);
    progress(&s);
    if !judge::only_the_generator(&s) {
        return Ok(s);
    }
    let why: Vec<&str> = s.failures.iter().map(|f| f.message.as_str()).collect();
    repeats.push(format!(
        "the step at {level} ran twice: the generator failed the first run ({}); the second run stands",
        why.join("; ")
    ));
    let mut again = runner.run(phase, level)?;
    if !runner.control.is_stopped() {
        judge::judge(&mut again, baseline, runner.settings);
        progress(&again);
    }
    Ok(again)
}

/// The open-model search: the ladder up from `--start-rate` until a step fails, then bisection.
/// Returns false when Ctrl-C cut it short.
fn search<F: VuFactory>(
    runner: &step::Runner<F>,
    baseline: &Step,
    steps: &mut Vec<Step>,
    progress: &dyn Fn(&Step),
    repeats: &mut Vec<String>,
) -> Result<bool> {
    let settings = runner.settings;
    let mut search = search::Search::new(
        settings.baseline_rate,
        settings.start_rate,
        settings.max_rate,
        settings.resolution,
    );
    while let Some(rate) = search.next() {
        let phase = match search.bounds().1 {
            None => Phase::Ladder,
            Some(_) => Phase::Search,
        };
        let s = measure(
            runner,
            phase,
            runner.rate(rate),
            Some(baseline),
            progress,
            repeats,
        )?;
        if runner.control.is_stopped() {
            return Ok(false);
        }
        search.record(rate, s.passed());
        steps.push(s);
    }
    Ok(true)
}

/// The closed model: every level of `--concurrency` above the baseline's, failing or not (the
/// load is bounded by the VUs, and the USL fit wants the points past the peak). Returns false
/// when Ctrl-C cut it short.
fn run_levels<F: VuFactory>(
    runner: &step::Runner<F>,
    baseline: &Step,
    levels: &[u64],
    steps: &mut Vec<Step>,
    progress: &dyn Fn(&Step),
    repeats: &mut Vec<String>,
) -> Result<bool> {
    for &n in levels {
        let s = measure(
            runner,
            Phase::Concurrency,
            Level::Concurrency(n),
            Some(baseline),
            progress,
            repeats,
        )?;
        if runner.control.is_stopped() {
            return Ok(false);
        }
        steps.push(s);
    }
    Ok(true)
}

/// Every SLO judged, as `METRIC: EXPR`: the script's thresholds, then `--slo`'s.
fn slo_sources(slos: &Thresholds) -> Vec<String> {
    slos.metrics()
        .iter()
        .flat_map(|m| {
            m.thresholds
                .iter()
                .map(|t| format!("{}: {}", m.selector.key, t.source))
        })
        .collect()
}
