//! `k6/ws` against an independent server: `tests/ws/server.py`, on Python's `websockets`, started
//! on loopback by the test. Skipped (with a note) where that library is not installed.

use brunt_js::{exit, run, RunArgs};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The server process, killed when the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ws")
}

/// Starts the server; None when Python or its `websockets` library is missing.
fn server() -> Option<(Server, u16)> {
    let child = Command::new("python3")
        .arg(dir().join("server.py"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.as_mut()?)
        .read_line(&mut line)
        .ok()?;
    let port = line.trim().parse().ok()?;
    Some((server, port))
}

#[test]
fn ws_connect_runs_handlers_and_records_k6_metrics() {
    let Some((_server, port)) = server() else {
        eprintln!("note: python3 with `websockets` is not installed; the k6/ws test is skipped");
        return;
    };
    let export = std::env::temp_dir().join(format!("brunt-js-ws-{}.json", std::process::id()));
    let args = RunArgs {
        script: dir().join("ws.js"),
        env: vec![format!("WS_URL=ws://127.0.0.1:{port}")],
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
    let checks = ex["root_group"]["checks"].as_object().unwrap();
    let mut all = checks.clone();
    for g in ex["root_group"]["groups"].as_object().unwrap().values() {
        all.extend(g["checks"].as_object().unwrap().clone());
    }
    for (name, c) in &all {
        assert_eq!(c["fails"], 0, "check '{name}' failed: {ex}");
    }
    assert_eq!(all.len(), 17, "{ex}");
    assert_eq!(code, exit::OK, "a threshold failed: {ex}");
    for m in ["ws_connecting", "ws_session_duration", "ws_ping{room:a}"] {
        assert!(ex["metrics"][m]["avg"].is_number(), "{m}: {ex}");
    }
    assert_eq!(ex["metrics"]["ws_sessions"]["count"], 8, "{ex}");
}
