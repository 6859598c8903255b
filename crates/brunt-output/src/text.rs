//! k6's end-of-test text summary (the classic v0.5x layout), rendered from handleSummary-shaped
//! data so that the default summary and jslib's `textSummary(data, options)` are one code path:
//! the checks tree with ✓/✗, then every metric in name order (sub-metrics under their parent),
//! dot leaders to one column, threshold marks, and values in k6's units.

use crate::humanize::{self, TimeUnit};
use crate::summary::{RunFacts, DEFAULT_TREND_STATS};
use serde_json::Value;
use std::cmp::Ordering;

use crate::paint::{
    width, Painter, CYAN, FAIL, FAINT, GREEN, PASS, RED, SUBTITLE as DETAILS, TITLE as GROUP,
};

/// jslib `textSummary`'s options.
#[derive(Debug, Clone, PartialEq)]
pub struct TextOptions {
    /// Prefix of every line (k6's default is one space).
    pub indent: String,
    pub enable_colors: bool,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            indent: " ".into(),
            enable_colors: false,
        }
    }
}

/// Renders the text summary of `data` (k6's handleSummary shape).
pub fn text_summary(data: &Value, opts: &TextOptions) -> String {
    let p = Painter(opts.enable_colors);
    let mut lines = Vec::new();
    group_lines(
        &format!("{}    ", opts.indent),
        &data["root_group"],
        &p,
        &mut lines,
    );
    metric_lines(data, opts, &p, &mut lines);
    lines.join("\n")
}

fn group_lines(indent: &str, group: &Value, p: &Painter, out: &mut Vec<String>) {
    let mut indent = indent.to_string();
    let name = group["name"].as_str().unwrap_or("");
    if !name.is_empty() {
        out.push(format!("{indent}{GROUP} {name}\n"));
        indent.push_str("  ");
    }
    let empty = Vec::new();
    let checks = group["checks"].as_array().unwrap_or(&empty);
    for c in checks {
        out.push(check_line(&indent, c, p));
    }
    if !checks.is_empty() {
        out.push(String::new());
    }
    for g in group["groups"].as_array().unwrap_or(&empty) {
        group_lines(&indent, g, p, out);
    }
}

fn check_line(indent: &str, check: &Value, p: &Painter) -> String {
    let name = check["name"].as_str().unwrap_or("");
    let passes = check["passes"].as_u64().unwrap_or(0);
    let fails = check["fails"].as_u64().unwrap_or(0);
    if fails == 0 {
        return p.paint(&format!("{indent}{PASS} {name}"), &[GREEN]);
    }
    let pct = 100 * passes / (passes + fails);
    p.paint(
        &format!(
            "{indent}{FAIL} {name}\n{indent} {DETAILS}  {pct}% — {PASS} {passes} / {FAIL} {fails}"
        ),
        &[RED],
    )
}

/// A metric's name as the summary shows it: sub-metrics as `{ tags }`, indented two spaces.
fn display_name(name: &str) -> (&'static str, String) {
    match name.find('{') {
        Some(i) => ("  ", format!("{{ {} }}", &name[i + 1..name.len() - 1])),
        None => ("", name.to_string()),
    }
}

/// k6 sorts with `localeCompare`: a collation where `_` sorts before digits and letters, and
/// letter case only breaks ties, lower case first.
fn collate(a: &str, b: &str) -> Ordering {
    let key = |s: &str| -> Vec<u32> {
        s.chars()
            .map(|c| match c {
                '_' => 0,
                '0'..='9' => 1 + c as u32 - '0' as u32,
                c if c.is_ascii_alphabetic() => 20 + c.to_ascii_lowercase() as u32 - 'a' as u32,
                c => 100 + c as u32,
            })
            .collect()
    };
    let case = |s: &str| -> Vec<bool> { s.chars().map(char::is_uppercase).collect() };
    key(a)
        .cmp(&key(b))
        .then_with(|| case(a).cmp(&case(b)))
        .then_with(|| a.cmp(b))
}

/// Parent metrics in name order, each followed by its sub-metrics.
pub(crate) fn metric_order(a: &str, b: &str) -> Ordering {
    let split = |s: &str| -> (String, String) {
        match s.find('{') {
            Some(i) => (s[..i].to_string(), s[i..].to_string()),
            None => (s.to_string(), String::new()),
        }
    };
    let (pa, sa) = split(a);
    let (pb, sb) = split(b);
    collate(&pa, &pb).then_with(|| collate(&sa, &sb))
}

