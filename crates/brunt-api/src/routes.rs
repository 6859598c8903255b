//! The handlers: one per k6 route and method. Any other method on a k6 path gets 405 with an
//! empty body, as k6's mux answers.

use crate::jsonapi::{self, ApiError, Metric, PatchDocument, Status};
use crate::ControlSurface;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use brunt_engine::{ExecutionStatus, Hook};
use brunt_metrics::{Agg, MetricId, MetricType, Snapshot};
use brunt_output::Group;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

type Surface = State<Arc<ControlSurface>>;
type Reply = Result<Json<Value>, ApiError>;

pub fn router(surface: Arc<ControlSurface>) -> Router {
    Router::new()
        .route("/v1/status", get(get_status).patch(patch_status))
        .route("/v1/metrics", get(metrics))
        .route("/v1/metrics/{id}", get(metric))
        .route("/v1/groups", get(groups))
        .route("/v1/groups/{id}", get(group))
        .route("/v1/setup", get(get_setup).put(put_setup).post(run_setup))
        .route("/v1/teardown", post(run_teardown))
        .with_state(surface)
}

fn status(s: &ControlSurface) -> Value {
    let e = &s.execution;
    let counts = e.counts();
    let tainted = {
        let view = s.view.now();
        view.ticked
            && s.thresholds
                .evaluate(&view.total, view.elapsed)
                .iter()
                .any(|r| !r.ok)
    };
    jsonapi::resource(
        "status",
        "default",
        Status {
            status: e.status() as u32,
            paused: e.is_paused(),
            vus: counts.vus_active,
            vus_max: counts.vus_initialized,
            stopped: s.control.is_stopped() && !e.has_ended(),
            running: e.has_started() && !e.has_ended(),
            tainted,
        },
    )
}

async fn get_status(State(s): Surface) -> Json<Value> {
    Json(status(&s))
}

async fn patch_status(State(s): Surface, body: Bytes) -> Reply {
    let doc: PatchDocument = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "Invalid data", e.to_string()))?;
    let patch = doc.data.attributes;
    if patch.stopped == Some(true) {
        s.control.stop_from_api();
    } else {
        if let Some(pause) = patch.paused {
            s.execution.set_paused(pause).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Pause error",
                    e.to_string(),
                )
            })?;
        }
        if patch.vus.is_some() || patch.vus_max.is_some() {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Execution config error",
                "an externally-controlled executor needs to be configured for live configuration updates",
            ));
        }
    }
    let mut doc = status(&s);
    // The answer to a stop says so at once, as k6's does.
    if patch.stopped == Some(true) {
        doc["data"]["attributes"]["stopped"] = Value::Bool(true);
    }
    Ok(Json(doc))
}

/// The metrics k6 would list: those with samples and those with thresholds.
fn observed(s: &ControlSurface, total: &Snapshot) -> BTreeSet<MetricId> {
    let mut ids: BTreeSet<MetricId> = total.metric_ids().into_iter().collect();
    ids.extend(s.thresholds.metrics().iter().map(|m| m.metric));
    ids
}

/// One metric's document data, with its sink's values as k6's `Sink.Format` gives them.
fn metric_data(
    s: &ControlSurface,
    id: MetricId,
    total: &Snapshot,
    elapsed: Duration,
    tainted: &BTreeMap<String, bool>,
) -> Value {
    let def = s.registry.def(id);
    let agg = total
        .metric(id)
        .unwrap_or_else(|| Agg::new(def.metric_type));
    let stats: &[&'static str] = match def.metric_type {
        MetricType::Counter => &["count", "rate"],
        MetricType::Gauge => &["value"],
        MetricType::Rate => &["rate"],
        MetricType::Trend => &["min", "max", "avg", "med", "p(90)", "p(95)"],
    };
    let secs = elapsed.as_secs_f64();
    let sample = stats
        .iter()
        .map(|n| {
            let v = agg.stat(n, secs).filter(|v| v.is_finite()).unwrap_or(0.0);
            (*n, jsonapi::go_number(v))
        })
        .collect();
    let attributes = Metric {
        metric_type: def.metric_type.as_str(),
        contains: def.value_type.as_str(),
        tainted: tainted.get(&def.name).copied(),
        sample,
    };
    serde_json::json!({"type": "metrics", "id": def.name, "attributes": attributes})
}

