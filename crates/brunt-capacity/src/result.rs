//! The search's result: the verdict, the table printed in the terminal, and the JSON written by
//! `--export` (its shape is documented in docs/capacity.md, and `brunt compare` will read it).

use crate::args::Settings;
use crate::step::{Failure, Step};
use serde::Serialize;
use std::fmt::Write;

/// The JSON format's name and version, so that readers can tell it from a summary export.
pub const KIND: &str = "brunt-capacity";
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct CapacityResult {
    pub kind: &'static str,
    pub version: u32,
    pub target: Target,
    pub settings: SettingsJson,
    pub baseline: Step,
    /// Every step after the baseline, in the order run.
    pub steps: Vec<Step>,
    pub verdict: Verdict,
    /// The generator's own limits and the monitored targets' events, as sentences.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Target {
    pub method: String,
    pub url: String,
}

#[derive(Debug, Serialize)]
pub struct SettingsJson {
    pub step_seconds: f64,
    pub warmup_seconds: f64,
    pub baseline_rate: u64,
    pub start_rate: u64,
    pub max_rate: u64,
    pub resolution: f64,
    pub knee_percentile: f64,
    pub knee_factor: f64,
    pub max_errors: f64,
    pub max_resource: f64,
    pub slos: Vec<String>,
}

impl SettingsJson {
    pub fn new(s: &Settings, slos: &[String]) -> Self {
        SettingsJson {
            step_seconds: s.step.as_secs_f64(),
            warmup_seconds: s.warmup.as_secs_f64(),
            baseline_rate: s.baseline_rate,
            start_rate: s.start_rate,
            max_rate: s.max_rate,
            resolution: s.resolution,
            knee_percentile: s.knee_percentile,
            knee_factor: s.knee_factor,
            max_errors: s.max_errors,
            max_resource: s.max_resource,
            slos: slos.to_vec(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Verdict {
    /// The highest rate asked that passed every check (the baseline's when no step did).
    pub max_rate: u64,
    /// What that step achieved, requests/s.
    pub max_achieved: f64,
    /// The lowest rate that failed, and why; None when every rate up to --max-rate passed.
    pub first_failure: Option<FirstFailure>,
    /// `target`, `generator` (the generator could not keep the schedule: the figures describe
    /// it, not the target) or `none` (no step failed).
    pub limited_by: &'static str,
    /// The resource closest to its limit at the first failure.
    pub bottleneck: Option<String>,
    /// False when the search was interrupted (Ctrl-C) before it finished.
    pub complete: bool,
}

#[derive(Debug, Serialize)]
pub struct FirstFailure {
    pub rate: u64,
    pub failures: Vec<Failure>,
}

impl Verdict {
    pub fn new(baseline: &Step, steps: &[Step], complete: bool) -> Verdict {
        let best = steps
            .iter()
            .filter(|s| s.passed())
            .max_by_key(|s| s.rate)
            .unwrap_or(baseline);
        let first = steps.iter().filter(|s| !s.passed()).min_by_key(|s| s.rate);
        Verdict {
            max_rate: best.rate,
            max_achieved: best.achieved,
            limited_by: match first {
                None => "none",
                Some(f) if f.failures.iter().any(|x| x.kind == "generator") => "generator",
                Some(_) => "target",
            },
            bottleneck: first.and_then(|f| f.bottleneck.clone()),
            first_failure: first.map(|f| FirstFailure {
                rate: f.rate,
                failures: f.failures.clone(),
            }),
            complete,
        }
    }
}

impl CapacityResult {
    /// The table (every step by rate) and the verdict, as printed in the terminal.
    pub fn text(&self) -> String {
        let mut rows: Vec<&Step> = std::iter::once(&self.baseline).chain(&self.steps).collect();
        rows[1..].sort_by_key(|s| s.rate);
        let monitors: Vec<&str> = self
            .baseline
            .monitors
            .iter()
            .map(|m| m.monitor.as_str())
            .collect();
        let mut header = vec![
            "phase".to_string(),
            "rate/s".into(),
            "achieved/s".into(),
            "p50 ms".into(),
            "p95 ms".into(),
            "p99 ms".into(),
            "errors".into(),
        ];
        for m in &monitors {
            header.push(format!("{m} cpu%"));
            header.push(format!("{m} MB"));
        }
        header.push("result".into());
        let mut table = vec![header];
        for s in &rows {
            let mut row = vec![
                format!("{:?}", s.phase).to_lowercase(),
                s.rate.to_string(),
                format!("{:.1}", s.achieved),
                format!("{:.2}", s.p50_ms),
                format!("{:.2}", s.p95_ms),
                format!("{:.2}", s.p99_ms),
                format!("{:.2}%", s.error_rate * 100.0),
            ];
            for m in &s.monitors {
                row.push(m.cpu_percent.map_or("-".into(), |c| format!("{c:.0}")));
                row.push(
                    m.memory_bytes
                        .map_or("-".into(), |b| format!("{:.0}", b / 1e6)),
                );
            }
            let kinds: Vec<&str> = s.failures.iter().map(|f| f.kind).collect();
            row.push(if kinds.is_empty() {
                "pass".into()
            } else {
                let mut k = kinds.clone();
                k.dedup();
                format!("FAIL: {}", k.join(", "))
            });
            table.push(row);
        }
        let widths: Vec<usize> = (0..table[0].len())
            .map(|c| table.iter().map(|r| r[c].len()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in &table {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, w))| match i {
                    0 => format!("{cell:<w$}"),
                    _ if i + 1 == row.len() => cell.clone(),
                    _ => format!("{cell:>w$}"),
                })
                .collect();
            let _ = writeln!(out, "  {}", cells.join("  "));
        }
        out.push('\n');
        let v = &self.verdict;
        let _ = writeln!(
            out,
            "  max sustained rate: {} requests/s (achieved {:.1}/s){}",
            v.max_rate,
            v.max_achieved,
            if v.max_rate == self.baseline.rate {
                ", the baseline's: no step passed"
            } else {
                ""
            }
        );
        match &v.first_failure {
            Some(f) => {
                let _ = writeln!(out, "  first failure at {} requests/s:", f.rate);
                for x in &f.failures {
                    let _ = writeln!(out, "    {}: {}", x.kind, x.message);
                }
                let _ = writeln!(
                    out,
                    "  limited by: {}{}",
                    if v.limited_by == "generator" {
                        "the generator, not the target: these figures describe brunt"
                    } else {
                        "the target"
                    },
                    v.bottleneck
                        .as_ref()
                        .filter(|_| v.limited_by == "target")
                        .map(|b| format!(" (closest to its limit: {b})"))
                        .unwrap_or_default()
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  no step failed up to --max-rate {} requests/s",
                    self.settings.max_rate
                );
            }
        }
        if !v.complete {
            let _ = writeln!(out, "  interrupted: the search did not finish");
        }
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        out
    }
}
