//! `--out opentelemetry` decoded by an independent receiver: `tests/otlp/receiver.py` parses
//! each export with the official OTLP definitions (the `opentelemetry-proto` package; `grpcio`
//! for gRPC) and the tests check every metric brunt sent, its type, unit, attributes and the
//! exemplars' trace ids, over http/protobuf and gRPC. Skipped (with a note) where the Python
//! packages are missing.

mod common;

use common::{brunt_cmd, fails_with, output_within, stderr, target_process, Helper};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts the receiver in `mode` (http or grpc) writing to `log`; None (the test skips) when
/// its Python packages are missing.
fn receiver(mode: &str, log: &Path) -> Option<(Helper, u16)> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otlp/receiver.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(mode)
        .arg(log)
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take()?)
        .read_line(&mut line)
        .ok()?;
    let port = line.trim().parse().ok();
    let killed = Helper(child);
    match port {
        Some(port) => Some((killed, port)),
        None => {
            eprintln!(
                "note: the OTLP receiver needs Python's opentelemetry-proto and grpcio; skipped"
            );
            None
        }
    }
}

/// The exports the receiver decoded, in order.
fn exports(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Protobuf JSON writes 64-bit integers as strings.
fn int(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_u64().unwrap(),
    }
}

fn attrs(point: &Value) -> HashMap<String, String> {
    point["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|kv| {
            (
                kv["key"].as_str().unwrap().to_string(),
                kv["value"]["string_value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Runs 200 traced requests against `brunt target` with the output on `env`; returns the
/// trace ids brunt sent (from its JSON output's metadata).
fn run(env: &[(&str, String)], dir: &Path) -> HashSet<String> {
    let (target, url) = target_process(brunt_cmd(), &[]);
    let _target = target;
    let samples = dir.join("samples.json");
    let mut cmd = brunt_cmd();
    cmd.args([
        "quick",
        &format!("{url}/json"),
        "--iterations",
        "200",
        "--vus",
        "2",
        "-q",
    ])
    .args(["--trace-context", "w3c", "--out", "opentelemetry"])
    .args(["--out", &format!("json={}", samples.display())])
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = output_within(cmd.spawn().unwrap(), Duration::from_secs(60));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("not delivered"), "{err}");
    let mut ids = HashSet::new();
    for line in std::fs::read_to_string(samples).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(id) = v["data"]["metadata"]["trace_id"].as_str() {
            ids.insert(id.to_string());
        }
    }
    assert_eq!(ids.len(), 200);
    ids
}

/// The metrics of the last export (cumulative: the whole run), by name.
fn last_metrics(log: &Path) -> (Value, HashMap<String, Value>) {
    let all = exports(log);
    let last = all.last().expect("at least one export").clone();
    let rm = &last["request"]["resource_metrics"][0];
    let metrics = rm["scope_metrics"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), m.clone()))
        .collect();
    (last, metrics)
}

