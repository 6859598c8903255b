//! `--out json=FILE`: k6's line format. The first sample of each metric is preceded by a
//! `{"type":"Metric",...}` line describing it (type, contains, thresholds, sub-metrics); every
//! sample is a `{"metric":...,"type":"Point","data":{"time","value","tags"}}` line, with
//! `"metadata":{"trace_id":...}` after the tags for a traced request's samples, as k6 writes it.

use crate::go_format::{self, TimeFormatter};
use crate::sink::{SampleSink, Target};
use crate::summary::expected_response;
use crate::tag_cache::TagCache;
use brunt_metrics::{MetricId, MetricSelector, RawSample, Registry, TagSet, Threshold, Thresholds};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{self, Write};

/// Lines are gathered into one buffer and handed to the writer in chunks of about this size.
const FLUSH_AT: usize = 64 * 1024;

pub(crate) struct JsonLinesSink {
    out: Target,
    /// Per metric id, once seen: the start of its Point lines.
    points: Vec<Option<String>>,
    tags: TagCache,
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
            points: Vec::new(),
            tags: TagCache::default(),
            described,
            time: TimeFormatter::default(),
            line: String::with_capacity(FLUSH_AT + 4096),
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

/// The JSON `tags` object of a tag set.
fn tags_json(tags: &TagSet) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in tags.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_json_str(&mut s, k);
        s.push(':');
        push_json_str(&mut s, v);
    }
    s.push('}');
    s
}

impl JsonLinesSink {
    /// The first time metric `id` is seen: writes its Metric line and keeps the start of its
    /// Point lines in `points`.
    fn see_metric(&mut self, id: MetricId, registry: &Registry) {
        let i = id.0 as usize;
        if self.points.len() <= i {
            self.points.resize(i + 1, None);
        }
        if self.points[i].is_none() {
            let def = registry.def(id);
            let (thresholds, subs) = self
                .described
                .get(&def.name)
                .map_or(("[]", "null"), |(t, s)| (t.as_str(), s.as_str()));
            let mut name = String::new();
            push_json_str(&mut name, &def.name);
            self.line.push_str(&format!(
                r#"{{"type":"Metric","data":{{"name":{name},"type":"{}","contains":"{}","thresholds":{thresholds},"submetrics":{subs}}},"metric":{name}}}"#,
                def.metric_type.as_str(),
                def.value_type.as_str(),
            ));
            self.line.push('\n');
            self.points[i] = Some(format!(
                r#"{{"metric":{name},"type":"Point","data":{{"time":""#
            ));
        }
    }
}

impl SampleSink for JsonLinesSink {
    fn write(&mut self, samples: &[RawSample], registry: &Registry) -> io::Result<()> {
        self.line.clear();
        for s in samples {
            self.see_metric(s.metric, registry);
            let line = &mut self.line;
            line.push_str(
                self.points[s.metric.0 as usize]
                    .as_deref()
                    .unwrap_or_default(),
            );
            self.time.write(s.time, line);
            line.push_str(r#"","value":"#);
            go_format::write_json_float(line, s.value);
            line.push_str(r#","tags":"#);
            line.push_str(self.tags.get(&s.tags, tags_json));
            if let Some(t) = &s.trace {
                // k6 writes a sample's metadata after its tags, when it has any.
                line.push_str(r#","metadata":{"trace_id":""#);
                line.push_str(&t.trace_hex());
                line.push_str(r#""}"#);
            }
            line.push_str("}}\n");
            if line.len() >= FLUSH_AT {
                self.out.write_all(line.as_bytes())?;
                line.clear();
            }
        }
        self.out.write_all(self.line.as_bytes())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.finish()
    }
}
