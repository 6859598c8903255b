//! `brunt model`: the printed model, `--out`'s JSON, and how bad input fails (exit 1, the
//! file and the reason on stderr).

mod common;

use brunt_workload::synth::{Starts, Synth, Written};
use common::{brunt, brunt_cmd, fails_with, k6, output_within, stderr, target_process};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The rate-curve test counts requests per second: no other test of this file runs beside it,
/// so the generator keeps its schedule.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn shop_log(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("access.log");
    let mut synth = Synth::flat(
        &[
            ("GET", "/api/products/{id}", 0.7),
            ("POST", "/api/cart", 0.3),
        ],
        5.0,
        3,
        Starts::Poisson,
    );
    synth.next = vec![vec![0.5, 0.2], vec![0.3, 0.0]];
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    synth.write(&mut f, Written::Combined).unwrap();
    f.flush().unwrap();
    path
}

#[test]
fn prints_the_model_and_writes_it_as_json() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = shop_log(dir.path());
    let json = dir.path().join("model.json");
    let out = brunt(&[
        "model",
        log.to_str().unwrap(),
        "--out",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "(combined)",
        "GET /api/products/{id}",
        "POST /api/cart",
        "index of dispersion",
        "Poisson-like",
        "peak-to-mean",
        "sessions ",
        "START -> GET /api/products/{id}",
    ] {
        assert!(text.contains(needle), "lacks '{needle}':\n{text}");
    }
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(model["kind"], "brunt-workload-model");
    assert_eq!(model["routes"][0]["path"], "/api/products/{id}");
    // 3 minutes of session starts; the last sessions may run into a 4th.
    let minutes = model["arrival"]["per_minute"].as_array().unwrap().len();
    assert!((3..=4).contains(&minutes), "{minutes} minutes");
}

#[test]
fn bad_input_fails_with_the_file_and_reason() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "").unwrap();
    fails_with(
        &["model", empty.to_str().unwrap()],
        1,
        "empty.log: the log is empty",
    );
    fails_with(
        &["model", "/nonexistent/access.log"],
        1,
        "cannot open /nonexistent/access.log",
    );
    let junk = dir.path().join("junk.log");
    std::fs::write(&junk, "GET / 200\n").unwrap();
    fails_with(
        &["model", junk.to_str().unwrap()],
        1,
        "cannot tell the format",
    );
    let log = shop_log(dir.path());
    let log = log.to_str().unwrap();
    fails_with(&["model", log, "--field", "when=ts"], 1, "no field 'when'");
    fails_with(&["model", log, "--route", "api"], 1, "--route 'api'");
    fails_with(
        &["model", log, "--session-key", "cookie"],
        1,
        "--session-key 'cookie'",
    );
    fails_with(
        &["model", log, "--session-gap", "soon"],
        1,
        "--session-gap 'soon'",
    );
    fails_with(&["model", log, "--format", "iis"], 2, "invalid value 'iis'");
}

