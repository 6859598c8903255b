//! k6's current end-of-test summary (k6 v1 and later, `--summary-mode compact|full`): a
//! THRESHOLDS section first, then TOTAL RESULTS with the checks and the metrics by category
//! (custom, HTTP, EXECUTION, NETWORK, ...), and in `full` mode a section per group and per
//! scenario. The layout follows k6's `internal/js/summary.js` (v2.2) line for line: titles, blank
//! lines, dot leaders aligned per section, and values in k6's units.

use crate::groups::Group;
use crate::humanize::{self, TimeUnit};
use crate::summary::{RunFacts, SummaryOptions};
use crate::text::metric_order;
use crate::verdict;
use brunt_metrics::{Agg, Registry, Snapshot, ThresholdResult, Thresholds};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::paint::{
    width, Painter, BOLD, CYAN, FAIL, FAINT, GREEN, PASS, RED, SUBTITLE, TITLE, WHITE,
};

/// Metrics k6 leaves out of every section (checks have their own lines), and those it leaves out
/// of the compact mode. k6 matches these as name prefixes.
const ALWAYS_SKIPPED: &[&str] = &["checks", "group_duration"];
const COMPACT_SKIPPED: &[&str] = &[
    "http_req_blocked",
    "http_req_connecting",
    "http_req_receiving",
    "http_req_sending",
    "http_req_tls_handshaking",
    "http_req_waiting",
];

/// The section of a metric, in k6's order of display (custom metrics first).
fn category(name: &str) -> &'static str {
    const HTTP: &[&str] = &[
        "http_reqs",
        "http_req_failed",
        "http_req_duration",
        "http_req_blocked",
        "http_req_connecting",
        "http_req_tls_handshaking",
        "http_req_sending",
        "http_req_waiting",
        "http_req_receiving",
    ];
    const EXECUTION: &[&str] = &[
        "vus",
        "vus_max",
        "iterations",
        "iteration_duration",
        "dropped_iterations",
    ];
    let any = |list: &[&str]| list.iter().any(|p| name.starts_with(p));
    if any(HTTP) {
        "HTTP"
    } else if any(EXECUTION) {
        "EXECUTION"
    } else if any(&["data_sent", "data_received"]) {
        "NETWORK"
    } else if name.starts_with("grpc_") {
        "GRPC"
    } else if name.starts_with("ws_") {
        "WEBSOCKET"
    } else {
        "CUSTOM"
    }
}

const CATEGORIES: &[&str] = &[
    "CUSTOM",
    "HTTP",
    "EXECUTION",
    "NETWORK",
    "GRPC",
    "WEBSOCKET",
];

/// A metric as the report shows it: k6's summary shape (`type`, `contains`, `values`).
type Metric = (String, Value);

/// Checks of one section: totals and each check in the order the script first ran it.
#[derive(Debug, Clone, Default)]
struct Checks {
    passes: u64,
    total: u64,
    ordered: Vec<(String, u64, u64)>,
}

/// A section's content: TOTAL RESULTS, a scenario, or a group.
#[derive(Debug, Clone, Default)]
struct Section {
    checks: Option<Checks>,
    metrics: Vec<Metric>,
    groups: Vec<(String, Section)>,
}

/// The report the text is rendered from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    /// Metrics with thresholds, by name, with each threshold's verdict.
    thresholds: Vec<(Metric, Vec<ThresholdResult>)>,
    total: Section,
    groups: Vec<(String, Section)>,
    scenarios: Vec<(String, Section)>,
    trend_stats: Vec<String>,
    time_unit: Option<TimeUnit>,
    secs: f64,
}

/// The inputs a report is built from.
pub(crate) struct ReportInput<'a> {
    pub snapshot: &'a Snapshot,
    pub registry: &'a Registry,
    pub thresholds: &'a Thresholds,
    pub results: &'a [ThresholdResult],
    pub data: &'a Value,
    pub facts: &'a RunFacts,
    pub options: &'a SummaryOptions,
    pub full: bool,
}

