//! Request dispatch and the route handlers. The routes are httpbin's where
//! httpbin has one, so scripts written for httpbin run against the target.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, RETRY_AFTER, SET_COOKIE};
use http::request::Parts;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Incoming};
use url::form_urlencoded;

use crate::auth;
use crate::capacity::Capacity;
use crate::echo;
use crate::llm::{self, AnswerBody, Mock, MockLlm};
use crate::metrics::Counters;
use crate::orders::{Orders, ORDERS_KEPT, ORDER_BYTES_KEPT};
use crate::response::{self, Coding, Reply, BINARY, HTML, JSON, TEXT};
use crate::stall::Stall;
use crate::status;

/// Longest `/delay/{ms}` and `/stall?ms=` accepted: a minute.
const MAX_WAIT_MS: u64 = 60_000;
/// Largest `/bytes/{n}` answered.
const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Largest request body read; larger ones get 413.
const MAX_REQUEST_BODY: usize = 10 * 1024 * 1024;

const HELLO: &str = "hello world\n";
const SMALL_JSON: &str = r#"{"id":"abc","status":"ok","items":[1,2,3]}"#;
/// A page with the shapes `k6/html` scripts select on: title, meta, headings, a list with data
/// attributes, links, a form with each kind of field, and a table.
const PAGE: &str = include_str!("page.html");
const TOKEN: &str =
    r#"{"access_token":"brunt-test-token","token_type":"Bearer","expires_in":3600}"#;
const ORDER_ID_PREFIX: &str = "ord-";

/// What one server shares between its connections.
#[derive(Debug)]
pub(crate) struct State {
    stall: Stall,
    orders: Orders,
    counters: Counters,
    llm: Mock,
    /// `--capacity`: at most this many requests per second start, the rest queue.
    capacity: Option<Capacity>,
    /// The gRPC services (`grpc.rs`).
    grpc: brunt_grpc::server::Server,
    /// `/ws/chat`'s rooms.
    chat: Arc<crate::ws::Rooms>,
}

impl State {
    pub(crate) fn new(llm: MockLlm, capacity: Option<u32>) -> Self {
        State {
            capacity: capacity.map(Capacity::new),
            stall: Stall::new(),
            orders: Orders::new(ORDERS_KEPT, ORDER_BYTES_KEPT),
            counters: Counters::default(),
            llm: Mock::new(llm),
            grpc: crate::grpc::server(),
            chat: Arc::default(),
        }
    }
}

/// A request with its body read, as the handlers see it.
pub(crate) struct Received {
    pub(crate) parts: Parts,
    pub(crate) body: Bytes,
    pub(crate) peer: SocketAddr,
}

/// An HTTP answer, or a gRPC one.
pub(crate) type Answer = http_body_util::Either<AnswerBody, brunt_grpc::server::Body>;

/// Answers one request. Never fails: bad input becomes a 4xx with a JSON `error`, or a gRPC
/// status for gRPC requests.
pub(crate) async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
    peer: SocketAddr,
) -> Result<http::Response<Answer>, Infallible> {
    let _in_flight = state.counters.start();
    wait_out_stall(&state.stall).await;
    // /metrics stays out of the queue: a monitor scraping it must see the overload, not join it.
    if let Some(capacity) = state
        .capacity
        .as_ref()
        .filter(|_| req.uri().path() != "/metrics")
    {
        let wait = capacity.reserve(std::time::Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
    if crate::grpc::is_grpc(&req) {
        return Ok(state
            .grpc
            .handle(req)
            .await
            .map(http_body_util::Either::Right));
    }
    Ok(answer(req, &state, peer)
        .await
        .map(http_body_util::Either::Left))
}

/// The HTTP routes' answer.
async fn answer(
    req: Request<Incoming>,
    state: &State,
    peer: SocketAddr,
) -> http::Response<AnswerBody> {
    match req.uri().path() {
        "/ws/echo" => return crate::ws::echo(req).map(http_body_util::Either::Left),
        "/ws/chat" => {
            let rooms = state.chat.clone();
            return crate::ws::chat(req, rooms).map(http_body_util::Either::Left);
        }
        _ => {}
    }
    let (parts, body) = req.into_parts();
    let body = if body.is_end_stream() {
        Bytes::new()
    } else {
        match Limited::new(body, MAX_REQUEST_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return response::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body over {MAX_REQUEST_BODY} bytes"),
                )
                .map(http_body_util::Either::Left);
            }
            Err(e) => {
                return response::error(
                    StatusCode::BAD_REQUEST,
                    format!("reading the request body: {e}"),
                )
                .map(http_body_util::Either::Left);
            }
        }
    };
    let req = Received { parts, body, peer };
    if req.parts.uri.path().starts_with("/v1/") {
        if let Some(answer) = llm::handle(&req, &state.llm).await {
            return answer;
        }
    }
    route(&req, state).await.map(http_body_util::Either::Left)
}

