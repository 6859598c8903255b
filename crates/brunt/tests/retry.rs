//! Retry storms: `brunt quick --retry` behind the fault proxy, whose `http_status` toxic is
//! switched on mid-run, sends up to its maximum attempts per logical request once the target
//! fails, and no more than its budget allows with `--retry-budget`; `k6/http`'s `retry` param
//! does the same in a script. The amplification (requests sent per logical request) is in the
//! summary, the export and each second of the results file.

mod common;

use brunt_output::Results;
use common::{brunt, brunt_cmd, chaos, fault_proxy, output_within, stderr};
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// Each second's mean `retry_amplification`, by the second's end.
fn per_second(results: &Results) -> Vec<(f64, f64)> {
    let id = results.registry.get("retry_amplification").unwrap();
    results
        .intervals
        .iter()
        .filter_map(|i| {
            let mut s = brunt_metrics::Snapshot::default();
            s.merge_series(&i.series);
            let avg = s.metric(id)?.stat("avg", 0.0)?;
            Some((i.elapsed.as_secs_f64(), avg))
        })
        .collect()
}

/// `brunt quick` through the proxy at 100 logical requests a second for 5 s with `retry`
/// flags; the toxic answers every request with 503 from 1.5 s on. Returns the summary export
/// and the results file.
fn storm(api: u16, url: &str, dir: &Path, retry: &[&str]) -> (Value, Results) {
    let export = dir.join("summary.json");
    let results = dir.join("results.json");
    let out_flag = format!("results={}", results.display());
    let mut args = vec![
        "quick",
        url,
        "--rate",
        "100",
        "--duration",
        "5s",
        "-q",
        "--summary-export",
        export.to_str().unwrap(),
        "--out",
        &out_flag,
    ];
    args.extend_from_slice(retry);
    let child = brunt_cmd()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    chaos(
        api,
        &[
            "toxic",
            "add",
            "api",
            "-t",
            "http_status",
            "-n",
            "down",
            "-a",
            "status=503",
        ],
    );
    let out = output_within(child, Duration::from_secs(60));
    chaos(api, &["toxic", "remove", "api", "-n", "down"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", stderr(&out));
    assert!(stdout.contains("retry amplification: "), "{stdout}");
    let doc = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    (doc, Results::read(&results).unwrap())
}

#[test]
fn immediate_retries_multiply_the_load_and_a_budget_caps_it() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_proxy, api, listen) = fault_proxy("api", target.local_addr(), dir.path());
    let url = format!("http://127.0.0.1:{listen}/");

    // Immediate retries, 4 attempts: 1 request per logical request while the target is up, 4
    // once every answer is a 503.
    let (doc, results) = storm(
        api,
        &url,
        dir.path(),
        &["--retry", "immediate", "--retry-max", "4"],
    );
    let seconds = per_second(&results);
    assert_eq!(seconds.first().map(|s| s.1), Some(1.0), "{seconds:?}");
    let failing: Vec<f64> = seconds
        .iter()
        .filter(|(t, _)| *t >= 4.0)
        .map(|s| s.1)
        .collect();
    assert!(!failing.is_empty(), "{seconds:?}");
    assert!(failing.iter().all(|a| *a == 4.0), "{seconds:?}");
    let run = doc["brunt"]["retry"]["retry_amplification"]
        .as_f64()
        .unwrap();
    assert!(run > 2.0 && run < 4.0, "{}", doc["brunt"]["retry"]);
    assert_eq!(
        doc["metrics"]["retry_amplification"]["max"], 4.0,
        "{}",
        doc["metrics"]["retry_amplification"]
    );

    // The same storm within a 10% budget (its 10 s window spans the run): at most 1.1
    // requests per logical request over the run, the rest withheld.
    let (doc, results) = storm(
        api,
        &url,
        dir.path(),
        &[
            "--retry",
            "exponential",
            "--retry-base",
            "5ms",
            "--retry-jitter",
            "--retry-max",
            "4",
            "--retry-budget",
            "0.1",
        ],
    );
    let retry = &doc["brunt"]["retry"];
    let run = retry["retry_amplification"].as_f64().unwrap();
    assert!(run > 1.03 && run <= 1.1 + 1e-9, "{retry}");
    assert!(
        retry["budget_exhausted"].as_f64().unwrap() > 50.0,
        "{retry}"
    );
    let last = per_second(&results).last().unwrap().1;
    assert!(last < 1.5, "{:?}", per_second(&results));
}

