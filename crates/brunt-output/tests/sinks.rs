//! `--out json=` and `--out csv=` files as k6-reading tools parse them.

use brunt_metrics::{builtin, RawSample, Registry, TagSet, Thresholds, Trace};
use brunt_output::OutSpec;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("brunt-output-{}-{name}", std::process::id()))
}

fn samples() -> Vec<RawSample> {
    let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_000);
    let tags = TagSet::new([
        ("status", "200"),
        ("method", "GET"),
        ("url", "http://x/a?b=1,2"),
        ("my_tag", "v"),
        ("vu", "3"),
    ]);
    vec![
        RawSample {
            metric: builtin::HTTP_REQ_DURATION,
            tags: tags.clone(),
            value: 12.5,
            time: t,
            trace: Trace::from_hex("4bf92f3577b34da6a3ce929d0e0e4736"),
        },
        RawSample {
            metric: builtin::HTTP_REQS,
            tags: tags.clone(),
            value: 1.0,
            time: t,
            trace: None,
        },
        RawSample {
            metric: builtin::HTTP_REQ_DURATION,
            tags: TagSet::empty(),
            value: 7.0,
            time: t + Duration::from_secs(1),
            trace: None,
        },
    ]
}

#[test]
fn json_lines_have_metric_then_point_lines() {
    let reg = Registry::new();
    let thresholds = Thresholds::from_options(
        &json!({
            "http_req_duration": ["p(95)<500", {"threshold": "max<900", "abortOnFail": true, "delayAbortEval": "10s"}],
            "http_req_duration{status:200}": ["avg<100"],
        }),
        &reg,
    )
    .unwrap();
    let path = temp("out.json");
    let spec: OutSpec = format!("json={}", path.display()).parse().unwrap();
    let mut sink = spec.open(&thresholds, None).unwrap();
    sink.write(&samples(), &reg).unwrap();
    sink.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "{text}");

    let m = &lines[0];
    assert_eq!(m["type"], "Metric");
    assert_eq!(m["metric"], "http_req_duration");
    assert_eq!(m["data"]["name"], "http_req_duration");
    assert_eq!(m["data"]["type"], "trend");
    assert_eq!(m["data"]["contains"], "time");
    assert_eq!(
        m["data"]["thresholds"],
        json!(["p(95)<500", {"threshold": "max<900", "abortOnFail": true, "delayAbortEval": "10s"}])
    );
    let subs = m["data"]["submetrics"].as_array().unwrap();
    let status = subs
        .iter()
        .find(|s| s["name"] == "http_req_duration{status:200}")
        .unwrap();
    assert_eq!(status["suffix"], "status:200");
    assert_eq!(status["tags"], json!({"status": "200"}));
    assert!(subs
        .iter()
        .any(|s| s["name"] == "http_req_duration{expected_response:true}"));

    let p = &lines[1];
    assert_eq!(p["type"], "Point");
    assert_eq!(p["metric"], "http_req_duration");
    assert_eq!(p["data"]["value"], 12.5);
    assert_eq!(p["data"]["tags"]["status"], "200");
    assert_eq!(p["data"]["tags"]["url"], "http://x/a?b=1,2");
    // As k6 writes a sample's metadata: the trace id the jslib or --trace-context set.
    assert_eq!(
        p["data"]["metadata"],
        json!({"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})
    );
    assert!(lines[4]["data"].get("metadata").is_none(), "{text}");
    let time = p["data"]["time"].as_str().unwrap();
    assert!(time.contains(".123456"), "{time}");
    assert!(
        time.ends_with('Z') || time[time.len() - 6..].starts_with(['+', '-']),
        "{time}"
    );

    // A metric's first sample brings its Metric line; metrics without thresholds list none.
    assert_eq!(lines[2]["type"], "Metric");
    assert_eq!(lines[2]["data"]["thresholds"], json!([]));
    assert_eq!(lines[2]["data"]["submetrics"], Value::Null);
    assert_eq!(lines[3]["metric"], "http_reqs");
    assert_eq!(lines[4]["type"], "Point");
    assert_eq!(lines[4]["data"]["tags"], json!({}));
    // Go writes whole numbers without a fraction.
    assert!(text.contains(r#""value":1,"#), "{text}");
    assert!(text.starts_with(r#"{"type":"Metric","data":{"name":"http_req_duration","type":"trend","contains":"time","thresholds":"#));
}

#[test]
fn csv_has_k6_columns() {
    let reg = Registry::new();
    let path = temp("out.csv");
    let spec: OutSpec = format!("csv={}", path.display()).parse().unwrap();
    let mut sink = spec.open(&Thresholds::default(), None).unwrap();
    sink.write(&samples(), &reg).unwrap();
    sink.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata"
    );
    assert_eq!(
        lines[1],
        r#"http_req_duration,1700000000,12.500000,,,,,,GET,,,,,200,,,"http://x/a?b=1,2",my_tag=v,vu=3"#
    );
    assert!(lines[2].starts_with("http_reqs,1700000000,1.000000,"));
    assert_eq!(
        lines[3],
        "http_req_duration,1700000001,7.000000,,,,,,,,,,,,,,,,"
    );
    assert_eq!(lines.len(), 4);
}

#[test]
fn gz_names_are_gzip_compressed() {
    use std::io::Read;
    let reg = Registry::new();
    let path = temp("out.csv.gz");
    let spec: OutSpec = format!("csv={}", path.display()).parse().unwrap();
    let mut sink = spec.open(&Thresholds::default(), None).unwrap();
    sink.write(&samples(), &reg).unwrap();
    sink.finish().unwrap();
    let raw = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.starts_with("metric_name,timestamp,"), "{text}");
    assert_eq!(text.lines().count(), 4);
}
