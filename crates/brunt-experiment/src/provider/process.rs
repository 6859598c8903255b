//! The `process` provider: runs a program; its output is `{"status", "stdout", "stderr"}` with
//! the exit code (negative signal number when killed), as Chaos Toolkit returns it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::ActivityFailed;
use crate::runner::Context;
use crate::substitute::python_str;

/// `{"type": "process", "path", "arguments", "timeout"}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessProvider {
    #[serde(rename = "type")]
    _type: String,
    path: String,
    /// A list of arguments, a mapping flattened to `key value` pairs, or a string run by the shell.
    #[serde(default)]
    arguments: Option<Value>,
    /// Seconds before the process is killed and the activity fails.
    #[serde(default)]
    timeout: Option<f64>,
    #[serde(default, rename = "secrets")]
    _secrets: Option<serde::de::IgnoredAny>,
}

impl ProcessProvider {
    /// The program must exist and be executable now, as Chaos Toolkit checks before running.
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.path.is_empty() {
            return Err("path: a process activity must have a path".into());
        }
        resolve(&self.path).map(|_| ()).ok_or_else(|| {
            format!(
                "path: {:?} is not an executable file or a program on PATH",
                self.path
            )
        })?;
        if let Some(t) = self.timeout {
            if !t.is_finite() || t < 0.0 {
                return Err("timeout: must be a number of seconds".into());
            }
        }
        match &self.arguments {
            None | Some(Value::Null | Value::String(_) | Value::Array(_) | Value::Object(_)) => {
                Ok(())
            }
            Some(_) => Err("arguments: must be a list, a mapping or a string".into()),
        }
    }

    pub(super) async fn run(
        &self,
        ctx: &Context,
        value: Option<Value>,
    ) -> Result<Value, ActivityFailed> {
        let vars = ctx.vars();
        let program = resolve(&self.path)
            .ok_or_else(|| ActivityFailed(format!("{} cannot be found", self.path)))?;
        let mut arguments = self.arguments.as_ref().map(|a| vars.substitute(a));
        if let Some(v) = value {
            match arguments.get_or_insert_with(|| Value::Object(Map::new())) {
                Value::Object(m) => {
                    m.insert("value".into(), v);
                }
                _ => {
                    return Err(ActivityFailed(
                        "a tolerance probe's arguments must be a mapping to receive the value"
                            .into(),
                    ))
                }
            }
        }
        let mut cmd = match arguments {
            Some(Value::String(line)) => {
                let mut c = tokio::process::Command::new("/bin/sh");
                c.arg("-c").arg(format!("{} {line}", program.display()));
                c
            }
            other => {
                let items: Vec<Value> = match other {
                    Some(Value::Array(a)) => a,
                    Some(Value::Object(m)) => m
                        .into_iter()
                        .flat_map(|(k, v)| [Value::String(k), v])
                        .collect(),
                    _ => Vec::new(),
                };
                let mut c = tokio::process::Command::new(&program);
                c.args(
                    items
                        .iter()
                        .filter(|v| !v.is_null() && v.as_str() != Some(""))
                        .map(python_str),
                );
                c
            }
        };
        cmd.envs(&vars.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| ActivityFailed(format!("cannot start {}: {e}", program.display())))?;
        let waited = child.wait_with_output();
        let output = match self.timeout {
            Some(t) => tokio::time::timeout(Duration::from_secs_f64(t), waited)
                .await
                .map_err(|_| ActivityFailed("process activity took too long to complete".into()))?,
            None => waited.await,
        }
        .map_err(|e| ActivityFailed(format!("{}: {e}", program.display())))?;
        let status = output.status.code().map(i64::from).unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            -i64::from(output.status.signal().unwrap_or(0))
        });
        let mut out = Map::new();
        out.insert("status".into(), Value::from(status));
        out.insert(
            "stdout".into(),
            Value::String(String::from_utf8_lossy(&output.stdout).into_owned()),
        );
        out.insert(
            "stderr".into(),
            Value::String(String::from_utf8_lossy(&output.stderr).into_owned()),
        );
        Ok(Value::Object(out))
    }
}

/// Finds a program as `shutil.which` does: a path with a slash as is, else on `PATH`.
fn resolve(path: &str) -> Option<PathBuf> {
    let expanded = match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    };
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if expanded.components().count() > 1 || path.contains('/') {
        return executable(&expanded).then_some(expanded);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(&expanded))
        .find(|p| executable(p))
}
