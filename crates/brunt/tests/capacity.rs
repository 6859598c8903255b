//! `brunt capacity` end to end against a `brunt target --capacity 200` child process: the knee
//! it finds, the table and the JSON result, and bad input refused before any load.

mod common;

use common::{brunt_cmd, fails_with, output_within, target_process, Helper};
use serde_json::Value;
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

/// A `brunt target` child with `args`, and its base URL once it listens.
fn target(args: &[&str]) -> (Helper, String) {
    target_process(brunt_cmd(), args)
}

/// Short steps, so that a search fits a test.
const QUICK_STEPS: &[&str] = &["--step", "2s", "--warmup", "1s"];
/// [`QUICK_STEPS`] and a coarse search up to 400/s.
const QUICK_SEARCH: &[&str] = &[
    "--step",
    "2s",
    "--warmup",
    "1s",
    "--start-rate",
    "50",
    "--max-rate",
    "400",
    "--resolution",
    "25%",
];

/// One search at a time: two in parallel on a small machine lag each other's event loops, and
/// the step fails as `generator` instead of measuring the target.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `brunt capacity ARGS --export FILE -q` to the end (within 90 s), stops `server`, asserts
/// exit 0 and returns the table printed and the JSON exported.
fn capacity(server: Helper, args: &[&str]) -> (String, Value) {
    let export = std::env::temp_dir().join(format!(
        "brunt-capacity-{}-{}.json",
        std::process::id(),
        server.0.id()
    ));
    let out = capacity_to(server, args, &export);
    let _ = std::fs::remove_file(&export);
    out
}

/// [`capacity`], keeping the export at `export`. (A step that the generator alone failed, as
/// when another VM's work stalls this shared machine, is run again by `brunt capacity` itself.)
fn capacity_to(server: Helper, args: &[&str], export: &std::path::Path) -> (String, Value) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let searched = search(args, export);
    drop(server);
    searched
}

/// One `brunt capacity` run: its table and its export, after asserting exit 0.
fn search(args: &[&str], export: &std::path::Path) -> (String, Value) {
    let child = brunt_cmd()
        .arg("capacity")
        .args(args)
        .args(["-q", "--export", export.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, Duration::from_secs(90));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        common::stderr(&out)
    );
    let result = serde_json::from_str(&std::fs::read_to_string(export).unwrap()).unwrap();
    (stdout, result)
}

#[test]
fn finds_the_configured_capacity_within_ten_percent() {
    let (server, url) = target(&["--capacity", "200"]);
    let pid = server.0.id().to_string();
    // 20 ms of service time keeps the baseline's p99 above a busy machine's jitter.
    let (stdout, result) = capacity(
        server,
        &[
            &[format!("{url}/delay/20").as_str()][..],
            QUICK_STEPS,
            &[
                "--start-rate",
                "100",
                "--resolution",
                "10%",
                "--monitor",
                &format!("api:pid={pid}"),
            ],
        ]
        .concat(),
    );

    assert_eq!(result["kind"], "brunt-capacity");
    let verdict = &result["verdict"];
    let found = verdict["max_rate"].as_f64().unwrap();
    assert!(
        (180.0..=220.0).contains(&found),
        "knee at {found}: {stdout}"
    );
    let failed = verdict["first_failure"]["rate"].as_f64().unwrap();
    assert!(failed > found && failed <= found * 1.1, "{verdict}");
    assert_eq!(verdict["limited_by"], "target", "{verdict}");
    let kinds: Vec<&str> = verdict["first_failure"]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"knee"), "{kinds:?}");
    // Every step beyond the capacity achieves about the capacity, not the rate asked.
    for step in result["steps"].as_array().unwrap() {
        let (asked, achieved) = (
            step["rate"].as_f64().unwrap(),
            step["achieved"].as_f64().unwrap(),
        );
        assert!(achieved <= 200.0 * 1.1, "{step}");
        if asked <= 200.0 {
            assert!(achieved >= asked * 0.9, "{step}");
        }
        let monitor = &step["monitors"][0];
        assert_eq!(monitor["monitor"], "api");
        assert!(monitor["cpu_percent"].as_f64().is_some(), "{monitor}");
    }
    assert_eq!(result["baseline"]["phase"], "baseline");
    assert!(stdout.contains("max sustained rate:"), "{stdout}");
    assert!(stdout.contains("api cpu%"), "{stdout}");
}

