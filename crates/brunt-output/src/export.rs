//! `--summary-export`: k6's summary-export JSON, derived from the handleSummary data as k6
//! derives it. Each metric becomes its values object; thresholds become `{expr: failed}` (true
//! means the threshold FAILED, k6's historical inversion); a Rate's `rate` is named `value`;
//! `root_group` holds `groups` and `checks` as objects keyed by name; `options` and `state` go.
//! brunt's own additions (error budgets, profile checks) stay under their `brunt` key.

use serde::Serialize;
use serde_json::{Map, Value};

/// The export object for handleSummary-shaped `data`.
pub fn summary_export(data: &Value) -> Value {
    let mut out = Map::new();
    let mut metrics = Map::new();
    for (name, m) in data["metrics"].as_object().into_iter().flatten() {
        let mut values = m["values"].as_object().cloned().unwrap_or_default();
        if let Some(t) = m["thresholds"].as_object().filter(|t| !t.is_empty()) {
            let failed: Map<String, Value> = t
                .iter()
                .map(|(expr, v)| {
                    (
                        expr.clone(),
                        Value::Bool(!v["ok"].as_bool().unwrap_or(false)),
                    )
                })
                .collect();
            values.insert("thresholds".into(), Value::Object(failed));
        }
        if m["type"] == "rate" {
            if let Some(rate) = values.remove("rate") {
                values.insert("value".into(), rate);
            }
        }
        metrics.insert(name.clone(), Value::Object(values));
    }
    out.insert("root_group".into(), export_group(&data["root_group"]));
    out.insert("metrics".into(), Value::Object(metrics));
    if let Some(setup) = data.get("setup_data") {
        out.insert("setup_data".into(), setup.clone());
    }
    if let Some(own) = data.get(crate::summary::BRUNT_KEY) {
        out.insert(crate::summary::BRUNT_KEY.into(), own.clone());
    }
    Value::Object(out)
}

/// A handleSummary group (arrays) as an export group (objects keyed by name).
fn export_group(group: &Value) -> Value {
    let mut g = group.as_object().cloned().unwrap_or_default();
    let keyed = |list: Option<&Value>, f: &dyn Fn(&Value) -> Value| -> Value {
        let mut m = Map::new();
        for item in list.and_then(Value::as_array).into_iter().flatten() {
            let name = item["name"].as_str().unwrap_or("").to_string();
            m.insert(name, f(item));
        }
        Value::Object(m)
    };
    let groups = keyed(g.get("groups"), &export_group);
    let checks = keyed(g.get("checks"), &Value::clone);
    g.insert("groups".into(), groups);
    g.insert("checks".into(), checks);
    Value::Object(g)
}

/// Pretty JSON with k6's four-space indent.
pub fn to_string(v: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser)
        .expect("a serde_json::Value always serializes");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}