/// Writes `synth`'s log, and the script of its model with its 20 minutes in 20 s (`--compress
/// 20m:20s`) at `scale` times the rate; returns the script and the model's JSON.
fn script_of(dir: &std::path::Path, synth: &Synth, scale: &str) -> (PathBuf, serde_json::Value) {
    let log = dir.join("access.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
    synth.write(&mut f, Written::Combined).unwrap();
    f.flush().unwrap();
    drop(f);
    let script = dir.join("load.js");
    let json = dir.join("model.json");
    let out = brunt(&[
        "model",
        log.to_str().unwrap(),
        "--quiet",
        "--out",
        json.to_str().unwrap(),
        "--script",
        script.to_str().unwrap(),
        "--compress",
        "20m:20s",
        "--scale",
        scale,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let model = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (script, model)
}

/// Runs `script` under brunt against `base` without think times; its `http_reqs` samples.
fn http_reqs(
    dir: &std::path::Path,
    script: &std::path::Path,
    base: &str,
) -> Vec<serde_json::Value> {
    let samples = dir.join("samples.json");
    let child = brunt_cmd()
        .args(["run", "--quiet", "-e"])
        .arg(format!("BASE_URL={base}"))
        .args(["-e", "THINK_SCALE=0", "--out"])
        .arg(format!("json={}", samples.display()))
        .arg(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = output_within(child, Duration::from_secs(120));
    assert_eq!(run.status.code(), Some(0), "brunt run: {}", stderr(&run));
    std::fs::read_to_string(&samples)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|v| v["type"] == "Point" && v["metric"] == "http_reqs")
        .collect()
}

/// A script written from a model runs unchanged under k6 (checked by `k6 inspect` and a
/// 2-iteration `k6 run` when k6 is installed) and, under brunt against `brunt target`,
/// requests each route at its logged share within 2 percentage points (about 10,000 requests
/// in 20 s: the log's 20 minutes compressed 60 times, at 30x its session rate, no think time).
#[test]
fn a_generated_script_reproduces_the_route_shares() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut synth = Synth::shop("/anything", 4.0, 20);
    // Slow logged answers: the thresholds seeded from them hold on a busy machine.
    synth.latency_mean_ms = 1000.0;
    let (script, model) = script_of(dir.path(), &synth, "30");
    let text = std::fs::read_to_string(&script).unwrap();
    for needle in [
        "executor: 'ramping-arrival-rate'",
        "const NEXT = [",
        "http_req_failed: ['rate<",
        "s in all",
    ] {
        assert!(
            text.contains(needle),
            "the script lacks '{needle}':\n{text}"
        );
    }
    let (target, base) = target_process(brunt_cmd(), &[]);
    if let Some(k6) = k6() {
        let inspect = Command::new(&k6)
            .args(["inspect"])
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(
            inspect.status.code(),
            Some(0),
            "k6 inspect: {}",
            stderr(&inspect)
        );
        let run = Command::new(&k6)
            .args(["run", "--quiet", "--vus", "1", "--iterations", "2", "-e"])
            .arg(format!("BASE_URL={base}"))
            .args(["-e", "THINK_SCALE=0"])
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "k6 run: {}", stderr(&run));
    } else {
        eprintln!("k6 is not on PATH: the script is not checked by k6");
    }
    let points = http_reqs(dir.path(), &script, &base);
    drop(target);
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    for v in &points {
        let name = v["data"]["tags"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        *by_name.entry(name).or_default() += 1;
    }
    let total: u64 = by_name.values().sum();
    // The curve's volume: the log's requests at 30x the rate in a 60th of the time, within 10%
    // (sessions are random: their number and lengths vary by a few percent).
    let want = model["requests"].as_f64().unwrap() * 30.0 / 60.0;
    assert!(
        (total as f64 - want).abs() <= want * 0.1,
        "{total} requests, the curve's volume is {want:.0}: {by_name:?}"
    );
    for route in model["routes"].as_array().unwrap() {
        let name = format!(
            "{} {}",
            route["method"].as_str().unwrap(),
            route["path"].as_str().unwrap()
        );
        let want = route["share"].as_f64().unwrap();
        let got = by_name.get(&name).copied().unwrap_or(0) as f64 / total as f64;
        eprintln!("{name}: {got:.4} of {total} requests, {want:.4} in the log");
        assert!(
            (got - want).abs() <= 0.02,
            "{name}: {got:.4} of the script's {total} requests, {want:.4} in the log"
        );
    }
}

/// A script written from a model follows the logged rate curve: run by brunt against `brunt
/// target`, each logged minute (played in one second: `--compress 20m:20s`, at twice the
/// rate) gets the model's count of requests for that minute within 5%. One request per
/// session, so the curve of sessions is the curve of requests; about 100 requests a second
/// logged (Poisson noise of 1.3% a minute), rising and falling by 4/s a minute (the script's
/// stages ramp from one minute's rate to the next: a lag of about 2%).
#[test]
fn a_generated_script_reproduces_the_rate_curve_per_minute() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut synth = Synth::flat(
        &[("GET", "/anything/a", 0.6), ("GET", "/anything/b", 0.4)],
        100.0,
        20,
        Starts::Poisson,
    );
    synth.curve = (0..20)
        .map(|m: i32| 80.0 + 4.0 * f64::from(10 - (m - 10).abs()))
        .collect();
    let (script, model) = script_of(dir.path(), &synth, "2");
    let per_minute: Vec<f64> = model["arrival"]["per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (target, base) = target_process(brunt_cmd(), &[]);
    let points = http_reqs(dir.path(), &script, &base);
    drop(target);
    let mut times: Vec<i64> = points
        .iter()
        .map(|v| {
            let at = v["data"]["time"].as_str().unwrap();
            brunt_workload::time::parse_any(at).expect("an RFC 3339 time")
        })
        .collect();
    times.sort_unstable();
    // The seconds are counted back from the last request, which ends the 20 s schedule within
    // a few milliseconds; the first ones carry the start-up (new connections) in their times.
    let origin = times[times.len() - 1] - 20_000_000;
    let mut played = vec![0f64; per_minute.len()];
    for t in &times {
        let second = ((t - origin).max(0) / 1_000_000) as usize;
        played[second.min(per_minute.len() - 1)] += 1.0;
    }
    for (minute, (got, logged)) in played.iter().zip(&per_minute).enumerate() {
        // Each logged minute plays in a second at twice the rate: a 30th of its count.
        let want = logged * 2.0 / 60.0;
        eprintln!("minute {minute}: {got} requests played, {want:.1} from the model");
        assert!(
            (got - want).abs() <= want * 0.05,
            "minute {minute}: {got} requests played, the model's curve gives {want:.1}"
        );
    }
}