#[test]
fn closed_model_levels_fit_the_usl_and_keep_littles_law() {
    // 20 ms a request, at most 300 started a second: one VU gives about 46/s, and throughput
    // flattens at 300 past about 7 VUs.
    let (server, url) = target(&["--capacity", "300"]);
    let dir = std::env::temp_dir().join(format!("brunt-capacity-usl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (export, report) = (dir.join("usl.json"), dir.join("usl.html"));
    let (stdout, result) = capacity_to(
        server,
        &[
            &[
                format!("{url}/delay/20").as_str(),
                "--concurrency",
                "1,2,4,8,16",
                "--report",
                report.to_str().unwrap(),
            ][..],
            QUICK_STEPS,
        ]
        .concat(),
        &export,
    );
    // The report is the page with the result in it, and `brunt report` rebuilds it from the
    // export.
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(
        page.contains("\"model\":\"closed\""),
        "the result is the page's data"
    );
    let rebuilt = dir.join("rebuilt.html");
    let out = brunt_cmd()
        .args([
            "report",
            export.to_str().unwrap(),
            "-o",
            rebuilt.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(std::fs::read_to_string(&rebuilt)
        .unwrap()
        .contains("\"usl\":{"));
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(result["model"], "closed");
    assert_eq!(result["baseline"]["concurrency"], 1);
    let steps = result["steps"].as_array().unwrap();
    let levels: Vec<u64> = steps
        .iter()
        .map(|s| s["concurrency"].as_u64().unwrap())
        .collect();
    assert_eq!(levels, [2, 4, 8, 16], "every level runs, failing or not");
    for s in std::iter::once(&result["baseline"]).chain(steps) {
        let n = s["concurrency"].as_f64().unwrap();
        let (measured, predicted) = (
            s["in_flight"].as_f64().unwrap(),
            s["littles_law_in_flight"].as_f64().unwrap(),
        );
        assert!((measured - n).abs() <= 1.0, "{s}");
        assert!((predicted - n).abs() <= n * 0.25 + 1.0, "{s}");
        assert!(s["littles_law_violation"].is_null(), "{s}");
    }
    let top = steps[3]["achieved"].as_f64().unwrap();
    assert!(
        (270.0..=330.0).contains(&top),
        "16 VUs against capacity 300: {top}"
    );

    let usl = &result["usl"];
    assert!(usl["r_squared"].as_f64().unwrap() > 0.9, "{usl}");
    let lambda = usl["lambda"].as_f64().unwrap();
    assert!((35.0..=55.0).contains(&lambda), "one VU at 20 ms: {usl}");
    let peak = usl["peak"]["throughput"].as_f64().unwrap();
    assert!(
        (255.0..=345.0).contains(&peak),
        "the peak is the capacity: {usl}"
    );
    assert_eq!(usl["points"].as_array().unwrap().len(), 5);
    assert!(stdout.contains("USL fit"), "{stdout}");
    assert!(stdout.contains("predicted peak:"), "{stdout}");
    assert!(
        stdout.contains("max concurrency within the SLO"),
        "{stdout}"
    );
}

/// Exports a quick search against `brunt target --capacity N` serving /delay/20.
fn search_capacity(capacity: &str, export: &std::path::Path) -> Value {
    let (server, url) = target(&["--capacity", capacity]);
    let (_, result) = capacity_to(
        server,
        &[&[format!("{url}/delay/20").as_str()][..], QUICK_SEARCH].concat(),
        export,
    );
    result
}

#[test]
fn compare_tells_how_far_the_knee_moved_and_gates_on_it() {
    let dir = std::env::temp_dir();
    let before = dir.join(format!("brunt-capacity-before-{}.json", std::process::id()));
    let after = dir.join(format!("brunt-capacity-after-{}.json", std::process::id()));
    let slow = search_capacity("100", &before);
    let fast = search_capacity("300", &after);
    let knees = [&slow, &fast].map(|r| r["verdict"]["max_rate"].as_u64().unwrap());
    assert!(knees[0] < knees[1], "{knees:?}");
    let (b, a) = (before.to_str().unwrap(), after.to_str().unwrap());
    let out = brunt_cmd()
        .args(["compare", b, a, "--min-capacity-gain", "50%"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        common::stderr(&out)
    );
    let moved = format!("the knee moved from {} to {} req/s (+", knees[0], knees[1]);
    assert!(stdout.contains(&moved), "{stdout}");
    assert!(stdout.contains("; p99 at "), "{stdout}");
    assert!(stdout.contains("✓ capacity knee:"), "{stdout}");
    // Reversed, the knee moved left: the gate fails with k6's threshold exit code.
    let out = brunt_cmd()
        .args(["compare", a, b, "--min-capacity-gain", "0%"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(99), "{}", common::stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("✗ capacity knee:"));
    // A capacity result against a run's summary is refused by name.
    let summary = dir.join(format!(
        "brunt-capacity-summary-{}.json",
        std::process::id()
    ));
    std::fs::write(&summary, r#"{"metrics": {}}"#).unwrap();
    fails_with(
        &["compare", b, summary.to_str().unwrap()],
        1,
        "is a capacity result but",
    );
    fails_with(
        &[
            "compare",
            b,
            a,
            "--max-regression",
            "http_req_duration p(95)=10%",
        ],
        1,
        "capacity results are gated with --min-capacity-gain",
    );
    for f in [before, after, summary] {
        let _ = std::fs::remove_file(f);
    }
}

#[test]
fn a_baseline_that_already_fails_stops_the_search() {
    let (server, url) = target(&[]);
    let out = fails_with(
        &[
            "capacity",
            &format!("{url}/status/503"),
            "--step",
            "1s",
            "--warmup",
            "0s",
            "-q",
        ],
        1,
        "the baseline at --baseline-rate 5 requests/s already fails (",
    );
    drop(server);
    // After the generator's reasons, if a loaded machine stalled it too.
    let err = common::stderr(&out);
    assert!(
        err.contains("errors: 100.00% of requests failed (--max-errors 1%)); fix the target"),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "no table for a search that never ran"
    );
}

#[test]
fn bad_input_is_refused_before_any_load() {
    let (server, url) = target(&[]);
    for (args, needle) in [
        (
            vec!["--slo", "http_req_duration: p(99)<<3"],
            "--slo 'http_req_duration: p(99)<<3'",
        ),
        (
            vec!["--slo", "no_such_metric: p(99)<3"],
            "--slo 'no_such_metric: p(99)<3'",
        ),
        (
            vec!["--start-rate", "500", "--max-rate", "100"],
            "--max-rate 100",
        ),
        (vec!["--resolution", "150%"], "--resolution '150%'"),
        (
            vec!["--concurrency", "1,2"],
            "--concurrency '1,2': give at least three levels",
        ),
    ] {
        let mut argv = vec!["capacity", url.as_str()];
        argv.extend(args);
        fails_with(&argv, 1, needle);
    }
    // An SLO's grammar is checked before the target is tried: named even when nothing listens.
    fails_with(
        &[
            "capacity",
            "http://127.0.0.1:1/",
            "--slo",
            "http_req_duration: p(99)<<3",
        ],
        1,
        "--slo 'http_req_duration: p(99)<<3'",
    );
    // The closed model has no rates to search: clap's usage error (exit 2) names both flags.
    fails_with(
        &[
            "capacity",
            &url,
            "--concurrency",
            "1,2,4",
            "--start-rate",
            "20",
        ],
        2,
        "'--concurrency <N,N,...>' cannot be used with '--start-rate <N>'",
    );
    drop(server);
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    fails_with(
        &["capacity", &format!("http://{closed}/")],
        1,
        &format!("cannot reach {closed}"),
    );
}

#[test]
fn a_script_runs_at_each_steps_rate_with_its_thresholds_as_the_slo() {
    let dir = std::env::temp_dir().join(format!("brunt-capacity-script-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("checkout.js");
    let (server, url) = target(&["--capacity", "100"]);
    std::fs::write(
        &script,
        format!(
            r#"import http from 'k6/http';
export const options = {{ thresholds: {{ http_req_duration: ['p(99)<60'] }} }};
export default function () {{ http.get('{url}/get'); }}
export function browse() {{ http.get('{url}/delay/20'); }}
"#
        ),
    )
    .unwrap();
    let script = script.to_str().unwrap();
    let (stdout, result) = capacity(
        server,
        &[&[script, "--exec", "browse"][..], QUICK_SEARCH].concat(),
    );
    assert_eq!(result["target"]["script"], script);
    assert_eq!(result["target"]["exec"], "browse");
    assert_eq!(result["settings"]["slos"][0], "http_req_duration: p(99)<60");
    let verdict = &result["verdict"];
    let found = verdict["max_rate"].as_f64().unwrap();
    assert!((75.0..=125.0).contains(&found), "{stdout}");
    let kinds: Vec<&str> = verdict["first_failure"]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"slo"), "the script's threshold: {stdout}");
    assert!(stdout.contains("iters/s"), "{stdout}");
    assert!(stdout.contains("iterations/s"), "{stdout}");

    fails_with(
        &["capacity", script, "--exec", "checkout"],
        1,
        "--exec checkout: ",
    );
    fails_with(
        &["capacity", script, "-H", "A: b"],
        1,
        "-H/--header: a request flag, for a URL",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_cpu_bound_endpoint_shows_the_targets_cpu_as_the_bottleneck() {
    // One serving thread computing 10 ms per request: at most about 100 requests/s.
    let (server, url) = target(&["--threads", "1"]);
    let pid = server.0.id().to_string();
    let (stdout, result) = capacity(
        server,
        &[
            &format!("{url}/cpu/10"),
            "--step",
            "2s",
            "--warmup",
            "0s",
            "--start-rate",
            "20",
            "--max-rate",
            "400",
            "--resolution",
            "25%",
            "--monitor",
            &format!("api:pid={pid}"),
        ],
    );
    let verdict = &result["verdict"];
    assert_eq!(verdict["limited_by"], "target", "{stdout}");
    let bottleneck = verdict["bottleneck"].as_str().unwrap_or_default();
    assert!(bottleneck.starts_with("api CPU"), "{stdout}");
    assert!(stdout.contains("closest to its limit: api CPU"), "{stdout}");
    let found = verdict["max_rate"].as_f64().unwrap();
    assert!(
        found < 150.0,
        "one core at 10 ms a request serves about 100/s: {stdout}"
    );
}
