//! The end-of-test summary as a user and k6-reading tools see it: text lines, the
//! `--summary-export` file and handleSummary's `data`.

use brunt_metrics::{
    builtin, Aggregator, MetricType, Registry, Snapshot, TagSet, Thresholds, ValueType,
};
use brunt_output::{
    summary_export, text_summary, RunFacts, Summary, SummaryMode, SummaryOptions, TextOptions,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// 10 s run: 4 requests (3 ok, 1 failed), two checks, a nested group, vus 1..5, bytes.
fn run() -> (Arc<Registry>, Snapshot) {
    let reg = Arc::new(Registry::new());
    let mut a = Aggregator::new(reg.clone(), false);
    let ok = TagSet::new([
        ("status", "200"),
        ("expected_response", "true"),
        ("method", "GET"),
    ]);
    let bad = TagSet::new([
        ("status", "500"),
        ("expected_response", "false"),
        ("method", "GET"),
    ]);
    for v in [10.0, 20.0, 30.0] {
        a.add(builtin::HTTP_REQ_DURATION, &ok, v);
        a.add(builtin::HTTP_REQS, &ok, 1.0);
        a.add(builtin::HTTP_REQ_FAILED, &ok, 0.0);
    }
    a.add(builtin::HTTP_REQ_DURATION, &bad, 1500.0);
    a.add(builtin::HTTP_REQS, &bad, 1.0);
    a.add(builtin::HTTP_REQ_FAILED, &bad, 1.0);
    let root = TagSet::new([("group", "")]);
    for v in [1.0, 1.0, 1.0, 0.0] {
        a.add(builtin::CHECKS, &root.with([("check", "status is 200")]), v);
    }
    a.add(builtin::CHECKS, &root.with([("check", "has body")]), 1.0);
    let nested = TagSet::new([("group", "::orders"), ("check", "created")]);
    a.add(builtin::CHECKS, &nested, 1.0);
    a.add(builtin::DATA_RECEIVED, &TagSet::empty(), 12_345.0);
    for v in [1.0, 5.0, 3.0] {
        a.add(builtin::VUS, &TagSet::empty(), v);
    }
    a.add(builtin::ITERATIONS, &TagSet::empty(), 4.0);
    let mut s = Snapshot::default();
    s.merge_series(&a.take().series);
    (reg, s)
}

fn facts() -> RunFacts {
    RunFacts {
        elapsed: Duration::from_secs(10),
        vus_min: 1,
        vus_max: 5,
        iterations_complete: 4,
        iterations_interrupted: 1,
        scenarios: vec!["default: 5 looping VUs for 10s (gracefulStop: 30s)".into()],
        ..RunFacts::default()
    }
}

fn summary_in(thresholds: Value, mode: SummaryMode) -> Summary {
    let (reg, snap) = run();
    let t = Thresholds::from_options(&thresholds, &reg).unwrap();
    let opts = SummaryOptions {
        mode,
        ..SummaryOptions::default()
    };
    Summary::new(&snap, &reg, &t, facts(), opts)
}

/// The legacy layout, which most tests here read.
fn summary(thresholds: Value) -> Summary {
    summary_in(thresholds, SummaryMode::Legacy)
}

/// k6 v1's default layout, line for line (k6's summary.js): thresholds first with the tested
/// value (and, brunt's addition, how far a failed one missed), the checks' totals and list, then the metrics by category with the leaders aligned.
#[test]
fn compact_summary_has_k6_v1_layout() {
    let s = summary_in(
        json!({"http_req_duration": ["p(99.9)<500"], "http_req_duration{status:200}": ["max<100"]}),
        SummaryMode::Compact,
    );
    let text = s.text();
    let expected = "
  █ THRESHOLDS \n
    http_req_duration
    ✗ 'p(99.9)<500' p(99.9)=1.49s (missed by 995.59ms)

      {status:200}
      ✓ 'max<100' max=30ms


  █ TOTAL RESULTS \n
    checks_total.......: 6      0.6/s
    checks_succeeded...: 83.33% 5 out of 6
    checks_failed......: 16.66% 1 out of 6

    ✓ has body
    ✗ status is 200
      ↳  75% — ✓ 3 / ✗ 1
    ✓ created

    HTTP
";
    assert!(text.starts_with(expected), "{text}");
    let dur = line(&text, "http_req_duration....");
    assert!(
        dur.starts_with("    http_req_duration..............: avg=390ms"),
        "{dur}"
    );
    assert_eq!(
        line(&text, "http_req_failed"),
        "    http_req_failed................: 25.00% 1 out of 4"
    );
    assert!(line(&text, "vus").contains(": 3      min=1"), "{text}");
    for gone in ["http_req_waiting", "checks.....", "█ orders"] {
        assert!(!text.contains(gone), "{gone} in {text}");
    }
    let at = |s: &str| text.find(s).unwrap();
    assert!(
        at("    HTTP\n") < at("    EXECUTION\n") && at("    EXECUTION\n") < at("    NETWORK\n")
    );
}

fn line<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.trim_start().starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in\n{text}"))
}

