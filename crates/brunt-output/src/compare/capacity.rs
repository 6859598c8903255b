//! `brunt compare` of two capacity results (`brunt capacity --export`): did the knee move right,
//! and how did latency change at a load both runs measured. The gate `--min-capacity-gain`
//! proves a fix in CI; its verdict is a [`GateResult`], so it prints and goes to JUnit as the
//! metric gates do.

use super::{Gate, GateResult};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// The `kind` of a capacity result, as brunt-capacity writes it.
const KIND: &str = "brunt-capacity";

/// What one capacity result says, read from its JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityRun {
    /// `open` (levels are requests/s) or `closed` (levels are VUs).
    pub model: String,
    /// The highest level that passed every check.
    pub knee: f64,
    /// `target`, `generator` or `none`.
    pub limited_by: String,
    /// (level, achieved requests/s, p99 ms), sorted by level, the baseline (the lowest) first.
    pub points: Vec<(f64, f64, f64)>,
}

impl CapacityRun {
    /// Reads `path` when it is a capacity result; None when it is some other JSON or file.
    pub fn read(path: &Path) -> Result<Option<CapacityRun>> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read '{}'", path.display()))?;
        let Ok(json) = serde_json::from_slice::<Value>(&bytes) else {
            return Ok(None);
        };
        if json["kind"] != KIND {
            return Ok(None);
        }
        CapacityRun::from_json(&json)
            .map(Some)
            .with_context(|| format!("'{}' is not a valid capacity result", path.display()))
    }

    pub fn from_json(json: &Value) -> Result<CapacityRun> {
        let model = json["model"].as_str().unwrap_or("open").to_string();
        let key = level_key(&model);
        let verdict = &json["verdict"];
        let knee = verdict[format!("max_{key}")]
            .as_f64()
            .ok_or_else(|| anyhow!("verdict.max_{key} is missing"))?;
        let mut points = Vec::new();
        let steps = json["steps"].as_array().into_iter().flatten();
        for (i, s) in std::iter::once(&json["baseline"]).chain(steps).enumerate() {
            let number = |field: &str| {
                s[field]
                    .as_f64()
                    .ok_or_else(|| anyhow!("step {i}: '{field}' is missing"))
            };
            points.push((number(key)?, number("achieved")?, number("p99_ms")?));
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(CapacityRun {
            knee,
            limited_by: verdict["limited_by"].as_str().unwrap_or("none").to_string(),
            points,
            model,
        })
    }

    /// p99 at `level`: measured there, or interpolated linearly between the levels around it.
    fn p99_at(&self, level: f64) -> Option<(f64, bool)> {
        if let Some(p) = self.points.iter().find(|p| p.0 == level) {
            return Some((p.2, false));
        }
        let above = self.points.iter().position(|p| p.0 > level)?;
        let (lo, hi) = (self.points.get(above.checked_sub(1)?)?, self.points[above]);
        let t = (level - lo.0) / (hi.0 - lo.0);
        Some((lo.2 + t * (hi.2 - lo.2), true))
    }
}

/// `rate` or `concurrency`: the field that holds a step's level in each model.
fn level_key(model: &str) -> &'static str {
    if model == "closed" {
        "concurrency"
    } else {
        "rate"
    }
}

fn unit(model: &str) -> &'static str {
    if model == "closed" {
        "VUs"
    } else {
        "req/s"
    }
}

/// `--min-capacity-gain 10%` (or `10`) as a percentage; at least 0.
pub fn parse_min_gain(value: &str) -> Result<f64> {
    match value.trim().trim_end_matches('%').trim().parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => Ok(p),
        _ => bail!("--min-capacity-gain '{value}': expected a percentage of 0 or more, e.g. 10%"),
    }
}

