//! `brunt report results.json -o report.html`: the HTML report rebuilt from a results file, from
//! the files of every instance of a distributed run, merged, or from two runs, overlaid.

use crate::report_data::{cut_short, Overlay};
use crate::{page, ReportData};
use anyhow::{Context, Result};
use brunt_output::compare::{metric_rows, threshold_rows, RunStats};
use brunt_output::Results;
use clap::Args;
use std::path::{Path, PathBuf};

/// Build the self-contained HTML report from a results file (written with --out results=FILE)
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  brunt quick http://127.0.0.1:8080/ --out results=results.json
  brunt report results.json -o report.html
  brunt report part1.json part2.json -o report.html   (instances of one run, merged exactly)
  brunt report baseline.json current.json -o diff.html   (two runs, overlaid)
  brunt report journal.json -o game-day.html   (a chaos experiment's game-day report)
  brunt report capacity.json -o capacity.html   (a capacity search, from --export)
  brunt report sweep.json -o sweep.html   (a brunt llm --sweep, from --export)
Two files whose runs did not overlap in time are two runs: the second is drawn over the first
(baseline), aligned by elapsed time, with `brunt compare`'s tables. Files whose runs overlapped
are instances of one distributed run and are merged; --overlay overlays two runs that overlapped.")]
pub struct ReportArgs {
    /// The results file, e.g. results.json; several are merged (one per instance of a
    /// distributed run); or the journal.json of `brunt experiment run`, or the result of
    /// `brunt capacity --export` or `brunt llm --sweep --export`
    #[arg(required = true)]
    pub results: Vec<PathBuf>,

    /// Where to write the report
    #[arg(
        short = 'o',
        long,
        visible_alias = "out",
        value_name = "FILE",
        default_value = "report.html"
    )]
    pub output: PathBuf,

    /// Overlay two runs (BASELINE CURRENT) even though they ran at the same time
    #[arg(long)]
    pub overlay: bool,

    /// Link the slowest requests' trace ids to a tracing backend, with {trace_id} in the URL,
    /// e.g. --trace-url 'https://tempo.example/trace/{trace_id}'
    #[arg(long, value_name = "URL")]
    pub trace_url: Option<String>,
}

/// Writes the report; returns the exit code (0).
pub fn report(args: ReportArgs) -> Result<i32> {
    if let Some(t) = &args.trace_url {
        brunt_output::check_trace_url(t).map_err(anyhow::Error::msg)?;
    }
    if let Some(json) = single_json(&args.results) {
        let data = if crate::game_day::is_journal(&json) {
            crate::game_day::from_journal(&json)
        } else if crate::llm_sweep::is_llm_sweep(&json) {
            crate::llm_sweep::from_llm_sweep(&json)
        } else {
            crate::capacity::from_capacity(&json)
        }
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.results[0].display()))?;
        return write(&args.output, &data);
    }
    let mut all = args
        .results
        .iter()
        .map(|p| Results::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = args
        .results
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if args.overlay && all.len() != 2 {
        anyhow::bail!(
            "--overlay draws two runs: give BASELINE CURRENT, not {} file(s)",
            all.len()
        );
    }
    if let [baseline, current] = all.as_slice() {
        if args.overlay || !overlapped(baseline, current) {
            let data = overlaid(baseline, current, &names[0], &names[1]);
            return write(&args.output, &data);
        }
    }
    let mut results = all.remove(0);
    for (other, name) in all.iter().zip(&names[1..]) {
        results.merge(other, name)?;
    }
    let title = format!("brunt report {}", names.join(" + "));
    let mut data = ReportData::from_results(&results, title);
    data.trace_url = args.trace_url.clone();
    write(&args.output, &data)
}

/// Whether two runs were under way at the same time (instances of one distributed run).
fn overlapped(a: &Results, b: &Results) -> bool {
    let end = |r: &Results| r.started_ms + r.elapsed().as_millis() as u64;
    a.started_ms <= end(b) && b.started_ms <= end(a)
}

/// `current` drawn over `baseline`, with what the reader must know to trust the comparison.
fn overlaid(baseline: &Results, current: &Results, base_name: &str, name: &str) -> ReportData {
    let mut data =
        ReportData::from_results(current, format!("brunt report {name} over {base_name}"));
    let before = ReportData::from_results(baseline, String::new());
    let mut notes = Vec::new();
    if before.scenarios != data.scenarios {
        notes.push(format!(
            "the runs had different scenarios, so they may not test the same thing; compared anyway, by elapsed time (baseline: {}; current: {})",
            listed(&before.scenarios),
            listed(&data.scenarios)
        ));
    }
    for (results, file) in [(baseline, base_name), (current, name)] {
        if results.end.is_none() {
            notes.push(format!("{file}: {}", cut_short(results)));
        }
    }
    let (b, c) = (
        RunStats::from_results(baseline),
        RunStats::from_results(current),
    );
    data.overlay = Some(Overlay {
        baseline: base_name.to_string(),
        current: name.to_string(),
        points: before.points,
        thresholds: threshold_rows(&b, &c),
        metrics: metric_rows(&b, &c),
        notes,
    });
    data
}

fn listed(scenarios: &[String]) -> String {
    if scenarios.is_empty() {
        "none recorded".into()
    } else {
        scenarios.join(", ")
    }
}

fn write(output: &Path, data: &ReportData) -> Result<i32> {
    std::fs::write(output, page::render(data))
        .with_context(|| format!("--out {}: cannot write the report", output.display()))?;
    eprintln!("report: {}", output.display());
    Ok(0)
}

/// The journal of `brunt experiment run` (a game-day report), a capacity result or an LLM
/// sweep's, when the one file given is one. (Anything else is read as a results file, which names what is wrong with
/// it.)
fn single_json(files: &[PathBuf]) -> Option<serde_json::Value> {
    let [file] = files else {
        return None;
    };
    let text = std::fs::read_to_string(file).ok()?;
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .filter(|v| {
            crate::game_day::is_journal(v)
                || crate::capacity::is_capacity(v)
                || crate::llm_sweep::is_llm_sweep(v)
        })
}
