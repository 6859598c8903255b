//! The end-of-test summary data: every metric's values, threshold verdicts and the checks tree,
//! in the shape of k6's `handleSummary(data)`; the text summary and `--summary-export` are derived
//! from it, as k6 derives them.

use crate::budget::BudgetReading;
use crate::errors::ErrorBreakdown;
use crate::groups::Group;
use crate::phases::{phases_json, PhaseReading};
use crate::profile_check::CheckResult;
use crate::text_report::{Report, ReportInput};
use crate::traces::{self, slowest_requests, SlowRequest};
use crate::{export, text, OutputError};
use brunt_metrics::{
    builtin, parse_percentile, Agg, MetricId, MetricSelector, MetricType, Registry, Snapshot,
    ThresholdResult, Thresholds,
};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// The default `--summary-trend-stats`, k6's: the text summary, `--summary-export` and
/// handleSummary data carry these unless `summaryTrendStats` says otherwise.
pub const DEFAULT_TREND_STATS: &[&str] = &["avg", "min", "med", "max", "p(90)", "p(95)"];

/// The sub-metric k6 always tracks (with the `expected_response` tag on), shown when it has samples.
const EXPECTED_RESPONSE: &str = "http_req_duration{expected_response:true}";

/// Facts about the run that the summary reports besides its metrics.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    pub elapsed: Duration,
    pub vus_min: u64,
    pub vus_max: u64,
    /// Iterations that ran to their end, and those cut short (gracefulStop, Ctrl-C, abort).
    pub iterations_complete: u64,
    pub iterations_interrupted: u64,
    /// One line per scenario, e.g. `default: 50 looping VUs for 10s (gracefulStop: 30s)`.
    pub scenarios: Vec<String>,
    /// A sentence saying that, and why, the load generator was the bottleneck; printed as a
    /// warning after the metrics.
    pub saturation: Option<String>,
    /// More sentences saying the load generator was the limit (its own CPU, dropped
    /// iterations), from the monitors; printed as warnings after the metrics.
    pub generator: Vec<String>,
    /// What happened to monitored targets during the run (`at 3.0s, api: process 1234
    /// exited ...`), listed after the metrics.
    pub events: Vec<String>,
    /// One reading per threshold that states an SLO: its error budget and burn rate.
    pub error_budget: Vec<BudgetReading>,
    /// The `--profile` checks (soak's drift, spike's recovery); a failed one fails the run.
    pub profile_checks: Vec<CheckResult>,
    /// `--warm-up`'s or `--cold-cache`'s phases, the first first.
    pub phases: Vec<PhaseReading>,
    /// The start of the run that `--warm-up` left out of the metrics: counters' rates are per
    /// second of the rest.
    pub excluded: Duration,
    /// Group and check paths (`::group::check`) in the order the script first ran them; the
    /// summary lists groups and checks in this order, as k6 does (others follow by name).
    pub definition_order: Vec<String>,
    /// What `setup()` returned, exported as k6's `setup_data`.
    pub setup_data: Option<Value>,
    /// A coordinated run's instances (`brunt.instances`); empty for a run of one process.
    pub instances: Vec<crate::InstanceFacts>,
    pub is_stdout_tty: bool,
    pub is_stderr_tty: bool,
}

impl RunFacts {
    /// The time the metrics cover: the run less what `--warm-up` left out.
    pub fn judged(&self) -> Duration {
        self.elapsed.saturating_sub(self.excluded)
    }
}

/// How the summary is computed and printed.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryOptions {
    /// Trend columns: `avg`, `min`, `med`, `max`, `count`, `p(N)`.
    pub trend_stats: Vec<String>,
    /// `s`, `ms` or `us` to fix the unit of time values; empty for k6's adaptive units.
    pub time_unit: String,
    /// ANSI colours in the text summary.
    pub colors: bool,
    /// The text summary's layout (`--summary-mode`).
    pub mode: SummaryMode,
    /// `--quiet`: no final `running (...)` line and scenario lines, as k6 prints none.
    pub quiet: bool,
    /// `--trace-url`: the slowest traced requests are linked with this template (`{trace_id}`).
    pub trace_url: Option<String>,
}

/// The layout of the text summary (k6's `--summary-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SummaryMode {
    /// k6 v1+'s default: thresholds, then the total results by category.
    #[default]
    Compact,
    /// `compact` plus every metric, and a section per group and per scenario.
    Full,
    /// k6 v0.x's layout (checks tree, then every metric), for users who parse it.
    Legacy,
    /// No text summary (k6's `disabled`, as `--no-summary`).
    Disabled,
}