fn skipped(name: &str, full: bool) -> bool {
    let any = |list: &[&str]| list.iter().any(|p| name.starts_with(p));
    any(ALWAYS_SKIPPED) || (!full && any(COMPACT_SKIPPED))
}

impl Report {
    pub(crate) fn build(input: &ReportInput) -> Report {
        let secs = input.facts.judged().as_secs_f64();
        let metrics = input.data["metrics"].as_object();
        let metric = |name: &str| -> Option<Metric> {
            metrics
                .and_then(|m| m.get(name))
                .map(|m| (name.to_string(), m.clone()))
        };
        // Thresholds by metric, in name order; percentiles the trend stats lack are added.
        let mut by_metric: BTreeMap<String, Vec<ThresholdResult>> = BTreeMap::new();
        for r in input.results {
            by_metric
                .entry(r.metric_name.clone())
                .or_default()
                .push(r.clone());
        }
        let mut thresholds: Vec<(Metric, Vec<ThresholdResult>)> = by_metric
            .into_iter()
            .filter_map(|(name, list)| {
                let (name, mut m) = metric(&name)?;
                add_threshold_percentiles(&mut m, &name, &list, input);
                Some(((name, m), list))
            })
            .collect();
        thresholds.sort_by(|a, b| metric_order(&a.0 .0, &b.0 .0));

        let order = &input.facts.definition_order;
        let root = Group::from_snapshot(input.snapshot, order, true);
        let mut total_metrics: Vec<Metric> = metrics
            .into_iter()
            .flatten()
            .filter(|(name, _)| !skipped(name, input.full))
            .map(|(n, m)| (n.clone(), m.clone()))
            .collect();
        total_metrics.sort_by(|a, b| metric_order(&a.0, &b.0));
        let total = Section {
            checks: checks_of(&root, order),
            metrics: total_metrics,
            groups: Vec::new(),
        };

        let mut report = Report {
            thresholds,
            total,
            trend_stats: input.options.trend_stats.clone(),
            time_unit: TimeUnit::parse(&input.options.time_unit),
            secs,
            ..Report::default()
        };
        if input.full {
            report.add_breakdowns(input);
        }
        report
    }

    /// `full` mode: groups of the default scenario at the top level, then each named scenario
    /// with its groups. A group's section holds the samples taken directly in it, as k6's.
    fn add_breakdowns(&mut self, input: &ReportInput) {
        let mut scenarios: Vec<String> = Vec::new();
        for (_, tags) in input.snapshot.series.keys() {
            if let Some(s) = tags.get("scenario") {
                if s != "default" && !scenarios.iter().any(|x| x == s) {
                    scenarios.push(s.to_string());
                }
            }
        }
        scenarios.sort_by(|a, b| metric_order(a, b));
        let default = filtered(input.snapshot, |t| {
            matches!(t.get("scenario"), None | Some("default"))
        });
        self.groups = group_sections(&default, "", input);
        for name in scenarios {
            let sub = filtered(input.snapshot, |t| t.get("scenario") == Some(name.as_str()));
            let mut section = section_of(&sub, input);
            section.groups = group_sections(&sub, "", input);
            self.scenarios.push((name, section));
        }
    }

    /// The summary text (starting with a newline, as k6's).
    pub(crate) fn render(&self, colors: bool) -> String {
        let p = Painter(colors);
        let mut sections: Vec<(String, Vec<Line>)> = Vec::new();
        if !self.thresholds.is_empty() {
            sections.push(("THRESHOLDS".into(), self.threshold_lines(&p)));
        }
        sections.push((
            "TOTAL RESULTS".into(),
            self.section_lines(&self.total, 0, &p),
        ));
        for (name, g) in &self.groups {
            sections.push((format!("GROUP: {name}"), self.section_lines(g, 0, &p)));
        }
        for (name, s) in &self.scenarios {
            sections.push((format!("SCENARIO: {name}"), self.section_lines(s, 0, &p)));
        }
        let mut lines = Vec::new();
        for (title, content) in sections {
            lines.push(Line::Text(title_line(&title, TITLE, 0, &p)));
            lines.extend(content);
            lines.push(Line::Break);
        }
        join(&lines)
    }

