//! `brunt compare BASELINE NEW`: two runs side by side (brunt results files or k6 summary
//! exports), with deltas per metric and per endpoint (`name` tag), and regression gates such as
//! `--max-regression 'http_req_duration p(95)=10%'` that a CI job enforces. Two capacity results
//! (`brunt capacity --export`) are compared by their knees instead (`capacity`).

pub mod capacity;

use crate::results::Results;
use crate::{junit, verdict};
use anyhow::{anyhow, bail, Context, Result};
use brunt_metrics::{
    builtin, Agg, MetricType, Registry, Snapshot, TagSet, ThresholdExpr, ThresholdResult, Unit,
    ValueType,
};
use clap::Args;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The exit code when a gate is exceeded: the one k6 uses for failed thresholds, which CI
/// already treats as "performance budget broken".
pub const GATE_FAILED: i32 = 99;

/// Statistics shown per metric type, in k6's names.
const TREND_SHOWN: &[&str] = &["avg", "med", "p(95)", "p(99)", "max"];
const COUNTER_SHOWN: &[&str] = &["count", "rate"];
const RATE_SHOWN: &[&str] = &["rate"];
/// The stats a gate may name besides `p(N)`: k6's names for every metric type's values.
const STATS: &[&str] = &[
    "avg", "min", "med", "max", "count", "rate", "value", "passes", "fails",
];

/// Compare two runs and enforce regression gates
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  brunt compare baseline.json new.json
  brunt compare baseline.json new.json --max-regression 'http_req_duration p(95)=10%' \\
      --max-regression 'http_req_failed rate=0.01' --junit perf.xml
Each file is a results file (--out results=FILE) or a k6/brunt summary export (--summary-export).
A gate is 'METRIC STAT=LIMIT': LIMIT with % is relative to the baseline, without it an absolute
change in the metric's unit (ms for times). Throughput (http_reqs, iterations, data_*, checks)
regresses when it falls, everything else when it rises. Exit code 99 when a gate is exceeded.
Two capacity results (brunt capacity --export) are compared by their knees instead:
  brunt compare before.json after.json --min-capacity-gain 10%")]
pub struct CompareArgs {
    /// The last good run
    pub baseline: PathBuf,

    /// The run to judge
    pub new: PathBuf,

    /// A gate, repeatable: 'http_req_duration p(95)=10%' or 'http_req_duration{name:login} avg=20'
    #[arg(long = "max-regression", value_name = "'METRIC STAT=LIMIT'")]
    pub gates: Vec<String>,

    /// For two capacity results: exit 99 unless the knee moved right by at least PERCENT (0%:
    /// only fail when it moved left)
    #[arg(long, value_name = "PERCENT")]
    pub min_capacity_gain: Option<String>,

    /// Write thresholds and gates as JUnit XML test cases to FILE
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// "12.50% worse" or "3.00% better".
fn change(worse_by: f64, shown: String) -> String {
    let word = if worse_by > 0.0 { "worse" } else { "better" };
    format!("{shown} {word}")
}

/// One run's numbers: metric key (with `{tag:value}` for sub-metrics) to statistic to value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunStats {
    pub metrics: BTreeMap<String, BTreeMap<String, f64>>,
    /// What each metric's values hold, by metric name (without tags), where the file says or
    /// the metric is a k6 built-in.
    pub contains: BTreeMap<String, ValueType>,
    pub thresholds: Vec<ThresholdResult>,
}

/// A regression gate: `METRIC STAT=LIMIT`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub metric: String,
    pub stat: String,
    pub limit: f64,
    /// `true` for `10%`, `false` for an absolute change.
    pub relative: bool,
    pub source: String,
}

/// One gate's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct GateResult {
    pub gate: Gate,
    pub ok: bool,
    /// What was measured, for people.
    pub detail: String,
}

