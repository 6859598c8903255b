//! The fit comes back to the model a log was generated from: route shares, the Markov chain,
//! session lengths and think times, the rate curve's peak-to-mean, and Poisson against bursty
//! arrivals by their index of dispersion. Each tolerance is stated where it is checked; the
//! logs are seeded, so the figures are the same on every run.

use brunt_workload::model::Model;
use brunt_workload::synth::{Starts, Synth, Written};
use brunt_workload::ModelArgs;
use clap::Parser;
use std::io::Write;
use std::path::Path;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ModelArgs,
}

fn fit(path: &Path, extra: &[&str]) -> anyhow::Result<Model> {
    let mut argv = vec!["model".to_string(), path.display().to_string()];
    argv.extend(extra.iter().map(|s| s.to_string()));
    brunt_workload::fit(&Cli::try_parse_from(argv)?.args)
}

fn write_log(synth: &Synth, written: Written) -> (tempfile::NamedTempFile, u64) {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    let n = synth
        .write(&mut std::io::BufWriter::new(f.as_file_mut()), written)
        .unwrap();
    (f, n)
}

fn close(what: &str, got: f64, want: f64, tolerance: f64) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: fitted {got:.4}, generated from {want:.4} (tolerance {tolerance})"
    );
}

/// Expected visits to each route per session: start · (I - P)^-1, by Gauss-Jordan.
fn visits(start: &[f64], next: &[Vec<f64>]) -> Vec<f64> {
    let n = start.len();
    // Solve v (I - P) = start, i.e. (I - P)^T v = start.
    let mut a: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let mut row: Vec<f64> = (0..n)
                .map(|j| f64::from(u8::from(i == j)) - next[j][i])
                .collect();
            row.push(start[i]);
            row
        })
        .collect();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
            .unwrap();
        a.swap(c, p);
        let pivot = a[c].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != c {
                let f = row[c] / pivot[c];
                for (x, p) in row.iter_mut().zip(&pivot).skip(c) {
                    *x -= f * p;
                }
            }
        }
    }
    (0..n).map(|i| a[i][n] / a[i][i]).collect()
}

#[test]
fn sessions_shares_chain_and_think_times_come_back() {
    let synth = Synth::shop("", 4.0, 20);
    let (log, n) = write_log(&synth, Written::Json);
    let m = fit(log.path(), &["--session-gap", "5m"]).unwrap();
    assert_eq!(m.format, "json", "detected from the first line");
    assert_eq!(m.requests, n);
    assert_eq!(m.lines.unparsed, 0);
    let v = visits(&synth.start, &synth.next);
    let per_session: f64 = v.iter().sum();
    // Route shares: within 1.5 percentage points of start · (I - P)^-1 normalised
    // (about 20,000 requests from 5,300 sessions).
    for (i, (method, path)) in synth.routes.iter().enumerate() {
        let r = m
            .routes
            .iter()
            .find(|r| &r.method == method && &r.path == path)
            .unwrap_or_else(|| panic!("no route {method} {path}"));
        close(
            &format!("share of {method} {path}"),
            r.share,
            v[i] / per_session,
            0.015,
        );
    }
    assert_eq!(m.routes.len(), 5, "ids are one route: {:?}", m.routes);
    // Requests per session: mean within 5%.
    let s = &m.sessions;
    close(
        "requests per session",
        s.requests_per_session.mean,
        per_session,
        per_session * 0.05,
    );
    // Think time: exponential with mean 2 s; mean and median (2 s x ln 2) within 5%.
    let think = s.think_time_ms.as_ref().unwrap();
    close("think time mean (ms)", think.mean, 2000.0, 100.0);
    close(
        "think time p50 (ms)",
        think.p50,
        2000.0 * std::f64::consts::LN_2,
        70.0,
    );
    assert_eq!(s.think_time_quantiles_ms.len(), 21);
    // The chain: each known transition within 0.03.
    let prob = |from: &str, to: &str| {
        s.transitions
            .iter()
            .find(|t| t.from == from && t.to == to)
            .map_or(0.0, |t| t.probability)
    };
    let names: Vec<String> = synth
        .routes
        .iter()
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    for (i, from) in names.iter().enumerate() {
        close(
            &format!("START -> {from}"),
            prob("START", from),
            synth.start[i],
            0.03,
        );
        for (j, to) in names.iter().enumerate() {
            close(
                &format!("{from} -> {to}"),
                prob(from, to),
                synth.next[i][j],
                0.03,
            );
        }
        let end = 1.0 - synth.next[i].iter().sum::<f64>();
        close(&format!("{from} -> END"), prob(from, "END"), end, 0.03);
    }
    // The JSON log's latency (duration_ms, exponential mean 25 ms): mean within 10%.
    let lat = m.routes[0].latency_ms.as_ref().unwrap();
    close("latency mean (ms)", lat.mean, 25.0, 2.5);
}