#[test]
fn legacy_text_summary_has_k6_v0_lines() {
    let s = summary(json!({
        "http_req_duration": ["p(95)<500"],
        "http_req_duration{status:200}": ["max<100"],
    }));
    let text = s.text();
    assert!(text.starts_with('\n'));
    // Checks tree: passes, failures with their percentage, groups with their block mark.
    assert_eq!(line(&text, "✓ has body"), "     ✓ has body");
    assert!(
        text.contains("     ✗ status is 200\n      ↳  75% — ✓ 3 / ✗ 1\n"),
        "{text}"
    );
    assert!(
        text.contains("     █ orders\n\n       ✓ created\n"),
        "{text}"
    );
    // Metrics: the failed threshold marks its metric, the passed one its sub-metric.
    let dur = line(&text, "✗ http_req_duration");
    assert!(dur.starts_with("   ✗ http_req_duration...."), "{dur}");
    assert!(dur.contains(": avg=390ms"), "{dur}");
    assert!(
        dur.contains("min=10ms") && dur.contains("max=1.5s") && dur.contains("p(95)="),
        "{dur}"
    );
    let sub = line(&text, "✓ { status:200 }");
    assert!(sub.starts_with("     ✓ { status:200 }"), "{sub}");
    let expected = line(&text, "{ expected_response:true }");
    assert!(expected.contains("max=30ms"), "{expected}");
    // All leaders end in one column.
    let col = |l: &str| l[..l.find(".: ").unwrap()].chars().count();
    assert_eq!(col(dur), col(sub));
    assert_eq!(col(dur), col(line(&text, "http_reqs")));
    assert_eq!(col(dur), col(expected));
    // Counters, rates, gauges, data.
    assert!(line(&text, "http_reqs").contains(": 4 "), "{text}");
    assert!(line(&text, "http_reqs").ends_with("0.4/s"), "{text}");
    let failed = line(&text, "http_req_failed");
    assert!(
        failed.contains("25.00%") && failed.contains("✓ 1") && failed.contains("✗ 3"),
        "{failed}"
    );
    let vus = line(&text, "vus");
    assert!(vus.contains("min=1") && vus.contains("max=5"), "{vus}");
    assert!(line(&text, "data_received").contains("12 kB") && text.contains("1.2 kB/s"));
    // Metric order: by name with '_' before letters, sub-metrics right after their parent.
    let order: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("...") || l.contains(".:"))
        .map(|l| {
            l.trim_start_matches([' ', '✓', '✗'])
                .split('.')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        order,
        [
            "checks",
            "data_received",
            "http_req_duration",
            "{ expected_response:true }",
            "{ status:200 }",
            "http_req_failed",
            "http_reqs",
            "iterations",
            "vus"
        ]
    );
    // Run facts follow.
    assert!(
        text.contains("running (10s), 1 to 5 VUs, 4 complete and 1 interrupted iterations"),
        "{text}"
    );
    assert!(text.contains("* default: 5 looping VUs for 10s"), "{text}");
    assert!(!text.contains('\x1b'));
    assert!(s.thresholds_failed());
}