async fn route(req: &Received, state: &State) -> Reply {
    let path = req.parts.uri.path();
    match path {
        "/" => response::with_body(StatusCode::OK, TEXT, HELLO),
        "/json" => response::with_body(StatusCode::OK, JSON, SMALL_JSON),
        "/html" => response::with_body(StatusCode::OK, HTML, PAGE),
        "/anything" => echo_anything(req).await,
        "/get" => match req.parts.method {
            Method::GET | Method::HEAD => response::json(StatusCode::OK, &echo::get(req)),
            _ => response::method_not_allowed("GET, HEAD"),
        },
        "/post" => echo_for(req, Method::POST, "POST").await,
        "/put" => echo_for(req, Method::PUT, "PUT").await,
        "/patch" => echo_for(req, Method::PATCH, "PATCH").await,
        "/delete" => echo_for(req, Method::DELETE, "DELETE").await,
        "/headers" => response::json(StatusCode::OK, &echo::headers(req)),
        "/ip" => response::json(StatusCode::OK, &echo::ip(req)),
        "/user-agent" => response::json(StatusCode::OK, &echo::user_agent(req)),
        "/response-headers" => response_headers(req),
        "/gzip" => response::compressed_json(&echo::compressed(req, "gzipped"), Coding::Gzip),
        "/deflate" => {
            response::compressed_json(&echo::compressed(req, "deflated"), Coding::Deflate)
        }
        "/bearer" => auth::bearer(req),
        "/cookies" => response::json(StatusCode::OK, &echo::cookies(req)),
        "/cookies/set" => set_cookies(req, false),
        "/cookies/delete" => set_cookies(req, true),
        "/redirect-to" => redirect_to(req),
        "/auth/token" => match req.parts.method {
            Method::GET | Method::HEAD | Method::POST => {
                response::with_body(StatusCode::OK, JSON, TOKEN)
            }
            _ => response::method_not_allowed("GET, POST"),
        },
        "/api/orders" => create_order(req, state),
        "/stall" => stall(req, state).await,
        "/metrics" => response::with_body(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            state.counters.render() + &state.llm.lateness(),
        ),
        _ => route_with_parameter(req, state, path).await,
    }
}

/// Routes that take arguments in the path.
async fn route_with_parameter(req: &Received, state: &State, path: &str) -> Reply {
    if path.starts_with("/anything/") {
        return echo_anything(req).await;
    }
    if let Some(credentials) = path.strip_prefix("/basic-auth/") {
        return match credentials.split_once('/') {
            Some((user, password)) if !password.contains('/') => auth::basic(req, user, password),
            _ => not_found(path),
        };
    }
    if let Some(rest) = path.strip_prefix("/digest-auth/") {
        return match rest.split('/').collect::<Vec<_>>()[..] {
            [qop @ ("auth" | "auth-int"), user, password] => auth::digest(req, qop, user, password),
            _ => not_found(path),
        };
    }
    let Some((prefix, arg)) = path.rsplit_once('/') else {
        return not_found(path);
    };
    let outcome = match prefix {
        "/status" => status(arg),
        "/delay" => parse(arg, "/delay/{ms}", "a whole number of milliseconds").and_then(delay),
        "/cpu" => parse(arg, "/cpu/{ms}", "a whole number of milliseconds").and_then(cpu),
        "/bytes" => parse(arg, "/bytes/{n}", "a whole number of bytes").and_then(bytes),
        "/redirect" => {
            parse(arg, "/redirect/{n}", "a whole number of redirects").and_then(redirect)
        }
        "/api/orders" => Ok(get_order(req, state, arg)),
        _ => return not_found(path),
    };
    match outcome {
        Ok(pending) => pending.finish().await,
        Err(bad_input) => response::error(StatusCode::BAD_REQUEST, bad_input),
    }
}

/// A handler's answer, some after a wait.
enum Pending {
    Now(Reply),
    After(Duration, Reply),
}

impl Pending {
    async fn finish(self) -> Reply {
        match self {
            Pending::Now(reply) => reply,
            Pending::After(wait, reply) => {
                tokio::time::sleep(wait).await;
                reply
            }
        }
    }
}

