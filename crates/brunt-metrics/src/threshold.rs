//! k6 thresholds: the expression grammar (`p(95)<500`, `rate>=0.99`, ...), the `thresholds`
//! option (string and object forms, several per metric key), brunt's `--threshold 'KEY: EXPR'`,
//! validation against the registry before the run, and evaluation against a [`Snapshot`].
//!
//! k6's rules kept here: an expression is `method operator number`, operators are tried in the
//! order `<=`, `<`, `>=`, `>`, `===`, `==`, `!=` and the first that splits the text into a
//! non-empty right side wins; spaces around the parts are ignored. A method must be one the
//! metric type supports (counter: count, rate; gauge: value; rate: rate; trend: avg, min, max,
//! med, p(N)). During the run a metric without samples is skipped; at the end it is judged on
//! zeros, except that a Rate without samples (and a counter's rate at zero elapsed time) passes.
//! A failed `abortOnFail` threshold stops the run once the elapsed time exceeds `delayAbortEval`.

use crate::aggregate::{Agg, Snapshot};
use crate::registry::{MetricId, MetricType, Registry, ValueType};
use crate::selector::{MetricSelector, SelectorError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// A k6 aggregation method: the left side of a threshold expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregation {
    Avg,
    Min,
    Max,
    Med,
    /// `p(N)`, N in 0..=100.
    Percentile(f64),
    Count,
    Rate,
    Value,
}

impl Aggregation {
    /// k6's token for the method (`p` for any percentile), as its errors name it.
    pub fn token(self) -> &'static str {
        match self {
            Aggregation::Avg => "avg",
            Aggregation::Min => "min",
            Aggregation::Max => "max",
            Aggregation::Med => "med",
            Aggregation::Percentile(_) => "p",
            Aggregation::Count => "count",
            Aggregation::Rate => "rate",
            Aggregation::Value => "value",
        }
    }

    /// The methods k6 accepts in thresholds on a metric of type `t`.
    pub fn supported_tokens(t: MetricType) -> &'static [&'static str] {
        match t {
            MetricType::Counter => &["count", "rate"],
            MetricType::Gauge => &["value"],
            MetricType::Rate => &["rate"],
            MetricType::Trend => &["avg", "min", "max", "med", "p"],
        }
    }

    /// The method named `method` (`avg`, `p(95)`, ...); None for anything else.
    pub fn parse(method: &str) -> Option<Aggregation> {
        parse_aggregation(method).ok()
    }

    pub fn supported_by(self, t: MetricType) -> bool {
        Self::supported_tokens(t).contains(&self.token())
    }

    /// The statistic's name for [`Agg::stat`].
    fn stat_name(self) -> String {
        match self {
            Aggregation::Percentile(p) => format!("p({p})"),
            other => other.token().to_string(),
        }
    }
}

/// A threshold comparison operator; k6's `===` is `==`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Operator {
    fn apply(self, lhs: f64, rhs: f64) -> bool {
        match self {
            Operator::Lt => lhs < rhs,
            Operator::Le => lhs <= rhs,
            Operator::Gt => lhs > rhs,
            Operator::Ge => lhs >= rhs,
            Operator::Eq => lhs == rhs,
            Operator::Ne => lhs != rhs,
        }
    }
}

/// In k6's scan order: longer tokens before their prefixes.
const OPERATORS: [(&str, Operator); 7] = [
    ("<=", Operator::Le),
    ("<", Operator::Lt),
    (">=", Operator::Ge),
    (">", Operator::Gt),
    ("===", Operator::Eq),
    ("==", Operator::Eq),
    ("!=", Operator::Ne),
];

/// Why a threshold expression does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExprError {
    #[error("expected 'method operator number', e.g. 'p(95)<500', with an operator among < <= > >= == === !=")]
    Malformed,
    #[error(
        "unknown aggregation method '{0}', expected avg, min, max, med, p(N), count, rate or value"
    )]
    UnknownMethod(String),
    #[error("percentile '{0}' must be p(N) with N a number from 0 to 100")]
    BadPercentile(String),
    #[error("right-hand side '{0}' is not a number")]
    BadNumber(String),
}

/// A parsed threshold expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdExpr {
    pub aggregation: Aggregation,
    pub operator: Operator,
    pub value: f64,
}

impl ThresholdExpr {
    pub fn parse(input: &str) -> Result<ThresholdExpr, ExprError> {
        let (method, operator, number) = OPERATORS
            .iter()
            .find_map(|(tok, op)| {
                let (l, r) = input.split_once(tok)?;
                (!r.is_empty()).then(|| (l.trim(), *op, r.trim()))
            })
            .ok_or(ExprError::Malformed)?;
        let aggregation = parse_aggregation(method)?;
        let value = number
            .parse::<f64>()
            .map_err(|_| ExprError::BadNumber(number.to_string()))?;
        Ok(ThresholdExpr {
            aggregation,
            operator,
            value,
        })
    }
}