    fn threshold_lines(&self, p: &Painter) -> Vec<Line> {
        let level = 2;
        let all: Vec<Metric> = self.thresholds.iter().map(|(m, _)| m.clone()).collect();
        let info = Info::new(&all, level, &self.trend_stats, self.time_unit);
        let mut out = Vec::new();
        for ((name, m), list) in &self.thresholds {
            let parent = name.split('{').next().unwrap_or(name);
            let nested = parent.len() < name.len() && all.iter().any(|(n, _)| n == parent);
            let (level, shown) = if nested {
                (level + 1, &name[parent.len()..])
            } else {
                (level, name.as_str())
            };
            out.push(Line::Text(indent(shown, level)));
            for r in list {
                let mark = if r.ok {
                    p.paint(PASS, &[GREEN])
                } else {
                    p.paint(FAIL, &[RED])
                };
                let agg = r.stat();
                let source = p.paint(&format!("'{}'", r.source.trim()), &[WHITE]);
                let value = info.threshold_value(name, m, agg);
                let mut value = format!("{}={}", p.paint(agg, &[WHITE]), p.paint(&value, &[CYAN]));
                // brunt's addition to k6's line: how far a failed threshold is from passing.
                if let Some(missed) = verdict::margin(r).filter(|_| !r.ok) {
                    value.push_str(&p.paint(&format!(" ({missed})"), &[RED]));
                }
                out.push(Line::Text(indent(
                    &format!("{mark} {source} {value}"),
                    level,
                )));
            }
            out.push(Line::Break);
        }
        out
    }

    /// A section's checks, metrics by category and nested groups; `base` is its nesting level.
    fn section_lines(&self, s: &Section, base: usize, p: &Painter) -> Vec<Line> {
        let mut out = Vec::new();
        if let Some(c) = &s.checks {
            out.extend(self.check_lines(c, base + 2, p));
            out.push(Line::Break);
        }
        out.extend(self.metric_lines(&s.metrics, base + 2, p));
        for (name, g) in &s.groups {
            out.push(Line::Text(title_line(
                &format!("GROUP: {name}"),
                SUBTITLE,
                base + 1,
                p,
            )));
            out.extend(self.section_lines(g, base + 1, p));
        }
        out
    }

    fn check_lines(&self, c: &Checks, level: usize, p: &Painter) -> Vec<Line> {
        let fails = c.total - c.passes;
        let metrics: Vec<Metric> = vec![
            counter("checks_total", c.total as f64, self.secs),
            rate("checks_succeeded", c.passes, fails),
            rate("checks_failed", fails, c.passes),
        ];
        let info = Info::new(&metrics, level, &self.trend_stats, self.time_unit);
        let mut out: Vec<Line> = metrics
            .iter()
            .map(|(n, m)| Line::Text(info.metric_line(n, m, level, p)))
            .collect();
        out.push(Line::Break);
        for (name, passes, fails) in &c.ordered {
            if *fails == 0 {
                out.push(Line::Text(indent(
                    &p.paint(&format!("{PASS} {name}"), &[GREEN]),
                    level,
                )));
                continue;
            }
            let pct = 100 * passes / (passes + fails);
            let head = p.paint(&format!("{FAIL} {name}"), &[RED]);
            let detail = p.paint(
                &format!("{SUBTITLE}  {pct}% — {PASS} {passes} / {FAIL} {fails}"),
                &[RED],
            );
            // k6 indents the detail by its context's level once more (a quirk kept for the layout).
            out.push(Line::Text(format!(
                "{}\n{}",
                indent(&head, level),
                indent(&detail, 2 * level - 1)
            )));
        }
        out
    }

    fn metric_lines(&self, metrics: &[Metric], level: usize, p: &Painter) -> Vec<Line> {
        let info = Info::new(metrics, level, &self.trend_stats, self.time_unit);
        let mut out = Vec::new();
        for cat in CATEGORIES {
            let mine: Vec<&Metric> = metrics
                .iter()
                .filter(|(n, _)| category(n) == *cat)
                .collect();
            if mine.is_empty() {
                continue;
            }
            out.push(Line::Text(indent(&p.paint(cat, &[BOLD]), level)));
            for (n, m) in mine {
                out.push(Line::Text(info.metric_line(n, m, level, p)));
            }
            out.push(Line::Break);
        }
        out
    }
}

