//! The report and the live dashboard in headless Chromium (Debian's `chromium`): the page loads
//! with every host name unresolvable (no network), its charts draw (the screenshot has the chart
//! colours), and nothing reaches the console. Skipped, with a note, when Chromium is absent.

use brunt_metrics::{builtin, Aggregator, Registry, SeriesMap, Snapshot, TagSet, Thresholds};
use brunt_output::IntervalView;
use brunt_web::{render, Overlay, Point, ReportData, RunInfo, WebArgs, WebSession};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Opens `/events` on the dashboard with a plain HTTP/1.1 request.
fn sse(url: &str) -> TcpStream {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nAccept-Encoding: gzip, br\r\n\r\n").unwrap();
    s
}

/// Reads the event stream until `done` says so (10 s at most per read).
fn read_until(events: &mut TcpStream, mut stream: String, done: impl Fn(&str) -> bool) -> String {
    while !done(&stream) {
        let mut buf = [0u8; 65536];
        let n = events
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("{e}; events so far: {stream}"));
        assert!(n > 0, "the event stream ended: {stream}");
        stream.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    stream
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|b| d.join(b)))
        .find(|p| p.is_file());
    if found.is_none() {
        eprintln!(
            "note: chromium is not installed (Debian package `chromium`); skipping this test"
        );
    }
    found
}

