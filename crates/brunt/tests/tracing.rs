//! Trace context on every request (`--trace-context`, `options.tracing`, the
//! http-instrumentation-tempo jslib, `--run-id-header`) against an independent server:
//! `tests/tracing/headers_server.py` (Python's http.server) records the headers it received, and
//! the tests check their formats, the sampling ratio, and that the trace ids brunt kept (summary,
//! JSON output, results file, report) are ones the server saw.

mod common;

use common::{brunt, brunt_cmd, fails_with, output_within, stderr};
use serde_json::Value;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The server process, killed when the test ends.
struct Server {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The headers of every request so far, one map each.
    fn seen(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The values of header `name` across the requests.
    fn values(&self, name: &str) -> Vec<String> {
        self.seen()
            .iter()
            .filter_map(|h| h[name].as_str().map(str::to_string))
            .collect()
    }
}

fn server(dir: &Path) -> Server {
    let log = dir.join("headers.jsonl");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tracing/headers_server.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("the server prints its port");
    Server {
        child,
        url: format!("http://127.0.0.1:{port}/"),
        log,
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `traceparent: 00-{32 hex}-{16 hex}-{01|00}`: the trace id and the sampled flag.
fn w3c(v: &str) -> (String, bool) {
    let parts: Vec<&str> = v.split('-').collect();
    assert_eq!(parts.len(), 4, "{v}");
    assert_eq!(parts[0], "00", "{v}");
    assert!(is_hex(parts[1], 32) && is_hex(parts[2], 16), "{v}");
    assert!(matches!(parts[3], "01" | "00"), "{v}");
    (parts[1].to_string(), parts[3] == "01")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `brunt quick` with W3C trace context at a 25% sampling rate over 400 requests: every request
/// has a well-formed, distinct traceparent, the sampled share is within five standard deviations
/// of 25% (a false failure about once in two million runs), every request has the run id, and
/// the slowest requests of the summary, the JSON output, the results file and the report carry
/// trace ids the server saw, sampled ones where they are exemplars.
#[test]
fn quick_adds_w3c_trace_context_and_keeps_the_slowest_traces() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path());
    let p = |f: &str| dir.path().join(f).display().to_string();
    let out = output_within(
        brunt_cmd()
            .args(["quick", &srv.url, "--iterations", "400", "--vus", "4", "-q"])
            .args(["--trace-context", "w3c", "--trace-sampling", "0.25"])
            .args(["--run-id-header", "x-load-test-id"])
            .args(["--trace-url", "https://tempo.example/trace/{trace_id}"])
            .args(["--summary-export", &p("summary.json")])
            .args(["--out", &format!("json={}", p("samples.json"))])
            .args(["--out", &format!("results={}", p("results.json"))])
            .args(["--report", &p("report.html")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");

    let parents = srv.values("traceparent");
    assert_eq!(parents.len(), 400);
    let traces: Vec<(String, bool)> = parents.iter().map(|v| w3c(v)).collect();
    let ids: HashSet<&str> = traces.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), 400, "a fresh trace per request");
    let sampled: HashSet<&str> = traces
        .iter()
        .filter(|(_, s)| *s)
        .map(|(id, _)| id.as_str())
        .collect();
    // Binomial(400, 0.25): mean 100, standard deviation 8.66.
    assert!(
        (57..=143).contains(&sampled.len()),
        "{} of 400 sampled",
        sampled.len()
    );

    let run_ids: HashSet<String> = srv.values("x-load-test-id").into_iter().collect();
    assert_eq!(srv.values("x-load-test-id").len(), 400);
    assert_eq!(run_ids.len(), 1, "one run id: {run_ids:?}");
    let run_id = run_ids.into_iter().next().unwrap();
    assert!(is_hex(&run_id, 32), "{run_id}");
    assert!(
        err.contains(&format!("run id: {run_id} (header x-load-test-id)")),
        "{err}"
    );

    // The summary's slowest requests: sampled traces the server saw, slowest first, linked.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("slowest traced requests"), "{text}");
    let summary = read_json(&dir.path().join("summary.json"));
    let slowest = summary["brunt"]["slowest_requests"].as_array().unwrap();
    assert_eq!(slowest.len(), 5, "{slowest:?}");
    let mut last = f64::INFINITY;
    for r in slowest {
        let id = r["trace_id"].as_str().unwrap();
        assert!(
            sampled.contains(id),
            "{id} was not a sampled trace the server saw"
        );
        let d = r["duration"].as_f64().unwrap();
        assert!(d <= last, "slowest first: {slowest:?}");
        last = d;
        let link = format!("https://tempo.example/trace/{id}");
        assert_eq!(r["url"], link.as_str());
        assert!(text.contains(&link), "{text}");
        assert_eq!(r["method"], "GET");
    }

    // Every sample of a request carries its trace id in k6's JSON metadata.
    let samples = std::fs::read_to_string(dir.path().join("samples.json")).unwrap();
    let mut with_trace = 0;
    for line in samples.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["metric"] == "http_req_duration" && v["type"] == "Point" {
            let id = v["data"]["metadata"]["trace_id"].as_str().unwrap();
            assert!(ids.contains(id), "{id}");
            with_trace += 1;
        }
    }
    assert_eq!(with_trace, 400);

    // The results file keeps exemplars on its trends: sampled traces the server saw.
    let results = std::fs::read_to_string(dir.path().join("results.json")).unwrap();
    let mut exemplars = 0;
    for line in results.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        for s in v["series"].as_array().into_iter().flatten() {
            for e in s["exemplars"].as_array().into_iter().flatten() {
                assert!(sampled.contains(e["trace_id"].as_str().unwrap()), "{e}");
                exemplars += 1;
            }
        }
    }
    assert!(exemplars > 0, "{results}");

    // The report links the slowest traces, and so does one rebuilt from the results file.
    let report = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let slowest_id = slowest[0]["trace_id"].as_str().unwrap();
    assert!(report.contains(slowest_id) && report.contains("tempo.example"));
    let again = dir.path().join("again.html");
    let out = brunt(&[
        "report",
        &p("results.json"),
        "-o",
        again.to_str().unwrap(),
        "--trace-url",
        "https://tempo.example/trace/{trace_id}",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = std::fs::read_to_string(again).unwrap();
    assert!(
        again.contains(slowest_id),
        "the slowest trace is in the rebuilt report"
    );
}

fn write_script(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `options.tracing` in a script (b3), and `--trace-context jaeger` over it; every request
/// carries the chosen header in its format.
#[test]
fn run_takes_options_tracing_and_the_flag_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path());
    let script = write_script(
        dir.path(),
        "b3.js",
        "import http from 'k6/http';\n\
         export const options = { iterations: 20, tracing: { propagator: 'b3', sampling: 1 } };\n\
         export default function () { http.get(__ENV.URL); }\n",
    );
    let url = format!("URL={}", srv.url);
    let out = brunt(&["run", &script, "-q", "--no-summary", "-e", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let b3 = srv.values("b3");
    assert_eq!(b3.len(), 20);
    for v in &b3 {
        let parts: Vec<&str> = v.split('-').collect();
        assert!(
            parts.len() == 3 && is_hex(parts[0], 32) && is_hex(parts[1], 16) && parts[2] == "1",
            "{v}"
        );
    }
    let out = brunt(&[
        "run",
        &script,
        "-q",
        "--no-summary",
        "-e",
        &url,
        "--trace-context",
        "jaeger",
        "--trace-sampling",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let jaeger = srv.values("uber-trace-id");
    assert_eq!(jaeger.len(), 20);
    for v in &jaeger {
        let parts: Vec<&str> = v.split(':').collect();
        assert!(
            parts.len() == 4 && is_hex(parts[0], 32) && is_hex(parts[1], 16) && parts[2] == "0",
            "{v}"
        );
        assert_eq!(parts[3], "0", "sampling 0: none sampled");
    }
    assert_eq!(
        srv.values("b3").len(),
        20,
        "the flag replaced the script's propagator"
    );
}

/// A script written for k6 with the http-instrumentation-tempo jslib runs unchanged (offline:
/// brunt's built-in copy): each request carries a traceparent, and its samples the trace id the
/// jslib put in `exec.vu.metrics.metadata`, which the summary's slowest requests show.
#[test]
fn the_tempo_jslib_instruments_http_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path());
    let script = write_script(
        dir.path(),
        "jslib.js",
        "import http from 'k6/http';\n\
         import tempo from 'https://jslib.k6.io/http-instrumentation-tempo/1.0.1/index.js';\n\
         tempo.instrumentHTTP({ propagator: 'w3c' });\n\
         export const options = { iterations: 30 };\n\
         export default function () {\n\
           http.get(__ENV.URL);\n\
           http.post(__ENV.URL + 'p', 'x', { headers: { 'X-Mine': '1' } }).status;\n\
         }\n",
    );
    let cache = dir.path().join("modules");
    let export = dir.path().join("summary.json");
    let samples = dir.path().join("samples.json");
    let out = brunt(&[
        "run",
        &script,
        "-q",
        "--no-summary",
        "-e",
        &format!("URL={}", srv.url),
        "--module-cache",
        cache.to_str().unwrap(),
        "--summary-export",
        export.to_str().unwrap(),
        "--out",
        &format!("json={}", samples.display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let parents = srv.values("traceparent");
    assert_eq!(parents.len(), 60, "every GET and POST");
    let ids: HashSet<String> = parents.iter().map(|v| w3c(v).0).collect();
    assert_eq!(ids.len(), parents.len());
    let mut traced = 0;
    for line in std::fs::read_to_string(&samples).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["metric"] == "http_req_duration" && v["type"] == "Point" {
            let id = v["data"]["metadata"]["trace_id"].as_str().unwrap();
            assert!(ids.contains(id), "{id}");
            traced += 1;
        }
    }
    assert_eq!(traced, parents.len());
    let summary = read_json(&export);
    for r in summary["brunt"]["slowest_requests"].as_array().unwrap() {
        assert!(ids.contains(r["trace_id"].as_str().unwrap()), "{r}");
    }
}

#[test]
fn bad_tracing_input_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    fails_with(
        &["quick", "http://127.0.0.1:9/", "--trace-context", "zipkin"],
        1,
        "--trace-context: unknown propagator 'zipkin'; use w3c, b3 or jaeger",
    );
    fails_with(
        &[
            "quick",
            "http://127.0.0.1:9/",
            "--trace-context",
            "w3c",
            "--trace-sampling",
            "1.5",
        ],
        1,
        "--trace-sampling: sampling 1.5 must be between 0.0 and 1.0",
    );
    let script = write_script(
        dir.path(),
        "bad.js",
        "export const options = { tracing: { propagator: 'w3c', sampling: 'half' } };\n\
         export default function () {}\n",
    );
    fails_with(
        &["run", &script],
        104,
        "tracing: sampling: must be a number from 0 to 1, not ",
    );
    fails_with(
        &[
            "report",
            "results.json",
            "--trace-url",
            "https://tempo.example/",
        ],
        1,
        "--trace-url 'https://tempo.example/': put {trace_id} where the trace id goes",
    );
}
