//! `brunt replay`: the target sees the logged requests (method, path, query, headers, body) in
//! the logged order; `--speed`, `--rate-scale` and `--loop` change the run's length and count
//! as documented; bad logs and flags fail with the file and the reason.

mod common;

use brunt_workload::synth::{Starts, Synth, Written};
use common::{brunt, brunt_cmd, fails_with, free_port, output_within, stderr, target_process};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A loopback HTTP/1.1 server (Python's standard library) that prints each request it gets as
/// `METHOD TARGET X-REPLAY BODY`, one line each, and answers 200.
const RECORDER: &str = r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else "-"
        print(self.command, self.path, self.headers.get("X-Replay", "-"), body, flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    do_GET = do_POST = do_PUT = do_DELETE = answer
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("listening", flush=True)
srv.serve_forever()
"#;

fn recorder() -> (std::process::Child, u16) {
    let port = free_port();
    let mut child = Command::new("python3")
        .args(["-c", RECORDER, &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening"), "{line}");
    (child, port)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `n` combined-format lines one second apart.
fn combined_log(dir: &Path, n: u64) -> PathBuf {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "10.0.0.1 - - [01/Jan/2026:00:00:{:02} +0000] \"GET /api/items/{i} HTTP/1.1\" 200 12 \"-\" \"test\"\n",
            i % 60
        ));
    }
    write(dir, "access.log", &text)
}

/// A JSON log of `n` requests `gap_ms` apart, with sub-second times, headers and bodies.
fn json_log(dir: &Path, n: u64, gap_ms: u64) -> (PathBuf, Vec<String>) {
    let mut text = String::new();
    let mut want = Vec::new();
    for i in 0..n {
        let ms = 1000 + i * gap_ms;
        let time = format!("2026-01-01T00:00:{:02}.{:03}Z", ms / 1000, ms % 1000);
        if i % 3 == 2 {
            text.push_str(&format!(
                r#"{{"time":"{time}","method":"POST","path":"/api/cart?item={i}","status":201,"request_headers":{{"X-Replay":"r{i}","Host":"prod.example.com"}},"request_body":"{{\"qty\":{i}}}"}}"#
            ));
            want.push(format!("POST /api/cart?item={i} r{i} {{\"qty\":{i}}}"));
        } else {
            text.push_str(&format!(
                r#"{{"time":"{time}","method":"GET","path":"/api/items/{i}?page={}","status":200,"request_headers":{{"X-Replay":"r{i}"}}}}"#,
                i % 2
            ));
            want.push(format!("GET /api/items/{i}?page={} r{i} -", i % 2));
        }
        text.push('\n');
    }
    (write(dir, "app.jsonl", &text), want)
}

/// Runs `brunt replay ARGS --quiet --summary-export FILE`; returns the output and the export.
fn replay(args: &[&str], export: &Path) -> (std::process::Output, serde_json::Value) {
    let child = brunt_cmd()
        .arg("replay")
        .args(args)
        .args(["--quiet", "--no-color", "--summary-export"])
        .arg(export)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json = serde_json::from_str(&std::fs::read_to_string(export).unwrap()).unwrap();
    (out, json)
}

/// Replays `log` with `args` against a `brunt target` of its own; returns the summary export.
fn replay_on_target(dir: &Path, log: &Path, args: &[&str]) -> serde_json::Value {
    let (target, base) = target_process(brunt_cmd(), &[]);
    let export = dir.join("summary.json");
    let mut all = vec![log.to_str().unwrap(), "--target", &base];
    all.extend_from_slice(args);
    let (_, json) = replay(&all, &export);
    drop(target);
    json
}

fn count(export: &serde_json::Value, metric: &str) -> f64 {
    export["metrics"][metric]["count"].as_f64().unwrap_or(0.0)
}

#[test]
fn the_target_sees_the_logged_requests_in_order() {
    let dir = tempfile::tempdir().unwrap();
    // 30 requests 40 ms apart: far enough apart that the order is the log's.
    let (log, want) = json_log(dir.path(), 30, 40);
    let (mut server, port) = recorder();
    let export = dir.path().join("summary.json");
    let target = format!("http://127.0.0.1:{port}");
    let (out, json) = replay(
        &[
            log.to_str().unwrap(),
            "--target",
            &target,
            "--format",
            "json",
        ],
        &export,
    );
    let _ = server.kill();
    let mut got = String::new();
    let _ = std::io::Read::read_to_string(server.stdout.as_mut().unwrap(), &mut got);
    let _ = server.wait();
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got, want, "the target saw these requests");
    assert_eq!(count(&json, "http_reqs"), 30.0);
    assert!(
        json["metrics"]["replay_lag"]["max"].is_number(),
        "{}",
        json["metrics"]
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "ROUTES",
        "GET /api/items/{id}",
        "POST /api/cart",
        "http_req_scheduled_duration",
        "replay_lag",
    ] {
        assert!(
            text.contains(needle),
            "the summary lacks '{needle}':\n{text}"
        );
    }
}

#[test]
fn speed_and_rate_scale_change_the_length_and_the_count() {
    let dir = tempfile::tempdir().unwrap();
    // 100 requests over 2 s (20 ms apart).
    let (log, _) = json_log(dir.path(), 100, 20);
    let log = log.to_str().unwrap();
    let (target, base) = target_process(brunt_cmd(), &[]);
    let export = dir.path().join("summary.json");
    // The export and the process's whole time (a run is never shorter than its schedule).
    let run = |extra: &[&str]| {
        let mut args = vec![log, "--target", base.as_str()];
        args.extend_from_slice(extra);
        let started = std::time::Instant::now();
        let json = replay(&args, &export).1;
        (json, started.elapsed().as_secs_f64())
    };
    let (normal, normal_s) = run(&[]);
    let (fast, fast_s) = run(&["--speed", "4x"]);
    let (half, _) = run(&["--speed", "4x", "--rate-scale", "0.5", "--seed", "3"]);
    let (double, _) = run(&["--speed", "4x", "--rate-scale", "2"]);
    drop(target);
    // The logged span is 1.98 s; at 4x, 0.495 s.
    assert!(normal_s >= 1.9, "1x took {normal_s}s");
    assert!(
        fast_s >= 0.45 && fast_s < normal_s,
        "4x took {fast_s}s, 1x {normal_s}s"
    );
    assert_eq!(count(&normal, "http_reqs"), 100.0);
    assert_eq!(count(&fast, "http_reqs"), 100.0);
    // A seeded random half, and exactly two copies of each.
    let kept = count(&half, "http_reqs");
    assert!((30.0..=70.0).contains(&kept), "rate-scale 0.5 sent {kept}");
    assert_eq!(count(&double, "http_reqs"), 200.0);
}

#[test]
fn a_log_at_5000_a_second_is_sent_whole_each_lag_recorded() {
    // 1,000 requests 200 µs apart (microsecond times): each start is woken on the run's clock
    // between tokio's millisecond ticks. Every request is sent, none is dropped, and each has
    // its lag from the logged offset in replay_lag (how small it is: bench/replay_lag.sh).
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..1000u64 {
        let us = 1_000_000 + i * 200;
        text.push_str(&format!(
            "{{\"time\":\"2026-01-01T00:00:{:02}.{:06}Z\",\"method\":\"GET\",\"path\":\"/get?i={i}\",\"status\":200}}\n",
            us / 1_000_000,
            us % 1_000_000
        ));
    }
    let log = write(dir.path(), "fast.jsonl", &text);
    let json = replay_on_target(dir.path(), &log, &["--summary-trend-stats", "count,max"]);
    assert_eq!(count(&json, "http_reqs"), 1000.0);
    assert_eq!(count(&json, "replay_lag"), 1000.0, "{}", json["metrics"]);
    assert_eq!(count(&json, "dropped_iterations"), 0.0);
    assert_eq!(
        json["metrics"]["http_req_failed"]["value"].as_f64(),
        Some(0.0),
        "{}",
        json["metrics"]["http_req_failed"]
    );
}

#[test]
fn loop_replays_the_log_again_until_the_duration() {
    let dir = tempfile::tempdir().unwrap();
    // 10 requests over 0.45 s: a pass every 0.5 s, so 2 s is about 4 passes.
    let (log, _) = json_log(dir.path(), 10, 50);
    let json = replay_on_target(dir.path(), &log, &["--loop", "--duration", "2s"]);
    let sent = count(&json, "http_reqs");
    assert_eq!(sent, 40.0, "4 passes of 10 requests in 2s");
}

#[test]
fn lines_that_cannot_be_replayed_are_counted_and_sampled() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "mixed.log",
        "10.0.0.1 - - [01/Jan/2026:00:00:00 +0000] \"GET /a HTTP/1.1\" 200 1 \"-\" \"t\"\n\
         garbage here\n\
         10.0.0.1 - - [01/Jan/2026:00:00:01 +0000] \"GET /b?x=1 HTTP/1.1\" 200 1 \"-\" \"t\"\n",
    );
    let (target, base) = target_process(brunt_cmd(), &[]);
    let export = dir.path().join("summary.json");
    let (out, json) = replay(
        &[log.to_str().unwrap(), "--target", &base, "--speed", "10x"],
        &export,
    );
    let strict = brunt(&[
        "replay",
        log.to_str().unwrap(),
        "--target",
        &base,
        "--strict",
    ]);
    drop(target);
    assert_eq!(count(&json, "http_reqs"), 2.0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 of 3 lines of") && text.contains("line 2:"),
        "{text}"
    );
    assert_eq!(strict.status.code(), Some(1), "{}", stderr(&strict));
    assert!(
        stderr(&strict).contains("mixed.log:2:"),
        "{}",
        stderr(&strict)
    );
}