enum Cells {
    Trend(Vec<String>),
    Other { value: String, extras: Vec<String> },
}

fn metric_cells(metric: &Value, trend_stats: &[String], unit: Option<TimeUnit>) -> Cells {
    let kind = metric["type"].as_str().unwrap_or("");
    let contains = metric["contains"].as_str().unwrap_or("default");
    let vals = &metric["values"];
    let get = |k: &str| vals[k].as_f64().unwrap_or(0.0);
    let human = |v: f64| match (kind, contains) {
        ("rate", _) => humanize::percent(v),
        (_, "data") => humanize::bytes(v),
        (_, "time") => humanize::duration(v, unit),
        _ => humanize::plain(v),
    };
    match kind {
        "trend" => Cells::Trend(
            trend_stats
                .iter()
                .map(|s| {
                    if s == "count" {
                        humanize::js_number(get(s))
                    } else {
                        human(get(s))
                    }
                })
                .collect(),
        ),
        "counter" => Cells::Other {
            value: human(get("count")),
            extras: vec![format!("{}/s", human(get("rate")))],
        },
        "gauge" => Cells::Other {
            value: human(get("value")),
            extras: vec![
                format!("min={}", human(get("min"))),
                format!("max={}", human(get("max"))),
            ],
        },
        "rate" => Cells::Other {
            value: human(get("rate")),
            extras: vec![
                format!("{PASS} {}", humanize::js_number(get("passes"))),
                format!("{FAIL} {}", humanize::js_number(get("fails"))),
            ],
        },
        _ => Cells::Other {
            value: "[no data]".into(),
            extras: Vec::new(),
        },
    }
}