fn parse_aggregation(method: &str) -> Result<Aggregation, ExprError> {
    Ok(match method {
        "avg" => Aggregation::Avg,
        "min" => Aggregation::Min,
        "max" => Aggregation::Max,
        "med" => Aggregation::Med,
        "count" => Aggregation::Count,
        "rate" => Aggregation::Rate,
        "value" => Aggregation::Value,
        _ => {
            let Some(inner) = method.strip_prefix("p(").and_then(|m| m.strip_suffix(')')) else {
                return Err(ExprError::UnknownMethod(method.to_string()));
            };
            match inner.parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Aggregation::Percentile(p),
                _ => return Err(ExprError::BadPercentile(method.to_string())),
            }
        }
    })
}

/// One threshold on one metric key.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as written; k6 reports and exports thresholds by it.
    pub source: String,
    pub expr: ThresholdExpr,
    pub abort_on_fail: bool,
    /// With `abort_on_fail`: the run is aborted only once it has run longer than this.
    pub delay_abort_eval: Option<Duration>,
}

/// The thresholds on one metric or sub-metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricThresholds {
    pub selector: MetricSelector,
    pub metric: MetricId,
    pub metric_type: MetricType,
    pub value_type: ValueType,
    pub thresholds: Vec<Threshold>,
}

/// A threshold that cannot be used, found before the run starts. k6 exits with 104 (its
/// "invalid config") for every one of these.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    #[error("invalid threshold '{expr}' on metric '{key}': {reason}")]
    Expression {
        key: String,
        expr: String,
        reason: ExprError,
    },
    /// The selector's error is in the message, not `source()`, so that it is printed once.
    #[error("invalid threshold key: {0}")]
    Selector(SelectorError),
    #[error("invalid threshold '{expr}' on metric '{key}': {method} is not an aggregation method of {metric_type} metrics; use one of: {supported}")]
    Unsupported {
        key: String,
        expr: String,
        method: &'static str,
        metric_type: &'static str,
        supported: String,
    },
    #[error("invalid thresholds option{}: {message}", key.as_ref().map(|k| format!(" for metric '{k}'")).unwrap_or_default())]
    Options {
        key: Option<String>,
        message: String,
    },
    #[error("invalid --threshold '{arg}': write 'METRIC: EXPRESSION', e.g. 'http_req_duration: p(95)<500'")]
    Cli { arg: String },
}

impl From<SelectorError> for ThresholdError {
    fn from(e: SelectorError) -> Self {
        ThresholdError::Selector(e)
    }
}

/// The verdict on one threshold: what was tested, what was observed and by how much it passed or
/// missed. Computed once per evaluation; the summary, JUnit, `compare`, the report and the
/// dashboard all read it, so they cannot disagree. Results files store it as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// k6's name of the metric or sub-metric (the key the summary shows it under).
    #[serde(rename = "metric")]
    pub metric_name: String,
    /// The expression as written.
    pub source: String,
    pub ok: bool,
    /// The tested statistic (`p(95)` of `p(95)<500`) in [`unit`](Self::unit); None where it does
    /// not exist yet (a Rate without samples passes, as in k6) or is not known (a k6 summary
    /// export's verdicts carry none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<f64>,
    /// How far the observed value lies on the passing side of the limit, in the same unit:
    /// positive by how much it passed, negative by how much it missed. None without an observed
    /// value and for `==` and `!=`, which have no side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<f64>,
    #[serde(default)]
    pub unit: Unit,
}

/// What a threshold's observed value counts, so that every reader prints it with its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A plain number (a count, a gauge of things).
    #[default]
    Number,
    Milliseconds,
    Bytes,
    /// A Rate metric's share of non-zero samples, 0 to 1.
    Ratio,
    /// A counter's rate.
    PerSecond,
    BytesPerSecond,
}

impl Unit {
    /// The unit of `aggregation` on a metric of this type and value type.
    pub fn of(metric_type: MetricType, value_type: ValueType, aggregation: Aggregation) -> Unit {
        match (metric_type, aggregation, value_type) {
            (MetricType::Rate, _, _) => Unit::Ratio,
            (MetricType::Counter, Aggregation::Rate, ValueType::Data) => Unit::BytesPerSecond,
            (MetricType::Counter, Aggregation::Rate, _) => Unit::PerSecond,
            (_, _, ValueType::Time) => Unit::Milliseconds,
            (_, _, ValueType::Data) => Unit::Bytes,
            _ => Unit::Number,
        }
    }
}