#[test]
fn bad_logs_and_flags_fail_with_the_file_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = "http://127.0.0.1:1";
    let empty = write(dir.path(), "empty.log", "");
    fails_with(
        &["replay", empty.to_str().unwrap(), "--target", nowhere],
        1,
        "empty.log: the log is empty",
    );
    let junk = write(dir.path(), "junk.log", "GET / 200\n");
    fails_with(
        &["replay", junk.to_str().unwrap(), "--target", nowhere],
        1,
        "cannot tell the format",
    );
    let untimed = write(
        dir.path(),
        "untimed.jsonl",
        "{\"method\":\"GET\",\"path\":\"/a\",\"status\":200}\n",
    );
    fails_with(
        &[
            "replay",
            untimed.to_str().unwrap(),
            "--target",
            nowhere,
            "--format",
            "json",
        ],
        1,
        "no request has a timestamp",
    );
    let back = write(
        dir.path(),
        "back.log",
        "10.0.0.1 - - [01/Jan/2026:00:10:00 +0000] \"GET /a HTTP/1.1\" 200 1 \"-\" \"t\"\n\
         10.0.0.1 - - [01/Jan/2026:00:00:00 +0000] \"GET /b HTTP/1.1\" 200 1 \"-\" \"t\"\n",
    );
    fails_with(
        &["replay", back.to_str().unwrap(), "--target", nowhere],
        1,
        "back.log: line 2: the clock jumps back by 10m0s",
    );
    let log = combined_log(dir.path(), 3);
    let log = log.to_str().unwrap();
    fails_with(
        &["replay", log, "--target", nowhere, "--speed", "fast"],
        1,
        "--speed 'fast'",
    );
    fails_with(
        &["replay", log, "--target", nowhere, "--rate-scale", "0"],
        1,
        "--rate-scale 0",
    );
    fails_with(
        &["replay", log, "--target", nowhere, "--loop"],
        2,
        "--duration",
    );
    fails_with(
        &["replay", log, "--target", nowhere, "--format", "iis"],
        2,
        "invalid value 'iis'",
    );
    fails_with(
        &["replay", "/nonexistent/access.log", "--target", nowhere],
        1,
        "cannot open /nonexistent/access.log",
    );
    fails_with(
        &["replay", log, "--target", nowhere],
        1,
        "cannot reach 127.0.0.1:1",
    );
    // A threshold's mistake is named before the target is tried.
    fails_with(
        &[
            "replay",
            log,
            "--target",
            nowhere,
            "--threshold",
            "http_req_duration: p(95)<<5",
        ],
        1,
        "--threshold 'http_req_duration: p(95)<<5'",
    );
}

/// A log made by the synthesiser replays its route shares: the per-route summary counts match
/// the log's.
#[test]
fn a_synthetic_log_replays_its_routes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("shop.log");
    let synth = Synth::flat(
        &[
            ("GET", "/anything/products/{id}", 0.7),
            ("POST", "/anything/cart", 0.3),
        ],
        10.0,
        1,
        Starts::Poisson,
    );
    let mut f = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
    let lines = synth.write(&mut f, Written::Json).unwrap();
    f.flush().unwrap();
    drop(f);
    let (target, base) = target_process(brunt_cmd(), &[]);
    let export = dir.path().join("summary.json");
    let (out, json) = replay(
        &[log.to_str().unwrap(), "--target", &base, "--speed", "20x"],
        &export,
    );
    drop(target);
    assert_eq!(count(&json, "http_reqs"), lines as f64);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("GET /anything/products/{id}"), "{text}");
    assert!(text.contains("POST /anything/cart"), "{text}");
}
