//! The end-of-run checks of the soak and spike profiles (`--profile`): soak compares its first
//! and last windows (latency drift, and each `--monitor` target's memory growth), spike compares
//! its recovery with its baseline. Each window keeps only the merged intervals that fall in it,
//! so a 4-hour soak costs two histograms. A failed check fails the run (exit 99), as a failed
//! threshold does; the limits are documented in docs/profiles.md.

use crate::humanize;
use brunt_engine::profile::CheckWindows;
use brunt_metrics::{builtin, Agg, MetricId, Registry, SeriesMap, TrendAgg};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

/// Soak fails when the last window's p95 is over this multiple of the first window's...
const DRIFT_LIMIT: f64 = 1.25;
/// Spike fails when the recovery's p95 is over this multiple of the baseline's...
const RECOVERY_LIMIT: f64 = 1.5;
/// ...and more than this many milliseconds above it: sub-millisecond latencies double on noise.
const LATENCY_SLACK_MS: f64 = 5.0;
/// Soak fails when a monitored target's mean resident memory grew by more than this fraction.
const MEMORY_LIMIT: f64 = 0.2;

/// The percentile the latency checks compare.
const PERCENTILE: f64 = 95.0;

/// What the run did in one window.
#[derive(Default)]
struct Window {
    range: Range<Duration>,
    requests: TrendAgg,
    iterations: TrendAgg,
    /// `target_memory_bytes` per monitor name.
    memory: BTreeMap<String, TrendAgg>,
}

/// The checks of one run, fed by the engine's ticks.
pub struct ProfileChecks {
    windows: CheckWindows,
    /// First/baseline, then last/recovery.
    seen: [Window; 2],
    memory: Option<MetricId>,
}

/// One check's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// e.g. `soak latency drift`.
    pub name: String,
    /// None: not judged (a window had no samples).
    pub passed: Option<bool>,
    /// What was compared, e.g. `p95 12ms in the first window ... (limit 1.25x)`.
    pub detail: String,
    /// (before, after) values in the check's unit: ms for latency, bytes for memory.
    pub values: Option<(f64, f64)>,
    pub limit: f64,
}

impl CheckResult {
    /// The summary's line.
    pub fn line(&self) -> String {
        let verdict = match self.passed {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "not judged",
        };
        format!("{}: {verdict}: {}", self.name, self.detail)
    }

    /// The entry under `brunt.profile_checks` in the summary data and `--summary-export`.
    pub fn to_json(&self) -> Value {
        json!({
            "check": self.name,
            "result": match self.passed {
                Some(true) => "pass",
                Some(false) => "fail",
                None => "not judged",
            },
            "before": self.values.map(|v| v.0),
            "after": self.values.map(|v| v.1),
            "limit": self.limit,
            "detail": self.detail,
        })
    }
}

impl ProfileChecks {
    pub fn new(windows: CheckWindows, registry: &Registry) -> ProfileChecks {
        let (a, b) = match &windows {
            CheckWindows::Drift { first, last } => (first.clone(), last.clone()),
            CheckWindows::Recovery { baseline, recovery } => (baseline.clone(), recovery.clone()),
        };
        ProfileChecks {
            windows,
            seen: [a, b].map(|range| Window {
                range,
                ..Window::default()
            }),
            memory: registry.get("target_memory_bytes"),
        }
    }

    /// Counts one tick's interval; `elapsed` is the tick's time (it holds the second before),
    /// so the interval belongs to the window holding its middle.
    pub fn observe(&mut self, elapsed: Duration, series: &SeriesMap) {
        let middle = elapsed.saturating_sub(Duration::from_millis(500));
        for w in self.seen.iter_mut().filter(|w| w.range.contains(&middle)) {
            for ((metric, tags), agg) in series {
                let Agg::Trend(t) = agg else { continue };
                if *metric == builtin::HTTP_REQ_DURATION {
                    w.requests.merge(t);
                } else if *metric == builtin::ITERATION_DURATION {
                    w.iterations.merge(t);
                } else if Some(*metric) == self.memory {
                    let name = tags.get("monitor").unwrap_or_default().to_string();
                    w.memory.entry(name).or_default().merge(t);
                }
            }
        }
    }