impl ThresholdResult {
    /// The tested statistic as k6 names it (`p(95)` of `p(95)<500`).
    pub fn stat(&self) -> &str {
        self.source
            .split(['=', '>', '<', '!'])
            .next()
            .unwrap_or("")
            .trim()
    }

    /// The verdict `ok` of `expr` on `observed` (None where it is not known), with its margin.
    pub fn new(
        metric_name: String,
        source: String,
        expr: &ThresholdExpr,
        ok: bool,
        observed: Option<f64>,
        unit: Unit,
    ) -> ThresholdResult {
        let limit = expr.value;
        let margin = observed.and_then(|v| match expr.operator {
            Operator::Lt | Operator::Le => Some(limit - v),
            Operator::Gt | Operator::Ge => Some(v - limit),
            Operator::Eq | Operator::Ne => None,
        });
        ThresholdResult {
            metric_name,
            source,
            ok,
            observed,
            margin,
            unit,
        }
    }

    /// A verdict whose observed value is not known (a journal's phases).
    pub fn bare(metric_name: String, source: String, ok: bool) -> ThresholdResult {
        ThresholdResult {
            metric_name,
            source,
            ok,
            observed: None,
            margin: None,
            unit: Unit::Number,
        }
    }
}

/// Every threshold of a run, validated against its registry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thresholds {
    metrics: Vec<MetricThresholds>,
}

impl Thresholds {
    /// Parses the value of the `thresholds` option: an object whose keys are metric keys and whose
    /// values are arrays of expressions, each a string or `{threshold, abortOnFail, delayAbortEval}`.
    /// Call it once the script's init code has registered its custom metrics, as k6 validates
    /// thresholds against the registry then.
    pub fn from_options(
        options: &Value,
        registry: &Registry,
    ) -> Result<Thresholds, ThresholdError> {
        let mut out = Thresholds::default();
        out.add_options(options, registry)?;
        Ok(out)
    }

    /// Adds the thresholds of a `thresholds` option value (see [`from_options`](Self::from_options)).
    pub fn add_options(
        &mut self,
        options: &Value,
        registry: &Registry,
    ) -> Result<(), ThresholdError> {
        let map = match options {
            Value::Object(m) => m,
            Value::Null => return Ok(()),
            _ => {
                return Err(ThresholdError::Options {
                    key: None,
                    message: "expected an object mapping metric keys to arrays of expressions"
                        .into(),
                })
            }
        };
        for (key, list) in map {
            let items = list.as_array().ok_or_else(|| ThresholdError::Options {
                key: Some(key.clone()),
                message: "expected an array of threshold expressions, e.g. [\"p(95)<500\"]".into(),
            })?;
            let parsed = items
                .iter()
                .map(|item| threshold_from_json(key, item))
                .collect::<Result<Vec<_>, _>>()?;
            self.add(key, parsed, registry)?;
        }
        Ok(())
    }

    /// Adds one `--threshold 'METRIC: EXPR'` argument (the expression after the last `:`).
    pub fn add_cli(&mut self, arg: &str, registry: &Registry) -> Result<(), ThresholdError> {
        let (key, t) = parse_cli(arg)?;
        self.add(key, vec![t], registry)
    }

    /// Checks a `--threshold 'METRIC: EXPR'` argument's grammar without a registry, so that a
    /// command can name a mistake in it before it tries the network; whether the metric exists
    /// is checked when it is added.
    pub fn check_cli(arg: &str) -> Result<(), ThresholdError> {
        let (key, _) = parse_cli(arg)?;
        MetricSelector::parse(key)?;
        Ok(())
    }