#[test]
fn poisson_arrivals_have_dispersion_near_one() {
    let synth = Synth::flat(&[("GET", "/a", 1.0)], 50.0, 10, Starts::Poisson);
    let (log, _) = write_log(&synth, Written::Combined);
    let m = fit(log.path(), &[]).unwrap();
    assert_eq!(m.format, "combined");
    let a = &m.arrival;
    // 30,000 arrivals over 600 seconds: the index of dispersion within 0.15 of 1.
    close("dispersion", a.dispersion.unwrap(), 1.0, 0.15);
    assert_eq!(a.pattern, "poisson");
    close("mean rate", a.mean_per_second, 50.0, 1.5);
    assert_eq!(a.per_minute.len(), 10);
}

#[test]
fn gamma_bursts_have_the_dispersion_of_their_shape() {
    // Gamma gaps of shape 0.25: the counts' index of dispersion tends to 1/0.25 = 4.
    let synth = Synth::flat(&[("GET", "/a", 1.0)], 50.0, 10, Starts::Gamma(0.25));
    let (log, _) = write_log(&synth, Written::Combined);
    let a = fit(log.path(), &[]).unwrap().arrival;
    close("dispersion", a.dispersion.unwrap(), 4.0, 0.8);
    assert_eq!(a.pattern, "bursty");
}

#[test]
fn the_rate_curve_its_peak_and_peak_minutes() {
    // 10 minutes at 20/s, then 5 at 60/s: peak-to-mean 60 / 33.3 = 1.8, within 5%. The
    // curve's step is left out of the dispersion, which stays Poisson's.
    let mut synth = Synth::flat(&[("GET", "/a", 1.0)], 20.0, 15, Starts::Poisson);
    synth.curve[10..].fill(60.0);
    let (log, _) = write_log(&synth, Written::Combined);
    let a = fit(log.path(), &[]).unwrap().arrival;
    assert_eq!(a.per_minute.len(), 15);
    close("peak-to-mean", a.peak_to_mean, 1.8, 0.09);
    close("dispersion", a.dispersion.unwrap(), 1.0, 0.15);
    for p in &a.peak_minutes {
        let minute: u32 = p.minute[14..16].parse().unwrap();
        assert!(minute >= 10, "peak minute {} is in the 20/s part", p.minute);
    }
}

