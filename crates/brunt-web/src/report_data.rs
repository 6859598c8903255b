//! What the dashboard and the HTML report show, as one JSON-serialisable value: a point per second
//! (requests/s, error rate, VUs, latency percentiles, per-`name` and per-scenario breakdowns),
//! threshold verdicts, and at the end the run's tables (metrics, endpoints, errors, checks,
//! latency histogram). It is built the same way live from the run's ticks and later from a
//! results file, so both pages agree.

use brunt_metrics::{
    builtin, Agg, MetricId, MetricType, Registry, SeriesMap, Snapshot, ThresholdResult, TrendAgg,
};
use brunt_output::verdict::VerdictView;
use brunt_output::Results;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::time::Duration;

/// Trend statistics in the metrics table, in k6's names.
const TREND_STATS: &[&str] = &["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"];

/// Everything the page renders.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportData {
    /// What was tested, e.g. `brunt quick http://127.0.0.1:8080/`.
    pub title: String,
    /// Test start, milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// One line per scenario, e.g. `default: 50 looping VUs for 10s`.
    pub scenarios: Vec<String>,
    pub points: Vec<Point>,
    /// Current verdicts (live), final ones at the end; the page gets each with its observed
    /// value and margin worded as the terminal words them.
    #[serde(serialize_with = "worded")]
    pub thresholds: Vec<ThresholdResult>,
    /// Present once the run has ended.
    pub summary: Option<FinalSummary>,
    /// A chaos experiment's faults, phases and probes (the game-day report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<crate::game_day::GameDay>,
    /// `--warm-up`'s or `--cold-cache`'s phases, drawn as bands and listed with their figures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<brunt_output::PhaseReading>,
    /// A baseline run drawn under this one (`brunt report BASELINE CURRENT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlay: Option<Overlay>,
    /// A capacity search's result, as exported (`brunt capacity --export`): the capacity report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<serde_json::Value>,
    /// An LLM sweep's result, as exported (`brunt llm --sweep --export`): the sweep's report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm_sweep: Option<serde_json::Value>,
    /// `--trace-url`: the template (`{trace_id}`) that links the slowest requests' traces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
    /// The last point's start and aggregates, kept to fold a short last tick into it.
    #[serde(skip)]
    last: Option<(f64, Snapshot)>,
}

/// A baseline run beside this one: its seconds on the same charts, aligned by elapsed time,
/// and `brunt compare`'s tables.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overlay {
    /// The two results files, as given.
    pub baseline: String,
    pub current: String,
    /// The baseline's seconds.
    pub points: Vec<Point>,
    /// Each threshold's verdict in both runs, then each metric's and endpoint's figures and
    /// change, worded as `brunt compare` prints them.
    pub thresholds: Vec<[String; 4]>,
    pub metrics: Vec<[String; 5]>,
    /// What the reader must know to trust the picture (different scenarios, a run cut short).
    pub notes: Vec<String>,
}

/// Verdicts as the pages receive them.
pub(crate) fn worded<S: Serializer>(v: &[ThresholdResult], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(VerdictView::from))
}

/// A tick closer than this to the previous point is folded into it (the end of a run rarely
/// falls on a whole second), so a sliver of a second never shows as a spike or a dip.
const MIN_POINT_SECS: f64 = 0.5;

/// One second of the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Point {
    /// Seconds since the start.
    pub t: f64,
    /// Requests completed per second.
    pub rps: f64,
    /// Failed requests over all requests (`http_req_failed`), 0 to 1.
    pub err: f64,
    pub vus: f64,
    /// Iterations completed per second.
    pub iters: f64,
    /// `http_req_duration` percentiles in milliseconds; `None` in a second without requests.
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    /// By the `name` tag (k6's URL grouping) and by scenario.
    pub by_name: BTreeMap<String, Breakdown>,
    pub by_scenario: BTreeMap<String, Breakdown>,
    /// Monitored targets' CPU (percent of one core) and resident memory (MB), by monitor
    /// (`--monitor`), drawn beside latency; absent from data written before monitors existed.
    #[serde(default)]
    pub target_cpu: BTreeMap<String, f64>,
    #[serde(default)]
    pub target_memory_mb: BTreeMap<String, f64>,
    /// Output tokens per second (`llm_output_tokens`), in a run that has the metric (`brunt llm`
    /// or a script using `brunt/llm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_tokens: Option<f64>,
    /// Requests sent per logical request in this second (`retry_amplification`'s mean), in a
    /// run that retries (`--retry`, or the `retry` param of `k6/http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_amplification: Option<f64>,
}