/// Runs headless Chromium on `url` with `extra` flags; returns its stderr. Every host but
/// 127.0.0.1 resolves to nothing, so a page that needed the network would fail to draw.
fn browse(chrome: &Path, profile: &Path, url: &str, extra: &[&str]) -> (String, String) {
    let mut child = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--window-size=1280,1800",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        // Files, not pipes: a page's DOM is larger than a pipe's buffer.
        .stdout(std::fs::File::create(profile.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(profile.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let read = |ext| {
        String::from_utf8_lossy(&std::fs::read(profile.with_extension(ext)).unwrap()).into_owned()
    };
    (read("out"), read("err"))
}

/// The page's body tag after its script ran, and no console output.
fn check_dom(dom: &str, stderr: &str) -> String {
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let body = dom
        .split("<body")
        .nth(1)
        .and_then(|b| b.split('>').next())
        .unwrap_or_default()
        .to_string();
    assert!(!body.contains("data-error"), "script error: {body}");
    body
}

/// Pixels near each of the chart colours (blue p50/req/s, red p95) in a screenshot.
fn chart_pixels(png_path: &Path) -> (usize, usize, usize) {
    let decoder = png::Decoder::new(std::fs::File::open(png_path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let near = |p: &[u8], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 40);
    let (mut blue, mut red) = (0, 0);
    let mut colours = std::collections::HashSet::new();
    for p in buf[..info.buffer_size()].chunks(channels) {
        colours.insert((p[0], p[1], p[2]));
        blue += usize::from(near(p, [0x25, 0x63, 0xeb]));
        red += usize::from(near(p, [0xdc, 0x26, 0x26]));
    }
    (blue, red, colours.len())
}

/// Ten seconds of two endpoints in two scenarios, latency climbing.
fn feed(mut on_second: impl FnMut(Duration, &SeriesMap, &Snapshot, &Registry, bool)) {
    let registry = Arc::new(Registry::new());
    let mut total = Snapshot::default();
    for s in 1..=10u32 {
        let mut agg = Aggregator::new(registry.clone(), false);
        for i in 0..200u32 {
            let (name, scenario) = if i % 3 == 0 {
                ("login", "auth")
            } else {
                ("orders", "shop")
            };
            let status = if i % 50 == 0 { "500" } else { "200" };
            let tags = TagSet::new([
                ("name", name),
                ("scenario", scenario),
                ("status", status),
                ("method", "GET"),
            ]);
            agg.add(builtin::HTTP_REQS, &tags, 1.0);
            agg.add(builtin::HTTP_REQ_DURATION, &tags, f64::from(s * 3 + i % 40));
            agg.add(
                builtin::HTTP_REQ_FAILED,
                &tags,
                f64::from(u8::from(status == "500")),
            );
            agg.add(builtin::ITERATIONS, &tags, 1.0);
        }
        agg.add(builtin::VUS, &TagSet::empty(), f64::from(s * 5));
        let series = agg.take().series;
        total.merge_series(&series);
        on_second(
            Duration::from_secs(u64::from(s)),
            &series,
            &total,
            &registry,
            s == 10,
        );
    }
}

#[test]
fn the_report_renders_offline_with_charts_and_tables() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut data = ReportData::new(
        "report test".into(),
        vec!["auth: 5 looping VUs for 10s".into()],
    );
    feed(|elapsed, series, total, registry, last| {
        data.push_interval(elapsed, series, registry);
        if last {
            data.finish(total, registry, elapsed);
            let mut t = Thresholds::default();
            t.add_cli("http_req_duration: p(95)<30", registry).unwrap();
            data.thresholds = t.evaluate(total, elapsed);
        }
    });
    let page = dir.path().join("report.html");
    std::fs::write(&page, render(&data)).unwrap();
    let url = format!("file://{}", page.display());

    let (dom, stderr) = browse(
        &chrome,
        &dir.path().join("p1"),
        &url,
        &["--dump-dom", "--virtual-time-budget=4000"],
    );
    let body = check_dom(&dom, &stderr);
    // req/s, latency, errors, VUs, two per-name charts, one per-scenario chart.
    assert!(body.contains("data-charts=\"7\""), "{body}");
    assert!(body.contains("data-points=\"10\""), "{body}");
    assert!(
        dom.contains("login") && dom.contains("orders"),
        "endpoint table"
    );
    // A finished report's tiles give the whole run: 2000 requests in 10 s, at most 50 VUs.
    for tile in [
        "<div class=\"v\">2,000</div><div class=\"k\">requests</div>",
        "<div class=\"v\">200</div><div class=\"k\">mean req/s</div>",
        "<div class=\"v\">2 %</div><div class=\"k\">errors (run)</div>",
        "<div class=\"k\">p95 (run)</div>",
        "<div class=\"v\">50</div><div class=\"k\">peak VUs</div>",
    ] {
        assert!(dom.contains(tile), "{tile} in {dom}");
    }
    assert!(
        !dom.contains("<div class=\"k\">req/s now</div>"),
        "no last-second tiles once finished"
    );
    // The threshold table shows the observed value and how far it missed, as the summary.
    assert!(
        dom.contains("p(95)=") && dom.contains("missed by"),
        "threshold table: {dom}"
    );

    let shot = dir.path().join("report.png");
    let (_, stderr) = browse(
        &chrome,
        &dir.path().join("p2"),
        &url,
        &[
            &format!("--screenshot={}", shot.display()),
            "--virtual-time-budget=4000",
        ],
    );
    assert!(shot.is_file(), "no screenshot: {stderr}");
    let (blue, red, colours) = chart_pixels(&shot);
    assert!(colours > 50, "the page looks blank ({colours} colours)");
    assert!(blue > 2000, "charts and histogram in blue: {blue} pixels");
    assert!(red > 100, "the p95 line in red: {red} pixels");
}

/// Pixels of the chart colours in a screenshot of `data`'s page, and the page's DOM.
fn drawn(chrome: &Path, dir: &Path, name: &str, data: &ReportData) -> (usize, usize, String) {
    let page = dir.join(format!("{name}.html"));
    std::fs::write(&page, render(data)).unwrap();
    let url = format!("file://{}", page.display());
    let budget = "--virtual-time-budget=4000";
    let (dom, stderr) = browse(
        chrome,
        &dir.join(format!("{name}-dom")),
        &url,
        &["--dump-dom", budget],
    );
    check_dom(&dom, &stderr);
    let shot = dir.join(format!("{name}.png"));
    let screenshot = format!("--screenshot={}", shot.display());
    browse(
        chrome,
        &dir.join(format!("{name}-shot")),
        &url,
        &[&screenshot, budget],
    );
    let (blue, red, _) = chart_pixels(&shot);
    (blue, red, dom)
}

#[test]
fn two_runs_overlaid_draw_both_runs_offline() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut current = ReportData::new("overlay test".into(), vec![]);
    feed(|elapsed, series, total, registry, last| {
        current.push_interval(elapsed, series, registry);
        if last {
            current.finish(total, registry, elapsed);
        }
    });
    // The baseline: half the throughput at twice the latency, half a second out of step.
    let slower = |v: Option<f64>| v.map(|v| v * 2.0);
    let points: Vec<Point> = current
        .points
        .iter()
        .map(|p| Point {
            t: p.t - 0.5,
            rps: p.rps / 2.0,
            vus: p.vus / 2.0,
            p50: slower(p.p50),
            p95: slower(p.p95),
            p99: slower(p.p99),
            ..p.clone()
        })
        .collect();
    current.overlay = Some(Overlay {
        baseline: "baseline.json".into(),
        current: "current.json".into(),
        points,
        thresholds: vec![[
            "http_req_duration",
            "p(95)<100",
            "✓ p(95)=80ms, passed by 20ms",
            "✗ p(95)=120ms, missed by 20ms",
        ]
        .map(String::from)],
        metrics: vec![["http_req_duration", "p(95)", "80ms", "120ms", "+50.0%"].map(String::from)],
        notes: vec!["the runs had different scenarios".into()],
    });
    // The same page with a baseline of no seconds: the same layout, nothing of the baseline drawn.
    let mut alone = current.clone();
    if let Some(o) = &mut alone.overlay {
        o.points.clear();
    }
    let (blue_alone, red_alone, _) = drawn(&chrome, dir.path(), "alone", &alone);
    let (blue, red, dom) = drawn(&chrome, dir.path(), "overlay", &current);
    // Both runs' series, labelled (readable without colour), and compare's tables on top.
    for label in [
        "baseline req/s",
        "baseline p95",
        "baseline VUs",
        "baseline errors %",
        "baseline login",
    ] {
        assert!(dom.contains(label), "legend lacks {label}");
    }
    assert!(
        !dom.contains("<section id=\"overlay\" hidden"),
        "the comparison shows"
    );
    assert!(
        dom.contains("missed by 20ms") && dom.contains("+50.0%"),
        "compare's tables"
    );
    assert!(dom.contains("the runs had different scenarios"), "the note");
    // The baseline's dashed lines add to the same colours.
    assert!(
        blue > blue_alone + 500 && red > red_alone + 100,
        "baseline drawn: blue {blue_alone} -> {blue}, red {red_alone} -> {red}"
    );
}

#[test]
fn the_dashboard_follows_the_run_over_server_sent_events() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let args = WebArgs {
        dashboard: true,
        dashboard_port: 0,
        ..WebArgs::default()
    };
    let session = WebSession::start(
        &args,
        RunInfo {
            title: "dashboard test".into(),
            scenarios: vec![],
            thresholds: Thresholds::default(),
        },
    )
    .unwrap()
    .unwrap();
    let url = session.url().unwrap().to_string();
    // Before the first second: an empty page, without errors.
    let (dom, stderr) = browse(&chrome, &dir.path().join("p0"), &url, &["--dump-dom"]);
    let body = check_dom(&dom, &stderr);
    assert!(body.contains("data-points=\"0\""), "{body}");
    let mut events = sse(&url);
    // The state comes first, once the page is subscribed to what follows.
    let mut stream = read_until(&mut events, String::new(), |s| s.contains("event: state"));
    let mut sink = session.output();
    feed(|elapsed, series, total, registry, _| {
        let view = IntervalView {
            elapsed,
            time: SystemTime::now(),
            series,
            total,
            judged: total,
            judged_elapsed: elapsed,
            registry,
            scenarios: &[],
            is_final: false,
        };
        sink.interval(&view).unwrap();
    });

    // Then a point per second.
    stream = read_until(&mut events, stream, |s| {
        s.matches("event: point").count() == 10
    });
    assert!(stream.contains("text/event-stream"), "{stream}");
    assert!(
        !stream.to_ascii_lowercase().contains("content-encoding"),
        "SSE is never compressed"
    );

    // A page opened now draws the ten seconds so far at once.
    let (dom, stderr) = browse(&chrome, &dir.path().join("p1"), &url, &["--dump-dom"]);
    let body = check_dom(&dom, &stderr);
    assert!(body.contains("data-points=\"10\""), "{body}");
    assert!(body.contains("data-charts=\"7\""), "{body}");
    assert!(dom.contains("running"), "status says the run goes on");
    assert!(
        dom.contains("<div class=\"k\">req/s now</div>"),
        "a live page's tiles are the last second's"
    );

    let shot = dir.path().join("dashboard.png");
    browse(
        &chrome,
        &dir.path().join("p2"),
        &url,
        &[&format!("--screenshot={}", shot.display())],
    );
    let (blue, red, _) = chart_pixels(&shot);
    assert!(
        blue > 1000 && red > 100,
        "charts drawn: blue {blue}, red {red}"
    );
}

/// Writes the report page for `data` into `dir` and lets Chromium draw it offline; returns its
/// file URL, the DOM and the body's attributes (failing on a script error).
fn draw_offline(
    chrome: &Path,
    dir: &Path,
    data: &brunt_web::ReportData,
) -> (String, String, String) {
    let page = dir.join("report.html");
    std::fs::write(&page, render(data)).unwrap();
    let url = format!("file://{}", page.display());
    let (dom, stderr) = browse(
        chrome,
        &dir.join("p1"),
        &url,
        &["--dump-dom", "--virtual-time-budget=4000"],
    );
    let body = check_dom(&dom, &stderr);
    (url, dom, body)
}

/// A run with `--warm-up`: the warm-up is a band on the charts and the phases a table.
#[test]
fn a_runs_phases_draw_as_bands_and_a_table_offline() {
    let Some(chrome) = chromium() else { return };
    let mut data = ReportData::new("phases test".into(), Vec::new());
    feed(|elapsed, series, total, registry, last| {
        data.push_interval(elapsed, series, registry);
        if last {
            data.finish(total, registry, elapsed);
        }
    });
    let phase = |phase: &str, from: f64, to: f64, excluded: bool| brunt_output::PhaseReading {
        phase: phase.into(),
        from,
        to,
        excluded,
        requests: 1000.0,
        rps: 200.0,
        error_rate: Some(0.02),
        p50: Some(4.0),
        p95: Some(20.0),
        p99: Some(30.0),
        iterations: 1000.0,
    };
    data.phases = vec![
        phase("warm_up", 0.0, 5.0, true),
        phase("measured", 5.0, 10.0, false),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (_, dom, _) = draw_offline(&chrome, dir.path(), &data);
    assert!(
        !dom.contains("<section id=\"phases-box\" hidden"),
        "the phases section shows"
    );
    assert!(
        dom.contains("warm_up") && dom.contains("left out") && dom.contains("counted"),
        "the phases table: {dom}"
    );
}

/// A journal of `brunt experiment run` with a load, a latency fault, its rollback and a
/// continuous probe, drawn as the game-day report.
#[test]
fn the_game_day_report_draws_the_journal_offline() {
    let journal: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/game-day-journal.json")).unwrap();
    let data = brunt_web::game_day::from_journal(&journal).unwrap();
    let game = data.experiment.as_ref().unwrap();
    assert_eq!(game.phases.len(), 3, "before, during, after");
    assert!(game
        .bands
        .iter()
        .any(|b| b.kind == "fault" && b.name == "slow-orders"));
    assert!(game.bands.iter().any(|b| b.kind == "rollback"));
    assert!(game.probes.len() > 3, "steady-state probes and samples");
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, dom, body) = draw_offline(&chrome, dir.path(), &data);
    assert!(body.contains("data-charts=\"4\""), "{body}");
    assert!(
        !dom.contains("<section id=\"experiment\" hidden"),
        "the experiment section shows"
    );
    assert!(dom.contains("hypothesis not held"), "the verdict");
    assert!(
        dom.contains("slow-orders") && dom.contains("remove-latency"),
        "faults and rollbacks"
    );
}

/// A closed-model capacity result (`brunt capacity --concurrency 1,2,4,8,16,32 --export` against
/// `brunt target --capacity 300`), drawn as latency against throughput with the knee, and
/// throughput against concurrency with the USL curve.
#[test]
fn the_capacity_report_draws_latency_against_throughput_and_the_usl_curve() {
    let result: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/capacity-closed.json")).unwrap();
    let data = brunt_web::capacity::from_capacity(&result).unwrap();
    assert!(
        data.title.starts_with("brunt capacity GET http://"),
        "{}",
        data.title
    );
    let e = brunt_web::capacity::from_capacity(&serde_json::json!({"kind": "brunt-capacity"}))
        .unwrap_err();
    assert_eq!(e, "baseline: missing");
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (url, dom, body) = draw_offline(&chrome, dir.path(), &data);
    assert!(body.contains("data-charts=\"2\""), "{body}");
    assert!(
        !dom.contains("<section id=\"capacity\" hidden"),
        "the capacity section shows"
    );
    assert!(
        dom.contains("max concurrency within the SLO: 4 VUs"),
        "the verdict"
    );
    assert!(dom.contains("USL fit: λ 51.71/s per VU"), "the fit");
    assert!(dom.contains("id=\"capacity-usl\""), "the USL chart");
    let shot = dir.path().join("capacity.png");
    browse(
        &chrome,
        &dir.path().join("p2"),
        &url,
        &[
            &format!("--screenshot={}", shot.display()),
            "--virtual-time-budget=4000",
        ],
    );
    let (blue, red, _) = chart_pixels(&shot);
    assert!(
        blue > 500 && red > 100,
        "p50 and measured points in blue, p95 and the knee in red: blue {blue}, red {red}"
    );
}

/// Five seconds of an LLM run (`brunt llm`'s metrics: TTFT, output tokens, requests by outcome)
/// drawn with its LLM section: the metrics' percentiles, tokens per second over time, failures
/// by cause.
#[test]
fn an_llm_run_draws_its_llm_section_offline() {
    use brunt_metrics::{MetricType, ValueType};
    let registry = Arc::new(Registry::new());
    let ttft = registry
        .register("llm_ttft", MetricType::Trend, ValueType::Time)
        .unwrap();
    let tokens = registry
        .register("llm_output_tokens", MetricType::Counter, ValueType::Default)
        .unwrap();
    let requests = registry
        .register("llm_requests", MetricType::Counter, ValueType::Default)
        .unwrap();
    let mut data = ReportData::new("brunt llm http://127.0.0.1:8080 --model m".into(), vec![]);
    let mut total = Snapshot::default();
    for s in 1..=5u32 {
        let mut agg = Aggregator::new(registry.clone(), false);
        for i in 0..10u32 {
            let (outcome, status) = match i {
                0 if s == 3 => ("stream_cut", None),
                1 if s == 4 => ("http_status", Some("503")),
                _ => ("ok", None),
            };
            let tags = TagSet::new([("outcome", outcome)]).with(status.map(|s| ("status", s)));
            agg.add(requests, &tags, 1.0);
            if outcome == "ok" {
                agg.add(ttft, &TagSet::empty(), f64::from(40 + i));
                agg.add(tokens, &TagSet::empty(), f64::from(10 * s));
            }
        }
        let series = agg.take().series;
        total.merge_series(&series);
        data.push_interval(Duration::from_secs(u64::from(s)), &series, &registry);
    }
    data.finish(&total, &registry, Duration::from_secs(5));
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, dom, body) = draw_offline(&chrome, dir.path(), &data);
    assert!(
        !dom.contains("<section id=\"llm\" hidden"),
        "the LLM section shows"
    );
    // req/s, latency, errors, VUs and output tokens per second.
    assert!(body.contains("data-charts=\"5\""), "{body}");
    assert!(dom.contains("Output tokens per second"), "the tokens chart");
    assert!(
        dom.contains("<td class=\"name\">llm_ttft</td>"),
        "the TTFT row"
    );
    assert!(dom.contains("stream cut"), "a stream cut by cause");
    assert!(dom.contains("HTTP status 503"), "an HTTP status by status");
}