impl std::str::FromStr for SummaryMode {
    type Err = OutputError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "compact" => Ok(SummaryMode::Compact),
            "full" => Ok(SummaryMode::Full),
            "legacy" => Ok(SummaryMode::Legacy),
            "disabled" => Ok(SummaryMode::Disabled),
            _ => Err(OutputError::SummaryMode(s.to_string())),
        }
    }
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions {
            trend_stats: DEFAULT_TREND_STATS.iter().map(|s| s.to_string()).collect(),
            time_unit: String::new(),
            colors: false,
            mode: SummaryMode::Compact,
            quiet: false,
            trace_url: None,
        }
    }
}

impl SummaryOptions {
    /// Parses `--summary-trend-stats` (comma-separated), validating each stat as k6 does.
    pub fn parse_trend_stats(list: &str) -> Result<Vec<String>, OutputError> {
        list.split(',')
            .map(str::trim)
            .map(|s| match s {
                "avg" | "min" | "med" | "max" | "count" => Ok(s.to_string()),
                _ if parse_percentile(s).is_some() => Ok(s.to_string()),
                _ => Err(OutputError::TrendStat(s.to_string())),
            })
            .collect()
    }

    /// Validates `--summary-time-unit`.
    pub fn parse_time_unit(unit: &str) -> Result<String, OutputError> {
        match unit {
            "" | "s" | "ms" | "us" => Ok(unit.to_string()),
            _ => Err(OutputError::TimeUnit(unit.to_string())),
        }
    }
}

/// The end-of-test summary of a run.
#[derive(Debug, Clone)]
pub struct Summary {
    data: Value,
    results: Vec<ThresholdResult>,
    facts: RunFacts,
    options: SummaryOptions,
    /// Not part of k6's summary data (its shape has no such field): the text summary only.
    errors: ErrorBreakdown,
    /// The slowest traced requests (also under the data's `brunt` key).
    slowest: Vec<SlowRequest>,
    /// k6 v1+'s layout of the text summary; None in the legacy and disabled modes.
    report: Option<Report>,
    /// A run that retried (`--retry`, `k6/http`'s `retry` param): its amplification.
    retry: Option<RetryReading>,
}

/// What retries did to a run: requests sent per logical request, and the retries sent and
/// withheld by a budget (from `retry_amplification`, `http_req_retries`,
/// `retry_budget_exhausted`).
#[derive(Debug, Clone, PartialEq)]
struct RetryReading {
    amplification: f64,
    logical: f64,
    retries: f64,
    withheld: f64,
}

impl RetryReading {
    fn from_snapshot(snapshot: &Snapshot, registry: &Registry) -> Option<RetryReading> {
        let agg = |name: &str| registry.get(name).and_then(|id| snapshot.metric(id));
        let amplification = agg("retry_amplification")?;
        let count = |name: &str| agg(name).and_then(|a| a.stat("count", 0.0)).unwrap_or(0.0);
        Some(RetryReading {
            amplification: amplification.stat("avg", 0.0)?,
            logical: amplification.stat("count", 0.0).unwrap_or(0.0),
            retries: count("http_req_retries"),
            withheld: count("retry_budget_exhausted"),
        })
    }

    fn line(&self) -> String {
        format!(
            "retry amplification: {:.2} requests per logical request ({} logical requests, {} retries, {} withheld by the retry budget)",
            self.amplification, self.logical, self.retries, self.withheld
        )
    }

    fn to_json(&self) -> Value {
        json!({
            "retry_amplification": self.amplification,
            "logical_requests": self.logical,
            "retries": self.retries,
            "budget_exhausted": self.withheld,
        })
    }
}