fn metric_lines(data: &Value, opts: &TextOptions, p: &Painter, out: &mut Vec<String>) {
    let Some(metrics) = data["metrics"].as_object() else {
        return;
    };
    let trend_stats: Vec<String> = match data["options"]["summaryTrendStats"].as_array() {
        Some(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        None => DEFAULT_TREND_STATS.iter().map(|s| s.to_string()).collect(),
    };
    let unit = TimeUnit::parse(data["options"]["summaryTimeUnit"].as_str().unwrap_or(""));

    let mut names: Vec<&String> = metrics.keys().collect();
    names.sort_by(|a, b| metric_order(a, b));
    let cells: Vec<Cells> = names
        .iter()
        .map(|n| metric_cells(&metrics[n.as_str()], &trend_stats, unit))
        .collect();

    // Column widths across all metrics.
    let name_width = names
        .iter()
        .map(|n| {
            let (ind, d) = display_name(n);
            width(ind) + width(&d)
        })
        .max()
        .unwrap_or(0);
    let mut trend_widths = vec![0; trend_stats.len()];
    let mut value_width = 0;
    let mut extra_widths = [0usize; 2];
    for c in &cells {
        match c {
            Cells::Trend(cols) => {
                for (w, col) in trend_widths.iter_mut().zip(cols) {
                    *w = (*w).max(width(col));
                }
            }
            Cells::Other { value, extras } => {
                value_width = value_width.max(width(value));
                for (w, e) in extra_widths.iter_mut().zip(extras) {
                    *w = (*w).max(width(e));
                }
            }
        }
    }

    let indent = format!("{}  ", opts.indent);
    for (name, cells) in names.iter().zip(&cells) {
        let metric = &metrics[name.as_str()];
        let (mark, mark_color) = match metric["thresholds"].as_object() {
            None => (" ", None),
            Some(t) if t.values().all(|v| v["ok"].as_bool().unwrap_or(false)) => {
                (PASS, Some(GREEN))
            }
            Some(_) => (FAIL, Some(RED)),
        };
        let mark = match mark_color {
            Some(c) => p.paint(mark, &[c]),
            None => mark.to_string(),
        };
        let (sub_indent, shown) = display_name(name);
        let dots = ".".repeat(name_width + 3 - width(&shown) - width(sub_indent));
        let leader = p.paint(&format!("{dots}:"), &[FAINT]);
        let data = match cells {
            Cells::Trend(cols) => cols
                .iter()
                .zip(&trend_stats)
                .zip(&trend_widths)
                .map(|((col, stat), w)| {
                    format!(
                        "{stat}={}{}",
                        p.paint(col, &[CYAN]),
                        " ".repeat(w - width(col))
                    )
                })
                .collect::<Vec<_>>()
                .join(" "),
            Cells::Other { value, extras } => {
                let mut s = format!(
                    "{}{}",
                    p.paint(value, &[CYAN]),
                    " ".repeat(value_width - width(value))
                );
                if extras.len() == 1 {
                    s.push(' ');
                    s.push_str(&p.paint(&extras[0], &[CYAN, FAINT]));
                } else if !extras.is_empty() {
                    let parts: Vec<String> = extras
                        .iter()
                        .zip(extra_widths)
                        .map(|(e, w)| {
                            format!("{}{}", p.paint(e, &[CYAN, FAINT]), " ".repeat(w - width(e)))
                        })
                        .collect();
                    s.push(' ');
                    s.push_str(&parts.join(" "));
                }
                s
            }
        };
        out.push(format!("{indent}{sub_indent}{mark} {shown}{leader} {data}"));
    }
}

/// brunt's lines after the metrics: the run's length and VU range, its scenarios (not when
/// `quiet`, as k6's `-q` prints no final progress), the monitored targets' events, the
/// cache-state phases, and a warning
/// when the load generator itself was the limit.
pub fn run_facts(facts: &RunFacts, opts: &TextOptions, quiet: bool) -> String {
    let p = Painter(opts.enable_colors);
    let indent = format!("{}    ", opts.indent);
    let mut s = String::new();
    if !quiet {
        s = format!(
            "\n{indent}running ({}), {} to {} VUs, {} complete and {} interrupted iterations\n",
            humanize::duration(facts.elapsed.as_secs_f64() * 1000.0, None),
            facts.vus_min,
            facts.vus_max,
            facts.iterations_complete,
            facts.iterations_interrupted
        );
        for sc in &facts.scenarios {
            s.push_str(&format!("{indent}  * {sc}\n"));
        }
    }
    let instances = crate::instances::lines(&facts.instances, &indent);
    if !instances.is_empty() {
        s.push('\n');
        s.push_str(&instances.join("\n"));
        s.push('\n');
    }
    if !facts.events.is_empty() {
        s.push_str(&format!("\n{indent}monitor events:\n"));
        for e in &facts.events {
            s.push_str(&format!("{indent}  * {e}\n"));
        }
    }
    if !facts.error_budget.is_empty() {
        s.push('\n');
        for b in &facts.error_budget {
            s.push_str(&format!("{indent}{}\n", b.line()));
        }
    }
    if !facts.phases.is_empty() {
        s.push_str(&format!("\n{indent}phases:\n"));
        for r in &facts.phases {
            s.push_str(&format!("{indent}  * {}\n", r.line()));
        }
        if let Some(penalty) = crate::phases::cold_penalty(&facts.phases) {
            s.push_str(&format!("{indent}  {penalty}\n"));
        }
        if let Some(note) = crate::phases::nothing_judged(&facts.phases) {
            s.push_str(&p.paint(&format!("{indent}  WARNING: {note}"), &[RED]));
            s.push('\n');
        }
    }
    if !facts.profile_checks.is_empty() {
        s.push('\n');
        for c in &facts.profile_checks {
            let color = if c.passed == Some(false) { RED } else { GREEN };
            s.push_str(&p.paint(&format!("{indent}{}", c.line()), &[color]));
            s.push('\n');
        }
    }
    for note in facts.saturation.iter().chain(&facts.generator) {
        s.push('\n');
        s.push_str(&p.paint(&format!("{indent}WARNING: {note}"), &[RED]));
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_sort_like_locale_compare() {
        let mut names = vec![
            "vus_max",
            "http_reqs",
            "Abc",
            "http_req_duration{status:200}",
            "abc",
            "vus",
            "a1",
            "http_req_duration",
            "a_",
        ];
        names.sort_by(|a, b| metric_order(a, b));
        assert_eq!(
            names,
            [
                "a_",
                "a1",
                "abc",
                "Abc",
                "http_req_duration",
                "http_req_duration{status:200}",
                "http_reqs",
                "vus",
                "vus_max"
            ]
        );
    }
}
