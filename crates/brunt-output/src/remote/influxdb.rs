//! InfluxDB v1 line protocol, in k6's layout: the measurement is the metric name, sample tags are
//! tags (with `url` as a string field, as k6 stores it by default), and `value` is the field
//! dashboards query. brunt writes one point per series per second rather than one per request, so
//! the output costs the same at any request rate: `value` is a counter's sum, a gauge's value, a
//! rate's ratio or a trend's mean over that second, and trends add `count`, `min`, `max`, `med`,
//! `p90`, `p95` and `p99` fields, rates `passes` and `total`.

use super::{RemoteSpec, Sender};
use crate::sink::{IntervalView, SampleSink};
use brunt_http::Request;
use brunt_metrics::{Agg, RawSample, Registry};
use std::fmt::Write as _;
use std::io;
use std::time::UNIX_EPOCH;

/// Trend fields besides `value` (the mean) and `count`.
const TREND_FIELDS: &[(&str, &str)] = &[
    ("min", "min"),
    ("max", "max"),
    ("med", "med"),
    ("p(90)", "p90"),
    ("p(95)", "p95"),
    ("p(99)", "p99"),
];

/// The database named by the URL's path: `http://host:8086/k6` is `k6`.
pub(super) fn database(url: &url::Url) -> Option<String> {
    url.path_segments()?
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

pub(super) struct InfluxSink {
    sender: Sender,
    extra: Vec<(String, String)>,
    lines: String,
    points: u64,
}

impl InfluxSink {
    pub(super) fn new(spec: &RemoteSpec, name: String) -> InfluxSink {
        // Checked when the spec was parsed.
        let base = url::Url::parse(&spec.url).ok();
        let db = base.as_ref().and_then(database).unwrap_or_default();
        let endpoint = |path: &str, query: &[(&str, &str)]| {
            let mut u = base.clone()?;
            u.set_path(path);
            u.query_pairs_mut().clear().extend_pairs(query);
            Some(u.to_string())
        };
        let write_url = endpoint("/write", &[("db", &db), ("precision", "ms")]);
        let create = format!("CREATE DATABASE \"{}\"", db.replace('"', "\\\""));
        // k6 creates the database too; an existing one is no error in InfluxDB 1.x.
        let prelude = endpoint("/query", &[("q", &create)])
            .and_then(|u| Request::new(http::Method::POST, &u).ok());
        let sender = Sender::spawn(name, spec, prelude, move |body| {
            let url = write_url.as_deref().ok_or("bad URL")?;
            let mut req = Request::new(http::Method::POST, url).map_err(|e| e.message)?;
            req.set_header("Content-Type", "text/plain; charset=utf-8")
                .map_err(|e| e.message)?;
            req.set_body(body);
            Ok(req)
        });
        InfluxSink {
            sender,
            extra: spec.labels.clone(),
            lines: String::new(),
            points: 0,
        }
    }

    fn send_pending(&mut self) {
        if self.points > 0 {
            let body = std::mem::take(&mut self.lines).into_bytes();
            self.sender.send(body, std::mem::take(&mut self.points));
        }
    }
}

/// Escapes a measurement name, tag key or tag value.
fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        if matches!(c, ',' | '=' | ' ') {
            out.push('\\');
        }
        out.push(c);
    }
}

impl SampleSink for InfluxSink {
    fn write(&mut self, _: &[RawSample], _: &Registry) -> io::Result<()> {
        Ok(())
    }

    fn wants_raw(&self) -> bool {
        false
    }

    fn interval(&mut self, view: &IntervalView<'_>) -> io::Result<()> {
        let ts = view
            .time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        for ((id, tags), agg) in view.series {
            let line = &mut self.lines;
            escape(&view.registry.def(*id).name, line);
            let mut url = None;
            let all = tags
                .iter()
                .chain(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            for (k, v) in all {
                if k == "url" {
                    url = Some(v);
                } else if !v.is_empty() {
                    line.push(',');
                    escape(k, line);
                    line.push('=');
                    escape(v, line);
                }
            }
            let _ = match agg {
                Agg::Counter { sum } => write!(line, " value={sum}"),
                Agg::Gauge { value, .. } => write!(line, " value={value}"),
                Agg::Rate { passes, total } => write!(
                    line,
                    " value={},passes={passes}i,total={total}i",
                    if *total == 0 {
                        0.0
                    } else {
                        *passes as f64 / *total as f64
                    }
                ),
                Agg::Trend(t) => {
                    let _ = write!(line, " value={},count={}i", t.avg(), t.count);
                    for (stat, field) in TREND_FIELDS {
                        if let Some(v) = agg.stat(stat, 1.0) {
                            let _ = write!(line, ",{field}={v}");
                        }
                    }
                    Ok(())
                }
            };
            if let Some(u) = url {
                line.push_str(",url=\"");
                for c in u.chars() {
                    if matches!(c, '"' | '\\') {
                        line.push('\\');
                    }
                    line.push(c);
                }
                line.push('"');
            }
            let _ = writeln!(line, " {ts}");
            self.points += 1;
        }
        if self.sender.flush_due(view) {
            self.send_pending();
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.send_pending();
        self.sender.close();
        Ok(())
    }

    fn notes(&self) -> Vec<String> {
        self.sender.notes()
    }
}