/// A script whose requests all fail, with `params`.
fn script(dir: &Path, url: &str, params: &str) -> std::path::PathBuf {
    let path = dir.join("retry.js");
    std::fs::write(
        &path,
        format!(
            "import http from 'k6/http';\n\
             export const options = {{ iterations: 10, thresholds: {{ http_reqs: ['count>0'] }} }};\n\
             export default function () {{ http.get('{url}', {params}); }}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_scripts_retry_param_retries_and_scripts_without_it_do_not() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = target.url("/status/503");
    let export = dir.path().join("summary.json");
    let run = |params: &str| {
        let s = script(dir.path(), &url, params);
        let out = brunt(&[
            "run",
            "-q",
            s.to_str().unwrap(),
            "--summary-export",
            export.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stdout}{}", stderr(&out));
        let doc: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
        (doc, stdout)
    };
    let (doc, stdout) = run("{ retry: { policy: 'fixed', base: '1ms', max: 3 } }");
    assert_eq!(doc["metrics"]["http_reqs"]["count"], 30.0, "{stdout}");
    assert_eq!(doc["brunt"]["retry"]["retry_amplification"], 3.0);
    assert_eq!(doc["metrics"]["http_req_retries"]["count"], 20.0);
    assert!(
        stdout.contains("retry amplification: 3.00 requests per logical request"),
        "{stdout}"
    );

    // A threshold may name a retry metric: it is judged as any other.
    let s = dir.path().join("gated.js");
    std::fs::write(
        &s,
        format!(
            "import http from 'k6/http';\n\
             export const options = {{ iterations: 5, thresholds: {{ retry_amplification: ['avg<2'] }} }};\n\
             export default function () {{ http.get('{url}', {{ retry: {{ policy: 'immediate', max: 3 }} }}); }}\n"
        ),
    )
    .unwrap();
    let out = brunt(&["run", "-q", s.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(99), "{stdout}{}", stderr(&out));
    assert!(stdout.contains("retry_amplification"), "{stdout}");

    // Only the statuses in `on` are retried.
    let (doc, _) = run("{ retry: { policy: 'immediate', max: 3, on: [502] } }");
    assert_eq!(doc["metrics"]["http_reqs"]["count"], 10.0);

    // Without the param: k6's behaviour, no retry metric at all.
    let (doc, stdout) = run("{}");
    assert_eq!(doc["metrics"]["http_reqs"]["count"], 10.0);
    assert!(
        doc["metrics"].get("retry_amplification").is_none(),
        "{stdout}"
    );
    assert!(doc.get("brunt").and_then(|b| b.get("retry")).is_none());
    assert!(!stdout.contains("retry amplification"), "{stdout}");
}

#[test]
fn bad_retry_options_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let s = script(
        dir.path(),
        "http://127.0.0.1:1/",
        "{ retry: { policy: 'linear' } }",
    );
    let out = brunt(&["run", "-q", s.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("retry.policy: 'linear' is not a retry policy"),
        "{}",
        stderr(&out)
    );
    common::fails_with(
        &["quick", "http://127.0.0.1:1/", "--retry", "linear"],
        1,
        "--retry: 'linear' is not a retry policy",
    );
    common::fails_with(
        &["quick", "http://127.0.0.1:1/", "--retry-max", "3"],
        2,
        "--retry",
    );
    common::fails_with(
        &[
            "quick",
            "http://127.0.0.1:1/",
            "--retry",
            "fixed",
            "--retry-max",
            "0",
        ],
        1,
        "--retry-max: must be at least 1 attempt",
    );
}
