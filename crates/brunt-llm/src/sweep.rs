//! `--sweep rate=1,2,4` or `--sweep concurrency=1,8,32`: one run per value, each on a fresh
//! registry, measured from its own metrics into one table (and `--export` JSON), with whether each
//! step met the `--slo` targets and the highest value that did. `--sweep rate=auto` searches: a
//! synchronous baseline (one stream) and a saturated step (`--max-concurrency` streams) bound the
//! rates, which are then bisected for the highest that meets `--slo`.

use crate::slo::Slo;
use anyhow::{anyhow, bail, Result};
use brunt_metrics::{Registry, Snapshot};
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// What a sweep varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Varied {
    /// `--rate`: requests started per second.
    Rate,
    /// `--concurrency`: streams at once.
    Concurrency,
}

/// A parsed `--sweep`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub varied: Varied,
    /// The values to run; empty for `rate=auto`, the search.
    pub values: Vec<f64>,
}

/// What a step was run for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// A value of the list given.
    Listed,
    /// The search's one-stream step: the synchronous throughput, the lowest rate tried.
    Baseline,
    /// The search's `--max-concurrency` step: the saturated throughput, the highest rate tried.
    Saturation,
    /// A rate the search tried.
    Search,
}

/// Bisection steps of `rate=auto` at most, and the gap (5%) at which it stops sooner.
pub const SEARCH_STEPS: usize = 6;
const SEARCH_RESOLUTION: f64 = 1.05;

/// The search's next rate: `None` when it is done. `met` is the highest rate that met the SLO,
/// `missed` the lowest that did not.
pub fn next_rate(
    met: Option<f64>,
    missed: Option<f64>,
    baseline: f64,
    saturated: f64,
) -> Option<f64> {
    match (met, missed) {
        (None, None) => Some(baseline),
        (None, Some(_)) => None,
        (Some(m), None) if m < saturated => Some(saturated),
        (Some(_), None) => None,
        (Some(m), Some(x)) if x / m > SEARCH_RESOLUTION => Some((m + x) / 2.0),
        (Some(_), Some(_)) => None,
    }
}

impl Sweep {
    pub fn parse(spec: &str) -> Result<Sweep> {
        let err = |why: String| {
            anyhow!("--sweep '{spec}': {why}; expected e.g. rate=1,2,4 or concurrency=1,8,32")
        };
        let (name, list) = spec
            .split_once('=')
            .ok_or_else(|| err("has no '='".into()))?;
        let varied = match name.trim() {
            "rate" => Varied::Rate,
            "concurrency" => Varied::Concurrency,
            other => return Err(err(format!("'{other}' is neither rate nor concurrency"))),
        };
        if varied == Varied::Rate && list.trim() == "auto" {
            return Ok(Sweep {
                varied,
                values: Vec::new(),
            });
        }
        let mut values = Vec::new();
        for v in list.split(',').map(str::trim) {
            let n: f64 = v
                .parse()
                .ok()
                .filter(|n: &f64| *n > 0.0 && n.is_finite())
                .ok_or_else(|| err(format!("'{v}' is not a positive number")))?;
            if varied == Varied::Concurrency && n.fract() != 0.0 {
                return Err(err(format!("'{v}' is not a whole number of streams")));
            }
            values.push(n);
        }
        Ok(Sweep { varied, values })
    }
}

/// What one step measured: a row of the table and of the JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub phase: Phase,
    /// The rate (requests/s) or concurrency of the step.
    pub value: f64,
    pub seconds: f64,
    pub requests: u64,
    pub failed: u64,
    pub ttft_ms: Percentiles,
    pub tpot_ms: Percentiles,
    pub itl_ms: Percentiles,
    pub e2e_ms: Percentiles,
    /// The step's output tokens over its duration.
    pub output_tokens_per_second: f64,
    /// Requests that met every `--slo` bound, per second.
    pub goodput: f64,
    /// Successful requests per second.
    pub throughput: f64,
    /// Whether every `--slo` target held over the step (none without `--slo`).
    pub slo_met: Option<bool>,
    /// The targets that did not hold, e.g. `llm_ttft p(95)=612.3ms >= 500ms`.
    pub slo_missed: Vec<String>,
}

/// p50, p90 and p99 of one trend, none when it has no samples.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

impl Step {
    /// Reads a finished step from its registry and snapshot.
    pub fn measure(
        phase: Phase,
        value: f64,
        registry: &Registry,
        snap: &Snapshot,
        elapsed: Duration,
        (ok, failed): (u64, u64),
        slo: Option<&Slo>,
    ) -> Step {
        let seconds = elapsed.as_secs_f64().max(1e-3);
        let stat = |metric: &str, name: &str| {
            registry
                .get(metric)
                .and_then(|id| snap.metric(id))
                .and_then(|a| a.stat(name, seconds))
        };
        let pct = |metric: &str| Percentiles {
            p50: stat(metric, "p(50)"),
            p90: stat(metric, "p(90)"),
            p99: stat(metric, "p(99)"),
        };
        let count = |metric: &str| stat(metric, "count").unwrap_or(0.0);
        let slo_missed: Vec<String> = slo
            .into_iter()
            .flat_map(Slo::targets)
            .filter_map(|(metric, name, bound)| match stat(metric, name) {
                Some(v) if v < bound => None,
                Some(v) => Some(format!("{metric} {name}={v:.1}ms >= {bound}ms")),
                None => Some(format!("{metric}: no samples")),
            })
            .collect();
        Step {
            phase,
            value,
            seconds,
            requests: ok + failed,
            failed,
            ttft_ms: pct("llm_ttft"),
            tpot_ms: pct("llm_tpot"),
            itl_ms: pct("llm_itl"),
            e2e_ms: pct("llm_e2e"),
            output_tokens_per_second: count("llm_output_tokens") / seconds,
            goodput: count("llm_goodput") / seconds,
            throughput: ok as f64 / seconds,
            slo_met: slo.map(|_| slo_missed.is_empty()),
            slo_missed,
        }
    }
}

