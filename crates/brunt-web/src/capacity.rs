//! The capacity report of `brunt capacity --report` and `brunt report capacity.json`: the
//! result drawn as latency (p50/p95/p99) against achieved throughput with the knee marked, and,
//! for a closed-model result, throughput against concurrency with its USL curve. The exported
//! JSON is the page's only input (the page reads it as written), so the report can be rebuilt
//! from the file at any time.

use crate::ReportData;
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::Path;

/// Whether `v` is a capacity result (`kind: brunt-capacity`) rather than a results file.
pub fn is_capacity(v: &Value) -> bool {
    v["kind"] == "brunt-capacity"
}

/// The report page's data for a capacity result; the error names what is missing.
pub fn from_capacity(result: &Value) -> Result<ReportData, String> {
    for key in ["baseline", "steps", "verdict"] {
        if result[key].is_null() {
            return Err(format!("{key}: missing"));
        }
    }
    let target = &result["target"];
    let what = match (target["script"].as_str(), target["url"].as_str()) {
        (Some(script), _) => script.to_string(),
        (None, Some(url)) => format!("{} {url}", target["method"].as_str().unwrap_or("GET")),
        (None, None) => return Err("target: missing".into()),
    };
    let mut data = ReportData::new(format!("brunt capacity {what}"), Vec::new());
    data.capacity = Some(result.clone());
    Ok(data)
}

/// Writes the capacity report for `result` to `path`.
pub fn write_report(path: &Path, result: &Value) -> Result<()> {
    let data = from_capacity(result).map_err(|e| anyhow::anyhow!("the capacity result: {e}"))?;
    std::fs::write(path, crate::render(&data))
        .with_context(|| format!("--report {}: cannot write the report", path.display()))
}