#[test]
fn ids_and_uuids_normalise_and_gzip_reads_the_same() {
    let synth = Synth::flat(
        &[
            ("GET", "/api/orders/{id}", 0.5),
            ("GET", "/api/users/{uuid}/cart", 0.3),
            ("DELETE", "/api/orders/{id}", 0.2),
        ],
        50.0,
        10,
        Starts::Poisson,
    );
    let (plain, n) = write_log(&synth, Written::Combined);
    let m = fit(plain.path(), &[]).unwrap();
    let names: Vec<String> = m.routes.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "GET /api/orders/{id}",
            "GET /api/users/{uuid}/cart",
            "DELETE /api/orders/{id}"
        ]
    );
    // 30,000 requests: each share within 1 percentage point.
    for (r, want) in m.routes.iter().zip([0.5, 0.3, 0.2]) {
        close(&r.name(), r.share, want, 0.01);
        assert_eq!(r.path_values[0].len(), brunt_workload::fit::SAMPLES);
    }
    // Status mix 97/2/1 within 1 point, and the logged request time read as latency.
    let get = &m.routes[0];
    close(
        "200s",
        get.status[&200] as f64 / get.requests as f64,
        0.97,
        0.01,
    );
    close(
        "latency mean",
        get.latency_ms.as_ref().unwrap().mean,
        20.0,
        2.0,
    );
    let mut gz = tempfile::NamedTempFile::new().unwrap();
    {
        let mut enc = flate2::write::GzEncoder::new(gz.as_file_mut(), flate2::Compression::fast());
        enc.write_all(&std::fs::read(plain.path()).unwrap())
            .unwrap();
        enc.finish().unwrap();
    }
    let z = fit(gz.path(), &[]).unwrap();
    assert_eq!(z.requests, n);
    assert_eq!(
        serde_json::to_value(&z.routes).unwrap(),
        serde_json::to_value(&m.routes).unwrap()
    );
    // --route names what detection would not, and wins over it.
    let r = fit(plain.path(), &["--route", "/api/users/{user}/cart"]).unwrap();
    assert!(r.routes.iter().any(|r| r.path == "/api/users/{user}/cart"));
}

fn text_log(lines: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(lines.as_bytes()).unwrap();
    f
}

const GOOD: &str = r#"10.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "ua""#;

#[test]
fn bad_lines_are_counted_and_sampled_or_fatal_with_strict() {
    let log = text_log(&format!(
        "{GOOD}\ngarbage here\n{GOOD}\n\n{GOOD}\n\u{0}\u{1}\n"
    ));
    let m = fit(log.path(), &[]).unwrap();
    assert_eq!((m.lines.total, m.lines.parsed, m.lines.unparsed), (5, 3, 2));
    assert_eq!(m.lines.samples[0].line, 2);
    assert!(
        m.lines.samples[0].reason.contains("[time]"),
        "{:?}",
        m.lines.samples
    );
    let e = fit(log.path(), &["--strict"]).unwrap_err().to_string();
    assert!(
        e.ends_with(":2: no [time] field (not a combined line; --strict)"),
        "{e}"
    );
}

#[test]
fn empty_unknown_untimed_and_jumping_logs_say_so() {
    let e = fit(text_log("").path(), &[]).unwrap_err().to_string();
    assert!(e.ends_with("the log is empty"), "{e}");
    let e = fit(text_log("\n\n").path(), &["--format", "common"])
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("the log is empty"), "{e}");
    let e = fit(text_log("hello\nworld\n").path(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot tell the format") && e.contains("--format"),
        "{e}"
    );
    let e = fit(text_log("hello\n").path(), &["--format", "alb"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("none of its 1 lines is a alb access log line"),
        "{e}"
    );
    let untimed = r#"{"method":"GET","path":"/a","status":200}"#;
    let e = fit(text_log(untimed).path(), &["--format", "json"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no request has a timestamp") && e.contains("--field time=KEY"),
        "{e}"
    );
    let e = Cli::try_parse_from(["m", "x", "--format", "apache"])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("invalid value 'apache' for '--format"), "{e}");
    let jumping = format!(
        "{GOOD}\n{}\n{}\n",
        GOOD.replace("00:00:00", "03:00:00"),
        GOOD.replace("00:00:00", "00:01:00")
    );
    let m = fit(text_log(&jumping).path(), &[]).unwrap();
    assert!(
        m.warnings[0].starts_with("line 2: the clock jumps forward by 3h0m"),
        "{:?}",
        m.warnings
    );
    assert!(
        m.warnings[1].starts_with("line 3: the clock jumps back by 2h59m"),
        "{:?}",
        m.warnings
    );
    let stray = format!("{GOOD}\n{}\n", GOOD.replace("2026", "1970"));
    let e = fit(text_log(&stray).path(), &[]).unwrap_err().to_string();
    assert!(
        e.contains("its timestamps span") && e.contains("1970-01-01T00:00:00Z"),
        "{e}"
    );
}
