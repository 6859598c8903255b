//! `brunt quick` end to end against the built-in target on loopback: counts, tags, thresholds and
//! their exit code, interruption, and bad input.

mod common;

use common::{brunt_cmd, fails_with};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

struct Run {
    out: Output,
    export: Value,
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brunt-quick-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs `brunt quick` with `args`, exporting the summary, and parses the export.
fn quick(name: &str, args: &[&str]) -> Run {
    let export = tmp(&format!("{name}.json"));
    let out = brunt_cmd()
        .arg("quick")
        .args(args)
        .args(["-q", "--summary-export", export.to_str().unwrap()])
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&export).unwrap_or_else(|e| {
        panic!(
            "no summary export ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        out,
        export: serde_json::from_str(&text).unwrap(),
    }
}

fn metric(run: &Run, name: &str, stat: &str) -> f64 {
    run.export["metrics"][name][stat]
        .as_f64()
        .unwrap_or_else(|| panic!("{name}.{stat} missing in {}", run.export["metrics"]))
}

#[test]
fn iterations_send_exactly_that_many_requests_and_print_a_summary() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/json", target.local_addr());
    let run = quick("count", &[&url, "--vus", "10", "--iterations", "300"]);
    assert_eq!(run.out.status.code(), Some(0));
    assert_eq!(metric(&run, "http_reqs", "count"), 300.0);
    assert_eq!(metric(&run, "iterations", "count"), 300.0);
    assert_eq!(metric(&run, "http_req_failed", "passes"), 0.0);
    assert!(metric(&run, "data_received", "count") > 300.0 * 40.0);
    let stdout = String::from_utf8_lossy(&run.out.stdout);
    for line in [
        "http_reqs",
        "http_req_duration",
        "p(95)=",
        "http_req_failed",
        "vus",
    ] {
        assert!(stdout.contains(line), "summary lacks {line}:\n{stdout}");
    }
}

#[test]
fn redirects_are_followed_though_the_attack_keeps_no_response_headers() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/redirect/2", target.local_addr());
    let run = quick(
        "redirect",
        &[
            &url,
            "--vus",
            "2",
            "--iterations",
            "10",
            "--threshold",
            "http_reqs{status:200}: count>0",
        ],
    );
    assert_eq!(run.out.status.code(), Some(0));
    // The attack records each iteration's final response: /get's, after two redirects.
    assert_eq!(metric(&run, "http_reqs", "count"), 10.0);
    assert_eq!(metric(&run, "http_reqs{status:200}", "count"), 10.0);
}

#[test]
fn failed_statuses_are_counted_and_a_failed_threshold_exits_99() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/status/503", target.local_addr());
    let run = quick(
        "fail",
        &[
            &url,
            "--vus",
            "2",
            "--iterations",
            "20",
            "--threshold",
            "http_req_failed: rate<0.1",
            "--threshold",
            "http_req_duration{status:503}: max<60000",
        ],
    );
    assert_eq!(run.out.status.code(), Some(99));
    assert_eq!(metric(&run, "http_req_failed", "passes"), 20.0);
    assert_eq!(
        run.export["metrics"]["http_req_failed"]["thresholds"]["rate<0.1"],
        Value::Bool(true),
        "k6 marks a failed threshold true"
    );
    assert!(
        metric(&run, "http_req_duration{status:503}", "max") > 0.0,
        "the sub-metric a threshold selects by status tag is exported"
    );
}

#[test]
fn open_model_runs_on_schedule_and_shows_a_server_stall_in_scheduled_latency() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = target.local_addr();
    let url = format!("http://{addr}/");
    // One second into the run, the server stalls for one second.
    let staller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1000));
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET /stall?ms=1000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    });
    let run = quick("rate", &[&url, "--rate", "200", "--duration", "4s"]);
    staller.join().unwrap();
    assert_eq!(run.out.status.code(), Some(0));
    let iterations = metric(&run, "iterations", "count");
    assert!(
        (790.0..=801.0).contains(&iterations),
        "{iterations} iterations"
    );
    assert!(
        run.export["metrics"]["dropped_iterations"].is_null()
            || metric(&run, "dropped_iterations", "count") == 0.0
    );
    let p95 = metric(&run, "http_req_scheduled_duration", "p(95)");
    assert!(
        p95 > 400.0,
        "a 1 s stall must show in p95 of scheduled latency, got {p95} ms"
    );
    let med = metric(&run, "http_req_scheduled_duration", "med");
    assert!(
        med < 200.0,
        "most requests were not stalled, median {med} ms"
    );
}

#[test]
fn sigterm_stops_the_run_and_still_writes_the_summary() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/", target.local_addr());
    let export = tmp("sigterm.json");
    let child = brunt_cmd()
        .args(["quick", &url, "--vus", "2", "--duration", "60s", "-q"])
        .args(["--summary-export", export.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        out.status.code(),
        Some(105),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let export: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    assert!(export["metrics"]["http_reqs"]["count"].as_f64().unwrap() > 0.0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("http_reqs"));
}

#[test]
fn bad_input_is_a_clear_error() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/", target.local_addr());
    fails_with(&["quick", &url, "--no-such-flag"], 2, "--no-such-flag");
    fails_with(&["quick", "not a url"], 1, "not a url");
    fails_with(
        &["quick", &url, "--threshold", "http_req_duration: p(95)<<"],
        1,
        "http_req_duration",
    );
    fails_with(
        &["quick", &url, "--threshold", "no_such_metric: count<1"],
        1,
        "no_such_metric",
    );
    fails_with(
        &["quick", &url, "--duration", "ten seconds"],
        1,
        "--duration",
    );
    fails_with(&["quick", &url, "-H", "no colon"], 1, "--header");
    fails_with(
        &["quick", &url, "--out", "carrier-pigeon=x"],
        2,
        "carrier-pigeon",
    );
    // Port 1 on loopback: nothing listens there.
    fails_with(
        &["quick", "http://127.0.0.1:1/", "--iterations", "1"],
        1,
        "cannot reach 127.0.0.1:1",
    );
    // A mistake in a threshold is named before the target is tried, even when it is down.
    fails_with(
        &[
            "quick",
            "http://127.0.0.1:1/",
            "--threshold",
            "http_req_duration: p(95)<<50",
        ],
        1,
        "--threshold 'http_req_duration: p(95)<<50'",
    );
}