    /// The verdicts: latency first, then each monitored target's memory (soak).
    pub fn results(&self) -> Vec<CheckResult> {
        let [a, b] = &self.seen;
        let (name, limit, words) = match self.windows {
            CheckWindows::Drift { .. } => ("soak latency drift", DRIFT_LIMIT, ["first", "last"]),
            CheckWindows::Recovery { .. } => {
                ("spike recovery", RECOVERY_LIMIT, ["baseline", "recovery"])
            }
        };
        let mut out = vec![latency(name, limit, words, a, b)];
        if matches!(self.windows, CheckWindows::Drift { .. }) {
            out.extend(a.memory.keys().map(|monitor| memory(monitor, a, b)));
        }
        out
    }
}

/// `12.1ms in the first window (5m0s-28m0s)`.
fn at(value: String, word: &str, w: &Window) -> String {
    format!(
        "{value} in the {word} window ({}-{})",
        brunt_engine::format_duration(w.range.start),
        brunt_engine::format_duration(w.range.end)
    )
}

fn latency(name: &str, limit: f64, words: [&str; 2], a: &Window, b: &Window) -> CheckResult {
    // Request latency where the run made requests; a script without HTTP has iterations.
    let (what, before, after) = if a.requests.count > 0 || b.requests.count > 0 {
        ("http_req_duration", &a.requests, &b.requests)
    } else {
        ("iteration_duration", &a.iterations, &b.iterations)
    };
    let name = name.to_string();
    if before.count == 0 || after.count == 0 {
        return CheckResult {
            name,
            passed: None,
            detail: format!(
                "no {what} samples in the {} window",
                if before.count == 0 {
                    words[0]
                } else {
                    words[1]
                }
            ),
            values: None,
            limit,
        };
    }
    let (x, y) = (before.percentile(PERCENTILE), after.percentile(PERCENTILE));
    let ms = |v: f64| humanize::duration(v, None);
    let passed = y <= x * limit || y - x <= LATENCY_SLACK_MS;
    CheckResult {
        name,
        passed: Some(passed),
        detail: format!(
            "{what} p(95) {}, {} ({}; limit {limit}x or +{LATENCY_SLACK_MS}ms)",
            at(ms(x), words[0], a),
            at(ms(y), words[1], b),
            ratio(x, y)
        ),
        values: Some((x, y)),
        limit,
    }
}

fn memory(monitor: &str, a: &Window, b: &Window) -> CheckResult {
    let name = format!("soak memory growth of {monitor}");
    let before = a.memory[monitor].avg();
    let Some(after) = b
        .memory
        .get(monitor)
        .filter(|t| t.count > 0)
        .map(|t| t.avg())
    else {
        return CheckResult {
            name,
            passed: None,
            detail: "no memory samples in the last window (the process was gone?)".into(),
            values: None,
            limit: MEMORY_LIMIT,
        };
    };
    CheckResult {
        name,
        passed: Some(after <= before * (1.0 + MEMORY_LIMIT)),
        detail: format!(
            "mean resident memory {}, {} ({}; limit +{:.0}%)",
            at(humanize::bytes(before), "first", a),
            at(humanize::bytes(after), "last", b),
            ratio(before, after),
            MEMORY_LIMIT * 100.0
        ),
        values: Some((before, after)),
        limit: MEMORY_LIMIT,
    }
}

