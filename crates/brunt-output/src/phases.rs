//! Cache-state phases (`--warm-up`, `--cold-cache`): the run's first stretch kept apart from the
//! rest, so that caches, JITs and connection pools that start cold neither skew the verdict
//! (`--warm-up`: its samples are left out of thresholds and the summary's metrics, and reported
//! as the `warm_up` phase) nor go unstated (`--cold-cache`: nothing is left out; the `cold` and
//! `warm` phases are reported side by side with the cold-start penalty). Metrics are merged once
//! a second, so a phase boundary falls on the whole second nearest to the duration asked for.

use crate::humanize;
use brunt_metrics::{builtin, SeriesMap, Snapshot};
use clap::Args;
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;

/// The flags, shared by `brunt quick` and `brunt run`.
#[derive(Debug, Clone, Default, Args)]
pub struct CacheStateArgs {
    /// Leave the first DURATION out of thresholds and of the summary's metrics (caches and pools
    /// warming up); it is reported apart as the warm_up phase (summary, --summary-export's
    /// brunt.phases, --report), e.g. --warm-up 30s
    #[arg(long, value_name = "DURATION", conflicts_with = "cold_cache")]
    pub warm_up: Option<String>,

    /// Report the first DURATION (cold) apart from the rest (warm), each with its p50/p95/p99
    /// request duration and error rate, and the cold-start penalty; nothing is left out, e.g.
    /// --cold-cache 10s
    #[arg(long, value_name = "DURATION")]
    pub cold_cache: Option<String>,
}

impl CacheStateArgs {
    /// The split the flags ask for; the error names the flag.
    pub fn split(&self) -> Result<Option<PhaseSplit>, String> {
        PhaseSplit::parse(
            self.warm_up.as_deref(),
            self.cold_cache.as_deref(),
            ["--warm-up", "--cold-cache"],
        )
    }
}

/// Where the run's first phase ends, and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseSplit {
    /// Left out of thresholds and the summary's metrics.
    WarmUp(Duration),
    /// Reported apart, nothing left out.
    ColdCache(Duration),
}

impl PhaseSplit {
    /// The split a warm-up or a cold phase of these durations asks for (at most one of them);
    /// `names` are what the user wrote them as (flags, or the script's `warmUp` and `coldCache`
    /// options), for the error.
    pub fn parse(
        warm_up: Option<&str>,
        cold_cache: Option<&str>,
        names: [&str; 2],
    ) -> Result<Option<PhaseSplit>, String> {
        let parse = |name: &str, v: &str| match brunt_engine::parse_duration(v) {
            Ok(d) if d >= Duration::from_secs(1) => Ok(d),
            Ok(_) => Err(format!(
                "{name} '{v}': must be at least 1s (metrics are merged once a second)"
            )),
            Err(e) => Err(format!("{name} '{v}': {e}")),
        };
        match (warm_up, cold_cache) {
            (Some(_), Some(_)) => Err(format!(
                "{} and {}: use one or the other",
                names[0], names[1]
            )),
            (Some(w), None) => Ok(Some(PhaseSplit::WarmUp(parse(names[0], w)?))),
            (None, Some(c)) => Ok(Some(PhaseSplit::ColdCache(parse(names[1], c)?))),
            (None, None) => Ok(None),
        }
    }

    /// How the results file names the split: `warm_up` or `cold_cache`.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            PhaseSplit::WarmUp(_) => "warm_up",
            PhaseSplit::ColdCache(_) => "cold_cache",
        }
    }

    /// The split a results file names; None for a kind this build does not know.
    pub(crate) fn from_kind(kind: &str, length: Duration) -> Option<PhaseSplit> {
        match kind {
            "warm_up" => Some(PhaseSplit::WarmUp(length)),
            "cold_cache" => Some(PhaseSplit::ColdCache(length)),
            _ => None,
        }
    }

    pub(crate) fn length(self) -> Duration {
        match self {
            PhaseSplit::WarmUp(d) | PhaseSplit::ColdCache(d) => d,
        }
    }

    /// The two phases' names, as `brunt.phases` keys them.
    fn names(self) -> [&'static str; 2] {
        match self {
            PhaseSplit::WarmUp(_) => ["warm_up", "measured"],
            PhaseSplit::ColdCache(_) => ["cold", "warm"],
        }
    }
}

