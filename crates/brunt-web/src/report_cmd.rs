//! `brunt report results.json -o report.html`: the HTML report rebuilt from a results file, or
//! from the files of every instance of a distributed run, merged.

use crate::{page, ReportData};
use anyhow::{Context, Result};
use brunt_output::Results;
use clap::Args;
use std::path::{Path, PathBuf};

/// Build the self-contained HTML report from a results file (written with --out results=FILE)
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  brunt quick http://127.0.0.1:8080/ --out results=results.json
  brunt report results.json -o report.html
  brunt report part1.json part2.json -o report.html   (instances of one run, merged exactly)
  brunt report journal.json -o game-day.html   (a chaos experiment's game-day report)
  brunt report capacity.json -o capacity.html   (a capacity search, from --export)")]
pub struct ReportArgs {
    /// The results file, e.g. results.json; several are merged (one per instance of a
    /// distributed run); or the journal.json of `brunt experiment run`, or the result of
    /// `brunt capacity --export`
    #[arg(required = true)]
    pub results: Vec<PathBuf>,

    /// Where to write the report
    #[arg(short = 'o', long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
}

/// Writes the report; returns the exit code (0).
pub fn report(args: ReportArgs) -> Result<i32> {
    if let Some(json) = single_json(&args.results) {
        let data = if crate::game_day::is_journal(&json) {
            crate::game_day::from_journal(&json)
        } else {
            crate::capacity::from_capacity(&json)
        }
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.results[0].display()))?;
        return write(&args.output, &data);
    }
    let mut files = args.results.iter();
    let mut results = match files.next() {
        Some(first) => Results::read(first)?,
        None => anyhow::bail!("give a results file"),
    };
    for path in files {
        results.merge(&Results::read(path)?, &path.display().to_string())?;
    }
    let names: Vec<String> = args
        .results
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let title = format!("brunt report {}", names.join(" + "));
    let data = ReportData::from_results(&results, title);
    write(&args.output, &data)
}

fn write(output: &Path, data: &ReportData) -> Result<i32> {
    std::fs::write(output, page::render(data))
        .with_context(|| format!("-o {}: cannot write the report", output.display()))?;
    eprintln!("report: {}", output.display());
    Ok(0)
}

/// The journal of `brunt experiment run` (a game-day report) or a capacity result, when the one
/// file given is one. (Anything else is read as a results file, which names what is wrong with
/// it.)
fn single_json(files: &[PathBuf]) -> Option<serde_json::Value> {
    let [file] = files else {
        return None;
    };
    let text = std::fs::read_to_string(file).ok()?;
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .filter(|v| crate::game_day::is_journal(v) || crate::capacity::is_capacity(v))
}