/// A percentile threshold on a trend whose value the trend stats do not carry: k6 adds it.
fn add_threshold_percentiles(
    m: &mut Value,
    name: &str,
    list: &[ThresholdResult],
    input: &ReportInput,
) {
    if m["type"] != "trend" {
        return;
    }
    let Some(tm) = input
        .thresholds
        .metrics()
        .iter()
        .find(|t| t.selector.name == name)
    else {
        return;
    };
    let agg = match &tm.selector.tags {
        None => input.snapshot.metric(tm.metric),
        Some(t) => input.snapshot.submetric(tm.metric, t),
    };
    let Some(agg) = agg else { return };
    for r in list {
        let stat = r.stat();
        if stat.starts_with("p(") && m["values"].get(stat).is_none() {
            if let Some(v) = agg.stat(stat, input.facts.judged().as_secs_f64()) {
                m["values"][stat] = crate::summary::number(v);
            }
        }
    }
}

/// The series of `snapshot` whose tags pass `keep`.
fn filtered(snapshot: &Snapshot, keep: impl Fn(&brunt_metrics::TagSet) -> bool) -> Snapshot {
    Snapshot {
        series: snapshot
            .series
            .iter()
            .filter(|((_, t), _)| keep(t))
            .map(|(k, a)| (k.clone(), a.clone()))
            .collect(),
    }
}

/// A section of the samples in `snapshot`: its checks and metrics (no sub-metrics, as k6).
fn section_of(snapshot: &Snapshot, input: &ReportInput) -> Section {
    let secs = input.facts.judged().as_secs_f64();
    let mut metrics: Vec<Metric> = snapshot
        .metric_ids()
        .into_iter()
        .filter_map(|id| {
            let def = input.registry.def(id);
            if skipped(&def.name, true) {
                return None;
            }
            let agg = snapshot.metric(id)?;
            Some((def.name.clone(), metric_json(&agg, &def, secs, input)))
        })
        .collect();
    metrics.sort_by(|a, b| metric_order(&a.0, &b.0));
    let root = Group::from_snapshot(snapshot, &input.facts.definition_order, true);
    Section {
        checks: checks_of(&root, &input.facts.definition_order),
        metrics,
        groups: Vec::new(),
    }
}

fn metric_json(agg: &Agg, def: &brunt_metrics::MetricDef, secs: f64, input: &ReportInput) -> Value {
    serde_json::json!({
        "type": def.metric_type.as_str(),
        "contains": def.value_type.as_str(),
        "values": crate::summary::values(agg, secs, &input.options.trend_stats),
    })
}

