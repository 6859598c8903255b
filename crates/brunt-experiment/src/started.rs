//! Processes the experiment starts itself (`process.start`, or `restart` of one of them), by
//! name. They cannot outlive it: each is killed by the kernel when brunt's thread that started
//! it dies (PR_SET_PDEATHSIG), and killed and reaped when the run's context is dropped.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};

/// The started processes by name.
#[derive(Default)]
pub struct StartedProcesses(Mutex<BTreeMap<String, Child>>);

impl StartedProcesses {
    /// Starts `command` as `name`, replacing (and killing) an earlier process of that name.
    pub fn spawn(&self, name: &str, command: &[String]) -> Result<u32, String> {
        let (program, args) = command
            .split_first()
            .ok_or("the command to start is empty")?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {program:?}: {e}"))?;
        let pid = child.id();
        let earlier = self.map().insert(name.to_string(), child);
        if let Some(mut old) = earlier {
            let _ = old.kill();
            let _ = old.wait();
        }
        Ok(pid)
    }

    /// The pid of the process started as `name`.
    pub fn pid(&self, name: &str) -> Option<i32> {
        self.map().get(name).map(|c| c.id() as i32)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Child>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for StartedProcesses {
    fn drop(&mut self) {
        for (_, mut child) in std::mem::take(&mut *self.map()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