impl Gate {
    pub fn parse(s: &str) -> Result<Gate> {
        let usage = || {
            anyhow!("--max-regression '{s}': expected 'METRIC STAT=LIMIT', e.g. 'http_req_duration p(95)=10%'")
        };
        let (left, limit) = s.rsplit_once('=').ok_or_else(usage)?;
        let (metric, stat) = left
            .trim()
            .rsplit_once(char::is_whitespace)
            .ok_or_else(usage)?;
        let limit = limit.trim();
        let (number, relative) = match limit.strip_suffix('%') {
            Some(n) => (n, true),
            None => (limit, false),
        };
        let limit: f64 = number
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                anyhow!("--max-regression '{s}': limit '{limit}' is not a number such as 10% or 5")
            })?;
        let stat = stat.trim();
        if !STATS.contains(&stat) && brunt_metrics::parse_percentile(stat).is_none() {
            return Err(anyhow!(
                "--max-regression '{s}': unknown stat '{stat}'; use one of {} or p(N)",
                STATS.join(", ")
            ));
        }
        Ok(Gate {
            metric: metric.trim().to_string(),
            stat: stat.to_string(),
            limit,
            relative,
            source: s.to_string(),
        })
    }

    /// Whether a larger value is better (throughput, check pass rates).
    fn higher_is_better(&self) -> bool {
        let base = self.metric.split('{').next().unwrap_or("");
        matches!(
            base,
            "http_reqs" | "iterations" | "data_sent" | "data_received" | "checks"
        )
    }

    /// Judges `new` against `baseline`. A metric missing from a run fails the gate; a stat that
    /// a metric present in a run does not have is an error in the gate, not a regression.
    pub fn check(&self, baseline: &RunStats, new: &RunStats) -> Result<GateResult> {
        for r in [baseline, new] {
            if let Some(m) = r.metrics.get(&self.metric) {
                if !m.contains_key(&self.stat) {
                    let have: Vec<&str> = m.keys().map(String::as_str).collect();
                    return Err(anyhow!(
                        "--max-regression '{}': {} has no stat '{}'; its stats are {}",
                        self.source,
                        self.metric,
                        self.stat,
                        have.join(", ")
                    ));
                }
            }
        }
        let get = |r: &RunStats| {
            r.metrics
                .get(&self.metric)
                .and_then(|m| m.get(&self.stat))
                .copied()
        };
        let (b, n) = match (get(baseline), get(new)) {
            (Some(b), Some(n)) => (b, n),
            (b, _) => {
                let which = if b.is_none() { "baseline" } else { "new run" };
                return Ok(GateResult {
                    gate: self.clone(),
                    ok: false,
                    detail: format!("{} {} is not in the {which}", self.metric, self.stat),
                });
            }
        };
        let unit = stat_unit(
            metric_type_of(&baseline.metrics[&self.metric]),
            baseline
                .contains
                .get(self.metric.split('{').next().unwrap_or(&self.metric))
                .copied()
                .unwrap_or(ValueType::Default),
            &self.stat,
        );
        let worse_by = if self.higher_is_better() {
            b - n
        } else {
            n - b
        };
        let (exceeded, measured) = if self.relative {
            let pct = if b == 0.0 {
                if worse_by > 0.0 {
                    f64::INFINITY
                } else {
                    0.0
                }
            } else {
                worse_by / b.abs() * 100.0
            };
            (pct > self.limit, change(pct, format!("{:.2}%", pct.abs())))
        } else {
            (
                worse_by > self.limit,
                change(worse_by, verdict::value(worse_by.abs(), unit)),
            )
        };
        Ok(GateResult {
            gate: self.clone(),
            ok: !exceeded,
            detail: format!(
                "{} {}: {} -> {} ({measured}, limit {})",
                self.metric,
                self.stat,
                verdict::value(b, unit),
                verdict::value(n, unit),
                if self.relative {
                    format!("{}%", self.limit)
                } else {
                    verdict::value(self.limit, unit)
                }
            ),
        })
    }
}