#[test]
fn trend_stats_choose_the_columns_and_colours_are_opt_in() {
    let (reg, snap) = run();
    let opts = SummaryOptions {
        trend_stats: SummaryOptions::parse_trend_stats("avg,p(99),count").unwrap(),
        colors: true,
        ..SummaryOptions::default()
    };
    let s = Summary::new(&snap, &reg, &Thresholds::default(), facts(), opts);
    let text = s.text();
    let dur = line(&text, "http_req_duration");
    assert!(
        dur.contains("avg=") && dur.contains("p(99)=") && dur.contains("count="),
        "{dur}"
    );
    assert!(!dur.contains("med="));
    assert!(text.contains("\x1b[36m"), "values are cyan");
    assert_eq!(
        s.data()["metrics"]["http_req_duration"]["values"]["count"],
        4
    );
}

#[test]
fn saturation_is_warned() {
    let (reg, snap) = run();
    let f = RunFacts {
        saturation: Some("the load generator was saturated: CPU at 100%".into()),
        ..facts()
    };
    let s = Summary::new(
        &snap,
        &reg,
        &Thresholds::default(),
        f,
        SummaryOptions::default(),
    );
    assert!(s
        .text()
        .contains("WARNING: the load generator was saturated: CPU at 100%"));
}

#[test]
fn summary_export_has_k6_shape() {
    let s = summary(json!({
        "http_req_duration": ["p(95)<500", "avg<1000"],
        "checks": ["rate>0.5"],
    }));
    let text = s.export_json();
    assert!(text.contains("\n    \"metrics\": {"), "four-space indent");
    let v: Value = serde_json::from_str(&text).unwrap();
    let root = v.as_object().unwrap();
    let mut keys: Vec<&String> = root.keys().collect();
    keys.sort();
    assert_eq!(keys, ["metrics", "root_group"]);
    let m = &v["metrics"];
    // Trends: the stats at top level, thresholds as {expr: failed}.
    let d = &m["http_req_duration"];
    for k in ["avg", "min", "med", "max", "p(90)", "p(95)"] {
        assert!(d[k].is_number(), "{k} in {d}");
    }
    assert_eq!(d["min"], 10);
    assert_eq!(
        d["thresholds"]["p(95)<500"], true,
        "p(95) is 1.5s: failed is true"
    );
    assert_eq!(d["thresholds"]["avg<1000"], false);
    // Counters count and rate; tools read metrics.http_reqs.rate.
    assert_eq!(m["http_reqs"]["count"], 4);
    assert_eq!(m["http_reqs"]["rate"].as_f64(), Some(0.4));
    // Rates: passes, fails and value (not rate).
    let c = &m["checks"];
    assert_eq!(
        (c["passes"].as_u64(), c["fails"].as_u64()),
        (Some(5), Some(1))
    );
    assert!((c["value"].as_f64().unwrap() - 5.0 / 6.0).abs() < 1e-9);
    assert!(c.get("rate").is_none());
    assert_eq!(c["thresholds"]["rate>0.5"], false);
    // Gauges.
    assert_eq!(
        (
            m["vus"]["value"].as_u64(),
            m["vus"]["min"].as_u64(),
            m["vus"]["max"].as_u64()
        ),
        (Some(3), Some(1), Some(5))
    );
    // Metrics without thresholds have no thresholds key.
    assert!(m["http_reqs"].get("thresholds").is_none());
    // root_group: checks and groups keyed by name.
    let g = &v["root_group"];
    assert_eq!(g["name"], "");
    assert_eq!(g["path"], "");
    assert_eq!(g["id"], "d41d8cd98f00b204e9800998ecf8427e");
    let chk = &g["checks"]["status is 200"];
    assert_eq!(chk["name"], "status is 200");
    assert_eq!(chk["path"], "::status is 200");
    assert_eq!(
        (chk["passes"].as_u64(), chk["fails"].as_u64()),
        (Some(3), Some(1))
    );
    assert!(chk["id"].as_str().unwrap().len() == 32);
    assert_eq!(g["groups"]["orders"]["checks"]["created"]["passes"], 1);
    assert_eq!(g["groups"]["orders"]["path"], "::orders");
}

