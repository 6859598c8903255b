//! The coordinator's HTTP endpoints (axum, on a thread of its own as brunt-api's), all under
//! `/v1/coordinator/`. Every endpoint but `health` wants the run's token.

use crate::coordinator::{JoinRefusal, Shared};
use crate::proto::{JoinRequest, Ready, Refusal, Report, ReportReply, Start, BASE};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use brunt_engine::server_thread;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

type App = State<Arc<Shared>>;

/// How long a waiting request (the start, the teardown) is held before it is answered "not
/// yet" and asked again.
const LONG_POLL: Duration = Duration::from_secs(5);
const LONG_POLL_STEP: Duration = Duration::from_millis(20);
/// The largest report (or other body) taken.
const REPORT_LIMIT: usize = 64 << 20;

pub(crate) fn serve(address: &str, shared: Arc<Shared>) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route(&format!("{BASE}/join"), post(join))
        .route(&format!("{BASE}/archive"), get(archive))
        .route(&format!("{BASE}/instances/{{index}}/ready"), post(ready))
        .route(&format!("{BASE}/instances/{{index}}/start"), get(start))
        .route(&format!("{BASE}/instances/{{index}}/report"), post(report))
        .route(
            &format!("{BASE}/instances/{{index}}/teardown"),
            get(teardown),
        )
        .route_layer(middleware::from_fn_with_state(shared.clone(), token))
        .route(&format!("{BASE}/health"), get(|| async { "ok" }))
        // A second of an instance with many series (a tag per URL) can be large.
        .layer(axum::extract::DefaultBodyLimit::max(REPORT_LIMIT))
        .with_state(shared);
    server_thread::spawn(
        "coordinator",
        server_thread::bind(address)?,
        |listener| async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, service).await;
        },
    )
}

fn refuse(status: StatusCode, error: impl Into<String>) -> Response {
    (
        status,
        Json(Refusal {
            error: error.into(),
        }),
    )
        .into_response()
}

/// Compares in time independent of where the two differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token check, before every endpoint but `health`: a refusal that says what is wrong, also
/// logged on the coordinator's side.
async fn token(
    State(app): App,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let given = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given.is_some_and(|t| same(t.as_bytes(), app.cfg.token.as_bytes())) {
        return next.run(req).await;
    }
    let what = if given.is_some() { "wrong" } else { "missing" };
    brunt_engine::log::warn(&format!(
        "refused an instance at {peer}: {what} token (instances must give the coordinator's --token or {})",
        crate::proto::TOKEN_ENV
    ));
    refuse(
        StatusCode::UNAUTHORIZED,
        format!(
            "{what} token: the coordinator accepts only instances that give its token (--token or {})",
            crate::proto::TOKEN_ENV
        ),
    )
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(bytes).map_err(|e| {
        Box::new(refuse(
            StatusCode::BAD_REQUEST,
            format!("invalid request body: {e}"),
        ))
    })
}

fn unknown(index: usize) -> Response {
    refuse(
        StatusCode::NOT_FOUND,
        format!("instance {index} has not joined this run"),
    )
}

async fn join(
    State(app): App,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    bytes: Bytes,
) -> Response {
    let req: JoinRequest = match body(&bytes) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let joined = app.state().join(
        &app.cfg,
        req.index,
        req.name.clone(),
        req.script_hash.as_deref(),
    );
    match joined {
        Ok(j) => {
            brunt_engine::log::info(&format!(
                "instance {} ({}) joined from {peer}: segment {}",
                j.index, req.name, j.segment
            ));
            Json(j).into_response()
        }
        Err(JoinRefusal::BadRequest(e)) => refuse(StatusCode::BAD_REQUEST, e),
        Err(JoinRefusal::Conflict(e)) => {
            brunt_engine::log::warn(&format!("refused {} from {peer}: {e}", req.name));
            refuse(StatusCode::CONFLICT, e)
        }
    }
}

async fn archive(State(app): App) -> Response {
    app.cfg.archive.clone().into_response()
}

async fn ready(State(app): App, Path(index): Path<usize>, bytes: Bytes) -> Response {
    let r: Ready = match body(&bytes) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    match app.state().ready(index, r) {
        true => StatusCode::NO_CONTENT.into_response(),
        false => unknown(index),
    }
}

/// Held until the start is set (then answered with the delay left from now) or the run is
/// called off; "not yet" (204) after [`LONG_POLL`].
async fn start(State(app): App, Path(index): Path<usize>) -> Response {
    hold(|| {
        let mut st = app.state();
        if st.slot(index).is_none() {
            return Some(unknown(index));
        }
        if let Some(why) = &st.abort {
            return Some(refuse(StatusCode::GONE, why.clone()));
        }
        let at = st.start_at?;
        let delay = at.saturating_duration_since(Instant::now());
        Some(
            Json(Start {
                delay_ms: delay.as_millis() as u64,
                setup_data: st.setup_data.clone(),
            })
            .into_response(),
        )
    })
    .await
}

async fn report(State(app): App, Path(index): Path<usize>, bytes: Bytes) -> Response {
    let r: Report = match body(&bytes) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let series = match brunt_output::decode_series(r.series, &app.registry) {
        Ok(s) => s,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("invalid report: {e}")),
    };
    let mut st = app.state();
    let elapsed = Duration::from_millis(r.elapsed_ms);
    if !st.report(index, elapsed, series, r.progress, r.end) {
        return unknown(index);
    }
    Json(ReportReply {
        abort: st.abort.clone(),
    })
    .into_response()
}

/// Held until every other instance has ended (200: run `teardown()` now), or "not yet" (204).
async fn teardown(State(app): App, Path(index): Path<usize>) -> Response {
    hold(|| {
        let done = app.state().others_done(index);
        done.then(|| StatusCode::OK.into_response())
    })
    .await
}

/// A held request: `answer` is asked every [`LONG_POLL_STEP`] until it answers, for at most
/// [`LONG_POLL`]; then "not yet" (204), and the instance asks again.
async fn hold(mut answer: impl FnMut() -> Option<Response>) -> Response {
    let until = Instant::now() + LONG_POLL;
    while Instant::now() < until {
        if let Some(r) = answer() {
            return r;
        }
        tokio::time::sleep(LONG_POLL_STEP).await;
    }
    StatusCode::NO_CONTENT.into_response()
}
