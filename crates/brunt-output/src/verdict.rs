//! How a threshold's verdict reads: the observed value with its unit and by how much it passed or
//! missed, worded here once for the summary, JUnit, `compare`, the report and the dashboard.

use crate::humanize;
use brunt_metrics::{ThresholdResult, Unit};
use serde::Serialize;

/// `v` in `unit`, as the summary prints such values (`10.47ms`, `1.2 kB`, `0.52%`, `200/s`).
pub fn value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Number => humanize::plain(v),
        Unit::Milliseconds => humanize::duration(v, None),
        Unit::Bytes => humanize::bytes(v),
        Unit::Ratio => humanize::percent(v),
        Unit::PerSecond => format!("{}/s", humanize::to_fixed(v, 2)),
        Unit::BytesPerSecond => format!("{}/s", humanize::bytes(v)),
    }
}

/// `p(95)=10.47ms`; None where the value is not known.
pub fn observed(r: &ThresholdResult) -> Option<String> {
    r.observed
        .map(|v| format!("{}={}", r.stat(), value(v, r.unit)))
}

/// `missed by 12.1ms` or `passed by 39.5ms`; None where the threshold has no side (`==`, `!=`)
/// or its value is not known.
pub fn margin(r: &ThresholdResult) -> Option<String> {
    let m = r.margin?;
    let word = if r.ok { "passed by" } else { "missed by" };
    Some(format!("{word} {}", value(m.abs(), r.unit)))
}

/// One sentence for a failed threshold (JUnit's failure message):
/// `threshold 'p(95)<50' on http_req_duration failed: p(95)=62.1ms, missed by 12.1ms`.
pub fn failure(r: &ThresholdResult) -> String {
    let mut s = format!("threshold '{}' on {} failed", r.source, r.metric_name);
    let seen: Vec<String> = [observed(r), margin(r)].into_iter().flatten().collect();
    if !seen.is_empty() {
        s.push_str(": ");
        s.push_str(&seen.join(", "));
    }
    s
}

/// A verdict as the HTML report and the dashboard receive it: the verdict's own fields, and its
/// observed value and margin already worded, so the pages print what the terminal prints.
#[derive(Debug, Clone, Serialize)]
pub struct VerdictView<'a> {
    #[serde(flatten)]
    pub verdict: &'a ThresholdResult,
    pub observed_text: Option<String>,
    pub margin_text: Option<String>,
}

impl<'a> From<&'a ThresholdResult> for VerdictView<'a> {
    fn from(verdict: &'a ThresholdResult) -> Self {
        VerdictView {
            verdict,
            observed_text: observed(verdict),
            margin_text: margin(verdict),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(
        source: &str,
        ok: bool,
        observed: f64,
        margin: Option<f64>,
        unit: Unit,
    ) -> ThresholdResult {
        ThresholdResult {
            observed: Some(observed),
            margin,
            unit,
            ..ThresholdResult::bare("http_req_duration".into(), source.into(), ok)
        }
    }

    #[test]
    fn a_failure_says_what_was_seen_and_by_how_much_it_missed() {
        let r = verdict("p(95)<50", false, 62.1, Some(-12.1), Unit::Milliseconds);
        assert_eq!(observed(&r).unwrap(), "p(95)=62.1ms");
        assert_eq!(margin(&r).unwrap(), "missed by 12.1ms");
        assert_eq!(
            failure(&r),
            "threshold 'p(95)<50' on http_req_duration failed: p(95)=62.1ms, missed by 12.1ms"
        );
        let r = verdict("rate<0.01", true, 0.002, Some(0.008), Unit::Ratio);
        assert_eq!(margin(&r).unwrap(), "passed by 0.80%");
        let r = verdict("count==3", false, 4.0, None, Unit::Number);
        assert_eq!(
            failure(&r),
            "threshold 'count==3' on http_req_duration failed: count=4"
        );
        let bare = ThresholdResult::bare("checks".into(), "rate>0.9".into(), false);
        assert_eq!(failure(&bare), "threshold 'rate>0.9' on checks failed");
    }
}