#[test]
fn handle_summary_data_has_k6_shape() {
    let (reg, snap) = run();
    let t = Thresholds::from_options(&json!({"http_req_failed": ["rate<0.5"]}), &reg).unwrap();
    let f = RunFacts {
        setup_data: Some(json!({"token": "abc"})),
        is_stdout_tty: true,
        ..facts()
    };
    let legacy = SummaryOptions {
        mode: SummaryMode::Legacy,
        ..SummaryOptions::default()
    };
    let s = Summary::new(&snap, &reg, &t, f, legacy);
    let d = s.data();
    let failed = &d["metrics"]["http_req_failed"];
    assert_eq!(failed["type"], "rate");
    assert_eq!(failed["contains"], "default");
    assert_eq!(failed["values"]["rate"].as_f64(), Some(0.25));
    assert_eq!(failed["thresholds"]["rate<0.5"]["ok"], true);
    assert_eq!(d["metrics"]["http_req_duration"]["contains"], "time");
    assert_eq!(d["metrics"]["data_received"]["contains"], "data");
    assert_eq!(
        d["options"]["summaryTrendStats"],
        json!(["avg", "min", "med", "max", "p(90)", "p(95)"]),
        "k6's default trend stats, p(99) only when asked for"
    );
    let values = d["metrics"]["http_req_duration"]["values"]
        .as_object()
        .unwrap();
    let mut stats: Vec<&str> = values.keys().map(String::as_str).collect();
    stats.sort();
    assert_eq!(stats, ["avg", "max", "med", "min", "p(90)", "p(95)"]);
    assert_eq!(d["options"]["summaryTimeUnit"], "");
    assert_eq!(d["options"]["noColor"], true);
    assert_eq!(d["state"]["isStdOutTTY"], true);
    assert_eq!(d["state"]["isStdErrTTY"], false);
    assert_eq!(d["state"]["testRunDurationMs"], 10000);
    assert_eq!(d["setup_data"]["token"], "abc");
    assert!(d["root_group"]["checks"].is_array() && d["root_group"]["groups"].is_array());
    // The export derived from the same data carries setup_data too, as k6's does.
    assert_eq!(summary_export(d)["setup_data"]["token"], "abc");
    assert!(!s.thresholds_failed());
    // jslib textSummary over (possibly user-edited) data renders without panicking.
    let text = text_summary(
        &json!({"metrics": {"x": {"type": "weird"}}}),
        &TextOptions::default(),
    );
    assert!(text.contains("x...: [no data]"), "{text}");
}

#[test]
fn thresholds_without_samples_still_show_their_metrics() {
    let (reg, snap) = run();
    let my = reg
        .register("my_trend", MetricType::Trend, ValueType::Time)
        .unwrap();
    let _ = my;
    let t = Thresholds::from_options(
        &json!({"my_trend": ["avg<10"], "http_req_duration{status:404}": ["p(95)<100"], "dropped_iterations{scenario:x}": ["count<1"]}),
        &reg,
    )
    .unwrap();
    let legacy = SummaryOptions {
        mode: SummaryMode::Legacy,
        ..SummaryOptions::default()
    };
    let s = Summary::new(&snap, &reg, &t, facts(), legacy);
    let m = &s.data()["metrics"];
    assert_eq!(m["my_trend"]["values"]["avg"], 0);
    assert_eq!(m["my_trend"]["thresholds"]["avg<10"]["ok"], true);
    assert_eq!(m["http_req_duration{status:404}"]["values"]["p(95)"], 0);
    // The parent of a sub-metric with thresholds is shown even without samples.
    assert_eq!(m["dropped_iterations"]["values"]["count"], 0);
    assert_eq!(
        m["dropped_iterations{scenario:x}"]["thresholds"]["count<1"]["ok"],
        true
    );
    let text = s.text();
    assert!(line(&text, "✓ my_trend").contains("avg=0s"), "{text}");
}

#[test]
fn monitor_events_and_generator_limits_follow_the_metrics() {
    let (reg, snap) = run();
    let f = RunFacts {
        events: vec!["at 2.0s, api: process 42 exited (killed by signal 9 (SIGKILL))".into()],
        generator: vec!["3 iteration(s) were dropped".into()],
        ..facts()
    };
    let text = Summary::new(
        &snap,
        &reg,
        &Thresholds::default(),
        f,
        SummaryOptions::default(),
    )
    .text();
    let events = text.find("monitor events:").expect("events listed");
    assert!(events > text.find("iterations").unwrap());
    assert!(text.contains("  * at 2.0s, api: process 42 exited (killed by signal 9 (SIGKILL))"));
    assert!(text.contains("WARNING: 3 iteration(s) were dropped"));
}
