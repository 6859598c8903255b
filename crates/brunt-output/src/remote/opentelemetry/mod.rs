//! `--out opentelemetry`: OTLP metrics to a collector over gRPC or HTTP (protobuf), configured
//! as k6's output is (its `K6_OTEL_*` variables, names, defaults and checks), with k6's mapping:
//! a Counter is a monotonic Sum, a Gauge a Gauge, a Rate the Int Sum `<name>.total` split by a
//! `condition` attribute (`zero`, `nonzero`), a Trend a Histogram; time metrics in `ms`, data in
//! `By`; tags are the points' attributes. brunt sends Trends as exponential histograms by
//! default (explicit buckets, as k6, with the SDK's
//! `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=explicit_bucket_histogram`), and
//! their points carry the slowest traced samples since the previous export as exemplars (trace
//! and span ids), which k6 does not send. Temporality is cumulative (the SDK's default) or delta.
//! Batches go through the remote outputs' sender thread: a down collector never stalls a run.

mod config;
mod grpc;
mod histogram;
mod proto;

use super::{Route, Sender, Transport};
use crate::sink::{IntervalView, SampleSink};
use brunt_http::Request;
use brunt_metrics::{
    unix_nanos, Agg, Exemplars, MetricId, RawSample, Registry, SeriesMap, TagSet, ValueType,
};
use config::{Histograms, GRPC};

pub(crate) use config::OtelConfig;
pub(crate) use grpc::{GrpcClient, GrpcTarget};
use prost::Message;
use proto::*;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::time::Duration;

/// The instrumentation scope, as k6 names its meter.
const SCOPE: &str = "k6";

pub(crate) struct OtelSink {
    sender: Sender,
    cfg: OtelConfig,
    /// The run's start, the start of cumulative points.
    start_ns: u64,
    /// When the last export was (test time); the first is one interval in, as k6's.
    last_export: Duration,
    last_export_ns: u64,
    /// What happened since the last export (delta temporality).
    pending: SeriesMap,
    /// Trends' slowest traced samples since the last export, per series.
    exemplars: HashMap<(MetricId, TagSet), Exemplars>,
}

/// The settings from the process environment; errors name the variable.
pub(crate) fn config_from_env() -> Result<OtelConfig, String> {
    OtelConfig::from_env(|n| std::env::var(n).ok(), std::env::vars().map(|(k, _)| k))
}

impl OtelSink {
    pub(crate) fn new(cfg: OtelConfig, name: String) -> OtelSink {
        let route = Route {
            headers: cfg.headers.clone(),
            flush: cfg.export_interval,
            insecure: cfg.insecure_skip_verify,
        };
        let transport = if cfg.protocol == GRPC {
            Transport::Grpc(grpc::GrpcTarget {
                url: cfg.url.clone(),
                headers: cfg.headers.clone(),
                timeout: super::REQUEST_TIMEOUT,
            })
        } else {
            let url = cfg.url.clone();
            Transport::Http(Box::new(move |body| {
                let mut req = Request::new(http::Method::POST, &url).map_err(|e| e.message)?;
                req.set_header("Content-Type", "application/x-protobuf")
                    .map_err(|e| e.message)?;
                req.set_body(body);
                Ok(req)
            }))
        };
        let now = unix_nanos(std::time::SystemTime::now());
        OtelSink {
            sender: Sender::start(name, route, None, transport),
            cfg,
            start_ns: now,
            last_export: Duration::ZERO,
            last_export_ns: now,
            pending: SeriesMap::new(),
            exemplars: HashMap::new(),
        }
    }

