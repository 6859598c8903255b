//! k6's JSON:API documents, field for field: `{"data": {"type", "id", "attributes", ...}}` for
//! resources and `{"errors": [{"status", "title", "detail"}]}` for failures.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use brunt_output::Group;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A resource document: `{"data": {"type", "id", "attributes"}}`.
pub fn resource(kind: &str, id: &str, attributes: impl Serialize) -> Value {
    json!({"data": {"type": kind, "id": id, "attributes": attributes}})
}

/// k6's `v1.Status` attributes.
#[derive(Serialize)]
pub struct Status {
    /// k6's `lib.ExecutionStatus` number.
    pub status: u32,
    pub paused: bool,
    pub vus: u64,
    #[serde(rename = "vus-max")]
    pub vus_max: u64,
    pub stopped: bool,
    pub running: bool,
    pub tainted: bool,
}

/// The attributes a `PATCH /v1/status` may carry; absent and `null` are alike, as k6's
/// `null.Bool` and `null.Int` read them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StatusPatch {
    pub paused: Option<bool>,
    pub vus: Option<i64>,
    #[serde(rename = "vus-max")]
    pub vus_max: Option<i64>,
    pub stopped: Option<bool>,
}

/// `{"data": {"attributes": {...}}}` of a PATCH; `type` and `id` are not checked, as in k6.
#[derive(Deserialize)]
pub struct PatchDocument {
    pub data: PatchData,
}

#[derive(Deserialize)]
pub struct PatchData {
    #[serde(default)]
    pub attributes: StatusPatch,
}

/// k6's `v1.Metric` attributes: the sink's values under `sample`.
#[derive(Serialize)]
pub struct Metric {
    #[serde(rename = "type")]
    pub metric_type: &'static str,
    pub contains: &'static str,
    /// None without thresholds on the metric, or before they were first evaluated.
    pub tainted: Option<bool>,
    pub sample: BTreeMap<&'static str, Value>,
}

/// A number as Go's encoding/json writes a float64: whole values without a fraction (`20`, not
/// `20.0`), as k6's API shows them.
pub fn go_number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

/// A group as k6's `/v1/groups` shows it: `checks` is null when there are none (Go's nil
/// slice), children and parent are relationships.
pub fn group(g: &Group, parent: Option<&Group>) -> Value {
    let checks: Value = if g.checks.is_empty() {
        Value::Null
    } else {
        g.checks
            .iter()
            .map(|c| {
                json!({"id": c.id, "path": c.path, "name": c.name, "passes": c.passes, "fails": c.fails})
            })
            .collect()
    };
    let children: Vec<Value> = g
        .groups
        .iter()
        .map(|c| json!({"type": "groups", "id": c.id}))
        .collect();
    let mut attributes = Map::new();
    attributes.insert("path".into(), g.path.clone().into());
    attributes.insert("name".into(), g.name.clone().into());
    attributes.insert("checks".into(), checks);
    json!({
        "type": "groups",
        "id": g.id,
        "attributes": attributes,
        "relationships": {
            "groups": {"data": children},
            "parent": {"data": parent.map(|p| json!({"type": "groups", "id": p.id}))},
        },
    })
}

/// The tree in k6's order: each group before its children.
pub fn flatten<'a>(
    g: &'a Group,
    parent: Option<&'a Group>,
    out: &mut Vec<(&'a Group, Option<&'a Group>)>,
) {
    out.push((g, parent));
    for c in &g.groups {
        flatten(c, Some(g), out);
    }
}

/// `setupData`'s attributes: `{"data": ...}`, or `{}` when there is none (k6 omits it).
pub fn setup_data(json: Option<&str>) -> Value {
    let attributes = match json.map(serde_json::from_str::<Value>) {
        Some(Ok(v)) => json!({ "data": v }),
        _ => json!({}),
    };
    resource("setupData", "default", attributes)
}

/// k6's error document with its HTTP status.
pub struct ApiError {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
}

impl ApiError {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            title,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"errors": [{
            "status": self.status.as_u16().to_string(),
            "title": self.title,
            "detail": self.detail,
        }]});
        (self.status, Json(body)).into_response()
    }
}