/// One group's share of a second.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Breakdown {
    pub rps: f64,
    pub err: f64,
    pub p95: Option<f64>,
}

/// The run's tables, from its totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FinalSummary {
    pub elapsed: f64,
    /// Run-wide figures for a finished report's header tiles (a live page shows the last
    /// second's instead).
    pub totals: Totals,
    pub metrics: Vec<MetricRow>,
    pub endpoints: Vec<Endpoint>,
    /// Requests by `status`, then by `error_code` where one was set.
    pub statuses: Vec<Count>,
    pub error_codes: Vec<Count>,
    pub checks: Vec<CheckRow>,
    /// `http_req_duration` histogram: bucket upper bounds in ms and counts.
    pub histogram: Vec<(f64, u64)>,
    /// The slowest traced requests (their exemplars), as the summary export lists them.
    pub slowest: Vec<serde_json::Value>,
    /// `llm_requests` by `outcome` (`ok` or the failure's cause), an HTTP status's failures by
    /// status (`http_status 503`): the report's LLM failures by cause.
    pub llm_outcomes: Vec<Count>,
    /// Set when the load generator was the bottleneck.
    pub saturation: Option<String>,
    /// Output problems, e.g. samples a down backend never got.
    pub notes: Vec<String>,
}

/// The run as a whole.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Totals {
    pub requests: f64,
    /// Requests per second over the whole run.
    pub rate: f64,
    /// Failed requests over all requests (`http_req_failed`), 0 to 1; None without requests.
    pub error_share: Option<f64>,
    /// `http_req_duration`'s p95 over the whole run, in ms; None without requests.
    pub p95: Option<f64>,
    /// The most VUs active at once.
    pub peak_vus: f64,
}

