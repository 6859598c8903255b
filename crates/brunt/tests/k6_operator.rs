//! The exact command sequence k6-operator's pods run (github grafana/k6-operator,
//! `pkg/resources/jobs/`), with brunt invoked under the name `k6`, as real processes on
//! loopback: the initializer's `k6 archive` and `k6 inspect --execution-requirements`, four
//! paused runners with their execution segments and tags, and the starter's PATCH to each. The
//! runners' counts add up to the whole test's; the same sequence under k6 v1.1 (when installed)
//! gives the same.

mod common;

use common::{free_port, http_exchange, output_within, target_process};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PARALLELISM: usize = 4;

const SCRIPT: &str = r#"
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  scenarios: {
    shared: { executor: 'shared-iterations', vus: 8, iterations: 1000, maxDuration: '60s' },
  },
  thresholds: { http_req_failed: ['rate<0.01'] },
};
export default function () {
  const res = http.get(`${__ENV.BASE}/json`);
  check(res, { 'status is 200': (r) => r.status === 200 });
}
"#;

/// `brunt` linked as `k6` in a directory of its own.
fn k6_link(dir: &Path) -> PathBuf {
    let link = dir.join("k6");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_brunt"), &link).unwrap();
    link
}

/// The starter's request to one runner (k6-operator's `types.StatusAPIRequest`, marshalled).
fn start(port: u16) -> u16 {
    let body = r#"{"data":{"attributes":{"paused":false,"stopped":false},"id":"default","type":"status"}}"#;
    http_exchange(port, "PATCH", "/v1/status", body)
        .expect("the runner answers")
        .0
}

/// Waits until a runner's API says it is paused before the run, VUs initialised.
fn wait_paused(port: u16) {
    let start = Instant::now();
    while !http_exchange(port, "GET", "/v1/status", "")
        .is_some_and(|(_, body)| body.contains(r#""status":4"#))
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "runner on {port} never paused"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the initializer, the runners and the starter with `k6`; returns each runner's summary
/// export.
fn operator_sequence(k6: &Path, dir: &Path, base: &str) -> Vec<Value> {
    let script = dir.join("test.js");
    std::fs::write(&script, SCRIPT).unwrap();
    // The initializer: archive, then inspect the archive; its stdout must be the JSON alone.
    let archive = dir.join("test.js.archived.tar");
    let out = Command::new(k6)
        .args([
            "archive",
            script.to_str().unwrap(),
            "-e",
            &format!("BASE={base}"),
            "-O",
        ])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "archive: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(k6)
        .args(["inspect", "--execution-requirements"])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "inspect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inspected: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected["maxVUs"], 8, "{inspected}");
    assert_eq!(inspected["totalDuration"], "1m30s", "{inspected}");
    assert!(
        inspected["thresholds"]["http_req_failed"].is_array(),
        "{inspected}"
    );

    // The runners, each as `NewRunnerJob` builds its command (a loopback port each here).
    let mut runners = Vec::new();
    for index in 1..=PARALLELISM {
        let part = |i: usize| match i {
            0 => "0".to_string(),
            i if i == PARALLELISM => "1".to_string(),
            i => format!("{i}/{PARALLELISM}"),
        };
        let sequence: Vec<String> = (0..=PARALLELISM).map(part).collect();
        let port = free_port();
        let summary = dir.join(format!("summary-{index}.json"));
        let child = Command::new(k6)
            .args([
                "run",
                "--quiet",
                &format!("--execution-segment={}:{}", part(index - 1), part(index)),
                &format!("--execution-segment-sequence={}", sequence.join(",")),
                "-e",
                &format!("BASE={base}"),
                "--summary-export",
                summary.to_str().unwrap(),
                script.to_str().unwrap(),
                &format!("--address=127.0.0.1:{port}"),
                "--paused",
                "--tag",
                &format!("instance_id={index}"),
                "--tag",
                "testrun_name=k6-sample",
            ])
            .env("K6_NO_USAGE_REPORT", "true")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        runners.push((child, port, summary));
    }
    for (_, port, _) in &runners {
        wait_paused(*port);
    }
    // The starter.
    for (_, port, _) in &runners {
        assert_eq!(start(*port), 200, "starting the runner on port {port}");
    }
    runners
        .into_iter()
        .map(|(child, _, summary)| {
            let out = output_within(child, Duration::from_secs(90));
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap()
        })
        .collect()
}

fn total(exports: &[Value], metric: &str, field: &str) -> f64 {
    exports
        .iter()
        .map(|e| e["metrics"][metric][field].as_f64().unwrap_or(0.0))
        .sum()
}

#[test]
fn k6_operators_pods_run_brunt_and_the_runners_add_up_to_the_test() {
    let (target, base) = target_process(common::brunt_cmd(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let k6 = k6_link(dir.path());
    let exports = operator_sequence(&k6, dir.path(), &base);
    assert_eq!(total(&exports, "iterations", "count"), 1000.0);
    assert_eq!(total(&exports, "http_reqs", "count"), 1000.0);
    assert_eq!(total(&exports, "checks", "passes"), 1000.0);
    for e in &exports {
        let n = e["metrics"]["iterations"]["count"].as_f64().unwrap();
        assert_eq!(n, 250.0, "each runner does its quarter: {n}");
    }
    if let Some(real) = common::k6() {
        let dir = tempfile::tempdir().unwrap();
        let k6_exports = operator_sequence(Path::new(&real), dir.path(), &base);
        assert_eq!(
            total(&k6_exports, "iterations", "count"),
            1000.0,
            "k6 agrees"
        );
        assert_eq!(
            total(&k6_exports, "http_reqs", "count"),
            1000.0,
            "k6 agrees"
        );
    }
    drop(target);
}