/// The levels both runs measured side by side, the verdict sentence, and the gate's result when
/// `--min-capacity-gain` was given.
pub fn compare(
    baseline: &CapacityRun,
    new: &CapacityRun,
    min_gain: Option<(&str, f64)>,
) -> Result<(String, Option<GateResult>)> {
    if baseline.model != new.model {
        bail!(
            "the baseline is an {}-model capacity result and the new run a {}-model one: compare like with like",
            baseline.model,
            new.model
        );
    }
    let unit = unit(&new.model);
    let mut out = String::new();
    let common: Vec<f64> = baseline
        .points
        .iter()
        .map(|p| p.0)
        .filter(|l| new.points.iter().any(|p| p.0 == *l))
        .collect();
    let header = if new.model == "closed" {
        "VUs"
    } else {
        "rate/s"
    };
    let _ = writeln!(
        out,
        "{header:>8}  {:>20}  {:>20}",
        "achieved/s base/new", "p99 ms base/new"
    );
    for level in &common {
        let find = |r: &CapacityRun| r.points.iter().find(|p| p.0 == *level).copied();
        if let (Some(b), Some(n)) = (find(baseline), find(new)) {
            let _ = writeln!(
                out,
                "{:>8}  {:>20}  {:>20}",
                level,
                format!("{:.1} / {:.1}", b.1, n.1),
                format!("{:.2} / {:.2}", b.2, n.2)
            );
        }
    }
    out.push('\n');
    let gain = if baseline.knee > 0.0 {
        (new.knee - baseline.knee) / baseline.knee * 100.0
    } else {
        0.0
    };
    let mut sentence = format!(
        "the knee moved from {} to {} {unit} ({gain:+.0}%)",
        thousands(baseline.knee),
        thousands(new.knee)
    );
    // The highest level both measured above their baselines; failing that, the lower of their
    // two highest, interpolated in the run that stepped over it.
    let mut above_baselines = common.iter().copied().filter(|l| {
        [baseline, new]
            .iter()
            .all(|r| r.points.first().is_some_and(|p| p.0 < *l))
    });
    let top = |r: &CapacityRun| r.points.last().map(|p| p.0);
    let at = above_baselines
        .next_back()
        .or_else(|| Some(top(baseline)?.min(top(new)?)));
    if let Some(level) = at {
        if let (Some((b, bi)), Some((n, ni))) = (baseline.p99_at(level), new.p99_at(level)) {
            let verb = if n < b {
                "fell"
            } else if n > b {
                "rose"
            } else {
                "stayed"
            };
            let _ = write!(
                sentence,
                "; p99 at {} {unit}{} {verb} from {} to {} ms",
                thousands(level),
                if bi || ni { " (interpolated)" } else { "" },
                thousands(b),
                thousands(n)
            );
        }
    }
    let _ = writeln!(out, "{sentence}");
    for (which, r) in [("baseline", baseline), ("new run", new)] {
        if r.limited_by == "generator" {
            let _ = writeln!(
                out,
                "note: the {which} was limited by the generator, not the target: its knee describes brunt"
            );
        }
    }
    let gate = min_gain.map(|(source, limit)| GateResult {
        ok: gain >= limit && new.knee >= baseline.knee,
        detail: format!(
            "capacity knee: {} -> {} {unit} ({gain:+.2}%, at least {limit}% asked)",
            thousands(baseline.knee),
            thousands(new.knee)
        ),
        gate: Gate {
            metric: "capacity knee".into(),
            stat: level_key(&new.model).into(),
            limit,
            relative: true,
            source: format!("--min-capacity-gain {source}"),
        },
    });
    Ok((out, gate))
}

/// 1200 as "1,200", 120.4 as "120"; below 10 with one decimal.
fn thousands(v: f64) -> String {
    if v.abs() < 10.0 && v.fract() != 0.0 {
        return format!("{v:.1}");
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(knee: u64, steps: &[(u64, f64, f64)]) -> CapacityRun {
        let step = |&(rate, achieved, p99): &(u64, f64, f64)| json!({"rate": rate, "achieved": achieved, "p99_ms": p99});
        CapacityRun::from_json(&json!({
            "kind": "brunt-capacity", "version": 1, "model": "open",
            "baseline": step(&(5, 5.0, 20.0)),
            "steps": steps.iter().map(step).collect::<Vec<_>>(),
            "verdict": {"max_rate": knee, "limited_by": "target"},
        }))
        .unwrap()
    }

    #[test]
    fn says_how_far_the_knee_moved_and_latency_at_the_highest_common_rate() {
        let old = run(
            850,
            &[(500, 500.0, 30.0), (800, 800.0, 410.0), (850, 850.0, 420.0)],
        );
        let new = run(
            1200,
            &[
                (500, 500.0, 25.0),
                (800, 800.0, 120.0),
                (1200, 1200.0, 130.0),
            ],
        );
        let (text, gate) = compare(&old, &new, Some(("10%", 10.0))).unwrap();
        assert!(
            text.contains(
                "the knee moved from 850 to 1,200 req/s (+41%); p99 at 800 req/s fell from 410 to 120 ms"
            ),
            "{text}"
        );
        assert!(gate.unwrap().ok);
        let (_, gate) = compare(&new, &old, Some(("0", 0.0))).unwrap();
        let gate = gate.unwrap();
        assert!(!gate.ok, "the knee moved left");
        assert!(
            gate.detail.contains("1,200 -> 850 req/s (-29.17%"),
            "{}",
            gate.detail
        );
        let (_, gate) = compare(&old, &new, Some(("50%", 50.0))).unwrap();
        assert!(!gate.unwrap().ok, "+41% is less than asked");
    }

    #[test]
    fn latency_is_interpolated_when_no_rate_was_measured_by_both() {
        let old = run(200, &[(100, 100.0, 20.0), (300, 200.0, 60.0)]);
        let new = run(250, &[(250, 250.0, 22.0)]);
        let (text, _) = compare(&old, &new, None).unwrap();
        assert!(
            text.contains("p99 at 250 req/s (interpolated) fell from 50 to 22 ms"),
            "{text}"
        );
    }

    #[test]
    fn models_and_gains_are_checked() {
        let mut closed = run(8, &[]);
        closed.model = "closed".into();
        let e = compare(&run(10, &[]), &closed, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("compare like with like"), "{e}");
        assert_eq!(parse_min_gain("12.5%").unwrap(), 12.5);
        let e = parse_min_gain("-5%").unwrap_err().to_string();
        assert!(e.contains("--min-capacity-gain '-5%'"), "{e}");
        assert_eq!(thousands(1234567.0), "1,234,567");
    }
}