/// An LLM sweep's exported result drawn as TTFT p50/p99 against each step's rate, with the steps'
/// table and the best rate.
#[test]
fn an_llm_sweep_draws_ttft_against_the_rate_offline() {
    let step = |value: f64, p50: f64, p99: f64, met: bool| {
        let pct = serde_json::json!({"p50": p50, "p90": p99, "p99": p99});
        serde_json::json!({
            "phase": "listed", "value": value, "seconds": 2.0, "requests": 10, "failed": 0,
            "ttft_ms": pct, "tpot_ms": pct, "itl_ms": pct, "e2e_ms": pct,
            "output_tokens_per_second": 100.0, "goodput": 5.0, "throughput": 5.0,
            "slo_met": met, "slo_missed": if met { vec![] } else { vec!["llm_ttft p(95)=90ms >= 60ms"] },
        })
    };
    let result = serde_json::json!({
        "kind": "brunt-llm-sweep", "url": "http://127.0.0.1:8080", "model": "m", "varied": "rate",
        "slo": "ttft:p(95)<60ms", "best": 10.0, "complete": true,
        "steps": [step(5.0, 41.0, 43.0, true), step(10.0, 45.0, 55.0, true), step(20.0, 70.0, 95.0, false)],
    });
    let data = brunt_web::llm_sweep::from_llm_sweep(&result).unwrap();
    assert_eq!(
        brunt_web::llm_sweep::from_llm_sweep(&serde_json::json!({"kind": "brunt-llm-sweep"}))
            .unwrap_err(),
        "steps: missing"
    );
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, dom, body) = draw_offline(&chrome, dir.path(), &data);
    assert!(body.contains("data-charts=\"1\""), "{body}");
    assert!(
        !dom.contains("<section id=\"llm-sweep\" hidden"),
        "the sweep's section shows"
    );
    assert!(dom.contains("id=\"llm-sweep-ttft\""), "the TTFT chart");
    assert!(
        dom.contains("highest rate/s meeting --slo 'ttft:p(95)&lt;60ms': 10"),
        "the verdict"
    );
    assert!(dom.contains("LLM sweep · finished"), "the status");
}