impl Summary {
    /// Builds the summary from the run's final aggregates. `thresholds` are evaluated here (k6's
    /// final evaluation); pass an empty set for `--no-thresholds`.
    pub fn new(
        snapshot: &Snapshot,
        registry: &Registry,
        thresholds: &Thresholds,
        facts: RunFacts,
        options: SummaryOptions,
    ) -> Summary {
        let results = thresholds.evaluate(snapshot, facts.judged());
        let secs = facts.judged().as_secs_f64();
        let mut metrics = Map::new();
        let mut add = |name: &str, id: MetricId, agg: Option<Agg>| {
            let def = registry.def(id);
            let agg = agg.unwrap_or_else(|| Agg::new(def.metric_type));
            let mut m = json!({
                "type": def.metric_type.as_str(),
                "contains": def.value_type.as_str(),
                "values": values(&agg, secs, &options.trend_stats),
            });
            let verdicts: Map<String, Value> = results
                .iter()
                .filter(|r| r.metric_name == name)
                .map(|r| (r.source.clone(), json!({ "ok": r.ok })))
                .collect();
            if !verdicts.is_empty() {
                m["thresholds"] = Value::Object(verdicts);
            }
            metrics.insert(name.to_string(), m);
        };
        for id in snapshot.metric_ids() {
            add(&registry.def(id).name, id, snapshot.metric(id));
        }
        let expected = expected_response();
        if let Some(agg) = expected
            .tags
            .as_ref()
            .and_then(|t| snapshot.submetric(builtin::HTTP_REQ_DURATION, t))
        {
            add(&expected.name, builtin::HTTP_REQ_DURATION, Some(agg));
        }
        for m in thresholds.metrics() {
            let agg = match &m.selector.tags {
                None => snapshot.metric(m.metric),
                Some(t) => snapshot.submetric(m.metric, t),
            };
            add(&m.selector.name, m.metric, agg);
            // k6 shows the parent of a sub-metric with thresholds too.
            if m.selector.tags.is_some() && snapshot.metric(m.metric).is_none() {
                add(&m.selector.metric, m.metric, None);
            }
        }
        let data = json!({
            "root_group": Group::from_snapshot(snapshot, &facts.definition_order, false).to_data(),
            "options": {
                "summaryTrendStats": options.trend_stats,
                "summaryTimeUnit": options.time_unit,
                "noColor": !options.colors,
            },
            "state": {
                "isStdOutTTY": facts.is_stdout_tty,
                "isStdErrTTY": facts.is_stderr_tty,
                "testRunDurationMs": number(facts.elapsed.as_secs_f64() * 1000.0),
            },
            "metrics": metrics,
        });
        let report = matches!(options.mode, SummaryMode::Compact | SummaryMode::Full).then(|| {
            Report::build(&ReportInput {
                snapshot,
                registry,
                thresholds,
                results: &results,
                data: &data,
                facts: &facts,
                options: &options,
                full: options.mode == SummaryMode::Full,
            })
        });
        let mut summary = Summary {
            data,
            results,
            facts,
            options,
            errors: ErrorBreakdown::from_snapshot(snapshot),
            slowest: slowest_requests(snapshot),
            report,
            retry: RetryReading::from_snapshot(snapshot, registry),
        };
        if let Some(setup) = &summary.facts.setup_data {
            summary.data["setup_data"] = setup.clone();
        }
        if let Some(own) = brunt_data(
            &summary.facts,
            &summary.slowest,
            summary.options.trace_url.as_deref(),
        ) {
            summary.data[BRUNT_KEY] = own;
        }
        if let Some(r) = &summary.retry {
            summary.data[BRUNT_KEY]["retry"] = r.to_json();
        }
        summary
    }

    /// k6's `handleSummary(data)` argument.
    pub fn data(&self) -> &Value {
        &self.data
    }

    /// Every threshold's final verdict.
    pub fn threshold_results(&self) -> &[ThresholdResult] {
        &self.results
    }

    /// True when a threshold failed: the run exits with 99, as k6.
    pub fn thresholds_failed(&self) -> bool {
        self.results.iter().any(|r| !r.ok)
    }

    /// True when a `--profile` check failed: the run exits with 99 too.
    pub fn profile_checks_failed(&self) -> bool {
        self.facts
            .profile_checks
            .iter()
            .any(|c| c.passed == Some(false))
    }

    /// `--warm-up`'s or `--cold-cache`'s phases (empty without either).
    pub fn phases(&self) -> &[PhaseReading] {
        &self.facts.phases
    }

    /// k6's error line at the end of a run whose thresholds failed: `thresholds on metrics
    /// 'a, b' have been crossed` (names sorted, each once).
    pub fn crossed_line(&self) -> Option<String> {
        let mut names: Vec<&str> = self
            .results
            .iter()
            .filter(|r| !r.ok)
            .map(|r| r.metric_name.as_str())
            .collect();
        if names.is_empty() {
            return None;
        }
        names.sort_unstable();
        names.dedup();
        Some(format!(
            "thresholds on metrics '{}' have been crossed",
            names.join(", ")
        ))
    }