/// One phase's merged intervals and the tick times they span.
#[derive(Default)]
struct Span {
    snapshot: Snapshot,
    /// The last tick merged in: the phase ends there.
    to: Duration,
}

/// The phases of one run, fed by the engine's ticks.
pub struct Phases {
    split: PhaseSplit,
    first: Span,
    rest: Span,
}

impl Phases {
    pub fn new(split: PhaseSplit) -> Phases {
        Phases {
            split,
            first: Span::default(),
            rest: Span::default(),
        }
    }

    /// Whether the tick at `elapsed` (which holds the second before it) is in the first phase:
    /// the phase that holds the second's middle.
    pub fn in_first(&self, elapsed: Duration) -> bool {
        elapsed.saturating_sub(Duration::from_millis(500)) < self.split.length()
    }

    /// Whether the tick at `elapsed` is in a warm-up, which thresholds leave out.
    pub fn leaves_out(&self, elapsed: Duration) -> bool {
        matches!(self.split, PhaseSplit::WarmUp(_)) && self.in_first(elapsed)
    }

    /// Merges one tick's interval into its phase.
    pub fn observe(&mut self, elapsed: Duration, series: &SeriesMap) {
        let span = if self.in_first(elapsed) {
            &mut self.first
        } else {
            &mut self.rest
        };
        span.snapshot.merge_series(series);
        span.to = elapsed;
    }

    /// With `--warm-up`: what thresholds and the summary judge (every second after the warm-up)
    /// and how long that lasted, for a run that has lasted `elapsed`. None with `--cold-cache`,
    /// which leaves nothing out.
    pub fn judged(&self, elapsed: Duration) -> Option<(&Snapshot, Duration)> {
        match self.split {
            PhaseSplit::WarmUp(_) => {
                Some((&self.rest.snapshot, elapsed.saturating_sub(self.first.to)))
            }
            PhaseSplit::ColdCache(_) => None,
        }
    }

    /// The time the warm-up left out of the judged figures; zero with `--cold-cache`.
    pub fn excluded(&self) -> Duration {
        match self.split {
            PhaseSplit::WarmUp(_) => self.first.to,
            PhaseSplit::ColdCache(_) => Duration::ZERO,
        }
    }

    /// Each phase's figures, the first phase first; a phase the run never reached is left out.
    pub fn readings(&self, elapsed: Duration) -> Vec<PhaseReading> {
        let [first, rest] = self.split.names();
        let excluded = matches!(self.split, PhaseSplit::WarmUp(_));
        let mut out = vec![PhaseReading::new(
            first,
            Duration::ZERO,
            self.first.to,
            excluded,
            &self.first.snapshot,
        )];
        if elapsed > self.first.to {
            out.push(PhaseReading::new(
                rest,
                self.first.to,
                elapsed,
                false,
                &self.rest.snapshot,
            ));
        }
        out
    }
}

/// What one phase measured: the summary's lines, a `brunt.phases` entry and the report's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseReading {
    /// `warm_up` or `measured`; `cold` or `warm`.
    pub phase: String,
    /// Seconds since the test started.
    pub from: f64,
    pub to: f64,
    /// Left out of thresholds and the summary's metrics (the warm-up).
    pub excluded: bool,
    pub requests: f64,
    /// Requests per second over the phase.
    pub rps: f64,
    /// `http_req_failed`'s rate; None without requests.
    pub error_rate: Option<f64>,
    /// `http_req_duration` percentiles in ms; None without requests.
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub iterations: f64,
}

