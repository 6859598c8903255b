//! What the replay adds after the usual summary: latency per route (the `name` tag, `METHOD
//! ROUTE`), read from the run's final snapshot as a sub-metric per route is, and the log's
//! lines that could not be replayed.

use brunt_engine::RunOutcome;
use brunt_metrics::{builtin, TagSet};
use brunt_workload::model::Lines;
use std::fmt::Write;
use std::path::Path;

/// Routes listed (the busiest); the rest are counted.
const SHOWN: usize = 20;

/// The per-route table: requests, failed share, and `http_req_duration`'s p50, p95 and p99 and
/// `http_req_scheduled_duration`'s p99 (from the intended start), in milliseconds.
pub fn table(outcome: &RunOutcome) -> String {
    let snapshot = &outcome.snapshot;
    let secs = outcome.elapsed.as_secs_f64();
    let mut names: Vec<&str> = snapshot
        .series
        .keys()
        .filter(|(m, _)| *m == builtin::HTTP_REQS)
        .filter_map(|(_, t)| t.get("name"))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut rows: Vec<(String, f64, String)> = names
        .into_iter()
        .map(|name| {
            let only = TagSet::new([("name", name)]);
            let stat = |metric, stat: &str| {
                snapshot
                    .submetric(metric, &only)
                    .and_then(|a| a.stat(stat, secs))
            };
            let count = stat(builtin::HTTP_REQS, "count").unwrap_or(0.0);
            let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
            let line = format!(
                "{:>9} {:>7.2}% {:>9} {:>9} {:>9} {:>11}  {name}",
                count,
                stat(builtin::HTTP_REQ_FAILED, "rate").unwrap_or(0.0) * 100.0,
                ms(stat(builtin::HTTP_REQ_DURATION, "p(50)")),
                ms(stat(builtin::HTTP_REQ_DURATION, "p(95)")),
                ms(stat(builtin::HTTP_REQ_DURATION, "p(99)")),
                ms(stat(builtin::HTTP_REQ_SCHEDULED_DURATION, "p(99)")),
            );
            (name.to_string(), count, line)
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out = String::from("\n  ROUTES (http_req_duration by the name tag, ms)\n");
    let _ = writeln!(
        out,
        "{:>9} {:>8} {:>9} {:>9} {:>9} {:>11}  name",
        "requests", "failed", "p(50)", "p(95)", "p(99)", "sched p(99)"
    );
    for (_, _, line) in rows.iter().take(SHOWN) {
        let _ = writeln!(out, "{line}");
    }
    if rows.len() > SHOWN {
        let _ = writeln!(out, "  ... {} more routes", rows.len() - SHOWN);
    }
    out
}

/// The count and samples of the log's lines that were not replayed, as `brunt model` shows
/// them; empty when every line was.
pub fn unparsed(lines: &Lines, log: &Path) -> String {
    if lines.unparsed == 0 {
        return String::new();
    }
    let mut out = format!(
        "\n  {} of {} lines of {} were not replayed:\n",
        lines.unparsed,
        lines.total,
        log.display()
    );
    for u in &lines.samples {
        let _ = writeln!(out, "    line {}: {}: {}", u.line, u.reason, u.text);
    }
    out
}