/// k6's mapping, checked metric by metric on what the receiver decoded.
fn check_metrics(
    metrics: &HashMap<String, Value>,
    prefix: &str,
    ids: &HashSet<String>,
    explicit: bool,
) {
    let m = |name: &str| {
        metrics
            .get(&format!("{prefix}{name}"))
            .unwrap_or_else(|| panic!("no {prefix}{name} in {:?}", metrics.keys()))
    };
    // Counter: a monotonic, cumulative Sum of doubles.
    let reqs = &m("http_reqs")["sum"];
    assert_eq!(reqs["is_monotonic"], true);
    assert_eq!(
        reqs["aggregation_temporality"],
        "AGGREGATION_TEMPORALITY_CUMULATIVE"
    );
    let points = reqs["data_points"].as_array().unwrap();
    let total: f64 = points
        .iter()
        .map(|p| p["as_double"].as_f64().unwrap())
        .sum();
    assert_eq!(total, 200.0);
    let a = attrs(&points[0]);
    assert_eq!(a["method"], "GET");
    assert_eq!(a["status"], "200");
    assert_eq!(a["scenario"], "default");
    assert!(a["name"].ends_with("/json"), "{a:?}");
    assert_eq!(m("data_sent")["unit"], "By");
    // Rate: the Int Sum <name>.total split by condition.
    let failed = &m("http_req_failed.total")["sum"]["data_points"];
    let zero: u64 = failed
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| attrs(p)["condition"] == "zero")
        .map(|p| int(&p["as_int"]))
        .sum();
    assert_eq!(zero, 200, "{failed}");
    // Gauge.
    assert!(m("vus")["gauge"]["data_points"][0]["as_double"].is_number());
    // Trend: a histogram in ms with every request, and exemplars of brunt's traces.
    let duration = m("http_req_duration");
    assert_eq!(duration["unit"], "ms");
    let kind = if explicit {
        "histogram"
    } else {
        "exponential_histogram"
    };
    let points = duration[kind]["data_points"].as_array().unwrap();
    let mut count = 0;
    let mut exemplars = 0;
    for p in points {
        let n = int(&p["count"]);
        count += n;
        let in_buckets: u64 = if explicit {
            assert_eq!(p["explicit_bounds"].as_array().unwrap().len(), 15);
            p["bucket_counts"].as_array().unwrap().iter().map(int).sum()
        } else {
            p["positive"]["bucket_counts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(int)
                .sum::<u64>()
                + p.get("zero_count").map_or(0, int)
        };
        assert_eq!(in_buckets, n, "{p}");
        assert!(p["min"].as_f64().unwrap() <= p["max"].as_f64().unwrap());
        for e in p["exemplars"].as_array().into_iter().flatten() {
            let id = e["trace_id"].as_str().unwrap();
            assert!(ids.contains(id), "exemplar {id} is not a trace brunt sent");
            assert_eq!(e["span_id"].as_str().unwrap().len(), 16);
            assert!(e["as_double"].as_f64().unwrap() > 0.0);
            exemplars += 1;
        }
    }
    assert_eq!(count, 200);
    assert!(exemplars > 0, "{duration}");
}

#[test]
fn http_protobuf_sends_every_metric_with_k6s_mapping_and_exemplars() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("exports.jsonl");
    let Some((_receiver, port)) = receiver("http", &log) else {
        return;
    };
    let ids = run(
        &[
            ("K6_OTEL_EXPORTER_PROTOCOL", "http/protobuf".into()),
            (
                "K6_OTEL_HTTP_EXPORTER_ENDPOINT",
                format!("127.0.0.1:{port}"),
            ),
            ("K6_OTEL_HTTP_EXPORTER_INSECURE", "true".into()),
            ("K6_OTEL_EXPORT_INTERVAL", "1s".into()),
            ("K6_OTEL_METRIC_PREFIX", "k6_".into()),
            ("K6_OTEL_SERVICE_NAME", "checkout-load".into()),
            ("K6_OTEL_HEADERS", "X-Scope-OrgID=tenant%201".into()),
        ],
        dir.path(),
    );
    let (last, metrics) = last_metrics(&log);
    assert_eq!(last["headers"]["x-scope-orgid"], "tenant 1");
    let resource = attrs(&last["request"]["resource_metrics"][0]["resource"]);
    assert_eq!(resource["service.name"], "checkout-load");
    check_metrics(&metrics, "k6_", &ids, false);
}

#[test]
fn grpc_sends_the_same_with_explicit_buckets_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("exports.jsonl");
    let Some((_receiver, port)) = receiver("grpc", &log) else {
        return;
    };
    let ids = run(
        &[
            (
                "K6_OTEL_GRPC_EXPORTER_ENDPOINT",
                format!("127.0.0.1:{port}"),
            ),
            ("K6_OTEL_GRPC_EXPORTER_INSECURE", "true".into()),
            ("K6_OTEL_HEADERS", "x-tenant=t1".into()),
            (
                "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                "explicit_bucket_histogram".into(),
            ),
        ],
        dir.path(),
    );
    let (last, metrics) = last_metrics(&log);
    assert_eq!(last["headers"]["x-tenant"], "t1");
    let resource = attrs(&last["request"]["resource_metrics"][0]["resource"]);
    assert_eq!(resource["service.name"], "k6");
    check_metrics(&metrics, "", &ids, true);
}

#[test]
fn bad_settings_are_refused_before_the_run() {
    let out = brunt_cmd()
        .args(["quick", "http://127.0.0.1:9/", "--out", "opentelemetry"])
        .env("K6_OTEL_EXPORTER_PROTOCOL", "http")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("K6_OTEL_EXPORTER_PROTOCOL: unsupported exporter protocol 'http'"),
        "{}",
        stderr(&out)
    );
    fails_with(
        &[
            "quick",
            "http://127.0.0.1:9/",
            "--out",
            "opentelemetry=localhost:4317",
        ],
        2,
        "takes no value",
    );
}