impl RunStats {
    /// Reads a results file or a summary export (k6's `--summary-export`, or handleSummary data).
    pub fn read(path: &Path) -> Result<RunStats> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read '{}'", path.display()))?;
        let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
        let gzip = bytes.starts_with(&[0x1f, 0x8b]);
        if gzip || String::from_utf8_lossy(first_line).contains("\"brunt-results\"") {
            return Ok(RunStats::from_results(&Results::read(path)?));
        }
        let json: Value = serde_json::from_slice(&bytes).map_err(|e| {
            anyhow!(
                "'{}' is neither a brunt results file nor a summary export: {e}",
                path.display()
            )
        })?;
        RunStats::from_summary(&json)
            .with_context(|| format!("'{}' is not a summary export", path.display()))
    }

    /// Totals of a results file (after its `--warm-up`, as its summary judged), with per-`name`
    /// sub-metrics for the HTTP metrics.
    pub fn from_results(results: &Results) -> RunStats {
        let (totals, covered) = results.judged();
        let secs = covered.as_secs_f64();
        let mut metrics = BTreeMap::new();
        let mut contains = BTreeMap::new();
        for id in totals.metric_ids() {
            let def = results.registry.def(id);
            if let Some(agg) = totals.metric(id) {
                metrics.insert(def.name.clone(), stats(&agg, secs));
                contains.insert(def.name.clone(), def.value_type);
            }
        }
        for (name, id) in [
            ("http_reqs", builtin::HTTP_REQS),
            ("http_req_duration", builtin::HTTP_REQ_DURATION),
            ("http_req_failed", builtin::HTTP_REQ_FAILED),
        ] {
            for endpoint in names(&totals) {
                let sel = TagSet::new([("name", endpoint.as_str())]);
                if let Some(agg) = totals.submetric(id, &sel) {
                    metrics.insert(format!("{name}{{name:{endpoint}}}"), stats(&agg, secs));
                }
            }
        }
        RunStats {
            metrics,
            contains,
            thresholds: results
                .end
                .as_ref()
                .map(|e| e.thresholds.clone())
                .unwrap_or_default(),
        }
    }

    /// k6's summary export (`{"metrics": {name: {stat: value, "thresholds": {expr: failed}}}}`)
    /// or handleSummary data (`{"metrics": {name: {"values": {..}, "thresholds": {expr: {"ok": ..}}}}}`).
    pub fn from_summary(json: &Value) -> Result<RunStats> {
        let metrics = json["metrics"]
            .as_object()
            .ok_or_else(|| anyhow!("it has no \"metrics\" object"))?;
        let mut out = RunStats::default();
        let builtins = Registry::new();
        for (name, m) in metrics {
            let values = m.get("values").unwrap_or(m);
            let mut s: BTreeMap<String, f64> = values
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| v.as_f64().map(|v| (k.clone(), v)))
                .collect();
            // The export names a Rate's ratio `value`; handleSummary data names it `rate`.
            if s.contains_key("passes") && s.contains_key("fails") {
                if let Some(v) = s.remove("value") {
                    s.insert("rate".into(), v);
                }
            }
            let value_type = match m["contains"].as_str() {
                Some("time") => ValueType::Time,
                Some("data") => ValueType::Data,
                Some(_) => ValueType::Default,
                None => builtins
                    .get(name)
                    .map_or(ValueType::Default, |id| builtins.def(id).value_type),
            };
            out.contains.insert(name.clone(), value_type);
            for (expr, verdict) in m["thresholds"].as_object().into_iter().flatten() {
                let ok = match verdict {
                    Value::Bool(failed) => !failed,
                    v => v["ok"].as_bool().unwrap_or(false),
                };
                out.thresholds
                    .push(exported_verdict(name, expr, ok, &s, value_type));
            }
            out.metrics.insert(name.clone(), s);
        }
        Ok(out)
    }
}

/// A summary export's verdict (k6 exports only pass or fail) with the observed value read from
/// the metric's exported stats.
fn exported_verdict(
    metric: &str,
    source: &str,
    ok: bool,
    stats: &BTreeMap<String, f64>,
    value_type: ValueType,
) -> ThresholdResult {
    let bare = || ThresholdResult::bare(metric.to_string(), source.to_string(), ok);
    let Ok(expr) = ThresholdExpr::parse(source) else {
        return bare();
    };
    let observed = stats.get(bare().stat()).copied();
    let unit = Unit::of(metric_type_of(stats), value_type, expr.aggregation);
    ThresholdResult::new(
        metric.to_string(),
        source.to_string(),
        &expr,
        ok,
        observed,
        unit,
    )
}

