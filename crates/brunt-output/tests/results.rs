//! The results file: written as a run goes, read back losslessly, and refused with a clear error
//! when it is of another version, corrupt, or not a results file.

use brunt_metrics::{builtin, Aggregator, Registry, Snapshot, TagSet, Thresholds};
use brunt_output::{IntervalView, OutSpec, Results, ResultsError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn temp(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(name).tempdir().unwrap()
}

#[test]
fn a_run_reads_back_with_the_same_percentiles_and_verdicts() {
    let dir = temp("results");
    // Compressed like every file output named *.gz, and read back the same.
    let path = dir.path().join("results.json.gz");
    let spec: OutSpec = format!("results={}", path.display()).parse().unwrap();
    let registry = Arc::new(Registry::new());
    let mut thresholds = Thresholds::default();
    thresholds
        .add_cli("http_req_duration: p(95)<200", &registry)
        .unwrap();
    let mut sink = spec.open(&thresholds, None).unwrap();
    assert!(
        !sink.wants_raw(),
        "aggregates only: the engine keeps no raw samples for it"
    );
    let a = TagSet::new([("name", "a"), ("status", "200")]);
    let b = TagSet::new([("name", "b"), ("status", "500")]);
    let mut total = Snapshot::default();
    for second in 1..=3u32 {
        let mut agg = Aggregator::new(registry.clone(), false);
        for i in 0..100 {
            let tags = if i % 10 == 0 { &b } else { &a };
            agg.add(builtin::HTTP_REQS, tags, 1.0);
            agg.add(builtin::HTTP_REQ_DURATION, tags, f64::from(i * second));
            agg.add(
                builtin::HTTP_REQ_FAILED,
                tags,
                f64::from(u8::from(tags == &b)),
            );
        }
        agg.add(builtin::VUS, &TagSet::empty(), 7.0);
        let series = agg.take().series;
        total.merge_series(&series);
        let view = IntervalView {
            elapsed: Duration::from_secs(u64::from(second)),
            time: SystemTime::now(),
            series: &series,
            total: &total,
            judged: &total,
            judged_elapsed: Duration::from_secs(u64::from(second)),
            registry: &registry,
            scenarios: &["default: 100 iterations shared among 4 VUs".to_string()],
            is_final: second == 3,
        };
        sink.interval(&view).unwrap();
    }
    sink.finish().unwrap();

    let back = Results::read(&path).unwrap();
    assert_eq!(back.intervals.len(), 3);
    assert_eq!(back.elapsed(), Duration::from_secs(3));
    let totals = back.totals();
    for stat in ["count", "avg", "min", "max", "p(95)", "p(99)", "med"] {
        let want = total
            .metric(builtin::HTTP_REQ_DURATION)
            .unwrap()
            .stat(stat, 3.0)
            .unwrap();
        let got = totals
            .metric(builtin::HTTP_REQ_DURATION)
            .unwrap()
            .stat(stat, 3.0)
            .unwrap();
        if stat.starts_with('p') || stat == "med" {
            // The run kept these few samples (k6's exact percentiles); the file keeps the
            // histogram, whose interpolated estimate is within 0.1%.
            assert!(
                (got - want).abs() <= want / 1000.0,
                "{stat}: {got} vs {want}"
            );
        } else {
            assert_eq!(got, want, "{stat} survives the file exactly");
        }
    }
    let failed = totals
        .submetric(builtin::HTTP_REQ_FAILED, &TagSet::new([("name", "b")]))
        .unwrap();
    assert_eq!(
        failed.stat("rate", 3.0),
        Some(1.0),
        "per-name breakdowns are kept"
    );
    assert_eq!(
        totals
            .metric(builtin::HTTP_REQS)
            .unwrap()
            .stat("count", 3.0),
        Some(300.0)
    );
    let end = back.end.unwrap();
    assert_eq!(
        end.scenarios,
        vec!["default: 100 iterations shared among 4 VUs"]
    );
    assert_eq!(end.thresholds.len(), 1);
    assert!(!end.thresholds[0].ok, "p(95) of 0..297 ms is over 200");
}

#[test]
fn other_versions_corrupt_files_and_other_json_are_refused_by_name() {
    let dir = temp("bad-results");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let header = |v: u32| {
        format!(
            r#"{{"type":"header","format":"brunt-results","version":{v},"brunt":"9","started":0}}"#
        )
    };
    let v2 = write("v2.json", &header(2));
    let e = Results::read(&v2).unwrap_err();
    assert!(matches!(e, ResultsError::Version { found: 2, .. }), "{e}");
    assert!(e.to_string().contains("v2.json") && e.to_string().contains("version 1"));

    let corrupt = write(
        "corrupt.json",
        &format!("{}\n{{\"type\":\"interval\",", header(1)),
    );
    let e = Results::read(&corrupt).unwrap_err().to_string();
    assert!(e.contains("corrupt.json") && e.contains("line 2"), "{e}");

    let bad_hist = write(
        "hist.json",
        &format!(
            "{}\n{}",
            header(1),
            r#"{"type":"interval","elapsed":1.0,"time":0,"series":[{"metric":"http_req_duration","type":"trend","contains":"time","tags":{},"count":1,"sum":1,"hist":"AAAA"}]}"#
        ),
    );
    let e = Results::read(&bad_hist).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("histogram"), "{e}");

    let other = write("summary.json", r#"{"metrics":{}}"#);
    let e = Results::read(&other).unwrap_err().to_string();
    assert!(e.contains("is not a brunt results file"), "{e}");

    let e = Results::read(&dir.path().join("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.json"), "{e}");
}

#[test]
fn results_needs_a_file_and_remote_outputs_check_their_options() {
    let e = "results".parse::<OutSpec>().unwrap_err().to_string();
    assert!(e.contains("results=FILE"), "{e}");
    for (out, says) in [
        ("prometheus-rw=not a url", "is not a URL"),
        ("prometheus-rw=ftp://x/", "http:// or https://"),
        ("influxdb=http://localhost:8086", "database"),
        (
            "influxdb=http://localhost:8086/k6,flush=soon",
            "flush 'soon'",
        ),
        (
            "prometheus-rw=http://h/api/v1/write,label.9x=y",
            "label name '9x'",
        ),
        (
            "prometheus-rw=http://h/api/v1/write,colour=red",
            "unknown option 'colour'",
        ),
        (
            "prometheus-rw=http://h/api/v1/write,header.X Y=1",
            "not a valid HTTP header",
        ),
    ] {
        let e = out.parse::<OutSpec>().unwrap_err().to_string();
        assert!(e.contains(says) && e.starts_with("--out "), "{out}: {e}");
    }
    let ok: OutSpec =
        "prometheus-rw=http://h:9090/api/v1/write,label.env=ci,header.X-Scope-OrgID=t1,flush=5s"
            .parse()
            .unwrap();
    let remote = ok.remote.unwrap();
    assert_eq!(remote.labels, vec![("env".to_string(), "ci".to_string())]);
    assert_eq!(
        remote.headers,
        vec![("X-Scope-OrgID".to_string(), "t1".to_string())]
    );
    assert_eq!(remote.flush, Duration::from_secs(5));
}

/// Writes a results file of `seconds` seconds of `reqs` requests taking `ms` each, with a
/// custom counter registered after `extra_metrics` others (so ids differ between files).
fn instance(path: &std::path::Path, seconds: u32, ms: f64, extra_metrics: &[&str]) {
    let registry = Arc::new(Registry::new());
    for m in extra_metrics {
        registry
            .register(
                m,
                brunt_metrics::MetricType::Counter,
                brunt_metrics::ValueType::Default,
            )
            .unwrap();
    }
    let orders = registry
        .register(
            "orders",
            brunt_metrics::MetricType::Counter,
            brunt_metrics::ValueType::Default,
        )
        .unwrap();
    let mut thresholds = Thresholds::default();
    thresholds
        .add_cli("http_req_duration: p(95)<100", &registry)
        .unwrap();
    let spec: OutSpec = format!("results={}", path.display()).parse().unwrap();
    let mut sink = spec.open(&thresholds, None).unwrap();
    let mut total = Snapshot::default();
    let tags = TagSet::new([("name", "a")]);
    for s in 1..=seconds {
        let mut agg = Aggregator::new(registry.clone(), false);
        agg.add(builtin::VUS, &TagSet::empty(), 10.0);
        for _ in 0..100 {
            agg.add(builtin::HTTP_REQS, &tags, 1.0);
            agg.add(builtin::HTTP_REQ_DURATION, &tags, ms);
            agg.add(orders, &tags, 2.0);
        }
        let series = agg.take().series;
        total.merge_series(&series);
        let view = IntervalView {
            elapsed: Duration::from_millis(u64::from(s) * 1000 + 3),
            time: SystemTime::now(),
            series: &series,
            total: &total,
            judged: &total,
            judged_elapsed: Duration::from_millis(u64::from(s) * 1000 + 3),
            registry: &registry,
            scenarios: &["default: 10 looping VUs".to_string()],
            is_final: s == seconds,
        };
        sink.interval(&view).unwrap();
    }
    sink.finish().unwrap();
}

#[test]
fn instances_of_a_distributed_run_merge_exactly() {
    let dir = temp("merge");
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    // Instance a is fast, b is slow and ran a second longer: 95% of the whole is not under 100.
    instance(&a, 3, 10.0, &[]);
    instance(&b, 4, 300.0, &["other_metric"]);
    let mut merged = Results::read(&a).unwrap();
    assert!(
        merged.end.as_ref().unwrap().thresholds[0].ok,
        "a alone passes"
    );
    merged.merge(&Results::read(&b).unwrap(), "b.json").unwrap();
    assert_eq!(
        merged.intervals.len(),
        4,
        "seconds are matched, not appended"
    );
    let totals = merged.totals();
    let reqs = totals.metric(builtin::HTTP_REQS).unwrap();
    assert_eq!(reqs.stat("count", 1.0), Some(700.0));
    let orders = merged.registry.get("orders").unwrap();
    assert_eq!(
        totals.metric(orders).unwrap().stat("count", 1.0),
        Some(1400.0)
    );
    let d = totals.metric(builtin::HTTP_REQ_DURATION).unwrap();
    assert!(
        (d.stat("med", 1.0).unwrap() - 300.0).abs() < 0.5,
        "4 of 7 seconds were slow"
    );
    let vus = |i: usize| {
        merged.intervals[i]
            .series
            .iter()
            .find(|((id, _), _)| *id == builtin::VUS)
            .map(|(_, a)| a.stat("value", 1.0))
    };
    assert_eq!(vus(0), Some(Some(20.0)), "both instances' VUs");
    assert_eq!(vus(3), Some(Some(10.0)), "only b ran the last second");
    let end = merged.end.unwrap();
    assert!(!end.thresholds[0].ok, "re-evaluated on the merged totals");
    assert_eq!(end.scenarios.len(), 1);
}
