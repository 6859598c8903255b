//! The report of `brunt llm --sweep ... --report` and `brunt report sweep.json`: each step's TTFT
//! p50 and p99 against the rate or concurrency it ran at, with the steps' table. The exported JSON
//! is the page's only input (the page reads it as written), so the report can be rebuilt from the
//! `--export` file at any time.

use crate::ReportData;
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::Path;

/// Whether `v` is a sweep's result (`kind: brunt-llm-sweep`) rather than a results file.
pub fn is_llm_sweep(v: &Value) -> bool {
    v["kind"] == "brunt-llm-sweep"
}

/// The report page's data for a sweep's result; the error names what is missing.
pub fn from_llm_sweep(result: &Value) -> Result<ReportData, String> {
    for key in ["steps", "varied", "url", "model"] {
        if result[key].is_null() {
            return Err(format!("{key}: missing"));
        }
    }
    let title = format!(
        "brunt llm {} --model {} --sweep {}",
        result["url"].as_str().unwrap_or_default(),
        result["model"].as_str().unwrap_or_default(),
        result["varied"].as_str().unwrap_or_default()
    );
    let mut data = ReportData::new(title, Vec::new());
    data.llm_sweep = Some(result.clone());
    Ok(data)
}

/// Writes the sweep's report for `result` to `path`.
pub fn write_report(path: &Path, result: &Value) -> Result<()> {
    let data = from_llm_sweep(result).map_err(|e| anyhow::anyhow!("the sweep's result: {e}"))?;
    std::fs::write(path, crate::render(&data))
        .with_context(|| format!("--report {}: cannot write the report", path.display()))
}
