//! Cache-state phases against `brunt target`: `--warm-up` leaves the run's first seconds out of
//! thresholds and the summary's metrics and reports them apart (summary, `--summary-export`'s
//! `brunt.phases`, `--report`); `--cold-cache` reports cold and warm side by side, leaving
//! nothing out; the script's `options.warmUp` does what the flag does.

mod common;

use common::brunt;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;

fn target() -> brunt_target::Target {
    brunt_target::spawn(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap()
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("brunt-phases-{}-{name}", std::process::id()))
}

/// A script whose requests fail during the scenario's first second and pass afterwards: a
/// cold start. `warm_up` is put in its options when given.
fn cold_start_script(url: &str, warm_up: Option<&str>) -> PathBuf {
    let path = temp(&format!("{}.js", warm_up.unwrap_or("none")));
    let option = warm_up.map_or(String::new(), |w| format!("warmUp: '{w}', "));
    std::fs::write(
        &path,
        format!(
            "import http from 'k6/http';\n\
             import exec from 'k6/execution';\n\
             import {{ sleep }} from 'k6';\n\
             export const options = {{ {option}vus: 2, duration: '4s', thresholds: {{ http_req_failed: ['rate==0'] }} }};\n\
             export default function () {{\n\
               const cold = Date.now() - exec.scenario.startTime < 1000;\n\
               http.get(cold ? '{url}/status/503' : '{url}/status/200');\n\
               sleep(0.05);\n\
             }}\n"
        ),
    )
    .unwrap();
    path
}

fn export(path: &PathBuf) -> Value {
    let v = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let _ = std::fs::remove_file(path);
    v
}

#[test]
fn a_warm_up_keeps_a_cold_start_out_of_the_verdict_and_reports_it_apart() {
    let t = target();
    let base = t.url("");
    let base = base.trim_end_matches('/');
    // Without a warm-up the cold start's failures cross the threshold.
    let script = cold_start_script(base, None);
    let out = brunt(&["run", "-q", script.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(99), "{stdout}");

    // With --warm-up 2s they are reported, not judged.
    let summary = temp("warm-up.json");
    let report = temp("warm-up.html");
    let results = temp("warm-up.results");
    let out = brunt(&[
        "run",
        "-q",
        script.to_str().unwrap(),
        "--warm-up",
        "2s",
        "--summary-export",
        summary.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--out",
        &format!("results={}", results.display()),
    ]);
    let _ = std::fs::remove_file(&script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("phases:"), "{stdout}");
    assert!(
        stdout.contains("warm_up (0s to 2s, left out of thresholds and the metrics above)"),
        "{stdout}"
    );
    // compare reads the results file's measured phase, as the run's summary judged it: the
    // warm-up's failures do not count as a regression against the summary export.
    let cmp = brunt(&[
        "compare",
        summary.to_str().unwrap(),
        results.to_str().unwrap(),
        "--max-regression",
        "http_req_failed rate=0",
        "--max-regression",
        "http_reqs count=0",
    ]);
    assert_eq!(
        cmp.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&cmp.stdout)
    );
    let data = export(&summary);
    let phases = &data["brunt"]["phases"];
    let warm_up = &phases["warm_up"];
    let measured = &phases["measured"];
    assert_eq!(warm_up["excluded"], true, "{phases}");
    assert!(warm_up["error_rate"].as_f64().unwrap() > 0.1, "{phases}");
    assert_eq!(measured["error_rate"], 0.0, "{phases}");
    // The summary's metrics are the measured phase's alone.
    let reqs = data["metrics"]["http_reqs"]["count"].as_f64().unwrap();
    assert_eq!(reqs, measured["requests"].as_f64().unwrap(), "{data}");
    assert!(warm_up["requests"].as_f64().unwrap() > 0.0, "{phases}");
    assert_eq!(data["metrics"]["http_req_failed"]["value"], 0.0, "{data}");
    let html = std::fs::read_to_string(&report).unwrap();
    let _ = std::fs::remove_file(&report);
    assert!(
        html.contains(r#""phase":"warm_up""#),
        "the report lists the phase"
    );

    // The results file keeps the split: a report made from it later draws the same phases.
    let rebuilt = temp("rebuilt.html");
    let out = brunt(&[
        "report",
        results.to_str().unwrap(),
        "-o",
        rebuilt.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let html = std::fs::read_to_string(&rebuilt).unwrap();
    let _ = std::fs::remove_file(&rebuilt);
    let rows = html
        .split(r#""phases":"#)
        .nth(1)
        .unwrap_or_else(|| panic!("no phases in the rebuilt page"));
    let rows: Value = serde_json::Deserializer::from_str(rows)
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(rows[0]["phase"], "warm_up", "{rows}");
    assert_eq!(rows[0]["excluded"], true, "{rows}");
    assert_eq!(rows[0]["requests"], warm_up["requests"], "{rows}");
    assert_eq!(rows[1]["phase"], "measured", "{rows}");
    assert_eq!(rows[1]["requests"], measured["requests"], "{rows}");
    let _ = std::fs::remove_file(&results);
}

#[test]
fn the_scripts_warm_up_option_does_what_the_flag_does() {
    let t = target();
    let base = t.url("");
    let script = cold_start_script(base.trim_end_matches('/'), Some("2s"));
    let out = brunt(&["run", "-q", script.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("warm_up (0s to 2s"), "{stdout}");
    // A flag overrides the option: --cold-cache leaves nothing out, so the threshold fails.
    let out = brunt(&["run", "-q", script.to_str().unwrap(), "--cold-cache", "2s"]);
    let _ = std::fs::remove_file(&script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(99), "{stdout}");
    assert!(stdout.contains("cold (0s to 2s)"), "{stdout}");
}

#[test]
fn quick_states_the_cold_start_penalty_beside_the_warm_figures() {
    let t = target();
    let summary = temp("cold.json");
    let out = brunt(&[
        "quick",
        &t.url("/"),
        "--vus",
        "2",
        "--duration",
        "3s",
        "-q",
        "--cold-cache",
        "1s",
        "--summary-export",
        summary.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("cold-start penalty: p50 "), "{stdout}");
    let data = export(&summary);
    let phases = &data["brunt"]["phases"];
    let (cold, warm) = (&phases["cold"], &phases["warm"]);
    for p in [cold, warm] {
        assert_eq!(p["excluded"], false, "{phases}");
        assert!(p["requests"].as_f64().unwrap() > 0.0, "{phases}");
        assert!(p["p99"].as_f64().is_some(), "{phases}");
    }
    // Nothing is left out: the metrics count both phases' requests.
    let reqs = data["metrics"]["http_reqs"]["count"].as_f64().unwrap();
    let both = cold["requests"].as_f64().unwrap() + warm["requests"].as_f64().unwrap();
    assert_eq!(reqs, both, "{data}");
}

#[test]
fn bad_phase_flags_and_options_are_named() {
    common::fails_with(
        &["quick", "http://127.0.0.1:1/", "--warm-up", "soon"],
        1,
        "--warm-up 'soon'",
    );
    common::fails_with(
        &[
            "quick",
            "http://127.0.0.1:1/",
            "--warm-up",
            "1s",
            "--cold-cache",
            "1s",
        ],
        2,
        "--cold-cache",
    );
    let script = temp("bad.js");
    std::fs::write(
        &script,
        "export const options = { warmUp: 30 };\nexport default function () {}\n",
    )
    .unwrap();
    let out = common::fails_with(
        &["run", "-q", script.to_str().unwrap()],
        104,
        "warmUp: must be a duration such as '30s', not 30",
    );
    let _ = std::fs::remove_file(&script);
    drop(out);
}
