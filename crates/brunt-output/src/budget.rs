//! Error budgets: thresholds that state an SLO (`http_req_failed: rate<0.001`, a Rate metric
//! below a fraction; `http_req_duration: p(99)<500`, a Trend percentile below a bound) read as a
//! budget of bad events. Counted per minute of the run from the engine's once-a-second
//! intervals, so the summary can give the burn rate (bad fraction over allowed) overall and for
//! the worst minute, and, with `--slo-window`, what sustaining it would do to that window's
//! budget under the SRE workbook's multiwindow burn-rate alerts.

use brunt_metrics::{
    Agg, Aggregation, MetricThresholds, MetricType, Operator, SeriesMap, Thresholds,
};
use std::time::Duration;

/// The SRE workbook's multiwindow alerts for a 30-day SLO: (burn rate, long window, short
/// window, what fires). Both windows must burn at least this fast.
const RULES: [(f64, Duration, Duration, &str); 3] = [
    (14.4, hours(1), minutes(5), "page"),
    (6.0, hours(6), minutes(30), "page"),
    (1.0, hours(72), hours(6), "ticket"),
];

const fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

const fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

/// One SLO read from a threshold, and its bad events per minute.
#[derive(Debug, Clone)]
struct Budget {
    /// `http_req_failed rate<0.001`, as the threshold is written.
    name: String,
    metric: MetricThresholds,
    kind: Kind,
    /// Share of events allowed to be bad.
    allowed: f64,
    /// (events, bad events) per minute of the run.
    minutes: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Non-zero samples of a Rate metric are bad.
    Rate,
    /// Trend samples past the bound are bad (at it too, for `<`).
    Latency { bound: f64, inclusive: bool },
}

/// The error budgets of one run.
#[derive(Debug, Clone, Default)]
pub struct ErrorBudgets {
    budgets: Vec<Budget>,
    window: Option<Duration>,
}

impl ErrorBudgets {
    /// The budgets the thresholds state; `window` is `--slo-window`.
    pub fn new(thresholds: &Thresholds, window: Option<Duration>) -> ErrorBudgets {
        let mut budgets = Vec::new();
        for m in thresholds.metrics() {
            for t in &m.thresholds {
                let e = &t.expr;
                let below = matches!(e.operator, Operator::Lt | Operator::Le);
                let kind_allowed = match (m.metric_type, e.aggregation) {
                    (MetricType::Rate, Aggregation::Rate) if below && e.value > 0.0 => {
                        Some((Kind::Rate, e.value))
                    }
                    (MetricType::Trend, Aggregation::Percentile(p)) if below && p < 100.0 => {
                        Some((
                            Kind::Latency {
                                bound: e.value,
                                inclusive: e.operator == Operator::Lt,
                            },
                            (100.0 - p) / 100.0,
                        ))
                    }
                    _ => None,
                };
                if let Some((kind, allowed)) = kind_allowed.filter(|(_, a)| *a < 1.0) {
                    budgets.push(Budget {
                        name: format!("{} {}", m.selector.name, t.source),
                        metric: m.clone(),
                        kind,
                        allowed,
                        minutes: Vec::new(),
                    });
                }
            }
        }
        ErrorBudgets { budgets, window }
    }

    /// Counts one tick's interval; `elapsed` is the tick's time (it holds the second before).
    pub fn observe(&mut self, elapsed: Duration, series: &SeriesMap) {
        let minute = (elapsed.saturating_sub(Duration::from_millis(500)).as_secs() / 60) as usize;
        for b in &mut self.budgets {
            let (mut total, mut bad) = (0, 0);
            for ((metric, tags), agg) in series {
                if *metric != b.metric.metric
                    || !b
                        .metric
                        .selector
                        .tags
                        .as_ref()
                        .is_none_or(|t| tags.contains_all(t))
                {
                    continue;
                }
                match (agg, b.kind) {
                    (Agg::Rate { passes, total: t }, Kind::Rate) => {
                        total += t;
                        bad += passes;
                    }
                    (Agg::Trend(t), Kind::Latency { bound, inclusive }) => {
                        total += t.count;
                        bad += t.count_over(bound, inclusive);
                    }
                    _ => {}
                }
            }
            if b.minutes.len() <= minute {
                b.minutes.resize(minute + 1, (0, 0));
            }
            b.minutes[minute].0 += total;
            b.minutes[minute].1 += bad;
        }
    }

    /// One reading per budget for the summary and its data; empty when no threshold states an
    /// SLO. `run` is the run's length.
    pub fn readings(&self, run: Duration) -> Vec<BudgetReading> {
        self.budgets
            .iter()
            .map(|b| b.reading(run, self.window))
            .collect()
    }
}

/// What one error budget came to: the summary's paragraph and the `brunt.error_budgets` entry
/// of the summary data are both written from it.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetReading {
    /// The threshold as written, e.g. `http_req_failed rate<0.001`.
    pub name: String,
    /// Share of events allowed to be bad.
    pub allowed: f64,
    pub events: u64,
    pub bad: u64,
    /// Bad fraction over the allowed one, for the whole run.
    pub burn_rate: f64,
    /// (1-based minute, its burn rate) of the worst minute.
    pub worst_minute: Option<(usize, f64)>,
    /// `--slo-window`'s projection.
    pub projection: Option<Projection>,
}

