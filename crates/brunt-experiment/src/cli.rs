//! `brunt experiment run|validate FILE`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::journal::{RunStatus, Status};
use crate::monitors::ExperimentMonitors;
use crate::runner::{self, Context, Event, RollbackStrategy};

/// Run or check a Chaos Toolkit experiment.
#[derive(Args, Debug)]
#[command(after_long_help = "Examples:\n  \
brunt experiment new experiment.yaml\n  \
brunt experiment validate experiment.json\n  \
brunt experiment run experiment.yaml --journal-path journal.json\n  \
brunt experiment run experiment.json --proxy embedded --rollback-strategy always\n  \
brunt experiment run experiment.yaml --report game-day.html")]
pub struct ExperimentArgs {
    #[command(subcommand)]
    command: ExperimentCommand,
}

#[derive(Subcommand, Debug)]
enum ExperimentCommand {
    /// Run an experiment and write its journal (exit 0 when completed and not deviated, else 1)
    Run(RunArgs),
    /// Check an experiment without running anything
    Validate {
        /// The experiment file (JSON, or YAML for .yaml/.yml)
        file: PathBuf,
    },
    /// Write a commented starting experiment (a slow payment provider under load)
    New {
        /// Where to write it (an existing file is not overwritten)
        #[arg(default_value = "experiment.yaml")]
        file: PathBuf,
    },
}

/// What `brunt experiment new` writes.
const STARTER: &str = include_str!("starter.yaml");

#[derive(Args, Debug)]
struct RunArgs {
    /// The experiment file (JSON, or YAML for .yaml/.yml)
    file: PathBuf,
    /// Where to write the journal (Chaos Toolkit's format)
    #[arg(long, default_value = "./journal.json")]
    journal_path: PathBuf,
    /// When to play the rollbacks [default: the experiment's runtime.rollbacks.strategy, else default]
    #[arg(long, value_enum)]
    rollback_strategy: Option<RollbackStrategy>,
    /// Also write the game-day report: one self-contained HTML page with the load's timeline,
    /// a band per fault and rollback, the verdict per phase and every probe result (rebuild it
    /// later with `brunt report journal.json`)
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Which fault proxy the toxiproxy activities drive: the one the configuration names
    /// (toxiproxy_host/toxiproxy_port), or one brunt starts for this run on a free loopback port
    #[arg(long, value_enum, default_value = "configured")]
    proxy: ProxyMode,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ProxyMode {
    /// toxiproxy_url, or toxiproxy_host and toxiproxy_port (default 8474), from the configuration
    Configured,
    /// A brunt proxy started inside the experiment; the configuration's address is replaced
    Embedded,
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: ExperimentArgs) -> anyhow::Result<i32> {
    match args.command {
        ExperimentCommand::Validate { file } => {
            let experiment = crate::load(&file)?;
            warn_ignored(&experiment.ignored);
            // Opened (then closed) as a run opens them, so a missing target is said now.
            open_monitors(&file, &experiment)?.finish();
            eprintln!(
                "{}: valid experiment {:?}",
                file.display(),
                experiment.title
            );
            Ok(0)
        }
        ExperimentCommand::New { file } => {
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&file)
                .with_context(|| format!("cannot create {}", file.display()))?;
            std::io::Write::write_all(&mut out, STARTER.as_bytes())
                .with_context(|| format!("cannot write {}", file.display()))?;
            eprintln!(
                "wrote {}: a starting experiment; its comments say how to run it",
                file.display()
            );
            Ok(0)
        }
        ExperimentCommand::Run(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, run_experiment(args))
        }
    }
}

