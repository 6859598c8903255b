//! Keeping and judging results end to end: `--out results=`, `--report`, `brunt report`,
//! `brunt compare` with gates and JUnit, the dashboard with `--linger`, and runs that go on while
//! a remote backend is down.

mod common;

use common::{brunt, brunt_cmd, fails_with, stderr};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn results_rebuild_the_report_and_compare_gates_a_slower_run() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fast = dir.path().join("fast.json");
    let slow = dir.path().join("slow.json");
    let report = dir.path().join("report.html");
    let out = brunt(&[
        "quick",
        &format!("http://{}/json", target.local_addr()),
        "--iterations",
        "200",
        "--vus",
        "4",
        "-q",
        "--out",
        &format!("results={}", s(&fast)),
        "--report",
        s(&report),
        "--threshold",
        "http_req_failed: rate<0.01",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let html = std::fs::read_to_string(&report).unwrap();
    // `<` is escaped inside the page's script.
    assert!(html.contains(r#""metric":"http_req_failed","source":"rate\u003c0.01","ok":true"#));
    // The report's threshold table shows what the summary shows: the value and the margin.
    assert!(
        html.contains(r#""observed_text":"rate=0.00%","margin_text":"passed by 1.00%""#),
        "the verdict's observed value and margin are worded for the page"
    );
    let out = brunt(&[
        "quick",
        &format!("http://{}/delay/20", target.local_addr()),
        "--iterations",
        "40",
        "--vus",
        "4",
        "-q",
        "--out",
        &format!("results={}", s(&slow)),
        "--threshold",
        "http_req_duration: p(95)<10",
    ]);
    assert_eq!(out.status.code(), Some(99), "{}", stderr(&out));
    let summary = stdout(&out);
    assert!(
        summary.contains("✗ 'p(95)<10' p(95)=2") && summary.contains("ms (missed by 1"),
        "{summary}"
    );

    let rebuilt = dir.path().join("rebuilt.html");
    let out = brunt(&["report", s(&fast), "-o", s(&rebuilt)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let html = std::fs::read_to_string(&rebuilt).unwrap();
    assert!(
        html.contains("\"reqs\":200.0"),
        "the endpoint table counts every request"
    );
    assert!(
        html.contains("\"scenarios\":[\"default: "),
        "the test options are kept"
    );

    // Same run against itself: every gate holds.
    let gate = "http_req_duration p(95)=10%";
    let out = brunt(&["compare", s(&fast), s(&fast), "--max-regression", gate]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("http_reqs"), "{}", stdout(&out));

    // 20 ms of delay blows a 10% p(95) budget; JUnit has the threshold and the gate.
    let junit = dir.path().join("junit.xml");
    let out = brunt(&[
        "compare",
        s(&fast),
        s(&slow),
        "--max-regression",
        gate,
        "--junit",
        s(&junit),
    ]);
    assert_eq!(
        out.status.code(),
        Some(99),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let table = stdout(&out);
    assert!(table.contains("✗ http_req_duration p(95)"), "{table}");
    // Each run's verdicts with their values in the metric's unit; the baseline had no such
    // threshold.
    let row = table
        .lines()
        .find(|l| l.starts_with("http_req_duration") && l.contains("p(95)<10"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("  -  ") && row.contains("✗ p(95)=2") && row.contains("ms, missed by 1"),
        "{row}"
    );
    assert!(table.contains("http_req_duration    p(95)"), "{table}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"2\""), "{xml}");
    assert!(
        xml.contains(
            "message=\"threshold &apos;p(95)&lt;10&apos; on http_req_duration failed: p(95)=2"
        ) && xml.contains("ms, missed by 1"),
        "{xml}"
    );

    // A bad gate, a file of another kind: clear errors naming them.
    fails_with(
        &["compare", s(&fast), s(&slow), "--max-regression", "p95 10%"],
        1,
        "--max-regression 'p95 10%'",
    );
    fails_with(&["report", s(&report)], 1, "is not a brunt results file");

    // Two runs one after the other: overlaid, the slower one over the baseline.
    let diff = dir.path().join("diff.html");
    let out = brunt(&["report", s(&fast), s(&slow), "--out", s(&diff)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let html = std::fs::read_to_string(&diff).unwrap();
    let overlay = html
        .split("\"overlay\":")
        .nth(1)
        .unwrap_or_else(|| panic!("no overlay in the page"));
    assert!(
        overlay.contains(&format!("\"baseline\":\"{}\"", s(&fast)))
            && overlay.contains("\"points\":[{\"t\":"),
        "the baseline's seconds are in the page"
    );
    assert!(
        overlay.contains(r#""p(95)\u003c10","-","✗ p(95)=2"#),
        "compare's verdicts: {overlay}"
    );
    assert!(
        overlay.contains("the runs had different scenarios"),
        "40 and 200 iterations are not the same test: {overlay}"
    );

    // A run cut short (no end record) is drawn and marked; a newer format is refused by name.
    let text = std::fs::read_to_string(&slow).unwrap();
    let cut = dir.path().join("cut.json");
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&cut, lines[..lines.len() - 1].join("\n")).unwrap();
    let out = brunt(&["report", s(&fast), s(&cut), "--out", s(&diff)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let html = std::fs::read_to_string(&diff).unwrap();
    assert!(
        html.contains(&format!("{}: the run was cut short", s(&cut))),
        "the partial run is marked"
    );
    let newer = dir.path().join("newer.json");
    std::fs::write(&newer, text.replacen("\"version\":1", "\"version\":2", 1)).unwrap();
    fails_with(
        &["report", s(&fast), s(&newer), "--out", s(&diff)],
        1,
        "is format version 2; this brunt reads version 1 (the file was written by a newer brunt",
    );
    fails_with(
        &["report", s(&fast), "--overlay", "--out", s(&diff)],
        1,
        "--overlay draws two runs: give BASELINE CURRENT, not 1 file(s)",
    );
}

#[test]
fn an_unwritable_report_is_refused_before_the_run() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let start = Instant::now();
    fails_with(
        &[
            "quick",
            &format!("http://{}/", target.local_addr()),
            "--duration",
            "30s",
            "--report",
            "/nonexistent-dir/report.html",
        ],
        1,
        "cannot write --report /nonexistent-dir/report.html: No such file or directory",
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "no 30 s run first"
    );
}

#[test]
fn an_unknown_output_kind_is_refused_before_the_run() {
    fails_with(
        &["quick", "http://127.0.0.1:9/", "--out", "graphite=x"],
        2,
        "unknown output 'graphite'; known outputs: json, csv, results, prometheus-rw, influxdb",
    );
}

#[test]
fn a_run_goes_on_while_its_backends_are_down_and_says_what_was_lost() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    // A port nobody listens on.
    let down = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let start = Instant::now();
    let out = brunt(&[
        "quick",
        &format!("http://{}/", target.local_addr()),
        "--duration",
        "2s",
        "--vus",
        "2",
        "-q",
        "--out",
        &format!("prometheus-rw=http://{down}/api/v1/write"),
        "--out",
        &format!("influxdb=http://{down}/k6"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "the run was not held up"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "--out prometheus-rw=http://{down}/api/v1/write: cannot connect"
        )),
        "{err}"
    );
    assert!(err.contains("samples were not delivered"), "{err}");
    assert!(stdout(&out).contains("http_reqs"), "the summary is printed");
}

#[test]
fn the_dashboard_serves_during_the_run_and_lingers_until_ctrl_c() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Lingering(
        brunt_cmd()
            .args([
                "quick",
                &format!("http://{}/", target.local_addr()),
                "--duration",
                "2s",
                "--vus",
                "2",
                "-q",
                "--dashboard",
                "--dashboard-port",
                &port.to_string(),
                "--linger",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let child = &mut child.0;
    // After the run (2 s) the final state is still served.
    let start = Instant::now();
    let data = loop {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "dashboard never showed the end"
        );
        std::thread::sleep(Duration::from_millis(300));
        if let Some(body) = get(port, "/data") {
            if body.contains("\"summary\":{") {
                break body;
            }
        }
    };
    assert!(data.contains("\"endpoints\":[{"), "{data}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "--linger keeps brunt running"
    );
    let page = get(port, "/").unwrap();
    assert!(
        page.contains("window.BRUNT_LIVE = false"),
        "a finished run is not followed"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait(child, Duration::from_secs(10));
    assert_eq!(
        status,
        Some(0),
        "Ctrl-C ends the linger with the run's exit code"
    );
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains(&format!("dashboard: http://127.0.0.1:{port}/")),
        "{err}"
    );
    assert!(
        !err.contains("stopping"),
        "Ctrl-C after the run stops no run: {err}"
    );
}

/// A lingering brunt, killed if the test fails before it ends.
struct Lingering(std::process::Child);

impl Drop for Lingering {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("brunt did not exit within {limit:?}");
}

/// A plain HTTP/1.0 GET on loopback; the body of a 200.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.split(' ')
        .nth(1)
        .filter(|c| *c == "200")
        .map(|_| body.to_string())
}