    /// Validates `thresholds` for metric key `key` against the registry and adds them; a key that
    /// selects the same series as an earlier one (however written) adds to its list.
    fn add(
        &mut self,
        key: &str,
        thresholds: Vec<Threshold>,
        registry: &Registry,
    ) -> Result<(), ThresholdError> {
        let selector = MetricSelector::parse(key)?;
        let (metric, def) = selector.resolve(registry)?;
        for t in &thresholds {
            if !t.expr.aggregation.supported_by(def.metric_type) {
                return Err(ThresholdError::Unsupported {
                    key: key.to_string(),
                    expr: t.source.clone(),
                    method: t.expr.aggregation.token(),
                    metric_type: def.metric_type.as_str(),
                    supported: Aggregation::supported_tokens(def.metric_type)
                        .iter()
                        .map(|m| if *m == "p" { "p(N)" } else { m })
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        match self
            .metrics
            .iter_mut()
            .find(|m| m.selector.same_series(&selector))
        {
            Some(m) => m.thresholds.extend(thresholds),
            None => self.metrics.push(MetricThresholds {
                selector,
                metric,
                metric_type: def.metric_type,
                value_type: def.value_type,
                thresholds,
            }),
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// True when some threshold stops the run on failure (`abortOnFail`).
    pub fn any_abort_on_fail(&self) -> bool {
        self.metrics
            .iter()
            .any(|m| m.thresholds.iter().any(|t| t.abort_on_fail))
    }

    /// The metrics and sub-metrics with thresholds; the summary shows each even without samples.
    pub fn metrics(&self) -> &[MetricThresholds] {
        &self.metrics
    }

    /// End-of-test verdicts, one per threshold, in definition order.
    pub fn evaluate(&self, snapshot: &Snapshot, elapsed: Duration) -> Vec<ThresholdResult> {
        let mut out = Vec::new();
        for m in &self.metrics {
            let agg = select(snapshot, m).unwrap_or_else(|| Agg::new(m.metric_type));
            for t in &m.thresholds {
                let (observed, ok) = judge(&agg, t, elapsed);
                out.push(ThresholdResult::new(
                    m.selector.name.clone(),
                    t.source.clone(),
                    &t.expr,
                    ok,
                    observed,
                    Unit::of(m.metric_type, m.value_type, t.expr.aggregation),
                ));
            }
        }
        out
    }

    /// The mid-run check (k6 runs it every 2 s): `Some(message)` when a failed threshold with
    /// `abortOnFail` should stop the run now. Metrics without samples yet are skipped.
    pub fn abort_reason(&self, snapshot: &Snapshot, elapsed: Duration) -> Option<String> {
        let mut breached: Vec<&str> = Vec::new();
        let mut abort = false;
        for m in &self.metrics {
            let Some(agg) = select(snapshot, m) else {
                continue;
            };
            let mut failed = false;
            for t in m.thresholds.iter().filter(|t| !passes(&agg, t, elapsed)) {
                failed = true;
                abort |= t.abort_on_fail && !matches!(t.delay_abort_eval, Some(d) if d >= elapsed);
            }
            if failed {
                breached.push(&m.selector.name);
            }
        }
        if !abort {
            return None;
        }
        breached.sort_unstable();
        Some(format!(
            "thresholds on metrics '{}' were crossed; at least one has abortOnFail enabled, stopping test prematurely",
            breached.join(", ")
        ))
    }
}

fn select(snapshot: &Snapshot, m: &MetricThresholds) -> Option<Agg> {
    match &m.selector.tags {
        None => snapshot.metric(m.metric),
        Some(tags) => snapshot.submetric(m.metric, tags),
    }
}

fn passes(agg: &Agg, t: &Threshold, elapsed: Duration) -> bool {
    judge(agg, t, elapsed).1
}

/// The value `t` tests and whether it passes. k6 passes a threshold whose statistic does not
/// exist yet (no value): a Rate without samples, or a counter's rate before any time has elapsed.
fn judge(agg: &Agg, t: &Threshold, elapsed: Duration) -> (Option<f64>, bool) {
    let secs = elapsed.as_secs_f64();
    let undefined = match (agg, t.expr.aggregation) {
        (Agg::Rate { total, .. }, _) => *total == 0,
        (Agg::Counter { .. }, Aggregation::Rate) => secs <= 0.0,
        _ => false,
    };
    if undefined {
        return (None, true);
    }
    match agg.stat(&t.expr.aggregation.stat_name(), secs) {
        Some(v) => (Some(v), t.expr.operator.apply(v, t.expr.value)),
        // Validation keeps unsupported methods out; treat one as a failure, never a panic.
        None => (None, false),
    }
}

/// Splits a `--threshold` argument at its last `:` and parses the expression.
fn parse_cli(arg: &str) -> Result<(&str, Threshold), ThresholdError> {
    let cli = || ThresholdError::Cli {
        arg: arg.to_string(),
    };
    let (key, expr) = arg.rsplit_once(':').ok_or_else(cli)?;
    let (key, expr) = (key.trim(), expr.trim());
    if key.is_empty() || expr.is_empty() {
        return Err(cli());
    }
    Ok((key, parse_threshold(key, expr, false, None)?))
}

fn parse_threshold(
    key: &str,
    source: &str,
    abort_on_fail: bool,
    delay_abort_eval: Option<Duration>,
) -> Result<Threshold, ThresholdError> {
    let expr = ThresholdExpr::parse(source).map_err(|reason| ThresholdError::Expression {
        key: key.to_string(),
        expr: source.to_string(),
        reason,
    })?;
    Ok(Threshold {
        source: source.to_string(),
        expr,
        abort_on_fail,
        delay_abort_eval,
    })
}

fn threshold_from_json(key: &str, item: &Value) -> Result<Threshold, ThresholdError> {
    let bad = |message: String| ThresholdError::Options {
        key: Some(key.to_string()),
        message,
    };
    let obj = match item {
        Value::String(s) => return parse_threshold(key, s, false, None),
        Value::Object(o) => o,
        other => {
            return Err(bad(format!(
                "{other} is neither an expression string nor an object {{threshold, abortOnFail, delayAbortEval}}"
            )))
        }
    };
    let source = match obj.get("threshold") {
        Some(Value::String(s)) => s.as_str(),
        None | Some(Value::Null) => "",
        Some(other) => return Err(bad(format!("'threshold' must be a string, got {other}"))),
    };
    let abort_on_fail = match obj.get("abortOnFail") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(bad(format!(
                "'abortOnFail' of '{source}' must be true or false, got {other}"
            )))
        }
    };
    let delay = match obj.get("delayAbortEval") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            parse_duration(s).map_err(|e| bad(format!("'delayAbortEval' of '{source}': {e}")))?,
        ),
        Some(Value::Number(n)) => {
            Some(millis(n.as_f64().unwrap_or(f64::NAN)).ok_or_else(|| {
                bad(format!(
                    "'delayAbortEval' of '{source}': {n} is not a duration"
                ))
            })?)
        }
        Some(other) => {
            return Err(bad(format!(
                "'delayAbortEval' of '{source}' must be a duration such as \"10s\", got {other}"
            )))
        }
    };
    parse_threshold(key, source, abort_on_fail, delay)
}

/// A non-negative number of milliseconds.
fn millis(ms: f64) -> Option<Duration> {
    (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0))
}

/// k6's duration strings: a bare number is milliseconds; otherwise Go's `1h2m3.5s` form
/// (units ns, us, µs, ms, s, m, h), optionally after a whole number of days (`1d12h`).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("'{s}' is not a duration, write e.g. \"10s\", \"1m30s\" or \"500ms\"");
    if let Ok(ms) = s.parse::<f64>() {
        return millis(ms).ok_or_else(invalid);
    }
    let (days, rest) = match s.split_once('d') {
        Some((d, rest)) => (d.parse::<u64>().map_err(|_| invalid())?, rest),
        None => (0, s),
    };
    let mut total = Duration::from_secs(days * 86_400);
    if rest.is_empty() {
        return if s.contains('d') {
            Ok(total)
        } else {
            Err(invalid())
        };
    }
    if rest == "0" {
        return Ok(total);
    }
    let mut rest = rest;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let n: f64 = rest[..num_len].parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += Duration::from_secs_f64(n * secs_per_unit);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Aggregator;
    use crate::builtin;
    use crate::tags::TagSet;
    use serde_json::json;
    use std::sync::Arc;

