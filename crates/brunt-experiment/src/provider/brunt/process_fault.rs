//! Faults on local processes: `kill` (a signal), `pause` (SIGSTOP for a duration, then
//! SIGCONT, also when the experiment is interrupted) and `restart` (stop, start the command
//! again, wait until a readiness URL answers); and `start`, which starts a process for the
//! experiment to act on (see [`crate::started`]).

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use super::processes::{parse_signal, signal, Target};
use super::{arguments, seconds};
use crate::provider::http::HttpProvider;
use crate::provider::ActivityFailed;
use crate::runner::Context;

/// How long `restart` waits for the old process to exit before it sends SIGKILL.
const EXIT_GRACE: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartArgs {
    /// How targets refer to it: `{"started": NAME}`.
    name: String,
    /// The program and its arguments.
    command: Vec<String>,
    /// A URL that answers below 400 once the process is ready.
    #[serde(default)]
    ready: Option<String>,
    #[serde(default = "ten")]
    ready_timeout: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KillArgs {
    target: Target,
    #[serde(default = "sigterm")]
    signal: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PauseArgs {
    target: Target,
    duration: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestartArgs {
    target: Target,
    #[serde(default = "sigterm")]
    signal: String,
    /// The program and its arguments.
    start: Vec<String>,
    /// A URL that answers below 400 once the process is ready.
    ready: String,
    /// Seconds to wait for `ready`.
    #[serde(default = "ten")]
    ready_timeout: f64,
}

fn sigterm() -> String {
    "SIGTERM".into()
}

fn ten() -> f64 {
    10.0
}

/// A parsed process fault.
#[derive(Clone, Debug)]
pub enum ProcessFault {
    /// Start a named process, wait until ready.
    Start {
        name: String,
        command: Vec<String>,
        ready: Option<Box<HttpProvider>>,
        ready_timeout: Duration,
    },
    /// Send a signal.
    Kill { target: Target, signal: i32 },
    /// Stop, wait, continue.
    Pause { target: Target, duration: Duration },
    /// Stop, start again, wait until ready.
    Restart {
        target: Target,
        signal: i32,
        start: Vec<String>,
        ready: Box<HttpProvider>,
        ready_timeout: Duration,
    },
}

impl ProcessFault {
    pub(super) fn parse(func: &str, args: &Value) -> Result<Self, String> {
        let sig = |s: &str| parse_signal(s).map_err(|e| format!("arguments.signal: {e}"));
        let target = |t: &Target| {
            t.resolve(None)
                .map(|_| ())
                .map_err(|e| format!("arguments.{e}"))
        };
        let fault = match func {
            "start" => {
                let a: StartArgs = arguments(args)?;
                if a.command.is_empty() {
                    return Err("arguments.command: the program and its arguments".into());
                }
                return Ok(ProcessFault::Start {
                    name: a.name,
                    command: a.command,
                    ready: a.ready.map(|url| ready_probe(&url)).transpose()?,
                    ready_timeout: seconds("ready_timeout", a.ready_timeout)?,
                });
            }
            "kill" => {
                let a: KillArgs = arguments(args)?;
                ProcessFault::Kill {
                    signal: sig(&a.signal)?,
                    target: a.target,
                }
            }
            "pause" => {
                let a: PauseArgs = arguments(args)?;
                ProcessFault::Pause {
                    duration: seconds("duration", a.duration)?,
                    target: a.target,
                }
            }
            _ => {
                let a: RestartArgs = arguments(args)?;
                if a.start.is_empty() {
                    return Err("arguments.start: the command that starts the process again".into());
                }
                let ready = ready_probe(&a.ready)?;
                ProcessFault::Restart {
                    signal: sig(&a.signal)?,
                    start: a.start,
                    ready,
                    ready_timeout: seconds("ready_timeout", a.ready_timeout)?,
                    target: a.target,
                }
            }
        };
        if let ProcessFault::Kill { target: t, .. }
        | ProcessFault::Pause { target: t, .. }
        | ProcessFault::Restart { target: t, .. } = &fault
        {
            target(t)?;
        }
        Ok(fault)
    }

    pub(super) async fn run(&self, ctx: &Context) -> Result<Value, ActivityFailed> {
        let failed = ActivityFailed;
        let resolve = |t: &Target| t.resolve(Some(&ctx.started)).map_err(failed);
        match self {
            ProcessFault::Start {
                name,
                command,
                ready,
                ready_timeout,
            } => {
                let pid = ctx.started.spawn(name, command).map_err(failed)?;
                let took = match ready {
                    Some(r) => wait_ready(ctx, r, *ready_timeout).await.map_err(failed)?,
                    None => Duration::ZERO,
                };
                Ok(json!({"name": name, "pid": pid, "ready_after": took.as_secs_f64()}))
            }
            ProcessFault::Kill { target, signal: s } => {
                let pids = resolve(target)?;
                for &pid in &pids {
                    signal(pid, *s).map_err(failed)?;
                }
                Ok(json!({"pids": pids, "signal": s}))
            }
            ProcessFault::Pause { target, duration } => {
                let pids = resolve(target)?;
                let paused = Paused::stop(pids.clone()).map_err(failed)?;
                tokio::time::sleep(*duration).await;
                drop(paused);
                Ok(json!({"pids": pids, "paused": duration.as_secs_f64()}))
            }
            ProcessFault::Restart {
                target,
                signal: s,
                start,
                ready,
                ready_timeout,
            } => {
                let pids = resolve(target)?;
                for &pid in &pids {
                    signal(pid, *s).map_err(failed)?;
                }
                let deadline = Instant::now() + EXIT_GRACE;
                while pids.iter().any(|&p| alive(p)) {
                    if Instant::now() > deadline {
                        for &pid in pids.iter().filter(|&&p| alive(p)) {
                            signal(pid, libc::SIGKILL).map_err(failed)?;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                // A process the experiment started is started again the same way, so it
                // still cannot outlive the experiment; any other is the user's to keep.
                let pid = match target {
                    Target::Started(name) => ctx.started.spawn(name, start).map_err(failed)?,
                    _ => std::process::Command::new(&start[0])
                        .args(&start[1..])
                        .stdin(std::process::Stdio::null())
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn()
                        .map_err(|e| failed(format!("cannot start {:?}: {e}", start[0])))?
                        .id(),
                };
                let took = wait_ready(ctx, ready, *ready_timeout)
                    .await
                    .map_err(|e| failed(format!("{:?} started (pid {pid}) but {e}", start[0])))?;
                Ok(json!({"stopped": pids, "pid": pid, "ready_after": took.as_secs_f64()}))
            }
        }
    }
}

/// A readiness probe: an HTTP GET of `url` with a 1 s timeout.
fn ready_probe(url: &str) -> Result<Box<HttpProvider>, String> {
    serde_json::from_value(json!({"type": "http", "url": url, "timeout": 1}))
        .map_err(|e| format!("arguments.ready: {e}"))
}

/// Polls `ready` until it answers below 400; how long that took, or why it never did.
async fn wait_ready(
    ctx: &Context,
    ready: &HttpProvider,
    timeout: Duration,
) -> Result<Duration, String> {
    let started = Instant::now();
    loop {
        let answer = ready.run(ctx, None).await;
        if answer
            .as_ref()
            .ok()
            .and_then(|v| v["status"].as_u64())
            .is_some_and(|s| s < 400)
        {
            return Ok(started.elapsed());
        }
        if started.elapsed() > timeout {
            return Err(format!("{} was not ready within {timeout:?}", ready.url()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a process still runs (a zombie has exited).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Stopped processes, continued when dropped: at the end of the pause, when the activity
/// fails, or when an interrupted experiment abandons it.
struct Paused(Vec<i32>);

impl Paused {
    fn stop(pids: Vec<i32>) -> Result<Self, String> {
        let mut paused = Paused(Vec::with_capacity(pids.len()));
        for pid in pids {
            signal(pid, libc::SIGSTOP)?;
            paused.0.push(pid);
        }
        Ok(paused)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if let Err(e) = signal(pid, libc::SIGCONT) {
                tracing::warn!("{e}");
            }
        }
    }
}
