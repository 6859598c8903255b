//! `--out json=FILE`: k6's line format. The first sample of each metric is preceded by a
//! `{"type":"Metric",...}` line describing it (type, contains, thresholds, sub-metrics); every
//! sample is a `{"metric":...,"type":"Point","data":{"time","value","tags"}}` line.

use crate::go_format::{self, TimeFormatter};
use crate::sink::{NameCache, SampleSink, Target};
use crate::summary::expected_response;
use brunt_metrics::{MetricSelector, RawSample, Registry, Threshold, Thresholds};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{self, Write};

pub(crate) struct JsonLinesSink {
    out: Target,
    names: NameCache,
    /// Per metric name: its `thresholds` and `submetrics` JSON, as k6 lists them.
    described: HashMap<String, (String, String)>,
    time: TimeFormatter,
    line: String,
}

impl JsonLinesSink {
    pub(crate) fn new(out: Target, thresholds: &Thresholds) -> Self {
        let mut thresholds_of: HashMap<String, Vec<Value>> = HashMap::new();
        let mut subs_of: HashMap<String, Vec<Value>> = HashMap::new();
        let mut add_sub = |sel: &MetricSelector| {
            let subs = subs_of.entry(sel.metric.clone()).or_default();
            if !subs.iter().any(|s| s["name"] == sel.name.as_str()) {
                subs.push(submetric_json(sel));
            }
        };
        for m in thresholds.metrics() {
            if m.selector.tags.is_some() {
                add_sub(&m.selector);
            } else {
                thresholds_of
                    .entry(m.selector.name.clone())
                    .or_default()
                    .extend(m.thresholds.iter().map(threshold_json));
            }
        }
        // k6 adds its default sub-metric after those of thresholds.
        add_sub(&expected_response());
        let mut described = HashMap::new();
        for name in thresholds_of.keys().chain(subs_of.keys()) {
            let t = thresholds_of.get(name).cloned().unwrap_or_default();
            let s = subs_of.get(name).map_or(Value::Null, |s| json!(s));
            described.insert(name.clone(), (json!(t).to_string(), s.to_string()));
        }
        JsonLinesSink {
            out,
            names: NameCache::default(),
            described,
            time: TimeFormatter::default(),
            line: String::with_capacity(512),
        }
    }
}

/// k6 writes a threshold as its expression, or as an object when it aborts on failure.
fn threshold_json(t: &Threshold) -> Value {
    if !t.abort_on_fail {
        return json!(t.source);
    }
    json!({
        "threshold": t.source,
        "abortOnFail": true,
        "delayAbortEval": t.delay_abort_eval.map(go_format::duration),
    })
}

fn submetric_json(sel: &MetricSelector) -> Value {
    let suffix = &sel.name[sel.metric.len() + 1..sel.name.len() - 1];
    let tags: serde_json::Map<String, Value> = sel
        .tags
        .iter()
        .flat_map(|t| t.iter())
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({"name": sel.name, "suffix": suffix, "tags": tags})
}

fn push_json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
}

impl SampleSink for JsonLinesSink {
    fn write(&mut self, samples: &[RawSample], registry: &Registry) -> io::Result<()> {
        for s in samples {
            let line = &mut self.line;
            line.clear();
            let (name, first) = self.names.get(s.metric, registry);
            if first {
                let def = registry.def(s.metric);
                let (thresholds, subs) = self
                    .described
                    .get(name)
                    .map_or(("[]", "null"), |(t, s)| (t.as_str(), s.as_str()));
                line.push_str(r#"{"type":"Metric","data":{"name":"#);
                push_json_str(line, name);
                line.push_str(&format!(
                    r#","type":"{}","contains":"{}","thresholds":{thresholds},"submetrics":{subs}}},"metric":"#,
                    def.metric_type.as_str(),
                    def.value_type.as_str(),
                ));
                push_json_str(line, name);
                line.push_str("}\n");
            }
            line.push_str(r#"{"metric":"#);
            push_json_str(line, name);
            line.push_str(r#","type":"Point","data":{"time":""#);
            self.time.write(s.time, line);
            line.push_str(r#"","value":"#);
            line.push_str(&go_format::json_float(s.value));
            line.push_str(r#","tags":{"#);
            for (i, (k, v)) in s.tags.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                push_json_str(line, k);
                line.push(':');
                push_json_str(line, v);
            }
            line.push_str("}}}\n");
            self.out.write_all(line.as_bytes())?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.finish()
    }
}