/// The sections of the groups directly under `path` in `snapshot`, in the script's order.
fn group_sections(snapshot: &Snapshot, path: &str, input: &ReportInput) -> Vec<(String, Section)> {
    let order = &input.facts.definition_order;
    let mut names: Vec<String> = Vec::new();
    for (_, tags) in snapshot.series.keys() {
        let Some(g) = tags.get("group") else { continue };
        let Some(rest) = g.strip_prefix(path).and_then(|r| r.strip_prefix("::")) else {
            continue;
        };
        let name = rest.split("::").next().unwrap_or(rest);
        if path.is_empty() && (name == "setup" || name == "teardown") {
            continue;
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    let rank = |name: &str| {
        let p = format!("{path}::{name}");
        order.iter().position(|o| *o == p).unwrap_or(usize::MAX)
    };
    names.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
    names
        .into_iter()
        .map(|name| {
            let child = format!("{path}::{name}");
            let own = filtered(snapshot, |t| t.get("group") == Some(child.as_str()));
            let mut section = section_of(&own, input);
            // k6 counts data_sent/data_received per iteration, outside any group, so its group
            // sections have no NETWORK block; brunt's per-request data samples carry the group.
            section.metrics.retain(|(n, _)| category(n) != "NETWORK");
            let below = filtered(snapshot, |t| {
                t.get("group")
                    .is_some_and(|g| g.starts_with(&format!("{child}::")))
            });
            section.groups = group_sections(&below, &child, input);
            (name, section)
        })
        .collect()
}

/// The checks of a group tree, flattened by name in the order the script first ran them.
fn checks_of(root: &Group, order: &[String]) -> Option<Checks> {
    let mut all = Vec::new();
    fn walk<'a>(g: &'a Group, out: &mut Vec<&'a crate::groups::Check>) {
        out.extend(&g.checks);
        g.groups.iter().for_each(|c| walk(c, out));
    }
    walk(root, &mut all);
    if all.is_empty() {
        return None;
    }
    let rank = |path: &str| order.iter().position(|p| p == path).unwrap_or(usize::MAX);
    all.sort_by_key(|c| rank(&c.path));
    let mut checks = Checks::default();
    for c in all {
        checks.passes += c.passes;
        checks.total += c.passes + c.fails;
        match checks.ordered.iter_mut().find(|(n, _, _)| *n == c.name) {
            Some(e) => {
                e.1 += c.passes;
                e.2 += c.fails;
            }
            None => checks.ordered.push((c.name.clone(), c.passes, c.fails)),
        }
    }
    Some(checks)
}

fn counter(name: &str, count: f64, secs: f64) -> Metric {
    let rate = if secs > 0.0 { count / secs } else { 0.0 };
    let v = serde_json::json!({"type": "counter", "contains": "default",
        "values": {"count": count, "rate": rate}});
    (name.into(), v)
}

fn rate(name: &str, passes: u64, fails: u64) -> Metric {
    let total = passes + fails;
    let r = if total > 0 {
        passes as f64 / total as f64
    } else {
        0.0
    };
    let v = serde_json::json!({"type": "rate", "contains": "default",
        "values": {"rate": r, "passes": passes, "fails": fails}});
    (name.into(), v)
}

/// One element of k6's line list: a text line, or a break that ends a block.
enum Line {
    Text(String),
    Break,
}

/// k6's join: every text line starts on a new line; a break adds a blank line.
fn join(lines: &[Line]) -> String {
    let mut s = String::new();
    for l in lines {
        match l {
            Line::Text(t) => {
                s.push('\n');
                s.push_str(t);
            }
            Line::Break => s.push('\n'),
        }
    }
    s
}

fn indent(text: &str, level: usize) -> String {
    format!("{}{text}", "  ".repeat(level))
}

fn title_line(title: &str, prefix: &str, level: usize, p: &Painter) -> String {
    indent(
        &format!("{prefix} {} \n", p.paint(title, &[BOLD])),
        level + 1,
    )
}

/// The summary's display name: a sub-metric shows as `  { tags }` under its parent.
fn display_name(name: &str) -> String {
    match name.find('{') {
        Some(i) => format!("  {{ {} }}", &name[i + 1..name.len() - 1]),
        None => name.to_string(),
    }
}

/// Precomputed cells and column widths of a block of metrics (k6's `computeSummaryInfo`).
struct Info {
    name_width: usize,
    trend_stats: Vec<String>,
    cells: BTreeMap<String, Vec<String>>,
    trend_widths: Vec<usize>,
    value_width: usize,
    extra_widths: Vec<usize>,
    unit: Option<TimeUnit>,
}

impl Info {
    fn new(
        metrics: &[Metric],
        level: usize,
        trend_stats: &[String],
        unit: Option<TimeUnit>,
    ) -> Info {
        let mut info = Info {
            name_width: 0,
            trend_stats: trend_stats.to_vec(),
            cells: BTreeMap::new(),
            trend_widths: vec![0; trend_stats.len()],
            value_width: 0,
            extra_widths: Vec::new(),
            unit,
        };
        for (name, m) in metrics {
            info.name_width = info.name_width.max(2 * level + width(&display_name(name)));
            let cells = info.cells_of(m);
            if m["type"] == "trend" {
                for (w, c) in info.trend_widths.iter_mut().zip(&cells) {
                    *w = (*w).max(width(c));
                }
            } else {
                info.value_width = info.value_width.max(width(&cells[0]));
                for (i, e) in cells[1..].iter().enumerate() {
                    if info.extra_widths.len() <= i {
                        info.extra_widths.push(0);
                    }
                    info.extra_widths[i] = info.extra_widths[i].max(width(e));
                }
            }
            info.cells.insert(name.clone(), cells);
        }
        info
    }

    fn human(&self, m: &Value, v: f64) -> String {
        match (m["type"].as_str(), m["contains"].as_str()) {
            (Some("rate"), _) => humanize::percent(v),
            (_, Some("data")) => humanize::bytes(v),
            (_, Some("time")) => humanize::duration(v, self.unit),
            _ => humanize::plain(v),
        }
    }

    /// A trend's columns, or a value and its extras.
    fn cells_of(&self, m: &Value) -> Vec<String> {
        let vals = &m["values"];
        let get = |k: &str| vals[k].as_f64().unwrap_or(0.0);
        match m["type"].as_str().unwrap_or("") {
            "trend" => self
                .trend_stats
                .iter()
                .map(|s| self.trend_cell(m, s))
                .collect(),
            "counter" => vec![
                self.human(m, get("count")),
                format!("{}/s", self.human(m, get("rate"))),
            ],
            "gauge" => vec![
                self.human(m, get("value")),
                format!("min={}", self.human(m, get("min"))),
                format!("max={}", self.human(m, get("max"))),
            ],
            "rate" => vec![
                self.human(m, get("rate")),
                format!(
                    "{} out of {}",
                    humanize::js_number(get("passes")),
                    humanize::js_number(get("passes") + get("fails"))
                ),
            ],
            _ => vec!["[no data]".into()],
        }
    }

    fn trend_cell(&self, m: &Value, stat: &str) -> String {
        let v = m["values"][stat].as_f64().unwrap_or(0.0);
        if stat == "count" {
            humanize::js_number(v)
        } else {
            self.human(m, v)
        }
    }

    fn metric_line(&self, name: &str, m: &Value, level: usize, p: &Painter) -> String {
        let shown = display_name(name);
        let dots = (self.name_width + 3)
            .saturating_sub(width(&shown) + 2 * level)
            .max(3);
        let leader = p.paint(&format!("{}:", ".".repeat(dots)), &[FAINT, WHITE]);
        let cells = &self.cells[name];
        let data = if m["type"] == "trend" {
            cells
                .iter()
                .zip(&self.trend_stats)
                .zip(&self.trend_widths)
                .map(|((c, stat), w)| {
                    format!("{stat}={}{}", p.paint(c, &[CYAN]), " ".repeat(w - width(c)))
                })
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            let mut s = format!(
                "{}{}",
                p.paint(&cells[0], &[CYAN]),
                " ".repeat(self.value_width - width(&cells[0]))
            );
            let extras = &cells[1..];
            if extras.len() == 1 {
                s.push(' ');
                s.push_str(&p.paint(&extras[0], &[FAINT, CYAN]));
            } else if !extras.is_empty() {
                let parts: Vec<String> = extras
                    .iter()
                    .zip(&self.extra_widths)
                    .map(|(e, w)| {
                        format!("{}{}", p.paint(e, &[FAINT, CYAN]), " ".repeat(w - width(e)))
                    })
                    .collect();
                s.push(' ');
                s.push_str(&parts.join(" "));
            }
            s
        };
        indent(&format!("{shown}{leader} {data}"), level)
    }

    /// The value a threshold line shows: the tested aggregation's cell where the block has it.
    fn threshold_value(&self, name: &str, m: &Value, agg: &str) -> String {
        let cells = &self.cells[name];
        match m["type"].as_str().unwrap_or("") {
            "trend" => match self.trend_stats.iter().position(|s| s == agg) {
                Some(i) => cells[i].clone(),
                None => self.trend_cell(m, agg),
            },
            "counter" if agg != "count" => cells[1].clone(),
            _ => cells[0].clone(),
        }
    }
}
