//! Remote outputs against the real servers: Prometheus (remote-write receiver) and InfluxDB 1.x,
//! each started by the test on free loopback ports with temporary storage, and queried back over
//! their HTTP APIs. A test is skipped, with a note, only when the server binary is not installed.

use brunt_metrics::{builtin, Aggregator, Registry, Snapshot, TagSet, Thresholds};
use brunt_output::{IntervalView, OutSpec, SampleSink};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A server process killed when the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn installed(bin: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()));
    if !found {
        eprintln!("note: `{bin}` is not installed (Debian package); skipping this test");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.0 GET on loopback: status and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Feeds two seconds of requests (three 200s with durations, one 500) to a sink and ends it.
fn feed(sink: &mut dyn SampleSink) {
    let registry = Arc::new(Registry::new());
    let ok = TagSet::new([
        ("status", "200"),
        ("method", "GET"),
        ("name", "http://x/a"),
        ("url", "http://x/a"),
    ]);
    let bad = ok.with([("status", "500")]);
    let mut total = Snapshot::default();
    for (second, is_final) in [(1u64, false), (2, true)] {
        let mut agg = Aggregator::new(registry.clone(), false);
        for (tags, ms) in [(&ok, 10.0), (&ok, 20.0), (&ok, 30.0), (&bad, 400.0)] {
            agg.add(builtin::HTTP_REQS, tags, 1.0);
            agg.add(builtin::HTTP_REQ_DURATION, tags, ms);
            agg.add(builtin::HTTP_REQ_FAILED, tags, f64::from(ms > 100.0));
        }
        let series = agg.take().series;
        total.merge_series(&series);
        let view = IntervalView {
            elapsed: Duration::from_secs(second),
            time: SystemTime::now() - Duration::from_secs(3 - second),
            series: &series,
            total: &total,
            judged: &total,
            judged_elapsed: Duration::from_secs(second),
            registry: &registry,
            scenarios: &[],
            is_final,
        };
        sink.interval(&view).unwrap();
    }
    sink.finish().unwrap();
    assert_eq!(sink.notes(), Vec::<String>::new(), "everything delivered");
}

#[test]
fn prometheus_receives_series_with_brunt_names_and_labels() {
    if !installed("prometheus") {
        return;
    }
    let dir = tempdir("prom");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
    let port = free_port();
    let _server = Server(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("prometheus to be ready", || {
        get(port, "/-/ready").is_some_and(|(s, _)| s == 200)
    });
    let spec: OutSpec = format!("prometheus-rw=http://127.0.0.1:{port}/api/v1/write,label.env=ci,header.X-Scope-OrgID=brunt")
        .parse()
        .unwrap();
    let mut sink = spec.open(&Thresholds::default(), None).unwrap();
    assert!(!sink.wants_raw());
    feed(sink.as_mut());

    let (status, body) = get(port, "/api/v1/query?query=brunt_http_reqs_total").unwrap();
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let series = v["data"]["result"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{body}");
    let ok = series
        .iter()
        .find(|s| s["metric"]["status"] == "200")
        .unwrap();
    assert_eq!(ok["metric"]["env"], "ci");
    assert_eq!(ok["metric"]["method"], "GET");
    assert_eq!(ok["metric"]["name"], "http://x/a");
    // Cumulative: 3 per second over two seconds.
    assert_eq!(ok["value"][1], "6");

    let (_, body) = get(
        port,
        "/api/v1/query?query=brunt_http_req_duration_p95%7Bstatus%3D%22500%22%7D",
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let p95: f64 = v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (p95 - 0.4).abs() < 0.001,
        "time trends are in seconds: {body}"
    );
    let (_, body) = get(port, "/api/v1/query?query=brunt_http_req_failed_rate").unwrap();
    assert!(body.contains("\"status\":\"500\""), "{body}");
}

#[test]
fn influxdb_receives_points_in_k6_layout() {
    if !installed("influxd") {
        return;
    }
    let dir = tempdir("influx");
    let (port, rpc) = (free_port(), free_port());
    let config = dir.path().join("influxdb.conf");
    let d = dir.path().display();
    std::fs::write(
        &config,
        format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
             [meta]\n  dir = \"{d}/meta\"\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
             [http]\n  enabled = true\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n\
             [monitor]\n  store-enabled = false\n"
        ),
    )
    .unwrap();
    let _server = Server(
        Command::new("influxd")
            .arg("-config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("influxd to answer /ping", || {
        get(port, "/ping").is_some_and(|(s, _)| s == 204)
    });
    let spec: OutSpec = format!("influxdb=http://127.0.0.1:{port}/brunt,label.env=ci")
        .parse()
        .unwrap();
    let mut sink = spec.open(&Thresholds::default(), None).unwrap();
    feed(sink.as_mut());

    // The database was created by the output; the points carry k6's tags, url as a field.
    let q = "SELECT%20sum(%22value%22)%20FROM%20%22http_reqs%22%20WHERE%20%22status%22%3D%27200%27%20AND%20%22env%22%3D%27ci%27";
    let (status, body) = get(port, &format!("/query?db=brunt&q={q}")).unwrap();
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["results"][0]["series"][0]["values"][0][1], 6.0, "{body}");
    let q = "SELECT%20%22p95%22%2C%22count%22%2C%22url%22%20FROM%20%22http_req_duration%22%20WHERE%20%22status%22%3D%27500%27";
    let (_, body) = get(port, &format!("/query?db=brunt&q={q}")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let rows = v["results"][0]["series"][0]["values"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "one point per second: {body}");
    assert_eq!(rows[0][1], 400.0);
    assert_eq!(rows[0][2], 1);
    assert_eq!(rows[0][3], "http://x/a");
}

#[test]
fn a_down_backend_costs_samples_not_the_run() {
    let port = free_port(); // nothing listens here
    let spec: OutSpec = format!("influxdb=http://127.0.0.1:{port}/brunt")
        .parse()
        .unwrap();
    let mut sink = spec.open(&Thresholds::default(), None).unwrap();
    let registry = Registry::new();
    let mut agg = Aggregator::new(Arc::new(Registry::new()), false);
    agg.add(builtin::HTTP_REQS, &TagSet::empty(), 1.0);
    let series = agg.take().series;
    let total = Snapshot::default();
    let start = Instant::now();
    for s in 1..=100 {
        let view = IntervalView {
            elapsed: Duration::from_secs(s),
            time: SystemTime::now(),
            series: &series,
            total: &total,
            judged: &total,
            judged_elapsed: Duration::from_secs(s),
            registry: &registry,
            scenarios: &[],
            is_final: false,
        };
        sink.interval(&view).unwrap();
    }
    // Queueing never waited on the backend.
    assert!(start.elapsed() < Duration::from_secs(5));
    sink.finish().unwrap();
    let notes = sink.notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("100 of 100 samples were not delivered"),
        "{notes:?}"
    );
    assert!(
        notes[0].contains(&format!("influxdb=http://127.0.0.1:{port}/brunt")),
        "{notes:?}"
    );
}

fn tempdir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("brunt-{tag}-"))
        .tempdir()
        .unwrap()
}
