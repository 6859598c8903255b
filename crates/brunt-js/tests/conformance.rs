//! The conformance corpus (tests/scripts/*.js) run through `brunt_js::run` against the built-in
//! target on loopback; each test checks the exit code and the `--summary-export` file.

use brunt_js::{exit, run, RunArgs};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

fn target() -> &'static str {
    static T: OnceLock<(brunt_target::Target, String)> = OnceLock::new();
    &T.get_or_init(|| {
        let t = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).expect("target starts");
        let url = format!("http://{}", t.local_addr());
        (t, url)
    })
    .1
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

/// Runs a corpus script; returns the exit code and the summary export.
fn run_script(name: &str, extra: impl FnOnce(&mut RunArgs)) -> (i32, Value) {
    // Several tests run the same script at once: each run gets its own file.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let export = std::env::temp_dir().join(format!(
        "brunt-js-{}-{}-{}.json",
        name.trim_end_matches(".js"),
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&export);
    let mut args = RunArgs {
        script: script(name),
        env: vec![format!("BASE_URL={}", target())],
        summary_export: Some(export.clone()),
        quiet: true,
        no_summary: true,
        workers: Some(1),
        ..Default::default()
    };
    extra(&mut args);
    let code = run(args).expect("run completes");
    let v = std::fs::read_to_string(&export)
        .map(|s| serde_json::from_str(&s).expect("summary export is JSON"))
        .unwrap_or(Value::Null);
    let _ = std::fs::remove_file(&export);
    (code, v)
}

fn metric<'a>(export: &'a Value, name: &str) -> &'a Value {
    &export["metrics"][name]
}

fn thresholds_all_ok(export: &Value) -> bool {
    export["metrics"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|m| m["thresholds"].as_object())
        .flat_map(|t| t.values())
        .all(|v| v == false)
}

