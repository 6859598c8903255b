//! Load profiles end to end: `brunt new --profile` scripts checked by k6 and run by brunt,
//! `--profile NAME --peak N` on `run` and `quick` against a `brunt target` (shapes scaled down
//! with `--duration`), soak's drift and memory checks and spike's recovery check in the summary
//! and the summary export, and bad flags refused by name.

mod common;

use common::{brunt, brunt_cmd, fails_with, k6, output_within, stderr, target_process};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const PROFILES: [&str; 6] = ["smoke", "load", "stress", "soak", "spike", "breakpoint"];

/// Runs `brunt` with `args`, failing the test past 60 s.
fn run_within(args: &[&str]) -> Output {
    let child = brunt_cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    output_within(child, Duration::from_secs(60))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The script's shape as an inspector prints it (scenarios, or smoke's `vus` and `duration`),
/// without k6's unset (null) keys.
fn shape(inspect: &Output) -> Value {
    let v: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let mut s = serde_json::json!({ "vus": v["vus"], "duration": v["duration"] });
    if let Some(list) = v["scenarios"].as_object() {
        let mut list = list.clone();
        for sc in list.values_mut() {
            sc.as_object_mut().unwrap().retain(|_, v| !v.is_null());
        }
        s["scenarios"] = Value::Object(list);
    }
    s
}

#[test]
fn new_profile_scripts_are_valid_k6_and_run_under_brunt() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/", target.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let k6 = k6();
    if k6.is_none() {
        eprintln!("k6 is not on PATH: the scripts are not checked by k6");
    }
    for p in PROFILES {
        let file = dir.path().join(format!("{p}.js"));
        let file = file.to_str().unwrap();
        let out = brunt(&["new", "--profile", p, "--url", &url, file]);
        assert_eq!(out.status.code(), Some(0), "{p}: {}", stderr(&out));
        let ours = brunt(&["inspect", file]);
        assert_eq!(ours.status.code(), Some(0), "{p}: {}", stderr(&ours));
        if let Some(k6) = &k6 {
            // k6 reads the same options from the script as brunt does.
            let theirs = Command::new(k6).args(["inspect", file]).output().unwrap();
            assert_eq!(theirs.status.code(), Some(0), "{p}: {}", stderr(&theirs));
            assert_eq!(shape(&theirs), shape(&ours), "{p}");
            // And k6 runs its default function (one iteration, the shape left out).
            let run = Command::new(k6)
                .args(["run", "-q", "--no-summary", "-i", "1", "-u", "1", file])
                .output()
                .unwrap();
            assert_eq!(run.status.code(), Some(0), "k6 run {p}: {}", stderr(&run));
        }
        // brunt runs it with its shape scaled down to 2 s.
        let mut args = vec!["run", "--profile", p, "--duration", "2s"];
        if p != "smoke" {
            args.extend(["--peak", "3"]);
        }
        args.push(file);
        let out = run_within(&args);
        assert_eq!(out.status.code(), Some(0), "{p}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(&format!("* {p}: ")), "{p}: {text}");
        assert!(text.contains("http_req_failed"), "{p}: {text}");
    }
}

#[test]
fn new_takes_the_url_into_the_minimal_template_and_refuses_one_that_breaks_the_string() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("min.js");
    let file = file.to_str().unwrap();
    let out = brunt(&["new", "--url", "http://127.0.0.1:8080/api", file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains("let res = http.get('http://127.0.0.1:8080/api');"),
        "{text}"
    );
    assert!(
        text.contains("vus: 10,"),
        "still k6's minimal template: {text}"
    );
    fails_with(
        &["new", "--url", "http://x/'+y", "-f", file],
        1,
        "--url 'http://x/'+y': quotes, backslashes and line breaks cannot go into the script's string",
    );
}

