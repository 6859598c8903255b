//! A coordinated run with real processes on loopback: `brunt coordinator` and N `brunt agent`s
//! (or `brunt run --coordinator`) against `brunt target`. The merged result is the one run's
//! (exact counts, setup once, percentiles as a single process measures them, thresholds on the
//! whole); lost instances, wrong tokens, an unreachable coordinator, an index claimed twice and
//! bad segments each get their clear error. Every run is bounded in requests and time.

mod common;

use common::{brunt_cmd, free_port, http_exchange, output_within, target_process};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "test-token";

/// One coordinated run at a time: each starts several processes, and timings (the percentile
/// comparison) need the machine not to be shared with the other tests of this file.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
const LIMIT: Duration = Duration::from_secs(60);

/// A coordinator and its instances, all killed when the test ends.
struct Run {
    port: u16,
    coordinator: Option<Child>,
    agents: Vec<Option<Child>>,
}

impl Drop for Run {
    fn drop(&mut self) {
        for c in self
            .agents
            .iter_mut()
            .flatten()
            .chain(self.coordinator.as_mut())
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn write_script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Starts `brunt coordinator --instances N ... SCRIPT` on a free port and waits until its health
/// endpoint answers.
fn coordinator(instances: usize, args: &[&str], script: &Path) -> Run {
    let port = free_port();
    let child = brunt_cmd()
        .args(["coordinator", "-q", "--instances", &instances.to_string()])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--token", TOKEN])
        .args(args)
        .arg(script)
        .env_remove("JOB_COMPLETION_INDEX")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut run = Run {
        port,
        coordinator: Some(child),
        agents: Vec::new(),
    };
    let start = Instant::now();
    while http_exchange(port, "GET", "/v1/coordinator/health", "").map(|r| r.0) != Some(200) {
        if let Some(status) = run.coordinator.as_mut().unwrap().try_wait().unwrap() {
            let out = output_within(run.coordinator.take().unwrap(), LIMIT);
            panic!(
                "the coordinator exited ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the coordinator never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    run
}

impl Run {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `brunt agent` claiming `index`, with `token`.
    fn agent(&mut self, index: usize, token: &str) -> usize {
        let child = brunt_cmd()
            .args([
                "agent",
                "-q",
                "--workers",
                "1",
                "--coordinator",
                &self.url(),
            ])
            .args(["--token", token, "--instance-index", &index.to_string()])
            .args(["--coordinator-timeout", "5s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.agents.push(Some(child));
        self.agents.len() - 1
    }

    fn agents(&mut self, n: usize) {
        for i in 0..n {
            self.agent(i, TOKEN);
        }
    }

    fn finish_agent(&mut self, i: usize) -> Output {
        output_within(self.agents[i].take().unwrap(), LIMIT)
    }

    fn finish(&mut self) -> Output {
        let out = output_within(self.coordinator.take().unwrap(), LIMIT);
        for i in 0..self.agents.len() {
            if self.agents[i].is_some() {
                self.finish_agent(i);
            }
        }
        out
    }
}

/// A whole coordinated run: `script` under a coordinator with `instances` agents against a
/// fresh `brunt target` (its URL in `__ENV.BASE`), with `args`; the coordinator's output and
/// its `--summary-export`.
fn coordinated(name: &str, instances: usize, script: &str, args: &[&str]) -> (Output, Value) {
    let (target, base) = target_process(brunt_cmd(), &[]);
    let dir = tempdir(name);
    let script = write_script(&dir, "s.js", script);
    let summary = dir.join("summary.json");
    let base = format!("BASE={base}");
    let mut all = vec!["-e", &base, "--summary-export", summary.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut run = coordinator(instances, &all, &script);
    run.agents(instances);
    let out = run.finish();
    drop(target);
    let e = std::fs::read_to_string(&summary)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (out, e)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn export(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn metric(e: &Value, name: &str, stat: &str) -> f64 {
    e["metrics"][name][stat]
        .as_f64()
        .unwrap_or_else(|| panic!("{name}.{stat} in {}", e["metrics"]))
}

/// 10,000 shared iterations over 4 instances: the merged export counts each exactly once,
/// setup() and teardown() ran once, and every VU got setup()'s data.
#[test]
fn shared_iterations_over_four_instances_add_up_exactly() {
    let _serial = serial();
    let (out, e) = coordinated(
        "shared",
        4,
        r#"
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
const setups = new Counter('setups');
const teardowns = new Counter('teardowns');
export const options = {
  scenarios: { all: { executor: 'shared-iterations', vus: 8, iterations: 10000, maxDuration: '50s' } },
};
export function setup() { setups.add(1); return { n: 7 }; }
export default function (data) {
  check(data, { 'has setup data': (d) => d && d.n === 7 });
  http.get(`${__ENV.BASE}/`);
}
export function teardown(data) { teardowns.add(data.n === 7 ? 1 : 0); }
"#,
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(metric(&e, "iterations", "count"), 10000.0);
    assert_eq!(metric(&e, "http_reqs", "count"), 10000.0);
    assert_eq!(metric(&e, "setups", "count"), 1.0);
    assert_eq!(metric(&e, "teardowns", "count"), 1.0);
    assert_eq!(metric(&e, "checks", "passes"), 10000.0);
    let instances = e["brunt"]["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 4);
    let per: Vec<u64> = instances
        .iter()
        .map(|i| i["iterations"].as_u64().unwrap())
        .collect();
    assert_eq!(per.iter().sum::<u64>(), 10000, "{per:?}");
    assert!(per.iter().all(|n| *n == 2500), "equal segments: {per:?}");
    let printed = text(&out.stdout);
    assert!(printed.contains("instances (4):"), "{printed}");
}

/// Fixed 50 ms answers, and a trend of known values (40 to 64 ms by iteration, the same
/// multiset whoever runs which iteration): the merged p(50) and p(95) are a single process's.
/// The known values must agree within 1 ms (the histograms travel exactly); the measured
/// durations within what this shared machine's scheduling adds between two runs.
#[test]
fn merged_percentiles_match_a_single_process_run() {
    let _serial = serial();
    let (target, base) = target_process(brunt_cmd(), &[]);
    let dir = tempdir("percentiles");
    let script = write_script(
        &dir,
        "s.js",
        r#"
import http from 'k6/http';
import exec from 'k6/execution';
import { Trend } from 'k6/metrics';
const known = new Trend('known', true);
export const options = { vus: 4, iterations: 200 };
export default function () {
  http.get(`${__ENV.BASE}/delay/50`);
  known.add(40 + (exec.scenario.iterationInTest % 25));
}
"#,
    );
    let single = dir.join("single.json");
    let out = brunt_cmd()
        .args(["run", "-q", "--no-summary", "--address", ""])
        .args([
            "-e",
            &format!("BASE={base}"),
            "--summary-export",
            single.to_str().unwrap(),
        ])
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let merged = dir.join("merged.json");
    let mut run = coordinator(
        2,
        &[
            "-e",
            &format!("BASE={base}"),
            "--summary-export",
            merged.to_str().unwrap(),
        ],
        &script,
    );
    run.agents(2);
    let out = run.finish();
    drop(target);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (a, b) = (export(&single), export(&merged));
    assert_eq!(metric(&b, "http_reqs", "count"), 200.0);
    for (name, within) in [("known", 1.0), ("http_req_duration", 5.0)] {
        for stat in ["med", "p(95)"] {
            let (x, y) = (metric(&a, name, stat), metric(&b, name, stat));
            assert!(
                (x - y).abs() < within,
                "{name} {stat}: single {x} ms, coordinated {y} ms"
            );
        }
    }
}

/// 200 requests over 2 instances against `count<150`: each instance's 100 pass, the whole
/// fails, and the coordinated run exits 99 as k6 does for a failed threshold.
#[test]
fn a_threshold_failing_on_the_whole_fails_the_run() {
    let _serial = serial();
    let (out, e) = coordinated(
        "threshold",
        2,
        r#"
import http from 'k6/http';
export const options = { vus: 2, iterations: 200, thresholds: { http_reqs: ['count<150'] } };
export default function () { http.get(`${__ENV.BASE}/`); }
"#,
        &[],
    );
    assert_eq!(out.status.code(), Some(99), "{}", text(&out.stderr));
    assert_eq!(
        e["metrics"]["http_reqs"]["thresholds"]["count<150"], true,
        "failed"
    );
    for i in e["brunt"]["instances"].as_array().unwrap() {
        assert_eq!(i["requests"], 100, "{i}");
    }
}

/// `exec.test.fail()` on one instance fails the coordinated run with k6's 110, as it would one
/// process running the whole test; the run still finishes and writes its summary.
#[test]
fn an_instances_test_fail_fails_the_whole_run() {
    let _serial = serial();
    let (out, e) = coordinated(
        "marked-failed",
        2,
        r#"
import http from 'k6/http';
import exec from 'k6/execution';
export const options = { vus: 2, iterations: 20 };
export default function () {
  http.get(`${__ENV.BASE}/`);
  if (exec.scenario.iterationInTest === 3) exec.test.fail('iteration 3 failed the test');
}
"#,
        &[],
    );
    assert_eq!(out.status.code(), Some(110), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("test run was marked as failed"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(metric(&e, "iterations", "count"), 20.0);
}

/// The coordinator's `--compatibility-mode` travels with its archive: every instance runs the
/// script in base mode, where `global` is undefined.
#[test]
fn instances_run_in_the_coordinators_compatibility_mode() {
    let _serial = serial();
    let (out, e) = coordinated(
        "base-mode",
        2,
        r#"
import { Counter } from 'k6/metrics';
const base = new Counter('base_mode');
export const options = { vus: 2, iterations: 10 };
export default function () {
  if (typeof global === 'undefined') base.add(1);
}
"#,
        &["--compatibility-mode", "base"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(metric(&e, "base_mode", "count"), 10.0);
}

/// `abortOnFail` judged on the whole stops every instance long before the scenario's end.
#[test]
fn abort_on_fail_on_the_whole_stops_every_instance() {
    let _serial = serial();
    let started = Instant::now();
    let (out, _) = coordinated(
        "abort",
        2,
        r#"
import http from 'k6/http';
import { sleep } from 'k6';
export const options = {
  vus: 2, duration: '30s',
  thresholds: { http_reqs: [{ threshold: 'count<30', abortOnFail: true }] },
};
export default function () { http.get(`${__ENV.BASE}/`); sleep(0.1); }
"#,
        &[],
    );
    assert_eq!(out.status.code(), Some(99), "{}", text(&out.stderr));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

/// One of three instances killed mid-run: named as lost; `continue` finishes with the others
/// (exit 0, what the lost one sent kept), `abort` stops them all (exit 75).
#[test]
fn a_killed_instance_is_reported_and_the_run_continues_or_aborts() {
    let _serial = serial();
    let (target, base) = target_process(brunt_cmd(), &[]);
    let dir = tempdir("lost");
    let script = write_script(
        &dir,
        "s.js",
        r#"
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 3, duration: '8s' };
export default function () { http.get(`${__ENV.BASE}/`); sleep(0.1); }
"#,
    );
    for policy in ["continue", "abort"] {
        let summary = dir.join(format!("{policy}.json"));
        let mut run = coordinator(
            3,
            &[
                "-e",
                &format!("BASE={base}"),
                "--summary-export",
                summary.to_str().unwrap(),
                "--instance-timeout",
                "2s",
                "--on-instance-loss",
                policy,
            ],
            &script,
        );
        run.agents(3);
        std::thread::sleep(Duration::from_millis(3500));
        let mut killed = run.agents[2].take().unwrap();
        killed.kill().unwrap();
        killed.wait().unwrap();
        let started = Instant::now();
        let out = run.finish();
        let err = text(&out.stderr);
        assert!(err.contains("instance 2 ("), "{policy}: {err}");
        assert!(err.contains("was lost: no report for"), "{policy}: {err}");
        let e = export(&summary);
        let lost = &e["brunt"]["instances"][2];
        assert!(lost["lost"].as_str().is_some(), "{policy}: {lost}");
        assert!(
            lost["requests"].as_u64().unwrap() > 0,
            "kept what it sent: {lost}"
        );
        match policy {
            "continue" => {
                assert_eq!(out.status.code(), Some(0), "{err}");
                assert!(e["brunt"]["instances"][0]["lost"].is_null());
            }
            _ => {
                assert_eq!(out.status.code(), Some(75), "{err}");
                // Lost after 2 s of silence, the others told within a second or two; the
                // scenario itself had about 5 s more to run.
                assert!(
                    started.elapsed() < Duration::from_secs(6),
                    "{:?}",
                    started.elapsed()
                );
            }
        }
    }
    drop(target);
}

/// A wrong token is refused with a message on both sides.
#[test]
fn a_wrong_token_is_refused_on_both_sides() {
    let _serial = serial();
    let dir = tempdir("token");
    let script = write_script(&dir, "s.js", "export default function () {}\n");
    let mut run = coordinator(1, &["--join-timeout", "3s"], &script);
    let i = run.agent(0, "not-the-token");
    let agent = run.finish_agent(i);
    assert_eq!(agent.status.code(), Some(75), "{}", text(&agent.stderr));
    let err = text(&agent.stderr);
    assert!(err.contains("refused this instance: wrong token"), "{err}");
    assert!(err.contains(&run.url()), "names the URL: {err}");
    let out = run.finish();
    assert_eq!(out.status.code(), Some(75));
    let err = text(&out.stderr);
    assert!(err.contains("refused an instance at 127.0.0.1:"), "{err}");
    assert!(err.contains("wrong token"), "{err}");
    assert!(err.contains("instance(s) 0 did not join"), "{err}");
}

/// A coordinator nobody listens for: the instance tries for its bounded time, then says which
/// URL it could not reach.
#[test]
fn an_unreachable_coordinator_ends_the_instance_with_its_url() {
    let _serial = serial();
    let url = format!("http://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let out = brunt_cmd()
        .args([
            "agent",
            "--coordinator",
            &url,
            "--token",
            TOKEN,
            "--coordinator-timeout",
            "1s",
        ])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(
        err.contains(&format!("cannot reach the coordinator at {url}")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A second instance claiming the same index is refused; a local script that is not the
/// coordinator's is refused; bad segment sequences are refused before anything listens.
#[test]
fn double_joins_other_scripts_and_bad_segments_are_refused() {
    let _serial = serial();
    let dir = tempdir("refusals");
    let script = write_script(
        &dir,
        "s.js",
        "import { sleep } from 'k6';\nexport default function () { sleep(0.1); }\n",
    );
    let other = write_script(&dir, "other.js", "export default function () {}\n");
    let mut run = coordinator(2, &["--join-timeout", "4s"], &script);
    run.agent(0, TOKEN);
    std::thread::sleep(Duration::from_millis(300));
    let twice = run.agent(0, TOKEN);
    let out = run.finish_agent(twice);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(err.contains("instance index 0 has already joined"), "{err}");
    let out = brunt_cmd()
        .args([
            "run",
            "--coordinator",
            &run.url(),
            "--token",
            TOKEN,
            "--instance-index",
            "1",
        ])
        .arg(&other)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(
        err.contains("is not the script the coordinator runs"),
        "{err}"
    );
    drop(run);

    for (n, seq, needle) in [
        ("2", "0,1/2", "does not cover 0..1"),
        ("3", "0,1/2,1/4,1", "must not overlap"),
        ("3", "0,1/2,1", "2 segments for --instances 3"),
    ] {
        let out = brunt_cmd()
            .args([
                "coordinator",
                "--instances",
                n,
                "--execution-segment-sequence",
                seq,
            ])
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .arg(&script)
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(104), "{seq}: {err}");
        assert!(err.contains(needle), "{seq}: {err}");
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("brunt-coordinated-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