/// Parses a path argument, or explains what `route` expects.
fn parse<T: FromStr>(arg: &str, route: &str, expected: &str) -> Result<T, String> {
    arg.parse()
        .map_err(|_| format!("{route}: {arg:?} is not {expected}"))
}

fn too_large(route: &str, max: impl std::fmt::Display) -> String {
    format!("{route}: at most {max} is allowed")
}

fn not_found(path: &str) -> Reply {
    response::error(StatusCode::NOT_FOUND, format!("no route for {path}"))
}

async fn echo_anything(req: &Received) -> Reply {
    match echo::anything(req).await {
        Ok(doc) => response::json(StatusCode::OK, &doc),
        Err(bad_body) => response::error(StatusCode::BAD_REQUEST, bad_body),
    }
}

/// httpbin's `/post`, `/put`, ...: the echo, for one method only.
async fn echo_for(req: &Received, method: Method, allow: &'static str) -> Reply {
    if req.parts.method == method {
        echo_anything(req).await
    } else {
        response::method_not_allowed(allow)
    }
}

fn status(arg: &str) -> Result<Pending, String> {
    let status = status::pick(arg)?;
    let mut reply = response::empty(status);
    if status == StatusCode::TOO_MANY_REQUESTS {
        reply
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Ok(Pending::Now(reply))
}

fn delay(ms: u64) -> Result<Pending, String> {
    if ms > MAX_WAIT_MS {
        return Err(too_large("/delay/{ms}", format_args!("{MAX_WAIT_MS} ms")));
    }
    let reply = response::json(StatusCode::OK, &serde_json::json!({ "delay_ms": ms }));
    Ok(Pending::After(Duration::from_millis(ms), reply))
}

/// Longest `/cpu/{ms}` accepted: a second of one core per request.
const MAX_CPU_MS: u64 = 1000;

/// `/cpu/{ms}`: computes for `ms` milliseconds on the serving thread before answering, so the
/// target's throughput is bounded by its cores (a CPU-bound endpoint for `brunt capacity`).
fn cpu(ms: u64) -> Result<Pending, String> {
    if ms > MAX_CPU_MS {
        return Err(too_large("/cpu/{ms}", format_args!("{MAX_CPU_MS} ms")));
    }
    let until = std::time::Instant::now() + Duration::from_millis(ms);
    let mut x: u64 = 1;
    while std::time::Instant::now() < until {
        // Work the optimiser cannot drop, between clock reads.
        for _ in 0..1000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    Ok(Pending::Now(response::json(
        StatusCode::OK,
        &serde_json::json!({ "cpu_ms": ms }),
    )))
}

fn bytes(n: usize) -> Result<Pending, String> {
    if n > MAX_BYTES {
        return Err(too_large("/bytes/{n}", format_args!("{MAX_BYTES} bytes")));
    }
    let body = random_bytes().slice(..n);
    Ok(Pending::Now(response::with_body(
        StatusCode::OK,
        BINARY,
        body,
    )))
}

/// `MAX_BYTES` of fixed pseudo-random data, made once, sliced without copying.
fn random_bytes() -> &'static Bytes {
    static DATA: OnceLock<Bytes> = OnceLock::new();
    DATA.get_or_init(|| {
        // xorshift64: incompressible enough that proxies cannot shrink it.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let data: Vec<u8> = (0..MAX_BYTES)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        Bytes::from(data)
    })
}

fn redirect(n: u32) -> Result<Pending, String> {
    let location = match n {
        0 => return Err("/redirect/{n}: n must be at least 1".to_owned()),
        1 => "/get".to_owned(),
        n => format!("/redirect/{}", n - 1),
    };
    Ok(Pending::Now(response::redirect(
        StatusCode::FOUND,
        &location,
    )))
}

/// `/redirect-to?url=U&status_code=C`: a redirect to any URL, 302 unless told.
fn redirect_to(req: &Received) -> Reply {
    let mut url = None;
    let mut code = "302".to_owned();
    for (name, value) in query_pairs(req) {
        match name.as_ref() {
            "url" => url = Some(value.into_owned()),
            "status_code" => code = value.into_owned(),
            _ => {}
        }
    }
    let Some(url) = url else {
        return response::error(
            StatusCode::BAD_REQUEST,
            "/redirect-to: the url parameter is required",
        );
    };
    match code
        .parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
    {
        Some(status) if status.is_redirection() => response::redirect(status, &url),
        _ => response::error(
            StatusCode::BAD_REQUEST,
            format!("/redirect-to: status_code {code:?} is not a 3xx code"),
        ),
    }
}

/// `/cookies/set?k=v` sets each cookie, `/cookies/delete?k` expires each named
/// one; both then redirect to `/cookies`, as httpbin does.
fn set_cookies(req: &Received, delete: bool) -> Reply {
    let mut reply = response::redirect(StatusCode::FOUND, "/cookies");
    for (name, value) in query_pairs(req) {
        let cookie = if delete {
            format!("{name}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/")
        } else {
            format!("{name}={value}; Path=/")
        };
        match HeaderValue::from_str(&cookie) {
            Ok(header) => reply.headers_mut().append(SET_COOKIE, header),
            Err(_) => {
                return response::error(
                    StatusCode::BAD_REQUEST,
                    format!("cookie {name:?} cannot be sent in a header"),
                )
            }
        };
    }
    reply
}

/// `/response-headers?k=v`: answers with each pair as a response header, and
/// the pairs as JSON.
fn response_headers(req: &Received) -> Reply {
    let mut reply = response::json(StatusCode::OK, &echo::multi_map(query_pairs(req)).into());
    let mut overridden = Vec::new();
    for (name, value) in query_pairs(req) {
        let header = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        );
        let (Ok(name), Ok(value)) = header else {
            return response::error(
                StatusCode::BAD_REQUEST,
                format!("/response-headers: {name:?}: {value:?} is not a valid header"),
            );
        };
        // The first value of a name replaces the target's own (Content-Type
        // can be overridden); later ones add to it.
        if overridden.contains(&name) {
            reply.headers_mut().append(name, value);
        } else {
            reply.headers_mut().insert(name.clone(), value);
            overridden.push(name);
        }
    }
    reply
}