async fn run_experiment(args: RunArgs) -> anyhow::Result<i32> {
    let mut experiment = crate::load(&args.file)?;
    warn_ignored(&experiment.ignored);
    let proxy = match args.proxy {
        ProxyMode::Configured => None,
        ProxyMode::Embedded => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .context("cannot start the embedded fault proxy")?;
            let server =
                brunt_chaos::start(listener, brunt_chaos::ServerOptions::default()).await?;
            let addr = server.api_addr();
            let conf = &mut experiment.vars.configuration;
            conf.remove("toxiproxy_url");
            conf.insert("toxiproxy_host".into(), Value::from(addr.ip().to_string()));
            conf.insert("toxiproxy_port".into(), Value::from(addr.port()));
            eprintln!("embedded fault proxy at {addr}");
            Some(server)
        }
    };
    let strategy = args
        .rollback_strategy
        .or(experiment.rollback_strategy)
        .unwrap_or_default();

    let stop = CancellationToken::new();
    tokio::task::spawn_local(stop_on_signal(stop.clone()));
    let monitors = open_monitors(&args.file, &experiment)?;
    eprintln!("running experiment: {}", experiment.title);
    let ctx = Arc::new(Context::new(experiment.vars.clone(), monitors));
    let journal = runner::run(&experiment, &ctx, strategy, &stop, &progress).await;
    if let Some(ctx) = Arc::into_inner(ctx) {
        let mut monitors = ctx.monitors;
        for event in monitors.finish() {
            eprintln!("monitor: {event}");
        }
    }
    if let Some(server) = proxy {
        server.shutdown().await;
    }

    let value = serde_json::to_value(&journal)?;
    let text = serde_json::to_string_pretty(&value)?;
    std::fs::write(&args.journal_path, text + "\n").with_context(|| {
        format!(
            "cannot write the journal to {}",
            args.journal_path.display()
        )
    })?;
    let report_failed = match &args.report {
        Some(path) => match write_report(path, &value) {
            Ok(()) => {
                eprintln!("game-day report: {}", path.display());
                false
            }
            Err(e) => {
                eprintln!("error: --report {}: {e}", path.display());
                true
            }
        },
        None => false,
    };
    let after_met = journal
        .steady_states
        .after
        .as_ref()
        .is_none_or(|a| a.steady_state_met);
    let verdict = match (journal.status, journal.deviated) {
        (_, true) if !after_met => "deviated: the steady state was not met after the method",
        (_, true) => {
            "deviated: the hypothesis during the fault did not hold (a load threshold or a sampled probe)"
        }
        (Status::Completed, false) => "completed",
        (Status::Failed, false) => "failed: a steady-state probe could not run",
        (Status::Aborted, false) => "aborted",
        (Status::Interrupted, false) => "interrupted",
    };
    eprintln!(
        "experiment ended with status: {verdict} (journal: {})",
        args.journal_path.display()
    );
    Ok(match (journal.status, journal.deviated) {
        (Status::Completed, false) if report_failed => OUTPUT_FAILED,
        (Status::Completed, false) => 0,
        _ => 1,
    })
}

/// The exit code of a run that held but whose report could not be written (as `brunt run`).
const OUTPUT_FAILED: i32 = 74;

fn write_report(path: &std::path::Path, journal: &Value) -> anyhow::Result<()> {
    let data = brunt_web::game_day::from_journal(journal).map_err(anyhow::Error::msg)?;
    std::fs::write(path, brunt_web::render(&data))?;
    Ok(())
}

/// Prints each phase and activity as Chaos Toolkit's log does.
fn progress(event: Event<'_>) {
    match event {
        Event::Phase(p) => eprintln!("-- {}", p.label()),
        Event::Activity(_, run) => {
            let name = run
                .activity
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let kind = run
                .activity
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("activity");
            let outcome = match (run.status, run.tolerance_met) {
                (RunStatus::Failed, _) => format!(
                    "failed: {}",
                    run.exception
                        .as_ref()
                        .and_then(|e| e.first())
                        .map_or("", |s| s.trim_end())
                ),
                (RunStatus::Succeeded, Some(false)) => "out of tolerance".to_string(),
                (RunStatus::Succeeded, _) => "succeeded".to_string(),
                (RunStatus::Interrupted, _) => "interrupted".to_string(),
            };
            eprintln!("   {kind} {name}: {outcome} ({:.3}s)", run.duration);
        }
    }
}

/// The monitors of the experiment's `monitor` probes, opened; an error names the file, the
/// activity and the field.
fn open_monitors(
    file: &std::path::Path,
    experiment: &crate::Experiment,
) -> anyhow::Result<ExperimentMonitors> {
    let (monitors, warnings) =
        ExperimentMonitors::open(experiment).map_err(|detail| crate::FormatError::Invalid {
            file: file.display().to_string(),
            detail,
        })?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(monitors)
}

fn warn_ignored(ignored: &[String]) {
    for what in ignored {
        eprintln!("warning: {what} is ignored (brunt does not run Chaos Toolkit controls)");
    }
}

/// Ctrl-C or SIGTERM stops the hypothesis and the method; the rollbacks still run.
async fn stop_on_signal(stop: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("warning: cannot watch for SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("stopping: the method is interrupted, rollbacks follow");
    stop.cancel();
}