    fn expr(s: &str) -> ThresholdExpr {
        ThresholdExpr::parse(s).unwrap()
    }

    #[test]
    fn every_method_and_operator_parses() {
        let cases = [
            ("avg<200", Aggregation::Avg, Operator::Lt, 200.0),
            ("min<=1", Aggregation::Min, Operator::Le, 1.0),
            ("max>3.5", Aggregation::Max, Operator::Gt, 3.5),
            ("med>=4", Aggregation::Med, Operator::Ge, 4.0),
            ("p(95)==5", Aggregation::Percentile(95.0), Operator::Eq, 5.0),
            (
                "p(99.9)===6",
                Aggregation::Percentile(99.9),
                Operator::Eq,
                6.0,
            ),
            ("count!=7", Aggregation::Count, Operator::Ne, 7.0),
            ("rate<0.01", Aggregation::Rate, Operator::Lt, 0.01),
            ("value>-1", Aggregation::Value, Operator::Gt, -1.0),
            (
                "  p(90)   <   500 ",
                Aggregation::Percentile(90.0),
                Operator::Lt,
                500.0,
            ),
            ("p(0)<1", Aggregation::Percentile(0.0), Operator::Lt, 1.0),
            (
                "p(100)<1",
                Aggregation::Percentile(100.0),
                Operator::Lt,
                1.0,
            ),
        ];
        for (src, a, o, v) in cases {
            let e = expr(src);
            assert_eq!((e.aggregation, e.operator, e.value), (a, o, v), "{src}");
        }
    }

