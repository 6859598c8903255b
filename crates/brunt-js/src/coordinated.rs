//! `brunt coordinator`, `brunt agent` and `brunt run --coordinator`: a script run as one test
//! across instances. The coordinator loads and checks the script as `brunt run` does and reports
//! with `brunt run`'s reporter, fed by brunt-coordinator with the instances' merged seconds; each
//! instance runs the coordinator's archive on its segment with the engine, as `brunt run` would.

use crate::run::{
    config_error, finish_run, log_error, prepare, start_logging, start_report, JoinArgs,
    PrepareError, RunArgs,
};
use anyhow::{anyhow, Context as _};
use brunt_coordinator::proto::{InstanceEnd, Ready};
use brunt_coordinator::{Config, Coordinator, CoordinatorError, Instance, OnLoss, Segments};
use brunt_engine::{log, Execution, ExecutionStatus, Hook, RunEnd, RunError, RunOptions};
use brunt_metrics::Registry;
use clap::Args;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::run::exit;

/// `brunt coordinator`: `brunt run`'s flags, and how the instances join.
#[derive(Args, Debug, Clone)]
pub struct CoordinatorArgs {
    /// How many instances run the test, each on its own equal execution segment (or on those of
    /// --execution-segment-sequence, one per instance).
    #[arg(long, value_name = "N")]
    pub instances: usize,
    /// Where instances reach the coordinator (loopback unless told otherwise).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:6566")]
    pub listen: String,
    /// When an instance stops reporting: `continue` (finish with the others, keeping what it
    /// sent) or `abort` (stop every instance and fail the run).
    #[arg(long, value_name = "continue|abort", default_value = "continue")]
    pub on_instance_loss: OnLoss,
    /// How long to wait for every instance to join and initialise its VUs.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub join_timeout: String,
    /// An instance that sends nothing for this long after the start is lost.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub instance_timeout: String,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `brunt agent`: joins a coordinated run with no script of its own.
#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    #[command(flatten)]
    pub join: JoinArgs,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Print nothing but errors.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

fn duration(flag: &str, v: &str) -> Result<Duration, String> {
    brunt_engine::parse_duration(v).map_err(|e| format!("{flag} '{v}': {e}"))
}

/// SHA-256 of a script's text, in hex: how a coordinator knows an instance runs its script.
fn script_hash(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read '{}'", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(bytes)))
}

/// The coordinator's own flags, checked: the segments, `--join-timeout`, `--instance-timeout`.
fn coordinator_flags(args: &CoordinatorArgs) -> Result<(Segments, Duration, Duration), String> {
    Ok((
        Segments::new(
            args.instances,
            args.run.execution_segment_sequence.as_deref(),
        )?,
        duration("--join-timeout", &args.join_timeout)?,
        duration("--instance-timeout", &args.instance_timeout)?,
    ))
}

/// `brunt coordinator`: holds the test, hands it to the instances, and writes its one summary.
pub fn coordinator(mut args: CoordinatorArgs) -> anyhow::Result<i32> {
    log::start_clock();
    let summary_mode = match start_logging(&args.run) {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    for (given, flag, why) in [
        (
            args.run.join.coordinator.is_some(),
            "--coordinator",
            "a coordinator joins no other",
        ),
        (
            args.run.paused,
            "--paused",
            "the coordinator starts its instances together",
        ),
        (
            args.run.execution_segment.is_some(),
            "--execution-segment",
            "the coordinator hands out the segments (give --execution-segment-sequence)",
        ),
        (
            args.run.address.is_some(),
            "--address",
            "the coordinator serves no REST API",
        ),
        (
            !args.run.monitors.is_empty(),
            "--monitor",
            "the monitored targets are beside the instances, not the coordinator",
        ),
    ] {
        if given {
            return Ok(config_error(format!(
                "brunt coordinator: {flag} is not accepted: {why}"
            )));
        }
    }
    let (segments, join_timeout, instance_timeout) = match coordinator_flags(&args) {
        Ok(p) => p,
        Err(e) => return Ok(config_error(e)),
    };
    let archive = crate::archive::open(
        &mut args.run.script,
        &mut args.run.env,
        &mut args.run.module_cache,
    )?;
    crate::archive::apply(&mut args.run, archive.as_ref());
    // The whole test is checked here; each instance's segment of it on the instance.
    args.run.execution_segment_sequence = None;
    let control = brunt_output::stop_on_signals();
    let prepared = match prepare(&args.run, Arc::new(Registry::new()), control.clone()) {
        Ok(p) => p,
        Err(PrepareError::Exit { code, message }) => {
            log_error(message);
            return Ok(code);
        }
        Err(PrepareError::Other(e)) => return Err(e),
    };
    let env = crate::run::key_values(&args.run.env, "--env")?;
    let packed = crate::archive::pack_prepared(&prepared, env, archive.as_ref())?;
    let main = PathBuf::from(prepared.program.main_path());
    let hash = script_hash(&main)?;
    let setup = !(args.run.no_setup || crate::run::env_flag("NO_SETUP"));
    let teardown = !(args.run.no_teardown || crate::run::env_flag("NO_TEARDOWN"));
    let (mut report, reporting) =
        match start_report(&args.run, prepared, summary_mode, control.clone()) {
            Ok(r) => r,
            Err(code) => return Ok(code),
        };
    let mut opts = report.run_options();
    if opts.keep_raw {
        return Ok(config_error(
            "brunt coordinator: an --out that writes every sample (json, csv) is not available in a coordinated run, whose instances send per-second aggregates: use --out results=FILE, or run such an output on each instance",
        ));
    }
    let token = match args.run.join.token.clone().filter(|t| !t.is_empty()) {
        Some(t) => t,
        None => {
            let t = brunt_coordinator::new_token();
            eprintln!(
                "coordinator token: {t} (give it to the instances: --token or {})",
                brunt_coordinator::proto::TOKEN_ENV
            );
            t
        }
    };
    let cfg = Config {
        segments: segments.clone(),
        token,
        archive: packed,
        script_hash: hash,
        script_name: args.run.script.display().to_string(),
        setup,
        teardown,
        on_loss: args.on_instance_loss,
        join_timeout,
        instance_timeout,
    };
    let coordinator = match Coordinator::start(&args.listen, cfg, reporting.registry.clone()) {
        Ok(c) => c,
        Err(e) => {
            log_error(format!("--listen: {e}"));
            return Ok(exit::CANNOT_START_API);
        }
    };
    if !args.run.quiet {
        eprintln!(
            "coordinator: listening on http://{} for {} instance(s), segments {}",
            coordinator.addr(),
            args.instances,
            segments.sequence
        );
    }
    let observer = opts.observer.take().expect("the report's observer");
    let done = match coordinator.run(observer, &control) {
        Ok(d) => d,
        Err(e) => {
            log_error(&e);
            return Ok(match e {
                CoordinatorError::InstanceFailed(_) => exit::SCRIPT_EXCEPTION,
                CoordinatorError::Interrupted => exit::EXTERNAL_ABORT,
                _ => exit::COORDINATION_FAILED,
            });
        }
    };

    report.set_instances(done.instances);
    // An instance's `exec.test.fail()` fails the whole run, as it would one process's.
    if done.marked_failed {
        reporting
            .program
            .shared
            .marked_failed
            .store(true, Ordering::SeqCst);
    }
    let code = finish_run(
        &args.run,
        report,
        &reporting,
        &done.outcome,
        done.setup_data,
        summary_mode,
    );
    Ok(if done.lost_abort && code != exit::THRESHOLDS_FAILED {
        exit::COORDINATION_FAILED
    } else {
        code
    })
}

/// `brunt agent`: an instance that runs the coordinator's archive.
pub fn agent(args: AgentArgs) -> anyhow::Result<i32> {
    let run = RunArgs {
        join: args.join,
        workers: args.workers,
        quiet: args.quiet,
        ..RunArgs::default()
    };
    instance(run, false)
}

/// Options an instance would ignore: they belong to the coordinator, whose archive it runs.
fn local_options(args: &RunArgs) -> Option<&'static str> {
    [
        (args.vus.is_some(), "--vus"),
        (args.duration.is_some(), "--duration"),
        (args.iterations.is_some(), "--iterations"),
        (!args.stages.is_empty(), "--stage"),
        (!args.thresholds.is_empty(), "--threshold"),
        (!args.out.is_empty(), "--out"),
        (args.summary_export.is_some(), "--summary-export"),
        (args.execution_segment.is_some(), "--execution-segment"),
        (args.profile.is_some(), "--profile"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

/// One instance of a coordinated run: joins (checking its local script against the
/// coordinator's when `local_script`), runs the coordinator's archive on its segment, sends
/// every second and its end. Exit codes: k6's for the script, [`exit::COORDINATION_FAILED`]
/// when the coordinator refused it or could not be reached.
pub(crate) fn instance(mut args: RunArgs, local_script: bool) -> anyhow::Result<i32> {
    log::start_clock();
    if let Err(code) = start_logging(&args) {
        return Ok(code);
    }
    let url = args
        .join
        .coordinator
        .clone()
        .ok_or_else(|| anyhow!("--coordinator URL is required"))?;
    if let Some(flag) = local_options(&args) {
        return Ok(config_error(format!(
            "{flag} is not accepted with --coordinator: an instance runs the coordinator's options; give {flag} to `brunt coordinator`"
        )));
    }
    let retry_for = match duration(
        "--coordinator-timeout",
        args.join.coordinator_timeout.as_deref().unwrap_or("2m"),
    ) {
        Ok(d) => d,
        Err(e) => return Ok(config_error(e)),
    };
    let hash = if local_script {
        let mut script = args.script.clone();
        let mut env = Vec::new();
        let unpacked = crate::archive::open(&mut script, &mut env, &mut None)?;
        let hash = script_hash(&script)?;
        drop(unpacked);
        Some(hash)
    } else {
        None
    };
    let joined = Instance::join(
        &url,
        args.join.token.clone(),
        args.join.instance_index,
        hash,
        retry_for,
    )
    .and_then(|i| i.archive().map(|a| (i, a)));
    let (instance, archive) = match joined {
        Ok(j) => j,
        Err(e) => {
            log_error(&e);
            return Ok(exit::COORDINATION_FAILED);
        }
    };
    let j = instance.joined.clone();
    if !args.quiet {
        eprintln!(
            "instance {} of {}: segment {} of the coordinated run at {url}",
            j.index, j.instances, j.segment
        );
    }
    let tar = std::env::temp_dir().join(format!("brunt-instance-{}.tar", std::process::id()));
    std::fs::write(&tar, archive).with_context(|| format!("writing '{}'", tar.display()))?;
    args.script = tar.clone();
    args.env.clear();
    let unpacked = crate::archive::open(&mut args.script, &mut args.env, &mut args.module_cache);
    let _ = std::fs::remove_file(&tar);
    let unpacked = unpacked?;
    crate::archive::apply(&mut args, unpacked.as_ref());
    args.execution_segment = Some(j.segment.clone());
    args.execution_segment_sequence = Some(j.sequence.clone());
    args.no_thresholds = true;
    args.address = Some(String::new());
    let control = brunt_output::stop_on_signals();
    let prepared = match prepare(&args, Arc::new(Registry::new()), control.clone()) {
        Ok(p) => p,
        Err(e) => {
            let (code, message) = match e {
                PrepareError::Exit { code, message } => (code, message),
                PrepareError::Other(e) => (exit::SCRIPT_EXCEPTION, format!("{e:#}")),
            };
            log_error(&message);
            let _ = instance.ready(&Ready {
                setup_data: None,
                failed: Some(format!(
                    "instance {} could not load the script: {message}",
                    j.index
                )),
            });
            return Ok(code);
        }
    };
    let factory = prepared.factory();
    let execution = Execution::paused();
    let (observer, sender) = instance.reporter(prepared.registry.clone());
    let before_teardown = j.teardown.then(|| instance.teardown_gate());
    // Ready, setup() on the instance that runs it, the common start: beside the engine, which
    // waits at its start gate meanwhile.
    let starter = {
        let (execution, control, factory) = (execution.clone(), control.clone(), factory.clone());
        let j = j.clone();
        std::thread::spawn(move || -> Result<(), String> {
            while execution.status() < ExecutionStatus::PausedBeforeRun {
                if control.is_stopped() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let mut ready = Ready::default();
            if j.setup {
                match execution.run_hook(Hook::Setup) {
                    Ok(()) => ready.setup_data = factory.setup_data().map(|d| d.to_string()),
                    Err(e) => {
                        ready.failed = Some(format!("setup() failed on instance {}: {e}", j.index))
                    }
                }
            }
            let failed = ready.failed.clone();
            let started = instance.ready(&ready).and_then(|()| instance.wait_start());
            let start = match (failed, started) {
                (Some(e), _) => Err(e),
                (None, Err(e)) => Err(e.to_string()),
                (None, Ok(s)) => Ok(s),
            };
            match start {
                Ok(start) => {
                    if !j.setup {
                        factory.set_setup_data(start.setup_data);
                    }
                    std::thread::sleep(Duration::from_millis(start.delay_ms));
                    let _ = execution.set_paused(false);
                    Ok(())
                }
                Err(e) => {
                    control.stop();
                    Err(e)
                }
            }
        })
    };
    let opts = RunOptions {
        workers: args.workers.unwrap_or(0),
        observer: Some(observer),
        control: control.clone(),
        setup: false,
        teardown: j.teardown,
        execution,
        before_teardown,
        ..RunOptions::default()
    };
    let outcome = brunt_engine::run(&prepared.plan, factory, prepared.registry.clone(), opts);
    let start_error = starter
        .join()
        .unwrap_or_else(|_| Err("the start thread panicked".into()));
    if let Err(e) = start_error {
        log_error(&e);
        return Ok(
            if e.starts_with("setup() failed") || e.contains("the run cannot start") {
                exit::SCRIPT_EXCEPTION
            } else {
                exit::COORDINATION_FAILED
            },
        );
    }
    let outcome = match outcome {
        Ok(o) => o,
        Err(e @ RunError::VuInit(_)) => {
            log_error(&e);
            return Ok(exit::SCRIPT_EXCEPTION);
        }
        Err(e) => return Err(e.into()),
    };
    let aborted = match &outcome.end {
        RunEnd::TestAborted(r) | RunEnd::Crashed(r) => Some(r.clone()),
        _ => None,
    };
    let told = sender.abort_reason();
    let end = InstanceEnd {
        counts: outcome.counts,
        saturation: outcome.saturation.clone(),
        teardown_error: outcome.teardown_error.as_ref().map(ToString::to_string),
        aborted,
        marked_failed: prepared.program.shared.marked_failed.load(Ordering::SeqCst),
    };
    if let Err(e) = sender.finish(end) {
        log_error(&e);
        return Ok(exit::COORDINATION_FAILED);
    }
    if !args.quiet {
        eprintln!(
            "instance {}: {} complete and {} interrupted iterations sent; the coordinator writes the summary{}",
            j.index,
            outcome.counts.iterations_completed,
            outcome.counts.iterations_interrupted,
            told.map(|t| format!(" (stopped by the coordinator: {t})")).unwrap_or_default()
        );
    }
    Ok(exit::OK)
}