/// The whole sweep, as `--export` writes it.
#[derive(Debug, Serialize)]
pub struct SweepResult {
    /// `brunt-llm-sweep`, by which `brunt report` knows the file.
    pub kind: &'static str,
    pub url: String,
    pub model: String,
    pub varied: Varied,
    pub slo: Option<String>,
    pub steps: Vec<Step>,
    /// The highest value whose step met every `--slo` target (baseline and saturation steps,
    /// which run streams rather than a rate, aside).
    pub best: Option<f64>,
    /// False when Ctrl-C cut the sweep short.
    pub complete: bool,
}

impl SweepResult {
    pub fn new(
        url: String,
        model: String,
        varied: Varied,
        slo: Option<String>,
        steps: Vec<Step>,
        complete: bool,
    ) -> Self {
        let best = steps
            .iter()
            .filter(|s| s.slo_met == Some(true))
            .filter(|s| matches!(s.phase, Phase::Listed | Phase::Search))
            .map(|s| s.value)
            .reduce(f64::max);
        SweepResult {
            kind: "brunt-llm-sweep",
            url,
            model,
            varied,
            slo,
            steps,
            best,
            complete,
        }
    }

    /// The table and verdict printed at the end.
    pub fn text(&self) -> String {
        let head = match self.varied {
            Varied::Rate => "rate/s",
            Varied::Concurrency => "streams",
        };
        let mut out = format!(
            "\n  {head:>8} {:>6} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>4}\n",
            "reqs",
            "fail",
            "ttft p50",
            "ttft p99",
            "tpot p50",
            "tpot p99",
            "itl p50",
            "itl p99",
            "out tok/s",
            "goodput/s",
            "slo"
        );
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}ms"));
        for s in &self.steps {
            let value = match s.phase {
                Phase::Listed | Phase::Search => shown(s.value),
                Phase::Baseline => "base c=1".to_string(),
                Phase::Saturation => format!("sat c={}", s.value),
            };
            let _ = writeln!(
                out,
                "  {:>8} {:>6} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10.1} {:>10.2} {:>4}",
                value,
                s.requests,
                s.failed,
                ms(s.ttft_ms.p50),
                ms(s.ttft_ms.p99),
                ms(s.tpot_ms.p50),
                ms(s.tpot_ms.p99),
                ms(s.itl_ms.p50),
                ms(s.itl_ms.p99),
                s.output_tokens_per_second,
                s.goodput,
                match s.slo_met {
                    None => "-",
                    Some(true) => "met",
                    Some(false) => "miss",
                }
            );
            if matches!(s.phase, Phase::Baseline | Phase::Saturation) {
                let _ = writeln!(out, "           throughput {:.2} requests/s", s.throughput);
            }
            for m in &s.slo_missed {
                let _ = writeln!(out, "           missed: {m}");
            }
        }
        if let Some(slo) = &self.slo {
            let _ = match self.best {
                Some(v) => writeln!(
                    out,
                    "\n  highest {head} meeting --slo '{slo}': {}",
                    shown(v)
                ),
                None => writeln!(out, "\n  no step met --slo '{slo}'"),
            };
        }
        if !self.complete {
            out.push_str("  (interrupted: the sweep stopped early)\n");
        }
        out
    }
}

/// A rate or concurrency as the table shows it: at most two decimals, no trailing zeros.
fn shown(v: f64) -> String {
    format!("{v:.2}")
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// Checks the load flags a sweep step cannot take.
pub fn check(sweep: &Sweep, has_duration: bool, has_requests: bool, has_slo: bool) -> Result<()> {
    if sweep.values.is_empty() && !has_slo {
        bail!("--sweep rate=auto: give the SLO to search for with --slo");
    }
    if sweep.varied == Varied::Rate && has_requests {
        bail!(
            "--sweep rate=...: each step runs for --duration; --requests is for concurrency sweeps"
        );
    }
    if !has_duration && !has_requests {
        bail!("--sweep: give each step's length with --duration (or --requests for concurrency)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_tries_the_baseline_then_saturation_then_bisects() {
        assert_eq!(next_rate(None, None, 10.0, 100.0), Some(10.0));
        assert_eq!(next_rate(None, Some(10.0), 10.0, 100.0), None);
        assert_eq!(next_rate(Some(10.0), None, 10.0, 100.0), Some(100.0));
        assert_eq!(next_rate(Some(100.0), None, 10.0, 100.0), None);
        assert_eq!(next_rate(Some(10.0), Some(100.0), 10.0, 100.0), Some(55.0));
        assert_eq!(next_rate(Some(50.0), Some(52.0), 10.0, 100.0), None);
    }

    #[test]
    fn sweeps_parse_and_bad_ones_name_themselves() {
        assert_eq!(
            Sweep::parse("rate=0.5, 2,4").unwrap(),
            Sweep {
                varied: Varied::Rate,
                values: vec![0.5, 2.0, 4.0]
            }
        );
        assert_eq!(
            Sweep::parse("concurrency=1,8").unwrap().varied,
            Varied::Concurrency
        );
        assert_eq!(Sweep::parse("rate=auto").unwrap().values, Vec::<f64>::new());
        for bad in [
            "rate",
            "vus=1,2",
            "rate=1,,2",
            "rate=-1",
            "concurrency=1.5",
            "concurrency=auto",
        ] {
            let e = Sweep::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--sweep '{bad}'")), "{e}");
        }
    }
}