impl Totals {
    fn new(totals: &Snapshot, secs: f64) -> Totals {
        let stat = |id, name| totals.metric(id).and_then(|a| a.stat(name, secs));
        let requests = stat(builtin::HTTP_REQS, "count").unwrap_or(0.0);
        let requested = requests > 0.0;
        Totals {
            requests,
            rate: stat(builtin::HTTP_REQS, "rate").unwrap_or(0.0),
            error_share: stat(builtin::HTTP_REQ_FAILED, "rate").filter(|_| requested),
            p95: stat(builtin::HTTP_REQ_DURATION, "p(95)").filter(|_| requested),
            peak_vus: stat(builtin::VUS, "max").unwrap_or(0.0),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricRow {
    pub name: String,
    #[serde(rename = "type")]
    pub metric_type: &'static str,
    /// Statistic name and value, in k6's names and units (ms for time).
    pub stats: Vec<(String, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub name: String,
    pub method: String,
    pub reqs: f64,
    pub failed: f64,
    pub avg: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Count {
    pub value: String,
    pub count: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    pub group: String,
    pub name: String,
    pub passes: u64,
    pub fails: u64,
}

impl ReportData {
    /// An empty page for a run starting now.
    pub fn new(title: String, scenarios: Vec<String>) -> ReportData {
        ReportData {
            title,
            started_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            scenarios,
            ..ReportData::default()
        }
    }

    /// Adds one second (what happened since the previous tick) and returns its point.
    pub fn push_interval(
        &mut self,
        elapsed: Duration,
        series: &SeriesMap,
        registry: &Registry,
    ) -> Point {
        let t = elapsed.as_secs_f64();
        let previous_t = self.points.last().map_or(0.0, |p| p.t);
        let (start, series) = match self.last.take() {
            Some((start, mut merged)) if t - previous_t < MIN_POINT_SECS => {
                self.points.pop();
                merged.merge_series(series);
                (start, merged)
            }
            _ => (
                previous_t,
                Snapshot {
                    series: series.clone(),
                },
            ),
        };
        let point = self.point(t, t - start, &series.series, registry);
        self.last = Some((start, series));
        self.points.push(point.clone());
        point
    }

    fn point(&self, t: f64, secs: f64, series: &SeriesMap, registry: &Registry) -> Point {
        let secs = secs.max(1e-3);
        let llm_tokens = registry.get("llm_output_tokens");
        let retry = registry.get("retry_amplification");
        let mut attempts: Option<TrendAgg> = None;
        let mut point = Point {
            t,
            vus: self.points.last().map_or(0.0, |p| p.vus),
            llm_tokens: llm_tokens.map(|_| 0.0),
            ..Point::default()
        };
        let mut all = Group::default();
        let mut by_name: BTreeMap<String, Group> = BTreeMap::new();
        let mut by_scenario: BTreeMap<String, Group> = BTreeMap::new();
        for ((id, tags), agg) in series {
            match *id {
                builtin::VUS => {
                    if let Some(v) = agg.stat("value", 1.0) {
                        point.vus = v;
                    }
                }
                builtin::ITERATIONS => point.iters += agg.stat("count", 1.0).unwrap_or(0.0) / secs,
                builtin::HTTP_REQS | builtin::HTTP_REQ_FAILED | builtin::HTTP_REQ_DURATION => {
                    all.add(*id, agg);
                    if let Some(n) = tags.get("name") {
                        by_name.entry(n.to_string()).or_default().add(*id, agg);
                    }
                    if let Some(s) = tags.get("scenario") {
                        by_scenario.entry(s.to_string()).or_default().add(*id, agg);
                    }
                }
                id if Some(id) == retry => {
                    if let Agg::Trend(t) = agg {
                        match &mut attempts {
                            Some(a) => a.merge(t),
                            None => attempts = Some((**t).clone()),
                        }
                    }
                }
                id if Some(id) == llm_tokens => {
                    if let (Some(n), Agg::Counter { sum }) = (&mut point.llm_tokens, agg) {
                        *n += sum / secs;
                    }
                }
                _ => {
                    if let (Some(m), Agg::Trend(trend)) = (tags.get("monitor"), agg) {
                        match registry.def(*id).name.as_str() {
                            "target_cpu_percent" => {
                                point.target_cpu.insert(m.to_string(), trend.avg());
                            }
                            "target_memory_bytes" => {
                                point
                                    .target_memory_mb
                                    .insert(m.to_string(), trend.avg() / 1e6);
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        point.retry_amplification = attempts.map(|a| a.avg());
        point.rps = all.reqs / secs;
        point.err = all.err();
        if let Some(t) = &all.duration {
            point.p50 = Some(t.percentile(50.0));
            point.p95 = Some(t.percentile(95.0));
            point.p99 = Some(t.percentile(99.0));
        }
        point.by_name = by_name
            .into_iter()
            .map(|(k, g)| (k, g.breakdown(secs)))
            .collect();
        point.by_scenario = by_scenario
            .into_iter()
            .map(|(k, g)| (k, g.breakdown(secs)))
            .collect();
        point
    }

    /// Fills in the end-of-run tables from the run's totals.
    pub fn finish(&mut self, totals: &Snapshot, registry: &Registry, elapsed: Duration) {
        self.summary = Some(FinalSummary::new(totals, registry, elapsed));
    }

    /// The page for a run saved with `--out results=FILE`.
    pub fn from_results(results: &Results, title: String) -> ReportData {
        let mut data = ReportData::new(title, Vec::new());
        data.started_ms = results.started_ms;
        for i in &results.intervals {
            data.push_interval(i.elapsed, &i.series, &results.registry);
        }
        let (judged, covered) = results.judged();
        data.finish(&judged, &results.registry, covered);
        if let Some(phases) = results.phases() {
            data.phases = phases.readings(results.elapsed());
        }
        match &results.end {
            Some(end) => {
                data.thresholds = end.thresholds.clone();
                data.scenarios = end.scenarios.clone();
            }
            None => {
                if let Some(s) = &mut data.summary {
                    s.notes.push(cut_short(results));
                }
            }
        }
        data
    }
}

/// The note on a results file without its end record.
pub(crate) fn cut_short(results: &Results) -> String {
    format!(
        "the run was cut short (its results file has no end record): its {:.1} s of data are drawn and its thresholds were never judged",
        results.elapsed().as_secs_f64()
    )
}

/// Requests, failures and durations of one group in one second.
#[derive(Default)]
struct Group {
    reqs: f64,
    failed: u64,
    total: u64,
    duration: Option<TrendAgg>,
}

impl Group {
    fn add(&mut self, id: MetricId, agg: &Agg) {
        match (id, agg) {
            (builtin::HTTP_REQS, Agg::Counter { sum }) => self.reqs += sum,
            (builtin::HTTP_REQ_FAILED, Agg::Rate { passes, total }) => {
                self.failed += passes;
                self.total += total;
            }
            (builtin::HTTP_REQ_DURATION, Agg::Trend(t)) => match &mut self.duration {
                Some(d) => d.merge(t),
                None => self.duration = Some((**t).clone()),
            },
            _ => {}
        }
    }

    fn err(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.failed as f64 / self.total as f64
        }
    }

    fn breakdown(&self, secs: f64) -> Breakdown {
        Breakdown {
            rps: self.reqs / secs,
            err: self.err(),
            p95: self.duration.as_ref().map(|t| t.percentile(95.0)),
        }
    }
}

impl FinalSummary {
    fn new(totals: &Snapshot, registry: &Registry, elapsed: Duration) -> FinalSummary {
        let secs = elapsed.as_secs_f64();
        let mut metrics = Vec::new();
        for id in totals.metric_ids() {
            let (Some(agg), def) = (totals.metric(id), registry.def(id)) else {
                continue;
            };
            let names: &[&str] = match def.metric_type {
                MetricType::Counter => &["count", "rate"],
                MetricType::Gauge => &["value", "min", "max"],
                MetricType::Rate => &["rate", "passes", "fails"],
                MetricType::Trend => TREND_STATS,
            };
            metrics.push(MetricRow {
                name: def.name,
                metric_type: def.metric_type.as_str(),
                stats: names
                    .iter()
                    .filter_map(|n| agg.stat(n, secs).map(|v| (n.to_string(), v)))
                    .collect(),
            });
        }
        let mut endpoints: BTreeMap<(String, String), Group> = BTreeMap::new();
        let mut statuses: BTreeMap<String, f64> = BTreeMap::new();
        let mut error_codes: BTreeMap<String, f64> = BTreeMap::new();
        let mut checks: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        let mut llm_outcomes: BTreeMap<String, f64> = BTreeMap::new();
        let llm_requests = registry.get("llm_requests");
        for ((id, tags), agg) in &totals.series {
            match *id {
                id if Some(id) == llm_requests => {
                    if let Agg::Counter { sum } = agg {
                        let outcome = tags.get("outcome").unwrap_or("").to_string();
                        let cause = match tags.get("status") {
                            Some(status) => format!("{outcome} {status}"),
                            None => outcome,
                        };
                        *llm_outcomes.entry(cause).or_default() += sum;
                    }
                }
                builtin::HTTP_REQS | builtin::HTTP_REQ_FAILED | builtin::HTTP_REQ_DURATION => {
                    let key = (
                        tags.get("name").unwrap_or("").to_string(),
                        tags.get("method").unwrap_or("").to_string(),
                    );
                    endpoints.entry(key).or_default().add(*id, agg);
                    if let (builtin::HTTP_REQS, Agg::Counter { sum }) = (*id, agg) {
                        let status = tags.get("status").unwrap_or("0").to_string();
                        *statuses.entry(status).or_default() += sum;
                        if let Some(code) = tags.get("error_code").filter(|c| !c.is_empty()) {
                            *error_codes.entry(code.to_string()).or_default() += sum;
                        }
                    }
                }
                builtin::CHECKS => {
                    if let Agg::Rate { passes, total } = agg {
                        let key = (
                            tags.get("group").unwrap_or("").to_string(),
                            tags.get("check").unwrap_or("").to_string(),
                        );
                        let e = checks.entry(key).or_default();
                        e.0 += passes;
                        e.1 += total - passes;
                    }
                }
                _ => {}
            }
        }
        let histogram = totals
            .metric(builtin::HTTP_REQ_DURATION)
            .and_then(|a| match a {
                Agg::Trend(t) => Some(histogram(&t)),
                _ => None,
            })
            .unwrap_or_default();
        FinalSummary {
            elapsed: secs,
            totals: Totals::new(totals, secs),
            metrics,
            endpoints: endpoints
                .into_iter()
                .map(|((name, method), g)| {
                    let t = g.duration.unwrap_or_default();
                    Endpoint {
                        name,
                        method,
                        reqs: g.reqs,
                        failed: g.failed as f64,
                        avg: t.avg(),
                        p50: t.percentile(50.0),
                        p95: t.percentile(95.0),
                        p99: t.percentile(99.0),
                        max: t.max_or_zero(),
                    }
                })
                .collect(),
            statuses: counts(statuses),
            error_codes: counts(error_codes),
            checks: checks
                .into_iter()
                .map(|((group, name), (passes, fails))| CheckRow {
                    group,
                    name,
                    passes,
                    fails,
                })
                .collect(),
            histogram,
            slowest: brunt_output::slowest_requests(totals)
                .iter()
                .map(|r| r.to_json(None))
                .collect(),
            llm_outcomes: counts(llm_outcomes),
            saturation: None,
            notes: Vec::new(),
        }
    }
}

fn counts(m: BTreeMap<String, f64>) -> Vec<Count> {
    m.into_iter()
        .map(|(value, count)| Count { value, count })
        .collect()
}

/// Log-2 buckets from 0.1 ms up to the largest value, as (upper bound in ms, count).
fn histogram(t: &TrendAgg) -> Vec<(f64, u64)> {
    if t.count == 0 {
        return Vec::new();
    }
    // Values are recorded in microseconds.
    t.hist
        .iter_log(100, 2.0)
        .map(|v| {
            (
                v.value_iterated_to() as f64 / 1000.0,
                v.count_since_last_iteration(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use brunt_metrics::{Aggregator, TagSet, ValueType};
    use std::sync::Arc;

    /// One interval: `n` requests to `name` taking `ms` each, every tenth one failed.
    fn second(registry: &Arc<Registry>, parts: &[(&str, u32, f64)]) -> SeriesMap {
        let mut agg = Aggregator::new(registry.clone(), false);
        for (name, n, ms) in parts {
            for i in 0..*n {
                let tags = TagSet::new([("name", *name), ("method", "GET"), ("scenario", "s1")]);
                let tags = tags.with([("status", if i % 10 == 0 { "500" } else { "200" })]);
                agg.add(builtin::HTTP_REQS, &tags, 1.0);
                agg.add(builtin::HTTP_REQ_DURATION, &tags, *ms);
                agg.add(
                    builtin::HTTP_REQ_FAILED,
                    &tags,
                    f64::from(u8::from(i % 10 == 0)),
                );
            }
        }
        agg.add(builtin::VUS, &TagSet::empty(), 4.0);
        agg.take().series
    }

    #[test]
    fn points_give_rates_errors_percentiles_and_breakdowns_per_second() {
        let registry = Arc::new(Registry::new());
        let mut data = ReportData::default();
        let p = data.push_interval(
            Duration::from_secs(1),
            &second(&registry, &[("a", 100, 10.0), ("b", 50, 40.0)]),
            &registry,
        );
        assert_eq!(p.rps, 150.0);
        assert!((p.err - 0.1).abs() < 0.01, "{}", p.err);
        assert_eq!(p.vus, 4.0);
        assert!((p.p95.unwrap() - 40.0).abs() < 0.1);
        assert_eq!(p.by_name["a"].rps, 100.0);
        assert!((p.by_name["b"].p95.unwrap() - 40.0).abs() < 0.1);
        assert_eq!(p.by_scenario["s1"].rps, 150.0);
        let p = data.push_interval(Duration::from_secs(2), &SeriesMap::new(), &registry);
        assert_eq!(
            (p.rps, p.p95, p.vus),
            (0.0, None, 4.0),
            "a quiet second keeps the VUs"
        );
    }

    #[test]
    fn a_sliver_of_a_second_at_the_end_is_folded_into_the_last_point() {
        let registry = Arc::new(Registry::new());
        let mut data = ReportData::default();
        data.push_interval(
            Duration::from_secs(1),
            &second(&registry, &[("a", 100, 1.0)]),
            &registry,
        );
        data.push_interval(
            Duration::from_secs(2),
            &second(&registry, &[("a", 90, 1.0)]),
            &registry,
        );
        let last = data.push_interval(
            Duration::from_millis(2100),
            &second(&registry, &[("a", 20, 1.0)]),
            &registry,
        );
        assert_eq!(data.points.len(), 2);
        assert_eq!(last.t, 2.1);
        assert!((last.rps - 110.0 / 1.1).abs() < 1e-6, "{}", last.rps);
    }

    #[test]
    fn the_summary_tables_count_every_request() {
        let registry = Arc::new(Registry::new());
        let mut total = Snapshot::default();
        total.merge_series(&second(&registry, &[("a", 100, 10.0), ("b", 50, 40.0)]));
        let mut data = ReportData::default();
        data.finish(&total, &registry, Duration::from_secs(1));
        let s = data.summary.unwrap();
        let reqs: f64 = s.endpoints.iter().map(|e| e.reqs).sum();
        assert_eq!(reqs, 150.0);
        // The header tiles' run-wide figures.
        let t = &s.totals;
        assert_eq!((t.requests, t.rate, t.peak_vus), (150.0, 150.0, 4.0));
        assert!((t.error_share.unwrap() - 0.1).abs() < 0.01, "{t:?}");
        assert!((t.p95.unwrap() - 40.0).abs() < 0.1, "{t:?}");
        let b = s.endpoints.iter().find(|e| e.name == "b").unwrap();
        assert_eq!((b.method.as_str(), b.failed), ("GET", 5.0));
        let statuses: Vec<(&str, f64)> = s
            .statuses
            .iter()
            .map(|c| (c.value.as_str(), c.count))
            .collect();
        assert_eq!(statuses, vec![("200", 135.0), ("500", 15.0)]);
        assert_eq!(s.histogram.iter().map(|b| b.1).sum::<u64>(), 150);
        assert!(s.metrics.iter().any(|m| m.name == "http_req_duration"));
    }

    #[test]
    fn an_llm_run_has_output_tokens_per_second_and_its_requests_by_cause() {
        let registry = Arc::new(Registry::new());
        let tokens = registry
            .register("llm_output_tokens", MetricType::Counter, ValueType::Default)
            .unwrap();
        let requests = registry
            .register("llm_requests", MetricType::Counter, ValueType::Default)
            .unwrap();
        let mut agg = Aggregator::new(registry.clone(), false);
        for (outcome, status) in [("ok", None), ("ok", None), ("stream_cut", None)]
            .into_iter()
            .chain([("http_status", Some("503")), ("http_status", Some("500"))])
        {
            let tags = TagSet::new([("outcome", outcome)]);
            let tags = tags.with(status.map(|s| ("status", s)));
            agg.add(requests, &tags, 1.0);
        }
        agg.add(tokens, &TagSet::empty(), 40.0);
        let series = agg.take().series;
        let mut data = ReportData::default();
        let p = data.push_interval(Duration::from_secs(2), &series, &registry);
        assert_eq!(p.llm_tokens, Some(20.0));
        let quiet = data.push_interval(Duration::from_secs(3), &SeriesMap::new(), &registry);
        assert_eq!(quiet.llm_tokens, Some(0.0), "a second without tokens is 0");
        let mut total = Snapshot::default();
        total.merge_series(&series);
        data.finish(&total, &registry, Duration::from_secs(3));
        let causes: Vec<(&str, f64)> = data
            .summary
            .as_ref()
            .unwrap()
            .llm_outcomes
            .iter()
            .map(|c| (c.value.as_str(), c.count))
            .collect();
        assert_eq!(
            causes,
            vec![
                ("http_status 500", 1.0),
                ("http_status 503", 1.0),
                ("ok", 2.0),
                ("stream_cut", 1.0)
            ]
        );
        let http = ReportData::default().point(1.0, 1.0, &SeriesMap::new(), &Registry::new());
        assert_eq!(http.llm_tokens, None, "no LLM metrics, no tokens series");
    }

    #[test]
    fn points_carry_each_monitored_targets_cpu_and_memory() {
        let registry = Arc::new(Registry::new());
        let cpu = registry
            .register("target_cpu_percent", MetricType::Trend, ValueType::Default)
            .unwrap();
        let mem = registry
            .register("target_memory_bytes", MetricType::Trend, ValueType::Data)
            .unwrap();
        let mut agg = Aggregator::new(registry.clone(), false);
        agg.add(cpu, &TagSet::new([("monitor", "api")]), 150.0);
        agg.add(mem, &TagSet::new([("monitor", "api")]), 2.5e7);
        agg.add(cpu, &TagSet::new([("monitor", "db")]), 20.0);
        let mut data = ReportData::default();
        let p = data.push_interval(Duration::from_secs(1), &agg.take().series, &registry);
        assert!((p.target_cpu["api"] - 150.0).abs() < 0.5);
        assert!((p.target_cpu["db"] - 20.0).abs() < 0.5);
        assert!((p.target_memory_mb["api"] - 25.0).abs() < 0.1);
        assert!(!p.target_memory_mb.contains_key("db"));
    }
}