impl PhaseReading {
    fn new(
        phase: &str,
        from: Duration,
        to: Duration,
        excluded: bool,
        snap: &Snapshot,
    ) -> PhaseReading {
        let secs = to.saturating_sub(from).as_secs_f64();
        let stat = |id, name| snap.metric(id).and_then(|a| a.stat(name, secs));
        let requests = stat(builtin::HTTP_REQS, "count").unwrap_or(0.0);
        let requested = |v: Option<f64>| v.filter(|_| requests > 0.0);
        PhaseReading {
            phase: phase.to_string(),
            from: from.as_secs_f64(),
            to: to.as_secs_f64(),
            excluded,
            requests,
            rps: stat(builtin::HTTP_REQS, "rate").unwrap_or(0.0),
            error_rate: requested(stat(builtin::HTTP_REQ_FAILED, "rate")),
            p50: requested(stat(builtin::HTTP_REQ_DURATION, "p(50)")),
            p95: requested(stat(builtin::HTTP_REQ_DURATION, "p(95)")),
            p99: requested(stat(builtin::HTTP_REQ_DURATION, "p(99)")),
            iterations: stat(builtin::ITERATIONS, "count").unwrap_or(0.0),
        }
    }

    /// The summary's line for this phase.
    pub fn line(&self) -> String {
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| humanize::duration(v, None));
        let mut s = format!(
            "{} ({}s to {}s{}): {} requests, {:.1}/s",
            self.phase,
            humanize::plain((self.from * 10.0).round() / 10.0),
            humanize::plain((self.to * 10.0).round() / 10.0),
            if self.excluded {
                ", left out of thresholds and the metrics above"
            } else {
                ""
            },
            self.requests,
            self.rps,
        );
        if let Some(e) = self.error_rate {
            s += &format!(
                ", errors {}, p50 {} p95 {} p99 {}",
                humanize::percent(e),
                ms(self.p50),
                ms(self.p95),
                ms(self.p99)
            );
        }
        s
    }
}

/// The `brunt.phases` object of the summary data and `--summary-export`: each phase by name.
pub fn phases_json(readings: &[PhaseReading]) -> Value {
    let mut out = Map::new();
    for r in readings {
        let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.remove("phase");
        }
        out.insert(r.phase.clone(), v);
    }
    Value::Object(out)
}

/// The cold-start penalty, worded: how much slower (and more often failing) the cold phase was
/// than the warm one; None unless both phases of `--cold-cache` had requests.
pub fn cold_penalty(readings: &[PhaseReading]) -> Option<String> {
    let [cold, warm] = readings else { return None };
    if cold.phase != "cold" || cold.requests == 0.0 || warm.requests == 0.0 {
        return None;
    }
    let delta = |name: &str, c: Option<f64>, w: Option<f64>| -> Option<String> {
        let (c, w) = (c?, w?);
        let diff = c - w;
        let sign = if diff < 0.0 { "-" } else { "+" };
        let ratio = if w > 0.0 {
            format!(" ({:.2}x)", c / w)
        } else {
            String::new()
        };
        Some(format!(
            "{name} {sign}{}{ratio}",
            humanize::duration(diff.abs(), None)
        ))
    };
    let parts: Vec<String> = [
        delta("p50", cold.p50, warm.p50),
        delta("p95", cold.p95, warm.p95),
        delta("p99", cold.p99, warm.p99),
    ]
    .into_iter()
    .flatten()
    .collect();
    Some(format!(
        "cold-start penalty: {}; errors {} cold against {} warm",
        parts.join(", "),
        humanize::percent(cold.error_rate.unwrap_or(0.0)),
        humanize::percent(warm.error_rate.unwrap_or(0.0)),
    ))
}

