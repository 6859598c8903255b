//! `brunt report results.json -o report.html`: the HTML report rebuilt from a results file.

use crate::{page, ReportData};
use anyhow::{Context, Result};
use brunt_output::Results;
use clap::Args;
use std::path::PathBuf;

/// Build the self-contained HTML report from a results file (written with --out results=FILE)
#[derive(Debug, Clone, Args)]
#[command(after_help = "Example:
  brunt quick http://127.0.0.1:8080/ --out results=results.json
  brunt report results.json -o report.html")]
pub struct ReportArgs {
    /// The results file, e.g. results.json
    pub results: PathBuf,

    /// Where to write the report
    #[arg(short = 'o', long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
}

/// Writes the report; returns the exit code (0).
pub fn report(args: ReportArgs) -> Result<i32> {
    let results = Results::read(&args.results)?;
    let title = format!("brunt report {}", args.results.display());
    let data = ReportData::from_results(&results, title);
    std::fs::write(&args.output, page::render(&data))
        .with_context(|| format!("-o {}: cannot write the report", args.output.display()))?;
    eprintln!("report: {}", args.output.display());
    Ok(0)
}