    /// What k6 prints to stdout at the end of a run (without `handleSummary`), followed by brunt's
    /// error breakdown, run facts and generator warning.
    pub fn text(&self) -> String {
        let opts = text::TextOptions {
            indent: " ".into(),
            enable_colors: self.options.colors,
        };
        let mut out = match &self.report {
            Some(report) => report.render(self.options.colors),
            None => format!("\n{}\n", text::text_summary(&self.data, &opts)),
        };
        let errors = self.errors.lines(&format!("{}    ", opts.indent));
        if !errors.is_empty() {
            out.push('\n');
            out.push_str(&errors.join("\n"));
            out.push('\n');
        }
        let slow = traces::lines(
            &self.slowest,
            self.options.trace_url.as_deref(),
            &format!("{}    ", opts.indent),
        );
        if !slow.is_empty() {
            out.push('\n');
            out.push_str(&slow.join("\n"));
            out.push('\n');
        }
        if let Some(r) = &self.retry {
            out.push_str(&format!("\n{}    {}\n", opts.indent, r.line()));
        }
        out.push_str(&text::run_facts(&self.facts, &opts, self.options.quiet));
        out.push('\n');
        out
    }

    /// The `--summary-export` file's content, in k6's format.
    pub fn export_json(&self) -> String {
        export::to_string(&export::summary_export(&self.data))
    }
}

/// The key of brunt's own additions to k6's summary data and `--summary-export`, so that k6's
/// keys keep their shape.
pub const BRUNT_KEY: &str = "brunt";

/// brunt's additions: `error_budgets`, `profile_checks`, `phases`, `slowest_requests` and `instances`,
/// each present
/// when it has entries; None when none has (the data is then exactly k6's).
fn brunt_data(facts: &RunFacts, slowest: &[SlowRequest], trace_url: Option<&str>) -> Option<Value> {
    let mut own = Map::new();
    if !slowest.is_empty() {
        let list = slowest.iter().map(|r| r.to_json(trace_url));
        own.insert("slowest_requests".into(), list.collect());
    }
    if !facts.error_budget.is_empty() {
        let list = facts.error_budget.iter().map(BudgetReading::to_json);
        own.insert("error_budgets".into(), list.collect());
    }
    if !facts.profile_checks.is_empty() {
        let list = facts.profile_checks.iter().map(CheckResult::to_json);
        own.insert("profile_checks".into(), list.collect());
    }
    if !facts.instances.is_empty() {
        let list = facts.instances.iter().map(crate::InstanceFacts::to_json);
        own.insert("instances".into(), list.collect());
    }
    if !facts.phases.is_empty() {
        own.insert("phases".into(), phases_json(&facts.phases));
    }
    (!own.is_empty()).then_some(Value::Object(own))
}

/// A metric's summary values, by k6's names for its type.
pub(crate) fn values(agg: &Agg, secs: f64, trend_stats: &[String]) -> Value {
    let stat = |name: &str| agg.stat(name, secs).unwrap_or(0.0);
    let names: Vec<&str> = match agg.metric_type() {
        MetricType::Counter => vec!["count", "rate"],
        MetricType::Gauge => vec!["value", "min", "max"],
        MetricType::Rate => vec!["rate", "passes", "fails"],
        MetricType::Trend => trend_stats.iter().map(String::as_str).collect(),
    };
    Value::Object(
        names
            .into_iter()
            .map(|n| (n.to_string(), number(stat(n))))
            .collect(),
    )
}

/// k6's default sub-metric of `http_req_duration`, which it tracks in every run.
pub(crate) fn expected_response() -> MetricSelector {
    MetricSelector::parse(EXPECTED_RESPONSE).expect("a constant, valid selector")
}

/// A JSON number as Go's encoder writes it: whole values without a fraction.
pub(crate) fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_stats_are_validated_like_k6() {
        assert_eq!(
            SummaryOptions::parse_trend_stats("avg, p(99.9),count").unwrap(),
            ["avg", "p(99.9)", "count"]
        );
        for bad in ["mean", "p(101)", "p95", ""] {
            let e = SummaryOptions::parse_trend_stats(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("'{bad}'")), "{e}");
        }
        assert!(SummaryOptions::parse_time_unit("us").is_ok());
        assert!(SummaryOptions::parse_time_unit("m").is_err());
    }
}
