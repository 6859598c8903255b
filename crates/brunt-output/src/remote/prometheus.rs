//! Prometheus remote write: a protobuf `WriteRequest`, snappy block-compressed, POSTed to the
//! receiver. Names follow k6's output with a `brunt_` prefix: counters are cumulative
//! `brunt_<name>_total`, rates `brunt_<name>_rate` (passes over total so far), gauges
//! `brunt_<name>`, and trends one gauge per statistic over each second (`brunt_<name>_p95`, ...;
//! time trends in seconds). Sample tags become labels, with the extra `label.NAME=VALUE` ones.

use super::{RemoteSpec, Sender};
use crate::sink::{IntervalView, SampleSink};
use brunt_http::Request;
use brunt_metrics::{Agg, MetricId, RawSample, Registry, TagSet, ValueType};
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::time::UNIX_EPOCH;

/// The statistics sent per trend, with their name suffixes.
const TREND_STATS: &[(&str, &str)] = &[
    ("avg", "avg"),
    ("min", "min"),
    ("med", "med"),
    ("max", "max"),
    ("p(90)", "p90"),
    ("p(95)", "p95"),
    ("p(99)", "p99"),
];

#[derive(Clone, PartialEq, prost::Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, prost::Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

pub(super) struct PromSink {
    sender: Sender,
    extra: Vec<(String, String)>,
    /// Cumulative counters and rates, as Prometheus expects them.
    counters: HashMap<(MetricId, TagSet), f64>,
    rates: HashMap<(MetricId, TagSet), (u64, u64)>,
    /// Samples waiting for the next send, per sorted label set, in time order.
    pending: BTreeMap<Vec<Label>, Vec<Sample>>,
    pending_samples: u64,
}

impl PromSink {
    pub(super) fn new(spec: &RemoteSpec, name: String) -> PromSink {
        let url = spec.url.clone();
        let sender = Sender::spawn(name, spec, None, move |body| {
            let mut req = Request::new(http::Method::POST, &url).map_err(|e| e.message)?;
            for (k, v) in [
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "snappy"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
            ] {
                req.set_header(k, v).map_err(|e| e.message)?;
            }
            req.set_body(body);
            Ok(req)
        });
        PromSink {
            sender,
            extra: spec.labels.clone(),
            counters: HashMap::new(),
            rates: HashMap::new(),
            pending: BTreeMap::new(),
            pending_samples: 0,
        }
    }

    fn push(&mut self, name: String, tags: &TagSet, value: f64, timestamp: i64) {
        let mut labels: Vec<Label> = tags
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| Label {
                name: sanitize(k),
                value: v.to_string(),
            })
            .chain(self.extra.iter().map(|(k, v)| Label {
                name: k.clone(),
                value: v.clone(),
            }))
            .collect();
        labels.push(Label {
            name: "__name__".into(),
            value: name,
        });
        labels.sort();
        labels.dedup_by(|a, b| a.name == b.name);
        self.pending
            .entry(labels)
            .or_default()
            .push(Sample { value, timestamp });
        self.pending_samples += 1;
    }

    fn send_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let timeseries = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(labels, samples)| TimeSeries { labels, samples })
            .collect();
        let proto = WriteRequest { timeseries }.encode_to_vec();
        let samples = std::mem::take(&mut self.pending_samples);
        match snap::raw::Encoder::new().compress_vec(&proto) {
            Ok(body) => self.sender.send(body, samples),
            Err(e) => self
                .sender
                .stats
                .drop_batch(samples, format!("snappy: {e}")),
        }
    }
}

/// Prometheus label names allow letters, digits and underscores.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

impl SampleSink for PromSink {
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
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        for ((id, tags), agg) in view.series {
            let def = view.registry.def(*id);
            let base = format!("brunt_{}", def.name);
            match agg {
                Agg::Counter { sum } => {
                    let c = self.counters.entry((*id, tags.clone())).or_default();
                    *c += sum;
                    let v = *c;
                    self.push(format!("{base}_total"), tags, v, ts);
                }
                Agg::Gauge { value, .. } => self.push(base, tags, *value, ts),
                Agg::Rate { passes, total } => {
                    let r = self.rates.entry((*id, tags.clone())).or_default();
                    r.0 += passes;
                    r.1 += total;
                    let v = if r.1 == 0 {
                        0.0
                    } else {
                        r.0 as f64 / r.1 as f64
                    };
                    self.push(format!("{base}_rate"), tags, v, ts);
                }
                Agg::Trend(_) => {
                    let scale = if def.value_type == ValueType::Time {
                        1000.0
                    } else {
                        1.0
                    };
                    for (stat, suffix) in TREND_STATS {
                        if let Some(v) = agg.stat(stat, 1.0) {
                            self.push(format!("{base}_{suffix}"), tags, v / scale, ts);
                        }
                    }
                }
            }
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