/// A metric's type from the stats it exports.
fn metric_type_of(stats: &BTreeMap<String, f64>) -> MetricType {
    if stats.contains_key("passes") {
        MetricType::Rate
    } else if stats.contains_key("avg") {
        MetricType::Trend
    } else if stats.contains_key("count") {
        MetricType::Counter
    } else {
        MetricType::Gauge
    }
}

/// The `name` tags of the run's requests.
fn names(totals: &Snapshot) -> Vec<String> {
    let mut v: Vec<String> = totals
        .series
        .keys()
        .filter(|(id, _)| *id == builtin::HTTP_REQS)
        .filter_map(|(_, t)| t.get("name").map(str::to_string))
        .collect();
    v.sort();
    v.dedup();
    v
}

fn stats(agg: &Agg, secs: f64) -> BTreeMap<String, f64> {
    let names: &[&str] = match agg.metric_type() {
        MetricType::Counter => &["count", "rate"],
        MetricType::Gauge => &["value", "min", "max"],
        MetricType::Rate => &["rate", "passes", "fails"],
        MetricType::Trend => &["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
    };
    names
        .iter()
        .filter_map(|n| agg.stat(n, secs).map(|v| (n.to_string(), v)))
        .collect()
}

/// The side-by-side table: overall metrics first, then per-endpoint sub-metrics.
pub fn table(baseline: &RunStats, new: &RunStats) -> String {
    aligned(METRIC_HEADER, &metric_rows(baseline, new), 2)
}

/// The columns of [`metric_rows`].
pub const METRIC_HEADER: [&str; 5] = ["metric", "stat", "baseline", "new", "delta"];
/// The columns of [`threshold_rows`].
pub const THRESHOLD_HEADER: [&str; 4] = ["threshold", "expression", "baseline", "new"];

/// [`table`]'s rows, values worded with their units.
pub fn metric_rows(baseline: &RunStats, new: &RunStats) -> Vec<[String; 5]> {
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut keys: Vec<&String> = baseline
        .metrics
        .keys()
        .filter(|k| new.metrics.contains_key(*k))
        .collect();
    // Whole metrics first, then sub-metrics (endpoints).
    keys.sort_by_key(|k| (k.contains('{'), k.to_string()));
    for key in keys {
        let (b, n) = (&baseline.metrics[key], &new.metrics[key]);
        let shown: &[&str] = if b.contains_key("p(95)") {
            TREND_SHOWN
        } else if b.contains_key("passes") {
            RATE_SHOWN
        } else if b.contains_key("count") {
            COUNTER_SHOWN
        } else {
            continue;
        };
        let metric_type = metric_type_of(b);
        let value_type = baseline
            .contains
            .get(key.split('{').next().unwrap_or(key))
            .copied()
            .unwrap_or(ValueType::Default);
        for stat in shown {
            let (Some(bv), Some(nv)) = (b.get(*stat), n.get(*stat)) else {
                continue;
            };
            // Phases that never happened (TLS on plain HTTP) only add noise.
            if *bv == 0.0 && *nv == 0.0 {
                continue;
            }
            let delta = if *bv == 0.0 {
                "new".to_string()
            } else {
                format!("{:+.1}%", (nv - bv) / bv.abs() * 100.0)
            };
            let unit = stat_unit(metric_type, value_type, stat);
            rows.push([
                key.clone(),
                stat.to_string(),
                verdict::value(*bv, unit),
                verdict::value(*nv, unit),
                delta,
            ]);
        }
    }
    rows
}

/// A table with a header, columns padded to their widest cell: text aligned left, figures
/// (columns from `figures_from` on) right.
fn aligned<const N: usize>(header: [&str; N], rows: &[[String; N]], figures_from: usize) -> String {
    let header = header.map(String::from);
    let mut widths = [0usize; N];
    for r in std::iter::once(&header).chain(rows) {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i < figures_from {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// The unit of one of [`stats`]' figures.
fn stat_unit(metric_type: MetricType, value_type: ValueType, stat: &str) -> Unit {
    match stat {
        "passes" | "fails" => Unit::Number,
        _ => match brunt_metrics::Aggregation::parse(stat) {
            Some(a) => Unit::of(metric_type, value_type, a),
            None => Unit::Number,
        },
    }
}

/// Every threshold of either run with its observed value and margin in each:
/// `http_req_duration  p(95)<100  ✓ p(95)=10ms, passed by 90ms  ✗ p(95)=150ms, missed by 50ms`.
pub fn threshold_table(baseline: &RunStats, new: &RunStats) -> String {
    aligned(THRESHOLD_HEADER, &threshold_rows(baseline, new), 4)
}

/// [`threshold_table`]'s rows (`-` where a run has no such threshold).
pub fn threshold_rows(baseline: &RunStats, new: &RunStats) -> Vec<[String; 4]> {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for t in baseline.thresholds.iter().chain(&new.thresholds) {
        let key = (t.metric_name.as_str(), t.source.as_str());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let cell = |run: &RunStats, (metric, source): (&str, &str)| -> String {
        let Some(t) = run
            .thresholds
            .iter()
            .find(|t| t.metric_name == metric && t.source == source)
        else {
            return "-".into();
        };
        let seen: Vec<String> = [verdict::observed(t), verdict::margin(t)]
            .into_iter()
            .flatten()
            .collect();
        format!("{} {}", if t.ok { "✓" } else { "✗" }, seen.join(", "))
            .trim_end()
            .to_string()
    };
    keys.iter()
        .map(|&k| {
            [
                k.0.to_string(),
                k.1.to_string(),
                cell(baseline, k),
                cell(new, k),
            ]
        })
        .collect()
}

/// Runs `brunt compare`: prints the table and the gates, writes `--junit`, returns the exit code
/// (0, or [`GATE_FAILED`]).
pub fn compare(args: CompareArgs) -> Result<i32> {
    let gates: Vec<Gate> = args
        .gates
        .iter()
        .map(|g| Gate::parse(g))
        .collect::<Result<_>>()?;
    let min_gain = args
        .min_capacity_gain
        .as_deref()
        .map(|g| capacity::parse_min_gain(g).map(|pct| (g, pct)))
        .transpose()?;
    let pair = (
        capacity::CapacityRun::read(&args.baseline)?,
        capacity::CapacityRun::read(&args.new)?,
    );
    let (thresholds, results) = match pair {
        (Some(baseline), Some(new)) => {
            if let Some(g) = args.gates.first() {
                bail!("--max-regression '{g}': capacity results are gated with --min-capacity-gain, not by metric");
            }
            let (text, gate) = capacity::compare(&baseline, &new, min_gain)?;
            print!("{text}");
            (Vec::new(), gate.into_iter().collect())
        }
        (None, None) => {
            if let Some(g) = &args.min_capacity_gain {
                bail!("--min-capacity-gain {g}: needs two capacity results (brunt capacity --export FILE)");
            }
            let baseline = RunStats::read(&args.baseline)?;
            let new = RunStats::read(&args.new)?;
            print!("{}", table(&baseline, &new));
            if !baseline.thresholds.is_empty() || !new.thresholds.is_empty() {
                println!();
                print!("{}", threshold_table(&baseline, &new));
            }
            let results: Vec<GateResult> = gates
                .iter()
                .map(|g| g.check(&baseline, &new))
                .collect::<Result<_>>()?;
            (new.thresholds, results)
        }
        (b, _) => {
            let (capacity, other) = if b.is_some() {
                (&args.baseline, &args.new)
            } else {
                (&args.new, &args.baseline)
            };
            bail!(
                "'{}' is a capacity result but '{}' is not: compare two capacity results, or two runs",
                capacity.display(),
                other.display()
            );
        }
    };
    if !results.is_empty() {
        println!();
    }
    for r in &results {
        println!("{} {}", if r.ok { "✓" } else { "✗" }, r.detail);
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, junit::render(&thresholds, &results))
            .with_context(|| format!("--junit {}: cannot write the file", path.display()))?;
    }
    let failed = results.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        eprintln!("{failed} performance gate(s) exceeded");
        return Ok(GATE_FAILED);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(p95: f64, rate: f64) -> RunStats {
        RunStats::from_summary(&json!({"metrics": {
            "http_req_duration": {"avg": 1.0, "p(95)": p95, "thresholds": {"p(95)<100": p95 >= 100.0}},
            "http_reqs": {"count": 100.0, "rate": rate},
            "http_req_failed": {"passes": 0, "fails": 100, "value": 0.0},
        }}))
        .unwrap()
    }

    #[test]
    fn gates_parse_with_sub_metrics_and_reject_bad_limits() {
        let g = Gate::parse("http_req_duration{name:GET /a b} p(95)=10%").unwrap();
        assert_eq!(g.metric, "http_req_duration{name:GET /a b}");
        assert_eq!(
            (g.stat.as_str(), g.limit, g.relative),
            ("p(95)", 10.0, true)
        );
        let g = Gate::parse("http_req_failed rate=0.01").unwrap();
        assert!(!g.relative);
        for bad in [
            "http_req_duration=10%",
            "http_req_duration p(95)",
            "x avg=ten%",
            "http_req_duration p95=10%",
        ] {
            let e = Gate::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn latency_regresses_up_and_throughput_down() {
        let base = run(10.0, 1000.0);
        let p95 = Gate::parse("http_req_duration p(95)=10%").unwrap();
        assert!(p95.check(&base, &run(10.9, 1000.0)).unwrap().ok);
        let r = p95.check(&base, &run(11.5, 1000.0)).unwrap();
        assert!(!r.ok);
        assert_eq!(
            r.detail,
            "http_req_duration p(95): 10ms -> 11.5ms (15.00% worse, limit 10%)"
        );
        // An absolute limit is in the metric's unit, and so is the change.
        let r = Gate::parse("http_req_duration p(95)=1")
            .unwrap()
            .check(&base, &run(11.5, 1000.0))
            .unwrap();
        assert_eq!(
            r.detail,
            "http_req_duration p(95): 10ms -> 11.5ms (1.5ms worse, limit 1ms)"
        );
        let rps = Gate::parse("http_reqs rate=5%").unwrap();
        assert!(
            rps.check(&base, &run(10.0, 2000.0)).unwrap().ok,
            "faster is fine"
        );
        assert!(!rps.check(&base, &run(10.0, 900.0)).unwrap().ok);
        let missing = Gate::parse("checks rate=1%")
            .unwrap()
            .check(&base, &base)
            .unwrap();
        assert!(!missing.ok && missing.detail.contains("not in the baseline"));
    }

    #[test]
    fn a_stat_the_metric_lacks_is_an_error_not_a_regression() {
        let e = Gate::parse("http_req_duration mean=10%")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown stat 'mean'") && e.contains("avg"),
            "{e}"
        );
        let base = run(10.0, 1000.0);
        let e = Gate::parse("http_req_duration p(99.9)=10%")
            .unwrap()
            .check(&base, &base)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("has no stat 'p(99.9)'") && e.contains("p(95)"),
            "{e}"
        );
    }

    #[test]
    fn summary_exports_give_rates_and_threshold_verdicts() {
        let r = run(150.0, 10.0);
        assert_eq!(r.metrics["http_req_failed"]["rate"], 0.0);
        assert_eq!(r.thresholds.len(), 1);
        assert!(
            !r.thresholds[0].ok,
            "k6 exports true for a failed threshold"
        );
        let table = table(&run(10.0, 10.0), &r);
        assert!(table.contains("http_req_duration  p(95)"), "{table}");
        assert!(table.contains("+1400.0%"), "{table}");
    }

    #[test]
    fn junit_lists_thresholds_and_gates_with_failures() {
        let base = run(10.0, 1000.0);
        let new = run(150.0, 1000.0);
        let gate = Gate::parse("http_req_duration p(95)=10%").unwrap();
        let xml = junit::render(&new.thresholds, &[gate.check(&base, &new).unwrap()]);
        assert!(
            xml.contains("<testsuites name=\"brunt\" tests=\"2\" failures=\"2\">"),
            "{xml}"
        );
        assert!(
            xml.contains("name=\"http_req_duration: p(95)&lt;100\""),
            "{xml}"
        );
        assert_eq!(xml.matches("<failure").count(), 2);
    }
}