    /// One request with every series: the run so far (cumulative) or since the last export.
    fn export(&mut self, view: &IntervalView<'_>) {
        let now = unix_nanos(view.time);
        let pending = std::mem::take(&mut self.pending);
        let (series, start) = if self.cfg.delta {
            (&pending, self.last_export_ns)
        } else {
            (&view.total.series, self.start_ns)
        };
        let temporality = if self.cfg.delta { DELTA } else { CUMULATIVE };
        let mut metrics: BTreeMap<String, Metric> = BTreeMap::new();
        let mut points = 0u64;
        for ((id, tags), agg) in series {
            let def = view.registry.def(*id);
            let unit = match def.value_type {
                ValueType::Time => "ms",
                ValueType::Data => "By",
                ValueType::Default => "",
            };
            let name = format!("{}{}", self.cfg.metric_prefix, def.name);
            let attributes = attributes(tags, None);
            let number = |value: Number| NumberDataPoint {
                attributes: attributes.clone(),
                start_time_unix_nano: start,
                time_unix_nano: now,
                value: Some(value),
            };
            match agg {
                Agg::Counter { sum } => {
                    let m = metric(&mut metrics, &name, unit, || {
                        Data::Sum(Sum {
                            data_points: Vec::new(),
                            aggregation_temporality: temporality,
                            is_monotonic: true,
                        })
                    });
                    if let Some(Data::Sum(s)) = &mut m.data {
                        s.data_points.push(number(Number::AsDouble(*sum)));
                        points += 1;
                    }
                }
                Agg::Gauge { value, min, .. } if min.is_finite() => {
                    let m = metric(&mut metrics, &name, unit, || Data::Gauge(Gauge::default()));
                    if let Some(Data::Gauge(g)) = &mut m.data {
                        g.data_points.push(number(Number::AsDouble(*value)));
                        points += 1;
                    }
                }
                Agg::Gauge { .. } => {}
                Agg::Rate { passes, total } => {
                    let m = metric(&mut metrics, &format!("{name}.total"), "", || {
                        Data::Sum(Sum {
                            data_points: Vec::new(),
                            aggregation_temporality: temporality,
                            is_monotonic: true,
                        })
                    });
                    if let Some(Data::Sum(s)) = &mut m.data {
                        for (condition, n) in [("nonzero", *passes), ("zero", total - passes)] {
                            if n > 0 {
                                s.data_points.push(NumberDataPoint {
                                    attributes: self::attributes(tags, Some(condition)),
                                    start_time_unix_nano: start,
                                    time_unix_nano: now,
                                    value: Some(Number::AsInt(n as i64)),
                                });
                                points += 1;
                            }
                        }
                    }
                }
                Agg::Trend(t) => {
                    let exemplars: Vec<Exemplar> = self
                        .exemplars
                        .remove(&(*id, tags.clone()))
                        .map(|e| e.sorted())
                        .unwrap_or_default()
                        .iter()
                        .map(|e| Exemplar {
                            time_unix_nano: e.time_ns,
                            as_double: e.value,
                            span_id: e.trace.span_id.to_vec(),
                            trace_id: e.trace.trace_id.to_vec(),
                        })
                        .collect();
                    let (min, max) = (Some(t.min_or_zero()), Some(t.max_or_zero()));
                    match self.cfg.histograms {
                        Histograms::Exponential => {
                            let m = metric(&mut metrics, &name, unit, || {
                                Data::ExponentialHistogram(ExponentialHistogram {
                                    data_points: Vec::new(),
                                    aggregation_temporality: temporality,
                                })
                            });
                            let mut p = ExponentialHistogramDataPoint {
                                attributes,
                                start_time_unix_nano: start,
                                time_unix_nano: now,
                                count: t.count,
                                sum: Some(t.sum),
                                exemplars,
                                min,
                                max,
                                ..Default::default()
                            };
                            histogram::exponential(t, &mut p);
                            if let Some(Data::ExponentialHistogram(h)) = &mut m.data {
                                h.data_points.push(p);
                            }
                        }
                        Histograms::Explicit => {
                            let m = metric(&mut metrics, &name, unit, || {
                                Data::Histogram(Histogram {
                                    data_points: Vec::new(),
                                    aggregation_temporality: temporality,
                                })
                            });
                            let mut p = HistogramDataPoint {
                                attributes,
                                start_time_unix_nano: start,
                                time_unix_nano: now,
                                count: t.count,
                                sum: Some(t.sum),
                                exemplars,
                                min,
                                max,
                                ..Default::default()
                            };
                            histogram::explicit(t, &mut p);
                            if let Some(Data::Histogram(h)) = &mut m.data {
                                h.data_points.push(p);
                            }
                        }
                    }
                    points += 1;
                }
            }
        }
        self.last_export_ns = now;
        if metrics.is_empty() {
            return;
        }
        let resource = Resource {
            attributes: vec![
                string_kv("service.name", &self.cfg.service_name),
                string_kv("service.version", &self.cfg.service_version),
            ],
        };
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: SCOPE.into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                    }),
                    metrics: metrics.into_values().collect(),
                }],
            }],
        };
        self.sender.send(request.encode_to_vec(), points);
    }
}

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            string_value: value.to_string(),
        }),
    }
}

/// The tags as attributes (those with an empty name or value left out, as k6 does), and a
/// Rate's `condition`.
fn attributes(tags: &TagSet, condition: Option<&str>) -> Vec<KeyValue> {
    tags.iter()
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .map(|(k, v)| string_kv(k, v))
        .chain(condition.map(|c| string_kv("condition", c)))
        .collect()
}

/// The metric named `name`, made with `data` on first use.
fn metric<'a>(
    metrics: &'a mut BTreeMap<String, Metric>,
    name: &str,
    unit: &str,
    data: impl FnOnce() -> Data,
) -> &'a mut Metric {
    metrics.entry(name.to_string()).or_insert_with(|| Metric {
        name: name.to_string(),
        unit: unit.to_string(),
        data: Some(data()),
    })
}

impl SampleSink for OtelSink {
    fn write(&mut self, _: &[RawSample], _: &Registry) -> io::Result<()> {
        Ok(())
    }

    fn wants_raw(&self) -> bool {
        false
    }

    fn interval(&mut self, view: &IntervalView<'_>) -> io::Result<()> {
        for ((id, tags), agg) in view.series {
            if let Agg::Trend(t) = agg {
                if !t.exemplars.is_empty() {
                    self.exemplars
                        .entry((*id, tags.clone()))
                        .or_default()
                        .merge(&t.exemplars);
                }
            }
        }
        if self.cfg.delta {
            let mut snapshot = brunt_metrics::Snapshot {
                series: std::mem::take(&mut self.pending),
            };
            snapshot.merge_series(view.series);
            self.pending = snapshot.series;
        }
        let due = view.elapsed.saturating_sub(self.last_export) >= self.cfg.export_interval;
        if view.is_final || due {
            self.last_export = view.elapsed;
            self.export(view);
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.sender.close();
        Ok(())
    }

    fn notes(&self) -> Vec<String> {
        self.sender.notes()
    }
}
