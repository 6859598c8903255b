//! What the protocol tests share: an independent Python server started for the test, and a
//! script run to its exit code and summary export.

use brunt_js::{run, RunArgs};
use serde_json::Value;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A server process, killed when the test ends.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `python3 script args` and reads the ports it prints on its first line. None when
/// Python or the libraries the server needs are missing.
pub fn python_server(script: &Path, args: &[&OsStr]) -> Option<(Server, Vec<u16>)> {
    let child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.as_mut()?)
        .read_line(&mut line)
        .ok()?;
    let ports: Option<Vec<u16>> = line.split_whitespace().map(|p| p.parse().ok()).collect();
    Some((server, ports.filter(|p| !p.is_empty())?))
}

/// Runs `script` with `env` on one worker; returns the exit code and the summary export.
pub fn run_script(script: &Path, env: Vec<String>) -> (i32, Value) {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let export = std::env::temp_dir().join(format!(
        "brunt-js-{}-{}-{n}.json",
        script.file_stem().unwrap().to_string_lossy(),
        std::process::id(),
    ));
    let args = RunArgs {
        script: script.to_path_buf(),
        env,
        summary_export: Some(export.clone()),
        quiet: true,
        no_summary: true,
        workers: Some(1),
        ..Default::default()
    };
    let code = run(args).expect("run completes");
    let ex: Value = serde_json::from_str(
        &std::fs::read_to_string(&export).unwrap_or_else(|e| panic!("exit {code}, no export: {e}")),
    )
    .expect("summary export is JSON");
    let _ = std::fs::remove_file(&export);
    (code, ex)
}

/// Every check of the export (the root group's and its groups'), asserted passed once; their
/// count.
pub fn all_checks_pass(ex: &Value) -> usize {
    let mut all = ex["root_group"]["checks"].as_object().unwrap().clone();
    for g in ex["root_group"]["groups"].as_object().unwrap().values() {
        all.extend(g["checks"].as_object().unwrap().clone());
    }
    for (name, c) in &all {
        assert_eq!(c["fails"], 0, "check '{name}' failed: {ex}");
        assert_eq!(c["passes"], 1, "check '{name}' did not run once: {ex}");
    }
    all.len()
}
