//! The log as a feed, without a run: offsets, names, copies, loops and the scan's verdicts, read
//! straight from `LogFeed` and `scan`.

use brunt_engine::arrival::ArrivalFeed;
use brunt_quick::FedRequest;
use brunt_replay::feed::{LogFeed, Settings};
use brunt_replay::scan::scan;
use brunt_workload::format::{JsonFields, LogFormat};
use std::path::Path;
use std::time::Duration;

/// A JSON log line at `ms` past 00:00:00.
fn line(ms: u64, method: &str, path: &str, status: u16) -> String {
    format!(
        r#"{{"time":"2026-01-01T00:00:{:02}.{:03}Z","method":"{method}","path":"{path}","status":{status}}}"#,
        ms / 1000,
        ms % 1000
    )
}

fn log(dir: &Path, lines: &[String]) -> std::path::PathBuf {
    let path = dir.join("app.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn settings(log: &Path, first_us: i64) -> Settings {
    Settings {
        log: log.to_path_buf(),
        format: LogFormat::Json,
        fields: JsonFields::default(),
        patterns: Vec::new(),
        max_routes: 500,
        target: "http://127.0.0.1:9".into(),
        headers: vec![("X-Run".into(), "r1".into())],
        speed: 1.0,
        rate_scale: 1.0,
        seed: 1,
        first_us,
        period: None,
        until: Duration::from_secs(3600),
    }
}

/// Everything the feed gives: offset in ms, URL, name and logged status.
fn drain(feed: &LogFeed) -> Vec<(f64, String, String, String)> {
    std::iter::from_fn(|| feed.next())
        .map(|a| {
            let r = a.payload.downcast::<FedRequest>().unwrap();
            (
                a.offset.as_secs_f64() * 1000.0,
                r.request.url().to_string(),
                r.tags.get("name").unwrap().to_string(),
                r.tags.get("logged_status").unwrap().to_string(),
            )
        })
        .collect()
}

fn first_us(log: &Path) -> i64 {
    scan(log, Some(LogFormat::Json), JsonFields::default(), false)
        .unwrap()
        .first_us
}

#[test]
fn offsets_names_and_speed() {
    let dir = tempfile::tempdir().unwrap();
    let log = log(
        dir.path(),
        &[
            line(1000, "GET", "/items/7?x=1", 200),
            line(1100, "POST", "/cart", 201),
            // 0.5 s behind: sent right after the line before.
            line(600, "GET", "/items/8", 404),
            line(1400, "GET", "/items/9", 200),
        ],
    );
    let first = first_us(&log);
    let got = drain(&LogFeed::start(settings(&log, first)).unwrap());
    let want = [
        (
            0.0,
            "http://127.0.0.1:9/items/7?x=1",
            "GET /items/{id}",
            "200",
        ),
        (100.0, "http://127.0.0.1:9/cart", "POST /cart", "201"),
        (
            100.0,
            "http://127.0.0.1:9/items/8",
            "GET /items/{id}",
            "404",
        ),
        (
            400.0,
            "http://127.0.0.1:9/items/9",
            "GET /items/{id}",
            "200",
        ),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g.0 - w.0).abs() < 0.001, "{g:?} vs {w:?}");
        assert_eq!((g.1.as_str(), g.2.as_str(), g.3.as_str()), (w.1, w.2, w.3));
    }
    let fast = drain(
        &LogFeed::start(Settings {
            speed: 4.0,
            ..settings(&log, first)
        })
        .unwrap(),
    );
    assert!((fast[3].0 - 100.0).abs() < 0.001, "{fast:?}");
}

#[test]
fn rate_scale_copies_spread_over_the_gap_and_fractions_keep_a_seeded_share() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..200).map(|i| line(i * 10, "GET", "/a", 200)).collect();
    let log = log(dir.path(), &lines);
    let first = first_us(&log);
    let double = drain(
        &LogFeed::start(Settings {
            rate_scale: 2.0,
            ..settings(&log, first)
        })
        .unwrap(),
    );
    assert_eq!(double.len(), 400);
    // Each request's copy halfway to the next; the last one's together with it.
    assert!((double[1].0 - 5.0).abs() < 0.001, "{:?}", &double[..3]);
    assert!((double[398].0 - double[399].0).abs() < 0.001);
    let half = |seed| {
        drain(
            &LogFeed::start(Settings {
                rate_scale: 0.5,
                seed,
                ..settings(&log, first)
            })
            .unwrap(),
        )
    };
    let (a, b, c) = (half(3), half(3), half(4));
    assert!((70..=130).contains(&a.len()), "{}", a.len());
    assert_eq!(a, b, "the same seed keeps the same requests");
    assert_ne!(a, c);
}

#[test]
fn loops_restart_one_mean_gap_later_until_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..5).map(|i| line(i * 100, "GET", "/a", 200)).collect();
    let log = log(dir.path(), &lines);
    let first = first_us(&log);
    let got = drain(
        &LogFeed::start(Settings {
            // The played span (400 ms) plus a mean gap (100 ms).
            period: Some(Duration::from_millis(500)),
            until: Duration::from_millis(1200),
            ..settings(&log, first)
        })
        .unwrap(),
    );
    let offsets: Vec<f64> = got.iter().map(|g| g.0.round()).collect();
    assert_eq!(
        offsets,
        [0.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 900.0, 1000.0, 1100.0]
    );
}

#[test]
fn the_scan_counts_what_it_cannot_replay_and_refuses_a_clock_going_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = vec![
        line(1000, "GET", "/a", 200),
        "not json".to_string(),
        r#"{"method":"GET","path":"/untimed","status":200}"#.to_string(),
        line(1500, "GET", "http://absolute.example/a", 200),
        line(2000, "GET", "/b", 200),
    ];
    let path = log(dir.path(), &lines);
    let facts = scan(&path, None, JsonFields::default(), false).unwrap();
    assert_eq!(facts.format, LogFormat::Json);
    assert_eq!((facts.requests, facts.lines.unparsed), (2, 3));
    assert_eq!(facts.last_us - facts.first_us, 1_000_000);
    let reasons: Vec<&str> = facts
        .lines
        .samples
        .iter()
        .map(|u| u.reason.as_str())
        .collect();
    assert!(reasons[1].starts_with("no timestamp"), "{reasons:?}");
    assert!(reasons[2].contains("is not a path"), "{reasons:?}");
    lines.push(line(500, "GET", "/c", 200));
    let path = log(dir.path(), &lines);
    let e = scan(&path, None, JsonFields::default(), false).unwrap_err();
    assert!(
        format!("{e:#}").contains("app.jsonl: line 6: the clock jumps back by 1s ("),
        "{e:#}"
    );
}