    #[test]
    fn every_malformed_expression_is_an_error() {
        let err = |s: &str| ThresholdExpr::parse(s).unwrap_err();
        assert_eq!(err("p(95)"), ExprError::Malformed);
        assert_eq!(err("p(95)<"), ExprError::Malformed);
        assert_eq!(err("avg = 5"), ExprError::Malformed);
        assert_eq!(err(""), ExprError::Malformed);
        assert_eq!(err("mean<5"), ExprError::UnknownMethod("mean".into()));
        assert_eq!(err("<5"), ExprError::UnknownMethod("".into()));
        assert_eq!(err("p95<5"), ExprError::UnknownMethod("p95".into()));
        assert_eq!(err("p(101)<5"), ExprError::BadPercentile("p(101)".into()));
        assert_eq!(err("p(-1)<5"), ExprError::BadPercentile("p(-1)".into()));
        assert_eq!(err("p(x)<5"), ExprError::BadPercentile("p(x)".into()));
        assert_eq!(err("avg<5ms"), ExprError::BadNumber("5ms".into()));
        assert_eq!(err("avg<5<6"), ExprError::BadNumber("5<6".into()));
    }

    #[test]
    fn options_accept_string_and_object_forms_and_name_key_and_expression_in_errors() {
        let reg = Registry::new();
        let t = Thresholds::from_options(
            &json!({
                "http_req_duration": ["p(95)<500", {"threshold": "avg<200", "abortOnFail": true, "delayAbortEval": "10s"}],
                "http_req_duration{status:200}": ["max<1000"],
                "http_req_failed": [{"threshold": "rate<0.01"}],
            }),
            &reg,
        )
        .unwrap();
        assert_eq!(t.metrics().len(), 3);
        let d = t
            .metrics()
            .iter()
            .find(|m| m.selector.name == "http_req_duration")
            .unwrap();
        assert_eq!(d.thresholds.len(), 2);
        assert!(d.thresholds[1].abort_on_fail);
        assert_eq!(
            d.thresholds[1].delay_abort_eval,
            Some(Duration::from_secs(10))
        );

        let err = |v: Value| Thresholds::from_options(&v, &reg).unwrap_err().to_string();
        let e = err(json!({"http_req_duration": ["p(95)"]}));
        assert!(
            e.contains("'p(95)'") && e.contains("'http_req_duration'"),
            "{e}"
        );
        let e = err(json!({"nope": ["avg<1"]}));
        assert!(e.contains("no metric named 'nope'"), "{e}");
        let e = err(json!({"http_req_duration": ["rate<0.1"]}));
        assert_eq!(e, "invalid threshold 'rate<0.1' on metric 'http_req_duration': rate is not an aggregation method of trend metrics; use one of: avg, min, max, med, p(N)");
        let e = err(json!({"http_req_duration": ["count>1"]}));
        assert!(
            e.contains("count is not an aggregation method of trend"),
            "{e}"
        );
        let e = err(json!({"vus": ["max>1"]}));
        assert!(e.contains("use one of: value"), "{e}");
        let e = err(json!({"checks": ["count>1"]}));
        assert!(e.contains("use one of: rate"), "{e}");
        let e = err(json!({"http_reqs": ["avg>1"]}));
        assert!(e.contains("use one of: count, rate"), "{e}");
        let e = err(json!({"http_req_duration": "p(95)<500"}));
        assert!(
            e.contains("for metric 'http_req_duration'") && e.contains("array"),
            "{e}"
        );
        let e = err(json!({"http_req_duration": [5]}));
        assert!(e.contains("neither an expression"), "{e}");
        let e = err(json!({"http_req_duration": [{"threshold": "avg<1", "abortOnFail": "yes"}]}));
        assert!(e.contains("'abortOnFail' of 'avg<1'"), "{e}");
        let e = err(
            json!({"http_req_duration": [{"threshold": "avg<1", "delayAbortEval": "10 parsecs"}]}),
        );
        assert!(
            e.contains("'delayAbortEval' of 'avg<1'") && e.contains("10 parsecs"),
            "{e}"
        );
        let e = err(json!({"http_req_duration": [{"abortOnFail": true}]}));
        assert!(e.contains("invalid threshold ''"), "{e}");
        let e = err(json!({"http_req_duration{status}": ["avg<1"]}));
        assert!(e.contains("http_req_duration{status}"), "{e}");
        let e = err(json!(["avg<1"]));
        assert!(e.contains("expected an object"), "{e}");
    }