/// What sustaining a run's burn would do to a `--slo-window` budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub window: Duration,
    /// Days until the window's budget is gone; None when the burn is at most 1x (it lasts).
    pub days_left: Option<f64>,
    /// The multiwindow alert that would fire: (burn factor, long window, short window, what).
    pub alert: Option<(f64, Duration, Duration, &'static str)>,
    /// The run was shorter than the alert windows, which were judged on all of it.
    pub short_run: Option<Duration>,
}

impl BudgetReading {
    /// The summary's paragraph.
    pub fn line(&self) -> String {
        let mut s = format!(
            "error budget {}: {} of events may be bad ({:.1} of {}); this run had {} ({:.0}% of the budget), burn rate {:.2}x",
            self.name,
            percent(self.allowed),
            self.allowed * self.events as f64,
            self.events,
            self.bad,
            self.burn_rate * 100.0,
            self.burn_rate
        );
        if let Some((minute, worst)) = self.worst_minute {
            s += &format!(", worst minute {worst:.2}x (minute {minute})");
        }
        if let Some(p) = &self.projection {
            s += &format!("; {}", p.sentence(self.burn_rate));
        }
        s
    }

    /// The entry under `brunt.error_budgets` in the summary data and `--summary-export`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "threshold": self.name,
            "allowed": self.allowed,
            "events": self.events,
            "bad": self.bad,
            "burn_rate": self.burn_rate,
        });
        if let Some((minute, burn)) = self.worst_minute {
            v["worst_minute"] = serde_json::json!({ "minute": minute, "burn_rate": burn });
        }
        if let Some(p) = &self.projection {
            v["projection"] = serde_json::json!({
                "window": span(p.window),
                "days_left": p.days_left,
                "alert": p.alert.map(|(factor, long, short, what)| serde_json::json!({
                    "rule": format!("{}/{}", span(long), span(short)),
                    "burn_rate": factor,
                    "action": what,
                })),
                "judged_on_run": p.short_run.map(span),
            });
        }
        v
    }
}

impl Projection {
    fn sentence(&self, burn: f64) -> String {
        let mut s = match self.days_left {
            Some(days) => format!(
                "at {burn:.1}x the {} budget would be gone in {days:.1} days",
                span(self.window)
            ),
            None => format!(
                "at {burn:.2}x the {} budget would last, {:.0}% of it used",
                span(self.window),
                burn * 100.0
            ),
        };
        s += &match self.alert {
            Some((factor, long, short, what)) => format!(
                "; the {}/{} {what} rule ({factor}x) would fire",
                span(long),
                span(short)
            ),
            None => "; no burn-rate alert would fire".to_string(),
        };
        if let Some(run) = self.short_run {
            s += &format!(
                " (judged on the run's {}, shorter than the alert windows)",
                span(run)
            );
        }
        s
    }
}

impl Budget {
    /// Burn rate of the last `n` minutes: their bad fraction over the allowed one.
    fn burn(&self, n: usize) -> f64 {
        let from = self.minutes.len().saturating_sub(n);
        let (total, bad) = self.minutes[from..]
            .iter()
            .fold((0, 0), |(t, b), (mt, mb)| (t + mt, b + mb));
        if total == 0 {
            0.0
        } else {
            bad as f64 / total as f64 / self.allowed
        }
    }

