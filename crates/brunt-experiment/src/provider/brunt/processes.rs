//! Which local processes a process fault acts on: only those the user named, by pid, pidfile or
//! command name; never pid 1 or brunt itself.

use std::path::PathBuf;

use serde::Deserialize;

use crate::started::StartedProcesses;

/// `{"pid": 1234}`, `{"pidfile": "/run/orders.pid"}`, `{"name": "orders"}` (the command name
/// in `/proc/PID/comm`, or the file name of its first argument, as `pgrep -x` and `pkill -f`
/// users expect), or `{"started": "orders"}` (a process this experiment started).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum Target {
    /// One process id.
    Pid(i32),
    /// A file holding a process id.
    Pidfile(PathBuf),
    /// Every process with this command name.
    Name(String),
    /// The process `process.start` started under this name.
    Started(String),
}

impl Target {
    /// The processes it names now; an error when there are none, or when one of them is pid 1
    /// or brunt itself. Without `started` (at validation, before the run starts anything), a
    /// `started` target names none and is not an error.
    pub fn resolve(&self, started: Option<&StartedProcesses>) -> Result<Vec<i32>, String> {
        let pids = match self {
            Target::Started(name) => match started {
                None => return Ok(Vec::new()),
                Some(s) => vec![s.pid(name).ok_or_else(|| {
                    format!("target.started: this experiment started no process named {name:?}")
                })?],
            },
            Target::Pid(pid) => vec![*pid],
            Target::Pidfile(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("target.pidfile: cannot read {}: {e}", path.display()))?;
                let pid = text.trim().parse::<i32>().map_err(|_| {
                    format!(
                        "target.pidfile: {} holds {:?}, not a process id",
                        path.display(),
                        text.trim()
                    )
                })?;
                vec![pid]
            }
            Target::Name(name) => by_name(name),
        };
        let me = std::process::id() as i32;
        for &pid in &pids {
            if pid <= 1 {
                return Err(format!(
                    "target: refusing to act on pid {pid} (init or a process group)"
                ));
            }
            if pid == me {
                return Err(format!(
                    "target: refusing to act on brunt itself (pid {pid})"
                ));
            }
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return Err(format!("target: no process with pid {pid}"));
            }
        }
        if pids.is_empty() {
            return Err(format!("target: no running process is named {self}"));
        }
        Ok(pids)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Pid(p) => write!(f, "pid {p}"),
            Target::Pidfile(p) => write!(f, "the pid in {}", p.display()),
            Target::Name(n) => write!(f, "{n:?}"),
            Target::Started(n) => write!(f, "the started {n:?}"),
        }
    }
}

/// The processes whose command name or first argument's file name is `name`, brunt excluded.
fn by_name(name: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
            let argv0 = String::from_utf8_lossy(argv0);
            comm.trim_end() == name || argv0.rsplit('/').next() == Some(name)
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// Sends `signal` to `pid`.
pub fn signal(pid: i32, signal: i32) -> Result<(), String> {
    // SAFETY: kill(2) with a pid checked by `Target::resolve` (never 1, never ourselves).
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(format!(
            "cannot signal pid {pid}: {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// A signal by name (`SIGTERM`, `TERM`) or number.
pub fn parse_signal(s: &str) -> Result<i32, String> {
    const NAMES: &[(&str, i32)] = &[
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("KILL", libc::SIGKILL),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("TERM", libc::SIGTERM),
        ("STOP", libc::SIGSTOP),
        ("CONT", libc::SIGCONT),
    ];
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(format!("{n} is not a signal number"))
        };
    }
    let bare = s.strip_prefix("SIG").unwrap_or(s);
    NAMES
        .iter()
        .find(|(n, _)| *n == bare)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            format!(
                "unknown signal {s:?} (expected a number or one of {})",
                NAMES
                    .iter()
                    .map(|(n, _)| format!("SIG{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}