#[test]
fn checks_are_counted_per_check_and_in_the_checks_rate() {
    let (code, ex) = run_script("checks.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 10);
    assert_eq!(metric(&ex, "checks")["fails"], 10);
    assert_eq!(metric(&ex, "iterations")["count"], 10);
    assert_eq!(metric(&ex, "http_reqs")["count"], 10);
    let checks = ex["root_group"]["checks"].as_object().unwrap();
    assert_eq!(checks["status is 200"]["passes"], 10);
    assert_eq!(checks["body is empty"]["fails"], 10);
}

#[test]
fn check_values_and_custom_metrics_count_as_k6_counts_them() {
    let (code, ex) = run_script("check_values.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    let checks = ex["root_group"]["checks"].as_object().unwrap();
    let failing = ["empty string", "zero", "null", "zero fails", "throws"];
    for (name, c) in checks {
        let (passes, fails) = if failing.contains(&name.as_str()) {
            (0, 3)
        } else {
            (3, 0)
        };
        assert_eq!(
            (c["passes"].clone(), c["fails"].clone()),
            (passes.into(), fails.into()),
            "{name}: {ex}"
        );
    }
    assert_eq!(checks.len(), 22, "{ex}");
    assert!(!checks.contains_key("never reached"), "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 51, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 15, "{ex}");
    assert_eq!(metric(&ex, "check_values_rate")["passes"], 6, "{ex}");
    assert_eq!(metric(&ex, "check_values_rate")["fails"], 3, "{ex}");
    let trend = metric(&ex, "check_values_trend");
    assert!(
        trend["min"].as_f64() <= Some(2.0) && trend["max"].as_f64() >= Some(2.0),
        "{ex}"
    );
    assert_eq!(
        metric(&ex, "check_values_counter")["count"].as_f64(),
        Some(12.0),
        "{ex}"
    );
}

#[test]
fn metric_values_that_are_no_numbers_are_read_or_dropped_as_k6_does() {
    let (code, ex) = run_script("metric_values.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 14, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0, "{ex}");
    // 3 ('3') + 16 ('0x10') + 1 ([]) + 1 (' ') + 7 (valueOf) + 1 (true) + 2.5
    assert_eq!(
        metric(&ex, "metric_values_counter")["count"].as_f64(),
        Some(31.5),
        "{ex}"
    );
    // With k6's `throw` option the first invalid value throws out of its check.
    let (code, ex) = run_script("metric_values.js", |a| a.throw = true);
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 0, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 1, "{ex}");
}

#[test]
fn json_stringify_writes_request_bodies_as_the_spec_does() {
    let (code, ex) = run_script("json_stringify.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 11, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0, "{ex}");
}

#[test]
fn json_stringify_of_deep_values_near_the_stack_limit_throws_instead_of_crashing() {
    let (code, ex) = run_script("json_stringify_deep.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 3, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0, "{ex}");
}

#[test]
fn groups_nest_with_paths_and_tag_their_samples() {
    let (code, ex) = run_script("groups.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    let outer = &ex["root_group"]["groups"]["outer"];
    assert_eq!(outer["path"], "::outer");
    let inner = &outer["groups"]["inner"];
    assert_eq!(inner["path"], "::outer::inner");
    assert_eq!(inner["checks"]["one is one"]["passes"], 3);
    assert!(metric(&ex, "group_duration").is_object());
    assert!(thresholds_all_ok(&ex), "{ex}");
}

#[test]
fn submetric_thresholds_select_by_tags() {
    let (code, ex) = run_script("submetric_thresholds.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert!(thresholds_all_ok(&ex), "{ex}");
    assert_eq!(metric(&ex, "http_reqs")["count"], 12);
}

#[test]
fn a_failed_threshold_exits_99_and_still_exports() {
    let (code, ex) = run_script("thresholds_fail.js", |_| {});
    assert_eq!(code, exit::THRESHOLDS_FAILED);
    assert_eq!(
        metric(&ex, "http_req_duration")["thresholds"]["max<0"],
        true
    );
}

#[test]
fn cli_thresholds_and_no_thresholds() {
    let (code, _) = run_script("checks.js", |a| {
        a.thresholds = vec!["http_reqs: count>100".into()]
    });
    assert_eq!(code, exit::THRESHOLDS_FAILED);
    let (code, _) = run_script("thresholds_fail.js", |a| a.no_thresholds = true);
    assert_eq!(code, exit::OK);
}

#[test]
fn setup_data_reaches_iterations_and_teardown_as_copies() {
    let (code, ex) = run_script("setup_teardown.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "setup_data_seen")["count"], 5);
    // setup's POST and teardown's GET are requests of the run too.
    assert_eq!(metric(&ex, "http_reqs")["count"], 2);
    assert_eq!(
        ex["root_group"]["groups"]["teardown"]["checks"]["order exists"]["passes"],
        1
    );
}

#[test]
fn shared_array_reads_one_copy_from_open() {
    let (code, ex) = run_script("shared_array.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0);
    assert_eq!(metric(&ex, "checks")["passes"], 30);
}

#[test]
fn arrival_rate_that_cannot_keep_up_drops_iterations() {
    let (code, ex) = run_script("arrival_rate.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert!(metric(&ex, "dropped_iterations")["count"].as_f64().unwrap() > 0.0);
    let done = metric(&ex, "iterations")["count"].as_f64().unwrap();
    assert!((5.0..=12.0).contains(&done), "{done}");
}

#[test]
fn iteration_exceptions_are_counted_and_the_run_goes_on() {
    let (code, ex) = run_script("exception.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "after_throw")["count"], 2);
    assert_eq!(metric(&ex, "iterations")["count"], 4);
}

#[test]
fn init_exceptions_and_remote_imports_exit_107() {
    let (code, _) = run_script("init_exception.js", |_| {});
    assert_eq!(code, exit::SCRIPT_EXCEPTION);
    let (code, _) = run_script("remote_import.js", |_| {});
    assert_eq!(code, exit::SCRIPT_EXCEPTION);
}

#[test]
fn jslib_k6_utils_is_built_in() {
    let (code, ex) = run_script("jslib.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0);
}

#[test]
fn module_surface_behaves_as_k6() {
    run_passing("modules.js");
}

#[test]
fn test_abort_exits_108() {
    let (code, ex) = run_script("abort.js", |_| {});
    assert_eq!(code, exit::SCRIPT_ABORTED);
    assert!(metric(&ex, "iterations")["count"].as_f64().unwrap() <= 3.0);
}

#[test]
fn handle_summary_gets_k6_data_and_writes_its_outputs() {
    let out = std::env::temp_dir().join(format!("brunt-js-hs-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let path = out.display().to_string();
    let (code, _) = run_script("handle_summary.js", |a| {
        a.env.push(format!("SUMMARY_JSON={path}"))
    });
    assert_eq!(code, exit::OK);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out);
    assert_eq!(v["reqs"], 2);
    assert_eq!(v["passes"], 2);
    assert_eq!(v["threshold_ok"], true);
    assert_eq!(v["text"], true);
    assert_eq!(v["junit"], true);
}

#[test]
fn cli_flags_override_script_options() {
    // checks.js asks for 10 iterations; the CLI's 3 win (k6's precedence).
    let (code, ex) = run_script("checks.js", |a| {
        a.iterations = Some(3);
        a.no_thresholds = true;
    });
    assert_eq!(code, exit::OK);
    assert_eq!(metric(&ex, "iterations")["count"], 3);
}

#[test]
fn iterations_cut_by_graceful_stop_leave_the_vu_usable() {
    // Each iteration sleeps past the end of the run; the engine drops it mid-sleep.
    let (code, ex) = run_script("graceful_stop.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "http_reqs")["count"], 2);
}

#[test]
fn inspect_reads_the_options_and_reports_bad_ones() {
    let ok = brunt_js::inspect(brunt_js::InspectArgs {
        script: script("arrival_rate.js"),
        execution_requirements: true,
        ..Default::default()
    })
    .expect("inspect completes");
    assert_eq!(ok, exit::OK);
    let bad = std::env::temp_dir().join(format!("brunt-js-bad-options-{}.js", std::process::id()));
    std::fs::write(
        &bad,
        "export const options = { scenarios: { s: { executor: 'nope' } } };\nexport default function () {}\n",
    )
    .unwrap();
    let code = brunt_js::inspect(brunt_js::InspectArgs {
        script: bad.clone(),
        execution_requirements: true,
        ..Default::default()
    })
    .expect("inspect completes");
    let _ = std::fs::remove_file(&bad);
    assert_eq!(code, exit::INVALID_CONFIG);
}

#[test]
fn out_json_writes_k6_sample_lines() {
    let out = std::env::temp_dir().join(format!("brunt-js-out-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let spec = format!("json={}", out.display());
    let (code, _) = run_script("checks.js", |a| a.out = vec![spec]);
    assert_eq!(code, exit::OK);
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let points = text
        .lines()
        .filter(|l| l.contains("\"type\":\"Point\"") && l.contains("\"metric\":\"http_reqs\""))
        .count();
    assert_eq!(points, 10, "{text}");
}

#[test]
fn streams_read_and_write_as_k6s() {
    for (script, checks) in [("streams.js", 12), ("writable_streams.js", 7)] {
        let (code, ex) = run_script(script, |_| {});
        assert_eq!(code, exit::OK, "{script}: {ex}");
        assert_eq!(metric(&ex, "checks")["passes"], checks, "{script}: {ex}");
        assert_eq!(metric(&ex, "checks")["fails"], 0, "{script}: {ex}");
    }
}

#[test]
fn secrets_come_from_the_configured_sources() {
    let (code, ex) = run_script("secrets.js", |a| {
        let dir = script("data/secrets.env");
        a.secret_sources = vec![
            format!("file=default,filename={}", dir.display()),
            "mock=name=other,token=mock-token".into(),
        ];
    });
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 6, "{ex}");
}

/// The tag names on each metric's samples in an `--out json` file.
fn tags_by_metric(path: &std::path::Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::<String, Vec<String>>::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] != "Point" {
            continue;
        }
        let names = out
            .entry(v["metric"].as_str().unwrap().to_string())
            .or_default();
        for k in v["data"]["tags"]
            .as_object()
            .into_iter()
            .flat_map(|t| t.keys())
        {
            if !names.contains(k) {
                names.push(k.clone());
                names.sort();
            }
        }
    }
    out
}

#[test]
fn system_tags_choose_the_tags_samples_carry() {
    let out = std::env::temp_dir().join(format!("brunt-js-systags-{}.json", std::process::id()));
    let spec = format!("json={}", out.display());
    // The script's options.systemTags: status and check only.
    let (code, ex) = run_script("system_tags.js", |a| a.out = vec![spec.clone()]);
    assert_eq!(code, exit::OK, "{ex}");
    let tags = tags_by_metric(&out);
    assert_eq!(
        tags["http_reqs"],
        ["name", "status"],
        "name is the script's own tag"
    );
    assert_eq!(tags["checks"], ["check"]);
    assert!(tags["iterations"].is_empty(), "{tags:?}");
    // The flag wins over the options; ip is off by default and may be asked for.
    let (code, _) = run_script("system_tags.js", |a| {
        a.out = vec![spec.clone()];
        a.system_tags = Some("method,ip,scenario".into());
        a.no_thresholds = true;
    });
    assert_eq!(code, exit::OK);
    let tags = tags_by_metric(&out);
    assert_eq!(
        tags["http_req_duration"],
        ["ip", "method", "name", "scenario"]
    );
    assert_eq!(tags["checks"], ["scenario"]);
    let _ = std::fs::remove_file(&out);
    let (code, _) = run_script("system_tags.js", |a| a.system_tags = Some("vu".into()));
    assert_eq!(code, exit::INVALID_CONFIG);
}

#[test]
fn no_vu_connection_reuse_connects_every_iteration() {
    let connects_always = |a: &mut RunArgs| {
        a.thresholds = vec!["http_req_connecting: min>0".into()];
    };
    let (code, _) = run_script("checks.js", connects_always);
    assert_eq!(
        code,
        exit::THRESHOLDS_FAILED,
        "connections are reused by default"
    );
    let (code, ex) = run_script("checks.js", |a| {
        connects_always(a);
        a.no_vu_connection_reuse = true;
    });
    assert_eq!(code, exit::OK, "{ex}");
}

/// A fault proxy API on loopback, running for the rest of the test process.
fn chaos_api() -> &'static str {
    static API: OnceLock<String> = OnceLock::new();
    API.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let server = brunt_chaos::start(listener, Default::default())
                    .await
                    .unwrap();
                tx.send(format!("http://{}", server.api_addr())).unwrap();
                std::future::pending::<()>().await;
            });
        });
        rx.recv().unwrap()
    })
}

#[test]
fn brunt_chaos_module_adds_and_removes_toxics_from_a_script() {
    let upstream = target().trim_start_matches("http://").to_string();
    let (code, ex) = run_script("chaos.js", |a| {
        a.env.push(format!("CHAOS_URL={}", chaos_api()));
        a.env.push(format!("UPSTREAM={upstream}"));
    });
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 6, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0, "{ex}");
    assert!(thresholds_all_ok(&ex), "200 ms of latency shows: {ex}");
}

#[test]
fn a_script_run_writes_the_html_report_and_the_results_file() {
    let dir = std::env::temp_dir().join(format!("brunt-js-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (report, results) = (dir.join("report.html"), dir.join("results.json"));
    let (code, ex) = run_script("checks.js", |a| {
        a.web.report = Some(report.clone());
        a.out = vec![format!("results={}", results.display())];
    });
    assert_eq!(code, exit::OK, "{ex}");
    let html = std::fs::read_to_string(&report).expect("--report writes the page");
    assert!(
        html.contains("<html") && html.contains("http_reqs"),
        "a report page with the run's metrics"
    );
    let results = std::fs::read_to_string(&results).expect("--out results= writes the file");
    assert!(
        results.lines().count() > 1,
        "the results file has data beyond its header"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Names of the checks that failed at least once.
/// Runs `name` with no extra flags, asserts that every check passed and the run exited 0, and
/// returns its summary export.
fn run_passing(name: &str) -> Value {
    let (code, ex) = run_script(name, |_| {});
    let failed = failed_checks(&ex);
    assert!(failed.is_empty(), "{name}: failed checks: {failed:?}");
    assert_eq!(code, exit::OK, "{ex}");
    ex
}

fn failed_checks(export: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(g: &Value, out: &mut Vec<String>) {
        if let Some(checks) = g["checks"].as_object() {
            for (name, c) in checks {
                if c["fails"] != 0 {
                    out.push(name.clone());
                }
            }
        }
        if let Some(groups) = g["groups"].as_object() {
            for sub in groups.values() {
                walk(sub, out);
            }
        }
    }
    walk(&export["root_group"], &mut out);
    out
}

#[test]
fn k6_html_queries_and_serialises_as_k6() {
    let ex = run_passing("html.js");
    assert_eq!(metric(&ex, "checks")["passes"], 62, "{ex}");
}

#[test]
fn exec_instance_reports_live_vu_and_iteration_counts() {
    let ex = run_passing("exec_instance.js");
    assert_eq!(metric(&ex, "checks")["passes"], 36, "{ex}");
}

#[test]
fn response_html_loads_k6_html_on_first_use() {
    let ex = run_passing("html_response.js");
    assert_eq!(metric(&ex, "checks")["passes"], 16, "{ex}");
}

#[test]
fn response_fields_match_k6_on_every_request_path() {
    run_passing("http_response.js");
}

#[test]
fn timings_and_fields_read_the_same_over_iterations_as_vus_come_and_go() {
    let ex = run_passing("response_shapes.js");
    // 62 checks per call: 80 iterations (3, 1 and 4 VUs, 10 each), setup and teardown.
    assert_eq!(metric(&ex, "checks")["passes"], 62 * 82, "{ex}");
}

#[test]
fn http_module_exports_classes_jars_and_the_response_callback() {
    let ex = run_passing("http_module.js");
    assert_eq!(metric(&ex, "checks")["passes"], 14, "{ex}");
    assert_eq!(metric(&ex, "http_req_failed")["value"], 0.0, "{ex}");
}

#[test]
fn repeated_requests_go_out_as_described_with_their_own_tags() {
    let ex = run_passing("http_native.js");
    assert_eq!(metric(&ex, "checks")["passes"], 11, "{ex}");
    assert!(thresholds_all_ok(&ex), "{ex}");
    assert_eq!(metric(&ex, "http_reqs")["count"], 12, "{ex}");
}

#[test]
fn headers_and_tags_changed_between_requests_go_out_changed() {
    let ex = run_passing("http_params_reuse.js");
    assert_eq!(metric(&ex, "checks")["passes"], 44, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0, "{ex}");
    assert!(thresholds_all_ok(&ex), "{ex}");
    assert_eq!(metric(&ex, "http_reqs")["count"], 48, "{ex}");
}

/// Not in the corpus: k6 sends a bad header and fails the request, brunt throws (see
/// `Request::set_header`); the message must not depend on what the VU sent before.
#[test]
fn invalid_headers_fail_with_the_same_message_every_time() {
    let src = r#"
        import http from 'k6/http';
        import { check } from 'k6';
        export const options = { iterations: 3, vus: 1 };
        function thrown(f) { try { f(); return ''; } catch (e) { return e.message; } }
        export default function () {
          const url = `${__ENV.BASE_URL}/anything`;
          const ok = http.get(url, { headers: { 'X-Bad': 'fine' } });
          const value = thrown(() => http.get(url, { headers: { 'X-Bad': 'a\nb' } }));
          const name = thrown(() => http.get(url, { headers: { 'Bad Name': 'v' } }));
          const tagged = thrown(() => http.get(url, { headers: { 'X-Bad': 'a\nb' }, tags: { t: 'x' } }));
          check(ok, {
            'a valid value is sent': (r) => r.json('headers.X-Bad') === 'fine',
            'a bad value throws': () => value === 'invalid value for header "X-Bad"',
            'a bad name throws': () => name === 'invalid header name "Bad Name"',
            'a bad value with tags throws': () => tagged === value,
          });
        }
    "#;
    let path = std::env::temp_dir().join(format!("brunt-js-bad-headers-{}.js", std::process::id()));
    std::fs::write(&path, src).unwrap();
    let (code, ex) = run_script("bad_headers.js", |a| a.script = path.clone());
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 12, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0, "{ex}");
}

#[test]
fn batch_per_host_limits_a_batch_to_two_connections() {
    let ex = run_passing("batch_per_host.js");
    assert_eq!(metric(&ex, "http_reqs")["count"], 8, "{ex}");
}

#[test]
fn batch_limits_a_batch_to_three_at_once() {
    run_passing("batch_limit.js");
}

#[test]
fn async_requests_of_one_vu_run_concurrently() {
    let ex = run_passing("async_request.js");
    assert_eq!(metric(&ex, "http_reqs")["count"], 9, "{ex}");
}

#[test]
fn submit_form_and_click_link_follow_the_page() {
    let ex = run_passing("html_form.js");
    assert_eq!(metric(&ex, "checks")["passes"], 7, "{ex}");
}

#[test]
fn scenario_progress_follows_iterations_and_time() {
    run_passing("scenario_progress.js");
}

#[test]
fn webcrypto_global_matches_k6_examples_and_known_answers() {
    let ex = run_passing("webcrypto.js");
    assert_eq!(metric(&ex, "checks")["passes"], 40, "{ex}");
}

#[test]
fn commonjs_modules_and_require_behave_as_k6() {
    run_passing("commonjs.js");
}

#[test]
fn typescript_scripts_and_imports_run() {
    run_passing("typescript.ts");
}

#[test]
fn experimental_fs_and_csv_read_files_as_k6() {
    run_passing("experimental_fs.js");
    run_passing("experimental_csv.js");
}

#[test]
fn modules_brunt_will_not_have_exit_107() {
    let (code, _) = run_script("unavailable_module.js", |_| {});
    assert_eq!(code, exit::SCRIPT_EXCEPTION);
}

#[test]
fn ws_echoes_through_the_targets_websocket() {
    let (code, ex) = run_script("ws.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 7, "{ex}");
    assert!(thresholds_all_ok(&ex), "{ex}");
}

#[test]
fn websockets_run_several_sockets_of_a_vu_against_the_targets_echo() {
    let (code, ex) = run_script("websockets.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 11, "{ex}");
    assert!(thresholds_all_ok(&ex), "{ex}");
}

#[test]
fn the_targets_chat_broadcasts_to_every_client_of_the_room() {
    let (code, ex) = run_script("ws_chat.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 1, "{ex}");
    assert!(thresholds_all_ok(&ex), "{ex}");
}

#[test]
fn socket_events_and_timers_run_while_an_async_request_is_awaited() {
    let (code, ex) = run_script("ws_async_request.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 3, "{ex}");
}

#[test]
fn a_blob_streams_its_bytes_as_k6_does() {
    let (code, ex) = run_script("blob_stream.js", |_| {});
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(metric(&ex, "checks")["fails"], 0, "{ex}");
    assert_eq!(metric(&ex, "checks")["passes"], 2, "{ex}");
}