    #[test]
    fn durations_follow_k6() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1500"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1d2h"), Ok(Duration::from_secs(26 * 3600)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(2 * 86400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "10", "s", "10x", "1m30", "-5s", "xd"] {
            if bad == "10" {
                continue; // a bare number is milliseconds
            }
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(millis(2500.0), Some(Duration::from_millis(2500)));
    }

    #[test]
    fn cli_thresholds_split_at_the_last_colon_and_share_keys() {
        let reg = Registry::new();
        let mut t = Thresholds::default();
        t.add_cli("http_req_duration: p(95)<500", &reg).unwrap();
        t.add_cli("http_req_duration{status:200}:avg<100", &reg)
            .unwrap();
        t.add_cli("http_req_duration:p(99)<900", &reg).unwrap();
        t.add_cli("http_req_duration{ status : '200' }: max<2000", &reg)
            .unwrap();
        assert_eq!(t.metrics().len(), 2);
        assert_eq!(t.metrics()[0].thresholds.len(), 2);
        assert_eq!(
            t.metrics()[1].selector.name,
            "http_req_duration{status:200}"
        );
        assert_eq!(t.metrics()[1].thresholds[1].source, "max<2000");
        for bad in ["p(95)<500", "http_req_duration:", ": p(95)<500"] {
            let e = t.add_cli(bad, &reg).unwrap_err();
            assert!(matches!(e, ThresholdError::Cli { .. }), "{bad}");
        }
        let e = t.add_cli("http_req_duration: p95<500", &reg).unwrap_err();
        assert!(
            e.to_string().contains("unknown aggregation method 'p95'"),
            "{e}"
        );
        // The grammar alone, without a registry: the same mistakes, but any metric name.
        for bad in ["p(95)<500", "http_req_duration: p95<500", "x{a:1: p(95)<1"] {
            assert!(Thresholds::check_cli(bad).is_err(), "{bad}");
        }
        Thresholds::check_cli("a_custom_metric{tag:x}: p(95)<500").unwrap();
    }

    type Sample<'a> = (MetricId, &'a [(&'a str, &'a str)], f64);

    fn snapshot(reg: &Arc<Registry>, samples: &[Sample]) -> Snapshot {
        let mut a = Aggregator::new(reg.clone(), false);
        for (m, tags, v) in samples {
            a.add(*m, &TagSet::new(tags.iter().copied()), *v);
        }
        let mut s = Snapshot::default();
        s.merge_series(&a.take().series);
        s
    }

    fn verdicts(t: &Thresholds, s: &Snapshot, secs: u64) -> Vec<(String, String, bool)> {
        t.evaluate(s, Duration::from_secs(secs))
            .into_iter()
            .map(|r| (r.metric_name, r.source, r.ok))
            .collect()
    }

    #[test]
    fn evaluation_uses_the_metric_and_its_submetrics() {
        let reg = Arc::new(Registry::new());
        let t = Thresholds::from_options(
            &json!({
                "http_req_duration": ["avg<100", "max<250"],
                "http_req_duration{status:200}": ["max<250"],
                "http_reqs": ["count>=3", "rate>1"],
                "http_req_failed": ["rate<0.5"],
            }),
            &reg,
        )
        .unwrap();
        let d = builtin::HTTP_REQ_DURATION;
        let s = snapshot(
            &reg,
            &[
                (d, &[("status", "200")], 50.0),
                (d, &[("status", "200")], 70.0),
                (d, &[("status", "500")], 300.0),
                (builtin::HTTP_REQS, &[], 1.0),
                (builtin::HTTP_REQS, &[], 1.0),
                (builtin::HTTP_REQS, &[], 1.0),
                (builtin::HTTP_REQ_FAILED, &[], 0.0),
                (builtin::HTTP_REQ_FAILED, &[], 1.0),
            ],
        );
        let v = verdicts(&t, &s, 2);
        let get = |src: &str, name: &str| v.iter().find(|r| r.0 == name && r.1 == src).unwrap().2;
        assert!(!get("avg<100", "http_req_duration"));
        assert!(!get("max<250", "http_req_duration"));
        assert!(get("max<250", "http_req_duration{status:200}"));
        assert!(get("count>=3", "http_reqs"));
        assert!(get("rate>1", "http_reqs")); // 3 requests in 2 s
        assert!(!get("rate<0.5", "http_req_failed")); // 0.5 is not below 0.5
    }

    #[test]
    fn a_verdict_carries_the_observed_value_its_unit_and_its_margin() {
        let reg = Arc::new(Registry::new());
        let t = Thresholds::from_options(
            &json!({
                "http_req_duration": ["max<250", "avg>=10", "min==5"],
                "http_reqs": ["rate>1"],
                "http_req_failed": ["rate<0.5"],
                "data_received": ["count<1000"],
            }),
            &reg,
        )
        .unwrap();
        let d = builtin::HTTP_REQ_DURATION;
        let s = snapshot(
            &reg,
            &[
                (d, &[], 50.0),
                (d, &[], 300.0),
                (builtin::HTTP_REQS, &[], 1.0),
                (builtin::DATA_RECEIVED, &[], 400.0),
            ],
        );
        let v = t.evaluate(&s, Duration::from_secs(2));
        let get = |src: &str| v.iter().find(|r| r.source == src).unwrap();
        let max = get("max<250");
        assert_eq!(
            (max.ok, max.observed, max.margin),
            (false, Some(300.0), Some(-50.0))
        );
        assert_eq!((max.unit, max.stat()), (Unit::Milliseconds, "max"));
        let avg = get("avg>=10");
        assert_eq!((avg.ok, avg.margin), (true, Some(165.0)));
        assert_eq!(get("min==5").margin, None, "== has no side");
        let rate = get("rate>1");
        assert_eq!((rate.unit, rate.margin), (Unit::PerSecond, Some(-0.5)));
        let bytes = get("count<1000");
        assert_eq!((bytes.unit, bytes.margin), (Unit::Bytes, Some(600.0)));
        let failed = get("rate<0.5");
        assert_eq!(
            (failed.ok, failed.observed, failed.unit),
            (true, None, Unit::Ratio),
            "a Rate without samples passes with no value"
        );
    }

    #[test]
    fn metrics_without_samples_follow_k6_at_the_end() {
        let reg = Arc::new(Registry::new());
        let t = Thresholds::from_options(
            &json!({
                "http_req_duration": ["p(95)<500", "avg>10"],
                "http_reqs": ["count>0", "rate<5"],
                "checks": ["rate>0.99"],
                "vus": ["value<1"],
            }),
            &reg,
        )
        .unwrap();
        let v = verdicts(&t, &Snapshot::default(), 5);
        let ok = |name: &str, src: &str| v.iter().find(|r| r.0 == name && r.1 == src).unwrap().2;
        // Trend judged on zeros; counter count 0 fails count>0; a Rate without samples passes.
        assert!(ok("http_req_duration", "p(95)<500"));
        assert!(!ok("http_req_duration", "avg>10"));
        assert!(!ok("http_reqs", "count>0"));
        assert!(ok("http_reqs", "rate<5"));
        assert!(ok("checks", "rate>0.99"));
        assert!(ok("vus", "value<1"));
        // A counter's rate at zero elapsed time is undefined and passes.
        let t = Thresholds::from_options(&json!({"http_reqs": ["rate>5"]}), &reg).unwrap();
        assert!(t.evaluate(&Snapshot::default(), Duration::ZERO)[0].ok);
    }

    #[test]
    fn abort_on_fail_waits_for_delay_abort_eval_and_skips_empty_metrics() {
        let reg = Arc::new(Registry::new());
        let t = Thresholds::from_options(
            &json!({
                "http_req_duration": [{"threshold": "p(95)<100", "abortOnFail": true, "delayAbortEval": "10s"}],
                "http_req_failed": ["rate<0.1"],
                "http_reqs": [{"threshold": "count>100", "abortOnFail": true}],
            }),
            &reg,
        )
        .unwrap();
        let slow = snapshot(&reg, &[(builtin::HTTP_REQ_DURATION, &[], 500.0)]);
        assert_eq!(t.abort_reason(&slow, Duration::from_secs(5)), None);
        assert_eq!(
            t.abort_reason(&slow, Duration::from_secs(10)),
            None,
            "delay is exclusive"
        );
        let msg = t.abort_reason(&slow, Duration::from_secs(11)).unwrap();
        assert!(msg.contains("'http_req_duration'"), "{msg}");
        // http_reqs has no samples yet: skipped mid-run although count>100 fails on zero.
        assert!(!msg.contains("http_reqs"), "{msg}");

        // A failing threshold without abortOnFail never aborts.
        let failed = snapshot(&reg, &[(builtin::HTTP_REQ_FAILED, &[], 1.0)]);
        assert_eq!(t.abort_reason(&failed, Duration::from_secs(60)), None);

        // No delay: abort at the first evaluation; the message lists every breached metric.
        let few = snapshot(
            &reg,
            &[
                (builtin::HTTP_REQS, &[], 1.0),
                (builtin::HTTP_REQ_FAILED, &[], 1.0),
            ],
        );
        let msg = t.abort_reason(&few, Duration::from_secs(1)).unwrap();
        assert!(
            msg.starts_with("thresholds on metrics 'http_req_failed, http_reqs' were crossed"),
            "{msg}"
        );
    }
}