fn query_pairs(req: &Received) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(req.parts.uri.query().unwrap_or("").as_bytes())
}

/// `POST /api/orders`: stores the JSON body and answers 201 with its new id.
fn create_order(req: &Received, state: &State) -> Reply {
    if req.parts.method != Method::POST {
        return response::method_not_allowed("POST");
    }
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&req.body) {
        return response::error(
            StatusCode::BAD_REQUEST,
            format!("/api/orders: the body is not JSON: {e}"),
        );
    }
    // The body is valid JSON, so it can be embedded as it came.
    let body = String::from_utf8_lossy(&req.body);
    let doc = state.orders.insert(|id| {
        Bytes::from(format!(
            r#"{{"id":"{ORDER_ID_PREFIX}{id}","status":"created","order":{body}}}"#
        ))
    });
    response::with_body(StatusCode::CREATED, JSON, doc)
}

/// `GET /api/orders/{id}`: a stored order, or 404.
fn get_order(req: &Received, state: &State, id: &str) -> Pending {
    if !matches!(req.parts.method, Method::GET | Method::HEAD) {
        return Pending::Now(response::method_not_allowed("GET, HEAD"));
    }
    let doc = id
        .strip_prefix(ORDER_ID_PREFIX)
        .and_then(|n| n.parse().ok())
        .and_then(|n| state.orders.get(n));
    Pending::Now(match doc {
        Some(doc) => response::with_body(StatusCode::OK, JSON, doc),
        None => response::error(StatusCode::NOT_FOUND, format!("no order {id:?}")),
    })
}

/// `/stall?ms=N`: every request to this server waits until N ms from now,
/// this one included.
async fn stall(req: &Received, state: &State) -> Reply {
    let ms = query_pairs(req)
        .find(|(name, _)| name == "ms")
        .map(|(_, v)| v);
    let Some(ms) = ms else {
        return response::error(
            StatusCode::BAD_REQUEST,
            "/stall: the ms parameter is required, e.g. /stall?ms=1000",
        );
    };
    let bad_input = match parse::<u64>(&ms, "/stall?ms=N", "a whole number of milliseconds") {
        Ok(ms) if ms <= MAX_WAIT_MS => {
            state.stall.begin(Duration::from_millis(ms));
            wait_out_stall(&state.stall).await;
            return response::json(StatusCode::OK, &serde_json::json!({ "stalled_ms": ms }));
        }
        Ok(_) => too_large("/stall?ms=N", format_args!("{MAX_WAIT_MS} ms")),
        Err(bad_input) => bad_input,
    };
    response::error(StatusCode::BAD_REQUEST, bad_input)
}

async fn wait_out_stall(stall: &Stall) {
    if let Some(end) = stall.active_until() {
        tokio::time::sleep_until(end.into()).await;
    }
}
