//! Faults on local processes: `kill` (a signal), `pause` (SIGSTOP for a duration, then
//! SIGCONT, also when the experiment is interrupted) and `restart` (stop, start the command
//! again, wait until a readiness URL answers).

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
            t.resolve()
                .map(|_| ())
                .map_err(|e| format!("arguments.{e}"))
        };
        let fault = match func {
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
                let ready =
                    serde_json::from_value(json!({"type": "http", "url": a.ready, "timeout": 1}))
                        .map_err(|e| format!("arguments.ready: {e}"))?;
                ProcessFault::Restart {
                    signal: sig(&a.signal)?,
                    start: a.start,
                    ready,
                    ready_timeout: seconds("ready_timeout", a.ready_timeout)?,
                    target: a.target,
                }
            }
        };
        let (ProcessFault::Kill { target: t, .. }
        | ProcessFault::Pause { target: t, .. }
        | ProcessFault::Restart { target: t, .. }) = &fault;
        target(t)?;
        Ok(fault)
    }

    pub(super) async fn run(&self, ctx: &Context) -> Result<Value, ActivityFailed> {
        let failed = ActivityFailed;
        match self {
            ProcessFault::Kill { target, signal: s } => {
                let pids = target.resolve().map_err(failed)?;
                for &pid in &pids {
                    signal(pid, *s).map_err(failed)?;
                }
                Ok(json!({"pids": pids, "signal": s}))
            }
            ProcessFault::Pause { target, duration } => {
                let pids = target.resolve().map_err(failed)?;
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
                let pids = target.resolve().map_err(failed)?;
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
                let child = std::process::Command::new(&start[0])
                    .args(&start[1..])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| failed(format!("cannot start {:?}: {e}", start[0])))?;
                let started = Instant::now();
                loop {
                    let answer = ready.run(ctx, None).await;
                    let status = answer.as_ref().ok().and_then(|v| v["status"].as_u64());
                    if status.is_some_and(|s| s < 400) {
                        break;
                    }
                    if started.elapsed() > *ready_timeout {
                        return Err(failed(format!(
                            "{:?} started (pid {}) but {} was not ready within {:?}",
                            start[0],
                            child.id(),
                            ready.url(),
                            ready_timeout
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(
                    json!({"stopped": pids, "pid": child.id(), "ready_after": started.elapsed().as_secs_f64()}),
                )
            }
        }
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
