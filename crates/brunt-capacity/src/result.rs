//! The search's result: the verdict, the table printed in the terminal, and the JSON written by
//! `--export` (its shape is documented in docs/capacity.md, and `brunt compare` will read it).

use crate::args::Settings;
use crate::step::{Failure, Level, Step};
use crate::usl::UslFit;
use serde::Serialize;
use std::fmt::Write;

/// The JSON format's name and version, so that readers can tell it from a summary export.
pub const KIND: &str = "brunt-capacity";
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct CapacityResult {
    pub kind: &'static str,
    pub version: u32,
    /// `open` (requests/s, searched) or `closed` (`--concurrency` levels, with a USL fit).
    pub model: &'static str,
    pub target: Target,
    pub settings: SettingsJson,
    pub baseline: Step,
    /// Every step after the baseline, in the order run.
    pub steps: Vec<Step>,
    pub verdict: Verdict,
    /// The Universal Scalability Law fitted to a closed-model result's throughput.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usl: Option<UslFit>,
    /// The generator's own limits and the monitored targets' events, as sentences.
    pub notes: Vec<String>,
}

/// What was loaded: `{"method", "url"}` for a URL, `{"script", "exec"}` for a script.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Target {
    Request { method: String, url: String },
    Script { script: String, exec: String },
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub concurrency: Vec<u64>,
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
            concurrency: s.concurrency.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Verdict {
    /// The highest rate asked that passed every check (the baseline's when no step did); in
    /// the closed model, the highest concurrency instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rate: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u64>,
    /// What that step achieved, requests/s (iterations/s for a script).
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
    #[serde(flatten)]
    pub level: Level,
    pub failures: Vec<Failure>,
}

impl Verdict {
    pub fn new(baseline: &Step, steps: &[Step], complete: bool) -> Verdict {
        let best = steps
            .iter()
            .filter(|s| s.passed())
            .max_by_key(|s| s.level)
            .unwrap_or(baseline);
        let first = steps.iter().filter(|s| !s.passed()).min_by_key(|s| s.level);
        Verdict {
            max_rate: matches!(best.level, Level::Rate(_) | Level::Iterations(_))
                .then_some(best.level.value()),
            max_concurrency: matches!(best.level, Level::Concurrency(_))
                .then_some(best.level.value()),
            max_achieved: best.achieved,
            limited_by: match first {
                None => "none",
                Some(f) if f.failures.iter().any(|x| x.kind == "generator") => "generator",
                Some(_) => "target",
            },
            bottleneck: first.and_then(|f| f.bottleneck.clone()),
            first_failure: first.map(|f| FirstFailure {
                level: f.level,
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
        rows[1..].sort_by_key(|s| s.level);
        let monitors: Vec<&str> = self
            .baseline
            .monitors
            .iter()
            .map(|m| m.monitor.as_str())
            .collect();
        let mut header = vec![
            "phase".to_string(),
            match self.baseline.level {
                Level::Rate(_) => "rate/s".into(),
                Level::Iterations(_) => "iters/s".into(),
                Level::Concurrency(_) => "VUs".into(),
            },
            "achieved/s".into(),
            "p50 ms".into(),
            "p95 ms".into(),
            "p99 ms".into(),
            "errors".into(),
            "in flight".into(),
            "X*W".into(),
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
                s.level.value().to_string(),
                format!("{:.1}", s.achieved),
                format!("{:.2}", s.p50_ms),
                format!("{:.2}", s.p95_ms),
                format!("{:.2}", s.p99_ms),
                format!("{:.2}%", s.error_rate * 100.0),
                format!("{:.1}", s.in_flight),
                format!(
                    "{:.1}{}",
                    s.littles_law_in_flight,
                    if s.littles_law_violation.is_some() {
                        "!"
                    } else {
                        ""
                    }
                ),
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
        let best = v.max_rate.or(v.max_concurrency).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}: {} (achieved {:.1}/s){}",
            match self.baseline.level {
                Level::Rate(_) | Level::Iterations(_) => "max sustained rate",
                Level::Concurrency(_) => "max concurrency within the SLO",
            },
            self.baseline.level.at(best),
            v.max_achieved,
            if best == self.baseline.level.value() {
                ", the baseline's: no step passed"
            } else {
                ""
            }
        );
        match &v.first_failure {
            Some(f) => {
                let _ = writeln!(out, "  first failure at {}:", f.level);
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
            None if self.settings.concurrency.is_empty() => {
                let _ = writeln!(
                    out,
                    "  no step failed up to --max-rate {}",
                    self.baseline.level.at(self.settings.max_rate)
                );
            }
            None => {
                let _ = writeln!(out, "  no level of --concurrency failed");
            }
        }
        if let Some(fit) = &self.usl {
            out.push('\n');
            out.push_str(&fit.text());
        }
        for s in std::iter::once(&self.baseline).chain(&self.steps) {
            if let Some(v) = &s.littles_law_violation {
                let _ = writeln!(out, "  at {}: {v}", s.level);
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