    fn reading(&self, run: Duration, window: Option<Duration>) -> BudgetReading {
        let (events, bad) = self
            .minutes
            .iter()
            .fold((0u64, 0u64), |(t, b), (mt, mb)| (t + mt, b + mb));
        let burn_rate = self.burn(self.minutes.len());
        let worst_minute = (0..self.minutes.len())
            .map(|i| (i + 1, self.one_minute(i)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        BudgetReading {
            name: self.name.clone(),
            allowed: self.allowed,
            events,
            bad,
            burn_rate,
            worst_minute,
            projection: window.map(|w| self.projection(burn_rate, w, run)),
        }
    }

    fn one_minute(&self, i: usize) -> f64 {
        let (total, bad) = self.minutes[i];
        if total == 0 {
            0.0
        } else {
            bad as f64 / total as f64 / self.allowed
        }
    }

    /// What sustaining this run's burn would do to `window`'s budget, and which multiwindow
    /// alert would fire.
    fn projection(&self, burn: f64, window: Duration, run: Duration) -> Projection {
        let n = |w: &Duration| (w.as_secs() / 60).max(1) as usize;
        let (_, long, _, _) = RULES[0];
        Projection {
            window,
            days_left: (burn > 1.0).then(|| window.as_secs_f64() / 86_400.0 / burn),
            alert: RULES
                .iter()
                .find(|(factor, long, short, _)| {
                    self.burn(n(long)) >= *factor && self.burn(n(short)) >= *factor
                })
                .copied(),
            short_run: (run < long).then(|| Duration::from_secs(run.as_secs().max(1))),
        }
    }
}

/// A window as the SRE workbook writes it: `30d`, `6h`, `5m`; other lengths in the largest unit
/// with a remainder, e.g. `1m30s`.
fn span(d: Duration) -> String {
    let secs = d.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= size && secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// `0.1%`, `1%`, `0.05%`: a fraction as a percentage without trailing zeros.
fn percent(f: f64) -> String {
    let s = format!("{:.4}", f * 100.0);
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use brunt_metrics::{builtin, Registry, TagSet};

    fn budgets(threshold: &str, window: Option<Duration>) -> ErrorBudgets {
        let registry = Registry::new();
        let mut t = Thresholds::default();
        t.add_cli(threshold, &registry).unwrap();
        ErrorBudgets::new(&t, window)
    }

    /// One second's interval with `total` requests of which `failed` failed.
    fn failures(total: u64, failed: u64) -> SeriesMap {
        let mut m = SeriesMap::default();
        m.insert(
            (builtin::HTTP_REQ_FAILED, TagSet::new([("status", "200")])),
            Agg::Rate {
                passes: failed,
                total,
            },
        );
        m
    }

    #[test]
    fn an_availability_slo_gives_the_budget_and_burn_overall_and_worst_minute() {
        let mut b = budgets("http_req_failed: rate<0.001", None);
        // Two minutes: 6000 requests each, 3 then 9 failed.
        for s in 1..=120u64 {
            let failed = match s {
                30 => 3,
                90 => 9,
                _ => 0,
            };
            b.observe(Duration::from_secs(s), &failures(100, failed));
        }
        let line = &b.readings(Duration::from_secs(120))[0].line();
        assert_eq!(
            line,
            "error budget http_req_failed rate<0.001: 0.1% of events may be bad (12.0 of 12000); this run had 12 (100% of the budget), burn rate 1.00x, worst minute 1.50x (minute 2)"
        );
    }

    #[test]
    fn a_window_projects_the_burn_and_names_the_alert_that_fires() {
        let mut b = budgets(
            "http_req_failed: rate<0.001",
            Some(Duration::from_secs(30 * 86_400)),
        );
        for s in 1..=60u64 {
            b.observe(
                Duration::from_secs(s),
                &failures(1000, u64::from(s % 10 == 0)),
            );
        }
        // 6 bad of 60000: 0.01%, under the 0.1% allowed.
        let calm = &b.readings(Duration::from_secs(60))[0].line();
        assert!(calm.contains("at 0.10x the 30d budget would last, 10% of it used; no burn-rate alert would fire (judged on the run's 1m, shorter than the alert windows)"), "{calm}");
        let mut hot = budgets(
            "http_req_failed: rate<0.001",
            Some(Duration::from_secs(30 * 86_400)),
        );
        for s in 1..=60u64 {
            hot.observe(Duration::from_secs(s), &failures(1000, 7));
        }
        let line = &hot.readings(Duration::from_secs(60))[0].line();
        assert!(line.contains("at 7.0x the 30d budget would be gone in 4.3 days; the 6h/30m page rule (6x) would fire"), "{line}");
    }

    #[test]
    fn the_summary_data_carries_the_same_figures_as_the_line() {
        let mut b = budgets(
            "http_req_failed: rate<0.001",
            Some(Duration::from_secs(30 * 86_400)),
        );
        for s in 1..=60u64 {
            b.observe(Duration::from_secs(s), &failures(1000, 7));
        }
        let json = b.readings(Duration::from_secs(60))[0].to_json();
        assert_eq!(
            json,
            serde_json::json!({
                "threshold": "http_req_failed rate<0.001",
                "allowed": 0.001,
                "events": 60000,
                "bad": 420,
                "burn_rate": 7.0,
                "worst_minute": {"minute": 1, "burn_rate": 7.0},
                "projection": {
                    "window": "30d",
                    "days_left": 4.285714285714286,
                    "alert": {"rule": "6h/30m", "burn_rate": 6.0, "action": "page"},
                    "judged_on_run": "1m",
                },
            })
        );
    }

    #[test]
    fn a_latency_slo_counts_samples_past_its_bound() {
        let mut b = budgets("http_req_duration: p(99)<500", None);
        let mut t = brunt_metrics::TrendAgg::default();
        for v in 0..1000 {
            t.add(if v < 20 { 600.0 } else { 10.0 });
        }
        let mut m = SeriesMap::default();
        m.insert(
            (builtin::HTTP_REQ_DURATION, TagSet::empty()),
            Agg::Trend(Box::new(t)),
        );
        b.observe(Duration::from_secs(1), &m);
        let line = &b.readings(Duration::from_secs(1))[0].line();
        assert!(line.contains("1% of events may be bad (10.0 of 1000); this run had 20 (200% of the budget), burn rate 2.00x"), "{line}");
    }

    #[test]
    fn thresholds_that_state_no_slo_have_no_budget() {
        for t in [
            "http_req_duration: avg<100",
            "http_req_failed: rate>0.5",
            "http_reqs: count>10",
        ] {
            assert!(
                budgets(t, None).readings(Duration::from_secs(1)).is_empty(),
                "{t}"
            );
        }
    }
}