/// `+7%`, `-3%`, or `1.8x` for a change past doubling.
fn ratio(before: f64, after: f64) -> String {
    if before <= 0.0 {
        return "from zero".into();
    }
    let r = after / before;
    if r >= 2.0 {
        format!("{r:.1}x")
    } else {
        format!("{:+.0}%", (r - 1.0) * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brunt_metrics::TagSet;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// One second's interval whose requests took `ms` each, and a monitor's memory.
    fn tick(ms: f64, memory: Option<(MetricId, f64)>) -> SeriesMap {
        let mut m = SeriesMap::default();
        let mut t = TrendAgg::default();
        for _ in 0..20 {
            t.add(ms);
        }
        m.insert(
            (builtin::HTTP_REQ_DURATION, TagSet::empty()),
            Agg::Trend(Box::new(t)),
        );
        if let Some((id, bytes)) = memory {
            let mut t = TrendAgg::default();
            t.add(bytes);
            m.insert(
                (id, TagSet::new([("monitor", "api")])),
                Agg::Trend(Box::new(t)),
            );
        }
        m
    }

    fn soak(registry: &Registry) -> ProfileChecks {
        ProfileChecks::new(
            CheckWindows::Drift {
                first: s(1)..s(3),
                last: s(8)..s(10),
            },
            registry,
        )
    }

    #[test]
    fn soak_fails_on_latency_drift_and_memory_growth() {
        let registry = Registry::new();
        let mem = registry
            .register(
                "target_memory_bytes",
                brunt_metrics::MetricType::Trend,
                brunt_metrics::ValueType::Data,
            )
            .unwrap();
        let mut c = soak(&registry);
        for sec in 1..=10u64 {
            let slow = sec > 8;
            let ms = if slow { 40.0 } else { 10.0 };
            let bytes = if slow { 150e6 } else { 100e6 };
            c.observe(s(sec), &tick(ms, Some((mem, bytes))));
        }
        let r = c.results();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].passed, Some(false));
        assert_eq!(r[0].values, Some((10.0, 40.0)));
        assert_eq!(
            r[0].line(),
            "soak latency drift: FAIL: http_req_duration p(95) 10ms in the first window (1s-3s), 40ms in the last window (8s-10s) (4.0x; limit 1.25x or +5ms)"
        );
        assert_eq!(r[1].passed, Some(false));
        assert!(
            r[1].line().starts_with("soak memory growth of api: FAIL: mean resident memory 100 MB in the first window (1s-3s), 150 MB in the last window (8s-10s) (+50%; limit +20%)"),
            "{}",
            r[1].line()
        );
        assert_eq!(r[1].to_json()["result"], "fail");
    }

    #[test]
    fn a_steady_soak_passes_and_small_latencies_get_slack() {
        let registry = Registry::new();
        let mut c = soak(&registry);
        for sec in 1..=10u64 {
            // 0.2 ms to 0.6 ms triples, but by less than the 5 ms slack.
            c.observe(s(sec), &tick(if sec > 8 { 0.6 } else { 0.2 }, None));
        }
        let r = c.results();
        assert_eq!(r.len(), 1, "no monitors, no memory check");
        assert_eq!(r[0].passed, Some(true), "{}", r[0].line());
    }

    #[test]
    fn spike_recovery_compares_the_recovery_with_the_baseline() {
        let registry = Registry::new();
        let windows = CheckWindows::Recovery {
            baseline: s(0)..s(3),
            recovery: s(10)..s(13),
        };
        let mut recovered = ProfileChecks::new(windows.clone(), &registry);
        let mut stuck = ProfileChecks::new(windows, &registry);
        for sec in 1..=13u64 {
            let base = if (4..8).contains(&sec) { 300.0 } else { 20.0 };
            recovered.observe(s(sec), &tick(base, None));
            stuck.observe(s(sec), &tick(if sec > 3 { 300.0 } else { 20.0 }, None));
        }
        let ok = &recovered.results()[0];
        assert_eq!(ok.passed, Some(true), "{}", ok.line());
        assert!(
            ok.line().starts_with("spike recovery: pass: "),
            "{}",
            ok.line()
        );
        let bad = &stuck.results()[0];
        assert_eq!(bad.passed, Some(false), "{}", bad.line());
        assert!(bad.line().contains("limit 1.5x"), "{}", bad.line());
    }

    #[test]
    fn an_empty_window_is_not_judged() {
        let registry = Registry::new();
        let mut c = soak(&registry);
        c.observe(s(2), &tick(5.0, None));
        let r = &c.results()[0];
        assert_eq!(r.passed, None);
        assert_eq!(
            r.line(),
            "soak latency drift: not judged: no http_req_duration samples in the last window"
        );
    }
}
