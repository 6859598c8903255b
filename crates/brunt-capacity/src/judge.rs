//! When a step fails, and why: each check by name, so the verdict can say what broke first.

use crate::args::Settings;
use crate::step::{Failure, Step};

/// Scheduled latency this far above the request's own (and by at least [`LAG_FLOOR_MS`]) means
/// requests started late: the generator could not keep the schedule.
const LAG_FACTOR: f64 = 2.0;
const LAG_FLOOR_MS: f64 = 10.0;

/// Fills `step.failures` and `step.bottleneck`. `baseline` is None when judging the baseline
/// itself, which has no knee to cross.
pub(crate) fn judge(step: &mut Step, baseline: Option<&Step>, s: &Settings) {
    let mut out = Vec::new();
    let mut fail = |kind, message| out.push(Failure { kind, message });
    // The generator first: when it is the limit, the other signals describe it, not the target.
    if step.dropped_iterations > 0 {
        fail(
            "generator",
            format!(
                "{} iterations dropped: no free VU at their start (raise --max-vus)",
                step.dropped_iterations
            ),
        );
    }
    if let Some(lag) = &step.generator_lag {
        fail("generator", lag.clone());
    }
    if step.scheduled_p99_ms > step.p99_ms * LAG_FACTOR
        && step.scheduled_p99_ms - step.p99_ms > LAG_FLOOR_MS
    {
        fail(
            "generator",
            format!(
                "requests started late: scheduled p(99) {:.1} ms against http_req_duration p(99) {:.1} ms",
                step.scheduled_p99_ms, step.p99_ms
            ),
        );
    }
    for r in step.slos.iter().filter(|r| !r.ok) {
        fail("slo", format!("{}: {} failed", r.metric_name, r.source));
    }
    if let Some(base) = baseline {
        let limit = base.knee_ms * s.knee_factor;
        if step.knee_ms > limit {
            fail(
                "knee",
                format!(
                    "p({}) {:.1} ms is over {}x the baseline's {:.1} ms",
                    s.knee_percentile, step.knee_ms, s.knee_factor, base.knee_ms
                ),
            );
        }
    }
    if step.requests == 0 {
        fail("errors", "no request completed".to_string());
    } else if step.error_rate > s.max_errors {
        fail(
            "errors",
            format!(
                "{:.2}% of requests failed (--max-errors {}%)",
                step.error_rate * 100.0,
                s.max_errors * 100.0
            ),
        );
    }
    let mut closest: Option<(f64, String)> = None;
    for m in &step.monitors {
        let shares = [
            m.cpu_percent.zip(m.cpu_limit_percent).map(|(used, limit)| {
                (
                    used / limit,
                    format!(
                        "{} CPU {:.0}% of {:.0}% ({} cores)",
                        m.monitor,
                        used,
                        limit,
                        limit / 100.0
                    ),
                )
            }),
            m.memory_bytes
                .zip(m.memory_limit_bytes)
                .map(|(used, limit)| {
                    (
                        used / limit as f64,
                        format!(
                            "{} memory {:.0} MB of {:.0} MB",
                            m.monitor,
                            used / 1e6,
                            limit as f64 / 1e6
                        ),
                    )
                }),
        ];
        for (share, what) in shares.into_iter().flatten() {
            if share >= s.max_resource {
                fail(
                    "resource",
                    format!("{what}: over --max-resource {}%", s.max_resource * 100.0),
                );
            }
            if closest.as_ref().is_none_or(|(c, _)| share > *c) {
                closest = Some((share, what));
            }
        }
    }
    step.bottleneck = if out.iter().any(|f| f.kind == "generator") {
        Some("the generator".to_string())
    } else if out.is_empty() {
        None
    } else {
        closest.map(|(_, what)| what)
    };
    step.failures = out;
}

/// Whether the generator, and nothing about the target, failed `step` (already judged).
pub(crate) fn only_the_generator(step: &Step) -> bool {
    !step.failures.is_empty() && step.failures.iter().all(|f| f.kind == "generator")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::{Level, MonitorPeak, Phase};
    use clap::Parser;

    fn settings() -> Settings {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: crate::CapacityArgs,
        }
        Cli::try_parse_from(["brunt", "http://127.0.0.1:1/"])
            .unwrap()
            .args
            .settings()
            .unwrap()
    }

    fn step(p99: f64) -> Step {
        Step {
            phase: Phase::Ladder,
            level: Level::Rate(100),
            achieved: 100.0,
            requests: 1000,
            mean_ms: p99 / 2.0,
            p50_ms: p99 / 2.0,
            p95_ms: p99,
            p99_ms: p99,
            knee_ms: p99,
            scheduled_p99_ms: p99,
            error_rate: 0.0,
            dropped_iterations: 0,
            in_flight: 1.0,
            littles_law_in_flight: 1.0,
            littles_law_violation: None,
            monitors: Vec::new(),
            generator_lag: None,
            slos: Vec::new(),
            failures: Vec::new(),
            bottleneck: None,
        }
    }

    fn kinds(s: &Step) -> Vec<&str> {
        s.failures.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn the_knee_is_the_factor_times_the_baselines_percentile() {
        let base = step(10.0);
        let (mut ok, mut knee) = (step(19.9), step(20.1));
        judge(&mut ok, Some(&base), &settings());
        judge(&mut knee, Some(&base), &settings());
        assert!(ok.passed());
        assert_eq!(kinds(&knee), ["knee"]);
        assert!(knee.failures[0]
            .message
            .contains("20.1 ms is over 2x the baseline's 10.0 ms"));
    }

    #[test]
    fn errors_and_a_busy_cpu_fail_and_name_the_bottleneck() {
        let mut s = step(10.0);
        s.error_rate = 0.02;
        s.monitors.push(MonitorPeak {
            monitor: "api".into(),
            cpu_percent: Some(190.0),
            cpu_limit_percent: Some(200.0),
            memory_bytes: Some(1e8),
            memory_limit_bytes: Some(1_000_000_000),
        });
        judge(&mut s, Some(&step(10.0)), &settings());
        assert_eq!(kinds(&s), ["errors", "resource"]);
        assert_eq!(
            s.bottleneck.as_deref(),
            Some("api CPU 190% of 200% (2 cores)")
        );
    }

    #[test]
    fn late_starts_and_drops_blame_the_generator() {
        let mut s = step(10.0);
        s.scheduled_p99_ms = 80.0;
        s.dropped_iterations = 3;
        judge(&mut s, None, &settings());
        assert_eq!(kinds(&s), ["generator", "generator"]);
        assert_eq!(s.bottleneck.as_deref(), Some("the generator"));
        assert!(only_the_generator(&s), "such a step is run again");
        let mut both = step(10.0);
        both.scheduled_p99_ms = 80.0;
        both.error_rate = 0.5;
        judge(&mut both, None, &settings());
        assert_eq!(kinds(&both), ["generator", "errors"]);
        assert!(!only_the_generator(&both), "the target failed it too");
        let mut small = step(1.0);
        small.scheduled_p99_ms = 5.0;
        judge(&mut small, None, &settings());
        assert!(small.passed(), "a few ms of scheduling lag is not a limit");
        assert!(!only_the_generator(&small));
    }
}
