//! The run's slowest traced requests: the exemplars `http_req_duration` kept (the slowest
//! requests of each series whose trace was sampled), for the summary, `--summary-export`'s
//! `brunt.slowest_requests` and the report, each linked with `--trace-url` when given. Also the
//! `--trace-context`, `--trace-sampling` and `--run-id-header` flags that `quick` and `run` share.

use crate::humanize;
use brunt_http::{Propagator, RequestTracing, TraceContext};
use brunt_metrics::{builtin, Agg, Snapshot};
use clap::Args;
use serde_json::{json, Value};

/// How many requests the summary lists.
pub const SLOWEST: usize = 5;

/// One slow request and its trace.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowRequest {
    /// `http_req_duration`, in milliseconds.
    pub duration: f64,
    pub trace_id: String,
    pub method: String,
    /// The `name` tag (the URL unless the script named the request).
    pub name: String,
    pub status: String,
    /// When it was recorded, ms since the Unix epoch.
    pub time_ms: u64,
}

/// The [`SLOWEST`] slowest traced requests of the run, slowest first.
pub fn slowest_requests(snapshot: &Snapshot) -> Vec<SlowRequest> {
    let mut all: Vec<SlowRequest> = Vec::new();
    for ((id, tags), agg) in &snapshot.series {
        let (builtin::HTTP_REQ_DURATION, Agg::Trend(t)) = (*id, agg) else {
            continue;
        };
        for e in t.exemplars.sorted() {
            all.push(SlowRequest {
                duration: e.value,
                trace_id: e.trace.trace_hex(),
                method: tags.get("method").unwrap_or("").to_string(),
                name: tags.get("name").unwrap_or("").to_string(),
                status: tags.get("status").unwrap_or("").to_string(),
                time_ms: e.time_ns / 1_000_000,
            });
        }
    }
    all.sort_by(|a, b| b.duration.total_cmp(&a.duration));
    all.truncate(SLOWEST);
    all
}

/// `--trace-url` must say where the trace id goes.
pub fn check_trace_url(template: &str) -> Result<(), String> {
    if template.contains("{trace_id}") {
        Ok(())
    } else {
        Err(format!(
            "--trace-url '{template}': put {{trace_id}} where the trace id goes, e.g. \
             https://tempo.example/trace/{{trace_id}}"
        ))
    }
}

/// `--trace-url`'s template with the trace id in place of `{trace_id}`.
pub fn trace_link(template: &str, trace_id: &str) -> String {
    template.replace("{trace_id}", trace_id)
}

impl SlowRequest {
    pub fn to_json(&self, trace_url: Option<&str>) -> Value {
        let mut v = json!({
            "duration": self.duration,
            "trace_id": self.trace_id,
            "method": self.method,
            "name": self.name,
            "status": self.status,
            "time": self.time_ms,
        });
        if let Some(t) = trace_url {
            v["url"] = Value::from(trace_link(t, &self.trace_id));
        }
        v
    }
}

/// The summary's lines: a heading and one line per request, indented by `indent`.
pub(crate) fn lines(slow: &[SlowRequest], trace_url: Option<&str>, indent: &str) -> Vec<String> {
    if slow.is_empty() {
        return Vec::new();
    }
    let mut out = vec![format!(
        "{indent}slowest traced requests (http_req_duration):"
    )];
    for r in slow {
        let trace = match trace_url {
            Some(t) => trace_link(t, &r.trace_id),
            None => format!("trace_id={}", r.trace_id),
        };
        out.push(format!(
            "{indent}  {} {} {} status {} {trace}",
            humanize::duration(r.duration, None),
            r.method,
            r.name,
            r.status
        ));
    }
    out
}

/// Trace context on every request, as flags (`brunt run` turns them into `options.tracing`).
#[derive(Debug, Clone, Default, Args)]
pub struct TraceArgs {
    /// Add a fresh trace context to every request: w3c (traceparent), b3 or jaeger
    /// (uber-trace-id); the slowest requests' trace ids are kept (summary, results, report)
    #[arg(long, value_name = "PROPAGATOR")]
    pub trace_context: Option<String>,