/// What a summary says when the run never got past its warm-up: nothing was judged.
pub fn nothing_judged(readings: &[PhaseReading]) -> Option<String> {
    match readings {
        [only] if only.excluded => Some(format!(
            "the run ended within its warm-up ({}s): nothing after it was measured, so the metrics above are empty",
            humanize::plain((only.to * 10.0).round() / 10.0)
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brunt_metrics::{Aggregator, Registry, TagSet};
    use std::sync::Arc;

    /// An interval with `n` requests of `ms` each, `failed` of them failed.
    fn second(n: usize, ms: f64, failed: usize) -> SeriesMap {
        let mut agg = Aggregator::new(Arc::new(Registry::new()), false);
        let tags = TagSet::empty();
        for i in 0..n {
            agg.add(builtin::HTTP_REQS, &tags, 1.0);
            agg.add(builtin::HTTP_REQ_DURATION, &tags, ms);
            agg.add(
                builtin::HTTP_REQ_FAILED,
                &tags,
                if i < failed { 1.0 } else { 0.0 },
            );
        }
        agg.take().series
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_warm_up_is_left_out_of_what_is_judged_and_reported_apart() {
        let mut p = Phases::new(PhaseSplit::WarmUp(secs(2.0)));
        p.observe(secs(1.0), &second(10, 50.0, 5));
        p.observe(secs(2.0), &second(10, 50.0, 5));
        let (judged, _) = p.judged(secs(2.0)).unwrap();
        assert!(
            judged.metric(builtin::HTTP_REQS).is_none(),
            "nothing after the warm-up yet"
        );
        p.observe(secs(3.0), &second(20, 5.0, 0));
        p.observe(secs(3.4), &second(10, 5.0, 0));
        let (judged, secs_judged) = p.judged(secs(3.4)).unwrap();
        assert_eq!(
            judged
                .metric(builtin::HTTP_REQS)
                .unwrap()
                .stat("count", 1.0),
            Some(30.0)
        );
        assert_eq!(secs_judged, secs(1.4));
        assert_eq!(p.excluded(), secs(2.0));
        let r = p.readings(secs(3.4));
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].phase.as_str(), r[0].excluded), ("warm_up", true));
        assert_eq!((r[0].requests, r[0].error_rate), (20.0, Some(0.5)));
        assert_eq!(
            (r[1].phase.as_str(), r[1].from, r[1].to),
            ("measured", 2.0, 3.4)
        );
        assert_eq!((r[1].p95, r[1].error_rate), (Some(5.0), Some(0.0)));
        let json = phases_json(&r);
        assert_eq!(json["warm_up"]["requests"], 20.0);
        assert_eq!(json["warm_up"]["excluded"], true);
        assert!(json["warm_up"].get("phase").is_none());
        assert!(
            r[0].line().contains("left out of thresholds"),
            "{}",
            r[0].line()
        );
        assert_eq!(nothing_judged(&r), None);
        assert!(nothing_judged(&r[..1]).is_some());
    }

    #[test]
    fn a_cold_phase_states_its_penalty_and_leaves_nothing_out() {
        let mut p = Phases::new(PhaseSplit::ColdCache(secs(1.0)));
        p.observe(secs(1.0), &second(10, 40.0, 1));
        p.observe(secs(2.0), &second(10, 10.0, 0));
        assert!(p.judged(secs(2.0)).is_none());
        assert_eq!(p.excluded(), Duration::ZERO);
        let r = p.readings(secs(2.0));
        assert_eq!(
            r.iter().map(|r| r.phase.as_str()).collect::<Vec<_>>(),
            ["cold", "warm"]
        );
        let penalty = cold_penalty(&r).unwrap();
        assert!(penalty.contains("p50 +30ms (4.00x)"), "{penalty}");
        assert!(
            penalty.contains("errors 10.00% cold against 0.00% warm"),
            "{penalty}"
        );
    }

    #[test]
    fn flags_are_checked_and_named() {
        let args = |w: Option<&str>, c: Option<&str>| CacheStateArgs {
            warm_up: w.map(String::from),
            cold_cache: c.map(String::from),
        };
        assert_eq!(
            args(Some("2m"), None).split(),
            Ok(Some(PhaseSplit::WarmUp(secs(120.0))))
        );
        assert_eq!(
            args(None, Some("10s")).split(),
            Ok(Some(PhaseSplit::ColdCache(secs(10.0))))
        );
        assert_eq!(args(None, None).split(), Ok(None));
        assert!(args(Some("abc"), None)
            .split()
            .unwrap_err()
            .starts_with("--warm-up 'abc': "));
        assert!(args(None, Some("500ms"))
            .split()
            .unwrap_err()
            .contains("at least 1s"));
    }
}