/// Per metric with thresholds, whether one of them fails now; empty before the first tick.
fn taints(
    s: &ControlSurface,
    total: &Snapshot,
    elapsed: Duration,
    ticked: bool,
) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    if !ticked {
        return out;
    }
    for r in s.thresholds.evaluate(total, elapsed) {
        let base = r
            .metric_name
            .split('{')
            .next()
            .unwrap_or_default()
            .to_string();
        *out.entry(base).or_insert(false) |= !r.ok;
    }
    out
}

fn running(s: &ControlSurface) -> bool {
    s.execution.status() == ExecutionStatus::Running
}

async fn metrics(State(s): Surface) -> Json<Value> {
    s.view.wait_fresh(running(&s)).await;
    let view = s.view.now();
    let tainted = taints(&s, &view.total, view.elapsed, view.ticked);
    let data: Vec<Value> = observed(&s, &view.total)
        .into_iter()
        .map(|id| metric_data(&s, id, &view.total, view.elapsed, &tainted))
        .collect();
    Json(serde_json::json!({ "data": data }))
}

async fn metric(State(s): Surface, Path(name): Path<String>) -> Reply {
    s.view.wait_fresh(running(&s)).await;
    let view = s.view.now();
    let id = s
        .registry
        .get(&name)
        .filter(|id| observed(&s, &view.total).contains(id))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "Not Found",
                "No metric with that ID was found",
            )
        })?;
    let tainted = taints(&s, &view.total, view.elapsed, view.ticked);
    Ok(Json(serde_json::json!({
        "data": metric_data(&s, id, &view.total, view.elapsed, &tainted)
    })))
}

async fn tree(s: &ControlSurface) -> Group {
    s.view.wait_fresh(running(s)).await;
    let order = s.script.definition_order();
    let view = s.view.now();
    Group::from_snapshot(&view.total, &order, false)
}

async fn groups(State(s): Surface) -> Json<Value> {
    let root = tree(&s).await;
    let mut all = Vec::new();
    jsonapi::flatten(&root, None, &mut all);
    let data: Vec<Value> = all.iter().map(|(g, p)| jsonapi::group(g, *p)).collect();
    Json(serde_json::json!({ "data": data }))
}

async fn group(State(s): Surface, Path(id): Path<String>) -> Reply {
    let root = tree(&s).await;
    let mut all = Vec::new();
    jsonapi::flatten(&root, None, &mut all);
    let (g, p) = all.into_iter().find(|(g, _)| g.id == id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Not Found",
            "No group with that ID was found",
        )
    })?;
    Ok(Json(serde_json::json!({ "data": jsonapi::group(g, p) })))
}

async fn get_setup(State(s): Surface) -> Json<Value> {
    Json(jsonapi::setup_data(s.script.setup_data().as_deref()))
}

async fn put_setup(State(s): Surface, body: Bytes) -> Reply {
    let text = if body.is_empty() {
        None
    } else {
        serde_json::from_slice::<Value>(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "Error parsing request body",
                e.to_string(),
            )
        })?;
        Some(String::from_utf8_lossy(&body).into_owned())
    };
    s.script.set_setup_data(text);
    Ok(Json(jsonapi::setup_data(s.script.setup_data().as_deref())))
}

/// Runs a hook on the engine's hook VU; the caller waits for it, as k6's does.
async fn hook(s: &Arc<ControlSurface>, which: Hook) -> Result<(), String> {
    let execution = s.execution.clone();
    tokio::task::spawn_blocking(move || execution.run_hook(which))
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
}

async fn run_setup(State(s): Surface) -> Reply {
    hook(&s, Hook::Setup).await.map_err(|e| {
        brunt_engine::log::error(&format!("Error executing setup: {e}"));
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error executing setup",
            e,
        )
    })?;
    Ok(Json(jsonapi::setup_data(s.script.setup_data().as_deref())))
}

async fn run_teardown(State(s): Surface) -> Result<(), ApiError> {
    hook(&s, Hook::Teardown).await.map_err(|e| {
        brunt_engine::log::error(&format!("Error executing teardown: {e}"));
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error executing teardown",
            e,
        )
    })
}