    /// The share of traces marked sampled, 0 to 1 (default 1), e.g. --trace-sampling 0.1
    #[arg(long, value_name = "RATE", requires = "trace_context")]
    pub trace_sampling: Option<f64>,

    /// Add a header with this run's id (random, printed at start) to every request, e.g.
    /// --run-id-header x-load-test-id
    #[arg(long, value_name = "NAME")]
    pub run_id_header: Option<String>,
}

impl TraceArgs {
    /// What the flags add to requests; the error names the flag.
    pub fn tracing(&self) -> Result<RequestTracing, String> {
        let context = match &self.trace_context {
            None => None,
            Some(p) => {
                let propagator: Propagator =
                    p.parse().map_err(|e| format!("--trace-context: {e}"))?;
                let sampling = self.trace_sampling.unwrap_or(1.0);
                Some(
                    TraceContext::new(propagator, sampling)
                        .map_err(|e| format!("--trace-sampling: {e}"))?,
                )
            }
        };
        let run_id = match &self.run_id_header {
            None => None,
            Some(name) => Some(
                RequestTracing::run_id_header(name).map_err(|e| format!("--run-id-header: {e}"))?,
            ),
        };
        Ok(RequestTracing { context, run_id })
    }
}

/// Says once, at start, what every request carries (the run id is only known here).
pub fn announce(tracing: &RequestTracing) {
    if let Some(c) = &tracing.context {
        eprintln!(
            "trace context: {} ({} header), {}% of traces sampled",
            c.propagator,
            c.propagator.header(),
            c.sampling * 100.0
        );
    }
    if let Some((name, value)) = &tracing.run_id {
        eprintln!(
            "run id: {} (header {name})",
            value.to_str().unwrap_or_default()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brunt_metrics::{Aggregator, Registry, TagSet, Trace};
    use std::sync::Arc;

    #[test]
    fn the_slowest_sampled_requests_are_listed_across_series() {
        let mut agg = Aggregator::new(Arc::new(Registry::new()), false);
        let a = TagSet::new([("name", "a"), ("method", "GET"), ("status", "200")]);
        let b = TagSet::new([("name", "b"), ("method", "POST"), ("status", "500")]);
        for i in 0..10u8 {
            let trace = Trace {
                trace_id: [i; 16],
                span_id: [1; 8],
                sampled: i != 9,
            };
            agg.set_trace(Some(trace));
            let tags = if i % 2 == 0 { &a } else { &b };
            agg.add(builtin::HTTP_REQ_DURATION, tags, 100.0 * i as f64);
        }
        agg.set_trace(None);
        agg.add(builtin::HTTP_REQ_DURATION, &a, 5000.0);
        let mut snap = Snapshot::default();
        snap.merge_series(&agg.take().series);
        let slow = slowest_requests(&snap);
        let ms: Vec<f64> = slow.iter().map(|r| r.duration).collect();
        // 900 ms was not sampled, 5000 ms had no trace.
        assert_eq!(ms, [800.0, 700.0, 600.0, 500.0, 400.0]);
        assert_eq!(slow[1].method, "POST");
        assert_eq!(slow[0].trace_id, "08".repeat(16));
        let text = lines(&slow, Some("https://tempo/trace/{trace_id}"), "  ").join("\n");
        assert!(
            text.contains(&format!("https://tempo/trace/{}", "08".repeat(16))),
            "{text}"
        );
    }

    #[test]
    fn bad_flags_are_named() {
        let args = TraceArgs {
            trace_context: Some("zipkin".into()),
            ..TraceArgs::default()
        };
        assert!(args.tracing().unwrap_err().starts_with("--trace-context: "));
        let args = TraceArgs {
            trace_context: Some("w3c".into()),
            trace_sampling: Some(2.0),
            ..TraceArgs::default()
        };
        assert!(args
            .tracing()
            .unwrap_err()
            .starts_with("--trace-sampling: "));
    }
}
