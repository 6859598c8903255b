//! `--sweep rate=1,2,4` or `--sweep concurrency=1,8,32`: one run per value, each on a fresh
//! registry, measured from its own metrics into one table (and `--export` JSON), with whether each
//! step met the `--slo` targets and the highest value that did.

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
    pub values: Vec<f64>,
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
            slo_met: slo.map(|_| slo_missed.is_empty()),
            slo_missed,
        }
    }
}

/// The whole sweep, as `--export` writes it.
#[derive(Debug, Serialize)]
pub struct SweepResult {
    pub url: String,
    pub model: String,
    pub varied: Varied,
    pub slo: Option<String>,
    pub steps: Vec<Step>,
    /// The highest value whose step met every `--slo` target.
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
            .map(|s| s.value)
            .reduce(f64::max);
        SweepResult {
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
            let _ = writeln!(
                out,
                "  {:>8} {:>6} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10.1} {:>10.2} {:>4}",
                s.value,
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
            for m in &s.slo_missed {
                let _ = writeln!(out, "           missed: {m}");
            }
        }
        if let Some(slo) = &self.slo {
            let _ = match self.best {
                Some(v) => writeln!(out, "\n  highest {head} meeting --slo '{slo}': {v}"),
                None => writeln!(out, "\n  no step met --slo '{slo}'"),
            };
        }
        if !self.complete {
            out.push_str("  (interrupted: the sweep stopped early)\n");
        }
        out
    }
}

/// Checks the load flags a sweep step cannot take.
pub fn check(sweep: &Sweep, has_duration: bool, has_requests: bool) -> Result<()> {
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
        for bad in ["rate", "vus=1,2", "rate=1,,2", "rate=-1", "concurrency=1.5"] {
            let e = Sweep::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--sweep '{bad}'")), "{e}");
        }
    }
}
