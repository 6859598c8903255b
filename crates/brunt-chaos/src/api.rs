//! The Toxiproxy 2.x REST API on axum: same paths, methods, status codes and bodies.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::collection::Collection;
use crate::error::ApiError;
use crate::request_id;

type Shared = State<Arc<Collection>>;

/// Largest request body read (a `populate` of thousands of proxies fits).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

pub(crate) fn router(collection: Arc<Collection>) -> Router {
    Router::new()
        .route("/reset", post(reset))
        .route("/proxies", get(list).post(create))
        .route("/populate", post(populate))
        .route(
            "/proxies/{proxy}",
            get(show).post(update).patch(update).delete(delete),
        )
        .route("/proxies/{proxy}/toxics", get(toxics).post(add_toxic))
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(show_toxic)
                .post(update_toxic)
                .patch(update_toxic)
                .delete(remove_toxic),
        )
        .route("/version", get(version))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(stop_browsers))
        .layer(middleware::from_fn(tag_request))
        .with_state(collection)
}

impl IntoResponse for ApiError {
    /// Toxiproxy sends errors through Go's `http.Error`: plain-text headers, JSON body, newline.
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = format!(
            "{}\n",
            serde_json::to_string(&self).expect("error serializes")
        );
        (
            status,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response()
    }
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn ok(result: Result<String, ApiError>) -> Response {
    match result {
        Ok(body) => json(StatusCode::OK, body),
        Err(e) => e.into_response(),
    }
}

fn no_content(result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// A request body; one that cannot be read (too large, cut off) is refused in
/// the API's JSON error shape rather than axum's plain text.
struct Body(Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map(Body)
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                    format!("request body is larger than {BODY_LIMIT} bytes"),
                    413,
                ),
                status => ApiError::new(
                    format!("bad request body: {}", e.body_text()),
                    status.as_u16(),
                ),
            })
    }
}

/// Every response carries a fresh `X-Toxiproxy-Request-Id`, as Toxiproxy's do.
async fn tag_request(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Ok(id) = HeaderValue::from_str(&request_id::next()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(request_id::HEADER), id);
    }
    response
}

/// Toxiproxy refuses browsers so a web page cannot drive the API (CSRF).
async fn stop_browsers(request: Request, next: Next) -> Response {
    let browser = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("Mozilla/"));
    if browser {
        let mut r = (StatusCode::FORBIDDEN, "User agent not allowed\n").into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return r;
    }
    next.run(request).await
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
}

async fn reset(State(c): Shared) -> Response {
    no_content(c.reset().await)
}

async fn list(State(c): Shared) -> Response {
    json(StatusCode::OK, c.list().await)
}

async fn create(State(c): Shared, Body(body): Body) -> Response {
    match c.create(&body).await {
        Ok(body) => json(StatusCode::CREATED, body),
        Err(e) => e.into_response(),
    }
}

async fn populate(State(c): Shared, Body(body): Body) -> Response {
    let (status, body) = c.populate(&body).await;
    json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
}

async fn show(State(c): Shared, Path(proxy): Path<String>) -> Response {
    ok(c.show(&proxy).await)
}

async fn update(State(c): Shared, Path(proxy): Path<String>, Body(body): Body) -> Response {
    ok(c.update(&proxy, &body).await)
}

async fn delete(State(c): Shared, Path(proxy): Path<String>) -> Response {
    no_content(c.delete(&proxy).await)
}

async fn toxics(State(c): Shared, Path(proxy): Path<String>) -> Response {
    ok(c.toxics(&proxy).await)
}

async fn add_toxic(State(c): Shared, Path(proxy): Path<String>, Body(body): Body) -> Response {
    ok(c.add_toxic(&proxy, &body).await)
}

async fn show_toxic(State(c): Shared, Path((proxy, toxic)): Path<(String, String)>) -> Response {
    ok(c.show_toxic(&proxy, &toxic).await)
}

async fn update_toxic(
    State(c): Shared,
    Path((proxy, toxic)): Path<(String, String)>,
    Body(body): Body,
) -> Response {
    ok(c.update_toxic(&proxy, &toxic, &body).await)
}

async fn remove_toxic(State(c): Shared, Path((proxy, toxic)): Path<(String, String)>) -> Response {
    no_content(c.remove_toxic(&proxy, &toxic).await)
}

async fn version() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        format!("{{\"version\": \"{}\"}}\n", crate::VERSION),
    )
        .into_response()
}

async fn metrics(State(c): Shared) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        c.metrics().await,
    )
        .into_response()
}