#[test]
fn quick_spike_reports_its_recovery_in_the_summary_and_the_export() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    // 100 ms answers: the check's 1.5x leaves 50 ms for a busy test machine's noise.
    let url = format!("http://{}/delay/100", target.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("spike.json");
    let out = run_within(&[
        "quick",
        &url,
        "--profile",
        "spike",
        "--peak",
        "10",
        "--duration",
        "6s",
        "--threshold",
        "http_req_failed: rate<0.01",
        "-q",
        "--summary-export",
        export.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("* spike: Up to 10 looping VUs for 6s over 5 stages"),
        "{text}"
    );
    assert!(
        text.contains("spike recovery: pass: http_req_duration p(95) "),
        "{text}"
    );
    let json = read_json(&export);
    let check = &json["brunt"]["profile_checks"][0];
    assert_eq!(check["check"], "spike recovery");
    assert_eq!(check["result"], "pass");
    assert!(check["before"].as_f64().unwrap() > 0.0, "{check}");
    let budget = &json["brunt"]["error_budgets"][0];
    assert_eq!(budget["threshold"], "http_req_failed rate<0.01");
    assert_eq!(budget["bad"], 0);
    assert_eq!(
        budget["events"].as_f64(),
        json["metrics"]["http_reqs"]["count"].as_f64(),
        "the budget counts every request"
    );
}

#[test]
fn run_soak_checks_latency_drift_and_the_monitored_targets_memory() {
    let (child, base) = target_process(brunt_cmd(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("soak.js");
    // The script's own shape (10 VUs for an hour) is replaced; its function and threshold stay.
    // 100 ms answers: the drift check's 1.25x leaves 25 ms for a busy test machine's noise.
    std::fs::write(
        &script,
        "import http from 'k6/http';\n\
         export const options = { vus: 10, duration: '1h', thresholds: { http_req_failed: ['rate<0.05'] } };\n\
         export default function () { http.get(__ENV.BASE + '/delay/100'); }\n",
    )
    .unwrap();
    let export = dir.path().join("soak.json");
    let out = run_within(&[
        "run",
        "--profile",
        "soak",
        "--peak",
        "2",
        "--duration",
        "4s",
        "--monitor",
        &format!("api:pid={}", child.0.id()),
        "-e",
        &format!("BASE={base}"),
        "--summary-export",
        export.to_str().unwrap(),
        script.to_str().unwrap(),
    ]);
    drop(child);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("* soak: Up to 2 looping VUs for 4s"),
        "{text}"
    );
    assert!(
        text.contains("soak latency drift: pass: http_req_duration p(95) "),
        "{text}"
    );
    assert!(
        text.contains("soak memory growth of api: pass: mean resident memory "),
        "{text}"
    );
    let json = read_json(&export);
    let checks = json["brunt"]["profile_checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert_eq!(
        json["brunt"]["error_budgets"][0]["threshold"],
        "http_req_failed rate<0.05"
    );
    assert!(json["metrics"]["http_req_failed"]["thresholds"]["rate<0.05"] == false);
}

#[test]
fn a_soak_whose_iterations_slow_down_fails_its_drift_check_with_99() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("slowing.js");
    // No requests: the check falls back to iteration_duration, 50 ms early and 300 ms late.
    std::fs::write(
        &script,
        "import { sleep } from 'k6';\n\
         const start = Date.now();\n\
         export default function () { sleep(Date.now() - start > 2500 ? 0.3 : 0.05); }\n",
    )
    .unwrap();
    let out = run_within(&[
        "run",
        "-q",
        "--profile",
        "soak",
        "--peak",
        "1",
        "--duration",
        "4s",
        script.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(99), "{text}{}", stderr(&out));
    assert!(
        text.contains("soak latency drift: FAIL: iteration_duration p(95) "),
        "{text}"
    );
}

#[test]
fn breakpoint_stops_where_errors_begin_with_the_abort_it_adds() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    // Every answer an error: the added `http_req_failed: rate<0.01` with abortOnFail stops the
    // 30 s ramp at its first evaluation.
    let url = format!("http://{}/status/500", target.local_addr());
    let out = run_within(&[
        "quick",
        &url,
        "--profile",
        "breakpoint",
        "--peak",
        "20",
        "--duration",
        "30s",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(99), "{err}");
    assert!(
        err.contains("thresholds on metrics 'http_req_failed' were crossed; at least one has abortOnFail enabled"),
        "{err}"
    );
    let text = stdout(&out);
    assert!(
        text.contains("* breakpoint: Up to 20.00 iterations/s for 30s over 1 stages"),
        "{text}"
    );
}

#[test]
fn bad_profile_flags_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.js");
    std::fs::write(&script, "export default function () {}\n").unwrap();
    let s = script.to_str().unwrap();
    let url = "http://127.0.0.1:9/";
    fails_with(
        &["run", "--profile", "flood", "--peak", "3", s],
        2,
        "invalid value 'flood' for '--profile <NAME>': unknown profile 'flood': use one of smoke, load, stress, soak, spike, breakpoint",
    );
    fails_with(
        &["run", "--profile", "load", "--peak", "3", "--vus", "3", s],
        2,
        "'--profile <NAME>' cannot be used with '--vus <VUS>'",
    );
    fails_with(
        &[
            "run",
            "--profile",
            "load",
            "--stage",
            "1s:3",
            "--peak",
            "3",
            s,
        ],
        2,
        "'--profile <NAME>' cannot be used with '--stage <DURATION:TARGET>'",
    );
    fails_with(
        &["run", "--profile", "load", s],
        104,
        "--peak: the load profile needs the peak (VUs), e.g. --peak 50",
    );
    fails_with(
        &["run", "--profile", "breakpoint", "--peak", "0", s],
        104,
        "--peak: must be at least 1",
    );
    fails_with(&["run", "--peak", "3", s], 2, "--profile <NAME>");
    fails_with(
        &[
            "quick",
            url,
            "--profile",
            "stress",
            "--rate",
            "10",
            "--peak",
            "3",
        ],
        2,
        "'--profile <NAME>' cannot be used with '--rate <RATE>'",
    );
    fails_with(
        &["quick", url, "--profile", "spike"],
        1,
        "--peak: the spike profile needs the peak (VUs)",
    );
    fails_with(
        &[
            "new",
            "--profile",
            "smoke",
            "--peak",
            "5",
            dir.path().join("n.js").to_str().unwrap(),
        ],
        1,
        "--peak: the smoke profile always runs 1 VU",
    );
    // Two scenarios running two functions cannot both take one shape.
    let two = dir.path().join("two.js");
    std::fs::write(
        &two,
        "export const options = { scenarios: {\n\
           a: { executor: 'constant-vus', vus: 1, duration: '1s', exec: 'a' },\n\
           b: { executor: 'constant-vus', vus: 1, duration: '1s', exec: 'b' } } };\n\
         export function a() {}\nexport function b() {}\n",
    )
    .unwrap();
    fails_with(
        &[
            "run",
            "--profile",
            "load",
            "--peak",
            "2",
            two.to_str().unwrap(),
        ],
        104,
        "--profile load: the script's scenarios run different functions (a, b)",
    );
}

#[test]
fn a_profile_keeps_the_function_of_the_scripts_one_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("exec.js");
    std::fs::write(
        &script,
        "import { sleep } from 'k6';\n\
         import { Counter } from 'k6/metrics';\n\
         const calls = new Counter('api_calls');\n\
         export const options = { scenarios: { main: { executor: 'shared-iterations', exec: 'api', env: { WHO: 'api' } } } };\n\
         export function api() { if (__ENV.WHO === 'api') calls.add(1); sleep(0.1); }\n",
    )
    .unwrap();
    let export = dir.path().join("exec.json");
    let out = run_within(&[
        "run",
        "--profile",
        "smoke",
        "--duration",
        "1s",
        "--summary-export",
        export.to_str().unwrap(),
        script.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("* smoke: 1 looping VUs for 1s (exec: api"),
        "{text}"
    );
    let json = read_json(&export);
    assert!(json["metrics"]["api_calls"]["count"].as_f64().unwrap() >= 1.0);
    // Smoke's own threshold: fewer than 1% errors.
    assert!(json["metrics"]["http_req_failed"]["thresholds"]["rate<0.01"] == false);
}
