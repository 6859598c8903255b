//! Resource stress: `cpu` (N busy worker processes, optionally in a cgroup) and `memory` (N MB
//! allocated and touched inside brunt), each for a duration. CPU workers are processes so that a
//! cgroup can hold them; a thread of brunt forks them and they get SIGKILL when that thread
//! ends (PR_SET_PDEATHSIG), so they stop at `duration`, when the activity is dropped (an
//! interrupted experiment), and when brunt dies however it dies.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::cgroup::Cgroup;
use super::{arguments, seconds};
use crate::provider::ActivityFailed;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CpuArgs {
    workers: usize,
    duration: f64,
    /// A cgroup v2 directory the workers are moved into; created, and removed after, when it
    /// does not exist.
    #[serde(default)]
    cgroup: Option<PathBuf>,
    /// Cores the cgroup's workers may use together (`cpu.max`).
    #[serde(default)]
    cpu_limit: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryArgs {
    megabytes: usize,
    duration: f64,
}

/// A parsed stress.
#[derive(Clone, Debug)]
pub enum Stress {
    /// `workers` processes spinning for `duration`, in `cgroup` if given.
    Cpu {
        workers: usize,
        duration: Duration,
        cgroup: Option<Cgroup>,
    },
    /// `megabytes` held for `duration`.
    Memory {
        megabytes: usize,
        duration: Duration,
    },
}

impl Stress {
    pub(super) fn parse(func: &str, args: &Value) -> Result<Self, String> {
        if func == "cpu" {
            let a: CpuArgs = arguments(args)?;
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            if a.workers == 0 || a.workers > 4 * cores {
                return Err(format!(
                    "arguments.workers: between 1 and {} (4 per core here), not {}",
                    4 * cores,
                    a.workers
                ));
            }
            let cgroup = match (a.cgroup, a.cpu_limit) {
                (Some(dir), limit) => Some(Cgroup::check(dir, limit)?),
                (None, Some(_)) => return Err(
                    "arguments.cpu_limit: limits the cgroup of arguments.cgroup, which is missing"
                        .into(),
                ),
                (None, None) => None,
            };
            Ok(Stress::Cpu {
                workers: a.workers,
                duration: seconds("duration", a.duration)?,
                cgroup,
            })
        } else {
            let a: MemoryArgs = arguments(args)?;
            if a.megabytes == 0 {
                return Err("arguments.megabytes: at least 1".into());
            }
            Ok(Stress::Memory {
                megabytes: a.megabytes,
                duration: seconds("duration", a.duration)?,
            })
        }
    }

    pub(super) async fn run(&self) -> Result<Value, ActivityFailed> {
        match self {
            Stress::Cpu {
                workers,
                duration,
                cgroup,
            } => {
                let busy = Busy::start(*workers, cgroup.clone())?;
                let pids = busy.pids.clone();
                tokio::time::sleep(*duration).await;
                drop(busy);
                Ok(
                    json!({"workers": workers, "duration": duration.as_secs_f64(), "pids": pids,
                          "cgroup": cgroup.as_ref().map(|c| c.dir().display().to_string())}),
                )
            }
            Stress::Memory {
                megabytes,
                duration,
            } => {
                let bytes = megabytes * 1024 * 1024;
                let mut held: Vec<u8> = Vec::new();
                held.try_reserve_exact(bytes)
                    .map_err(|e| ActivityFailed(format!("cannot allocate {megabytes} MB: {e}")))?;
                // Written, not only reserved, so that the pages are resident.
                held.resize(bytes, 0xA5);
                tokio::time::sleep(*duration).await;
                drop(std::hint::black_box(held));
                Ok(json!({"megabytes": megabytes, "duration": duration.as_secs_f64()}))
            }
        }
    }
}

/// Spinning worker processes, held by a thread of their own: dropping this ends the thread,
/// which kills and reaps the workers and undoes the cgroup.
struct Busy {
    pids: Vec<i32>,
    stop: Option<mpsc::Sender<()>>,
    holder: Option<JoinHandle<()>>,
}

impl Busy {
    fn start(workers: usize, cgroup: Option<Cgroup>) -> Result<Self, ActivityFailed> {
        let (ready, started) = mpsc::channel();
        let (stop, stopped) = mpsc::channel::<()>();
        let holder = std::thread::Builder::new()
            .name("brunt-stress-cpu".into())
            .spawn(move || match Workers::start(workers, cgroup.as_ref()) {
                Ok(w) => {
                    let _ = ready.send(Ok(w.pids.clone()));
                    // Until the activity drops its end of the channel.
                    let _ = stopped.recv();
                    drop(w);
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            })
            .map_err(|e| ActivityFailed(format!("cannot start the CPU workers: {e}")))?;
        let mut busy = Busy {
            pids: Vec::new(),
            stop: Some(stop),
            holder: Some(holder),
        };
        busy.pids = started
            .recv()
            .map_err(|_| ActivityFailed("the CPU workers' thread ended".into()))?
            .map_err(ActivityFailed)?;
        Ok(busy)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.holder.take() {
            let _ = h.join();
        }
    }
}

/// The worker processes and their cgroup, on the thread that forked them.
struct Workers {
    pids: Vec<i32>,
    /// Dropped after the workers are reaped, so that a cgroup created for them is empty.
    cgroup: Option<super::cgroup::Entered>,
}

impl Workers {
    fn start(workers: usize, cgroup: Option<&Cgroup>) -> Result<Self, String> {
        let mut w = Workers {
            pids: Vec::new(),
            cgroup: cgroup.map(Cgroup::enter).transpose()?,
        };
        for _ in 0..workers {
            let pid = spin_process()?;
            w.pids.push(pid);
            if let Some(c) = &w.cgroup {
                c.add(pid)?;
            }
        }
        Ok(w)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for &pid in &self.pids {
            // SAFETY: pids of children this thread forked and has not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        drop(self.cgroup.take());
    }
}

/// Forks a process that spins until it is killed, or until the thread that forked it ends.
fn spin_process() -> Result<i32, String> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the child calls only async-signal-safe functions and then spins without
    // allocating or taking locks, so forking a threaded process is sound here.
    match unsafe { libc::fork() } {
        -1 => Err(format!(
            "cannot start a CPU worker: {}",
            std::io::Error::last_os_error()
        )),
        0 => unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // brunt's handlers are not the worker's: Ctrl-C or SIGTERM end it.
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            if libc::getppid() != parent {
                libc::_exit(0);
            }
            loop {
                std::hint::spin_loop();
            }
        },
        pid => Ok(pid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_limit_needs_a_cgroup() {
        let e = Stress::parse(
            "cpu",
            &json!({"workers": 1, "duration": 1, "cpu_limit": 0.5}),
        )
        .unwrap_err();
        assert!(e.starts_with("arguments.cpu_limit: "), "{e}");
    }
}
