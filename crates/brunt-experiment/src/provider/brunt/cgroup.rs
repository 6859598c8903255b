//! The cgroup a CPU stress runs in: an existing cgroup v2 directory, or one created under a
//! cgroup v2 parent and removed afterwards, with `cpu.max` set from a number of cores. Checked
//! when the experiment is validated; [`Entered`] undoes what it changed when dropped.

use std::path::{Path, PathBuf};

/// `cpu.max`'s period, in microseconds (the kernel's default).
const PERIOD_USEC: f64 = 100_000.0;

/// A validated cgroup for the stress workers.
#[derive(Clone, Debug)]
pub struct Cgroup {
    dir: PathBuf,
    /// Cores the workers may use together (`cpu.max`).
    cpu_limit: Option<f64>,
}

impl Cgroup {
    /// Checks `dir` (an existing cgroup v2 directory, or a new one under one) and that the cpu
    /// controller is there when `cpu_limit` asks for it; errors start with the field.
    pub fn check(dir: PathBuf, cpu_limit: Option<f64>) -> Result<Self, String> {
        let field = |why: String| format!("arguments.cgroup: {why}");
        if !dir.is_absolute() {
            return Err(field(format!(
                "{} must be an absolute path, e.g. /sys/fs/cgroup/brunt-stress",
                dir.display()
            )));
        }
        let (existing, parent) = if dir.exists() {
            (true, dir.clone())
        } else {
            let parent = dir
                .parent()
                .ok_or_else(|| field("has no parent directory".into()))?;
            (false, parent.to_path_buf())
        };
        if !parent.join("cgroup.controllers").exists() {
            return Err(field(format!(
                "{} is not a cgroup v2 directory (it has no cgroup.controllers; cgroup v1 is not supported)",
                parent.display()
            )));
        }
        if !existing && !writable(&parent) {
            return Err(field(format!(
                "cannot create {}: {} is not writable",
                dir.display(),
                parent.display()
            )));
        }
        if let Some(cores) = cpu_limit {
            if !(cores.is_finite() && cores > 0.0) {
                return Err(format!(
                    "arguments.cpu_limit: a number of cores above 0, e.g. 0.5, not {cores}"
                ));
            }
            let has_cpu = if existing {
                dir.join("cpu.max").exists()
            } else {
                std::fs::read_to_string(parent.join("cgroup.subtree_control"))
                    .is_ok_and(|s| s.split_whitespace().any(|c| c == "cpu"))
            };
            if !has_cpu {
                return Err(format!(
                    "arguments.cpu_limit: the cpu controller is not enabled for {} (add it to {}/cgroup.subtree_control)",
                    dir.display(),
                    parent.display()
                ));
            }
        }
        Ok(Cgroup { dir, cpu_limit })
    }

    /// The cgroup's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the cgroup if needed and sets its `cpu.max`.
    pub fn enter(&self) -> Result<Entered, String> {
        let mut entered = Entered {
            dir: self.dir.clone(),
            created: false,
            cpu_max: None,
        };
        if !self.dir.exists() {
            std::fs::create_dir(&self.dir)
                .map_err(|e| format!("cannot create the cgroup {}: {e}", self.dir.display()))?;
            entered.created = true;
        }
        if let Some(cores) = self.cpu_limit {
            let file = self.dir.join("cpu.max");
            let before = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let quota = (cores * PERIOD_USEC).round().max(1000.0);
            std::fs::write(&file, format!("{quota} {PERIOD_USEC}"))
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            entered.cpu_max = Some(before);
        }
        Ok(entered)
    }
}

/// A cgroup the stress changed: its `cpu.max` is restored and a cgroup it created removed when
/// dropped, after the workers in it have been reaped.
pub struct Entered {
    dir: PathBuf,
    created: bool,
    cpu_max: Option<String>,
}

impl Entered {
    /// Moves a process into the cgroup.
    pub fn add(&self, pid: i32) -> Result<(), String> {
        let procs = self.dir.join("cgroup.procs");
        std::fs::write(&procs, pid.to_string())
            .map_err(|e| format!("cannot move worker {pid} into {}: {e}", procs.display()))
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if self.created {
            // The kernel may take a moment to let go of a cgroup whose last process was
            // just reaped.
            for _ in 0..50 {
                match std::fs::remove_dir(&self.dir) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    Err(e) => {
                        tracing::warn!("cannot remove the cgroup {}: {e}", self.dir.display());
                        return;
                    }
                    Ok(()) => return,
                }
            }
            tracing::warn!(
                "cannot remove the cgroup {}: it stayed busy",
                self.dir.display()
            );
        } else if let Some(before) = &self.cpu_max {
            if let Err(e) = std::fs::write(self.dir.join("cpu.max"), before.trim()) {
                tracing::warn!("cannot restore {}/cpu.max: {e}", self.dir.display());
            }
        }
    }
}

/// Whether this process may create entries in `dir`.
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_must_be_an_absolute_path_in_a_cgroup_v2_hierarchy() {
        let why = |dir: &str, limit| Cgroup::check(PathBuf::from(dir), limit).unwrap_err();
        assert!(why("brunt-stress", None).contains("must be an absolute path"));
        let tmp = std::env::temp_dir().join("brunt-not-a-cgroup");
        let e = why(tmp.to_str().unwrap(), None);
        assert!(e.starts_with("arguments.cgroup: "), "{e}");
        assert!(e.contains("is not a cgroup v2 directory"), "{e}");
    }
}
