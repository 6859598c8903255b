//! `k6/http`: sends requests on the VU's coroutine, follows redirects (each hop is a sample, as
//! in k6), keeps the VU's cookies, records k6's `http_*` metrics and builds Response objects.
//!
//! - `module.rs`: the module scripts import, native; requests with a string URL, a string body
//!   or none, and params with only `headers` and `tags` go straight to [`State::send`].
//! - `cache.rs`: the requests a VU sent before, by what they were built from.
//! - `js/http.js`: the JavaScript layer for everything with params or a body, loaded on first
//!   use; it describes a request positionally for [`prepare`] (see `describe` there).
//! - `response.rs`, `jar.rs`: Response and CookieJar objects, with per-runtime prototypes.
//! - `cookies.rs`: cookie parsing and matching.
//! - `json_path.rs`: `res.json(selector)` walked over the body's bytes.

/// Makes `$ty`, a Rust type holding no JavaScript values, a QuickJS class named `$name`
/// whose instances get their prototype when made (`Class::instance_proto`) or none.
macro_rules! native_data_class {
    ($ty:ty, $name:literal) => {
        // SAFETY: the type holds no JavaScript values, so it is the same type for every lifetime.
        unsafe impl<'js> rquickjs::JsLifetime<'js> for $ty {
            type Changed<'to> = $ty;
        }

        impl<'js> rquickjs::class::Trace<'js> for $ty {
            fn trace<'a>(&self, _: rquickjs::class::Tracer<'a, 'js>) {}
        }

        impl<'js> rquickjs::class::JsClass<'js> for $ty {
            const NAME: &'static str = $name;
            type Mutable = rquickjs::class::Readable;

            fn prototype(
                _ctx: &rquickjs::Ctx<'js>,
            ) -> rquickjs::Result<Option<rquickjs::Object<'js>>> {
                Ok(None)
            }

            fn constructor(
                _ctx: &rquickjs::Ctx<'js>,
            ) -> rquickjs::Result<Option<rquickjs::function::Constructor<'js>>> {
                Ok(None)
            }
        }
    };
}

mod cache;
mod cookies;
mod failed;
mod jar;
mod json_path;
mod module;
mod params;
mod response;

pub(crate) use module::{install_state, HttpModule, LAYER};
pub(crate) use response::{install_shared, release_vu};

use self::module::layer;
use super::{bytes_of, cancelled, def, throw, Utf8};
use crate::host::{Host, Phase};
use crate::vu::{IoReply, IoRequest};
use base64::Engine;
use brunt_engine::log;
use brunt_http::retry::{Attempts, RetryMetrics, RetryPolicy};
use brunt_http::{ExpectedStatuses, Request, Response};
use cache::{Key, RequestCache, ScriptTags};
use cookies::{parse_set_cookie, Jar};
use jar::Jars;
use percent_encoding::percent_decode_str;
use response::{response_object, BodyType};
use rquickjs::{qjs, Array, Ctx, Object, Result, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// What a VU asks its I/O driver to do with HTTP (the one element of an [`IoRequest::Http`]).
pub(crate) enum PendingRequest {
    /// `http.batch`: send these (one hop each) with at most `limit` in flight, and at most
    /// `per_host` to one host (k6's `batch` and `batchPerHost`; 0 is no limit).
    Batch {
        reqs: Vec<Rc<Request>>,
        limit: usize,
        per_host: usize,
    },
    /// `http.asyncRequest`: start these hops and return at once; they progress while the VU
    /// waits for anything, and finish into the driver's completed list.
    Start(Vec<(u64, Rc<Request>)>),
    /// Wait until at least one started request has finished, a `k6/websockets` socket has an
    /// event for the script or the instant (the VU's next timer) comes; take every finished one.
    Collect(Option<std::time::Instant>),
}

/// The answer to a [`PendingRequest`].
pub(crate) enum Completed {
    Batch(Vec<Response>),
    Started,
    /// Finished async hops: (id, the request sent, its response).
    Collected(Vec<(u64, Rc<Request>, Response)>),
}

/// A request as the script described it, plus what k6 does around it.
struct Prepared {
    /// The next request to send (taken while it is in flight).
    req: Option<Rc<Request>>,
    /// The script's tags (none: the base tags alone).
    tags: Rc<ScriptTags>,
    body_type: BodyType,
    /// Statuses counted as expected; None when the response callback is null.
    expected: Option<Rc<ExpectedStatuses>>,
    jar: usize,
    cookies: Vec<(String, String, bool)>,
    redirects_left: u32,
    /// `auth: 'digest'`: the URL's user and password, for answering the server's challenge
    /// (taken by the first response).
    digest: Option<(String, String)>,
    /// brunt's `retry` param: failed requests are sent again by its policy.
    retry: Option<Retrying>,
}

/// What sending a request again needs: the policy, the request as first sent, and its redirects.
struct Retrying {
    policy: Arc<RetryPolicy>,
    metrics: RetryMetrics,
    request: Rc<Request>,
    redirects: u32,
}

/// Whether the runtime has promise jobs queued (other than the one running).
pub(crate) fn jobs_pending(ctx: &Ctx<'_>) -> bool {
    // SAFETY: the context is live; JS_IsJobPending only reads the runtime's job list.
    unsafe { qjs::JS_IsJobPending(qjs::JS_GetRuntime(ctx.as_raw().as_ptr())) }
}

/// `[k, v, k, v, ...]` from the JS layer (or null) as pairs.
fn pairs(v: Option<Vec<String>>) -> Vec<(String, String)> {
    let mut it = v.unwrap_or_default().into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

fn parse_method(ctx: &Ctx<'_>, method: &[u8]) -> Result<http::Method> {
    http::Method::from_bytes(method).map_err(|_| {
        throw(
            ctx,
            &format!("invalid HTTP method '{}'", String::from_utf8_lossy(method)),
        )
    })
}

/// The body type a request without `responseType` gets.
fn default_body_type(host: &Host) -> BodyType {
    if host.shared.discard_bodies.load(Ordering::Relaxed) {
        BodyType::None
    } else {
        BodyType::Text
    }
}

/// The request for `url`; one whose URL cannot be used fails when sent, so that the script gets a
/// response with k6's error code (1000, 1020) instead of an exception, as in k6.
fn request(method: http::Method, url: &str) -> Request {
    Request::new(method.clone(), url).unwrap_or_else(|e| Request::failing(method, url, e))
}

/// A request with the script's headers and body. A URL with a user or password gets Basic
/// authentication, over an `Authorization` header the script gave (as in k6).
fn new_request(
    ctx: &Ctx<'_>,
    method: http::Method,
    url: &str,
    headers: &[(String, String)],
    body: Option<Vec<u8>>,
) -> Result<Request> {
    let mut req = request(method, url);
    for (k, v) in headers {
        req.set_header(k, v).map_err(|e| throw(ctx, &e.message))?;
    }
    let user = req.url().username().to_string();
    if !user.is_empty() || req.url().password().is_some() {
        let pass = req.url().password().unwrap_or("");
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        req.set_header("Authorization", &format!("Basic {creds}"))
            .map_err(|e| throw(ctx, &e.message))?;
    }
    if let Some(body) = body {
        req.set_body(body);
    }
    Ok(req)
}

/// Reads the positional description `js/http.js` builds (see `describe` there).
fn prepare<'js>(ctx: &Ctx<'js>, state: &State, d: Array<'js>) -> Result<Prepared> {
    let host = &state.host;
    let method: String = d.get(0)?;
    let url: String = d.get(1)?;
    let method = parse_method(ctx, method.as_bytes())?;
    let auth: Option<String> = d.get(11)?;
    let (url, digest) = match auth.as_deref() {
        None | Some("basic") => (url, None),
        // As k6: the credentials answer the server's challenge and leave the URL.
        Some("digest") => without_credentials(&url),
        Some(other) => {
            return Err(throw(
                ctx,
                &format!("unsupported authentication method '{other}': use 'basic' or 'digest'"),
            ))
        }
    };
    let body: Value = d.get(3)?;
    let body = if body.is_null() || body.is_undefined() {
        None
    } else {
        Some(bytes_of(ctx, &body)?)
    };
    let mut req = new_request(ctx, method, &url, &pairs(d.get(2)?), body)?;
    let timeout: Option<f64> = d.get(5)?;
    if let Some(ms) = timeout.filter(|m| m.is_finite() && *m >= 0.0) {
        req.timeout = Some(Duration::from_secs_f64(ms / 1000.0));
    }
    req.max_redirects = Some(0);
    let redirects: Option<u32> = d.get(6)?;
    let body_type = match d.get::<Option<String>>(7)?.as_deref() {
        Some("binary") => BodyType::Binary,
        Some("none") => BodyType::None,
        Some("text") => BodyType::Text,
        None => default_body_type(host),
        Some(other) => {
            return Err(throw(
                ctx,
                &format!("unknown responseType '{other}': use 'text', 'binary' or 'none'"),
            ))
        }
    };
    req.discard_body = body_type == BodyType::None;
    // The params' responseCallback: undefined for the VU's default, null, or its ranges.
    let expected_v: Value = d.get(8)?;
    let expected = if expected_v.is_undefined() {
        state.expected.borrow().clone()
    } else if expected_v.is_null() {
        None
    } else {
        Some(Rc::new(expected_statuses(expected_v.get()?)))
    };
    let jar_v: Value = d.get(9)?;
    let jar = if jar_v.is_undefined() || jar_v.is_null() {
        0
    } else {
        jar::jar_id(ctx, &state.jars, &jar_v)?
    };
    let redirects_left = redirects.unwrap_or(host.shared.max_redirects.load(Ordering::Relaxed));
    let req = Rc::new(req);
    let retry = match d.get::<Option<String>>(12)? {
        None => None,
        Some(json) => {
            let (policy, metrics) = host
                .shared
                .retry_policy(&json)
                .map_err(|e| throw(ctx, &e))?;
            Some(Retrying {
                policy,
                metrics,
                request: req.clone(),
                redirects: redirects_left,
            })
        }
    };
    let mut cookies = Vec::new();
    if let Some(list) = d.get::<Option<Array>>(10)? {
        let mut i = 0;
        while i + 3 <= list.len() {
            cookies.push((list.get(i)?, list.get(i + 1)?, list.get(i + 2)?));
            i += 3;
        }
    }
    Ok(Prepared {
        req: Some(req),
        tags: Rc::new(ScriptTags::new(pairs(d.get(4)?))),
        body_type,
        expected,
        jar,
        cookies,
        redirects_left,
        digest,
        retry,
    })
}

/// `url` without its user and password, and those (percent-decoded), when it has them.
fn without_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return (url.to_string(), None);
    };
    if parsed.username().is_empty() && parsed.password().is_none() {
        return (url.to_string(), None);
    }
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let creds = (
        decode(parsed.username()),
        decode(parsed.password().unwrap_or("")),
    );
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    (parsed.into(), Some(creds))
}

/// The request again with the answer to the server's Digest challenge (RFC 7616), when `resp` is
/// the first response to a request with `auth: 'digest'` and challenges it.
fn digest_answer(p: &mut Prepared, req: &Request, resp: &Response) -> Option<Request> {
    let (user, password) = p.digest.take()?;
    if resp.status != 401 {
        return None;
    }
    let challenge = resp
        .headers()
        .get(http::header::WWW_AUTHENTICATE)?
        .to_str()
        .ok()?;
    let mut prompt = digest_auth::parse(challenge).ok()?;
    let uri = &req.url()[url::Position::BeforePath..url::Position::AfterQuery];
    let context = digest_auth::AuthContext::new_with_method(
        user,
        password,
        uri,
        Some(req.body().as_ref()),
        digest_auth::HttpMethod::from(req.method().as_str()),
    );
    let answer = prompt.respond(&context).ok()?;
    let mut next = req.clone();
    next.set_header("Authorization", &answer.to_header_string())
        .ok()?;
    Some(next)
}

/// The request to send now, with the jar's and the script's cookies.
fn with_cookies(req: Rc<Request>, p: &Prepared, jars: &Jars) -> Rc<Request> {
    let jars = jars.borrow();
    let jar = jars.get(p.jar).filter(|j| !j.is_empty());
    if jar.is_none() && p.cookies.is_empty() {
        return req;
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(jar) = jar {
        for c in jar.matching(req.url()) {
            if !p
                .cookies
                .iter()
                .any(|(n, _, replace)| *replace && *n == c.name)
            {
                pairs.push((c.name.clone(), c.value.clone()));
            }
        }
    }
    for (n, v, _) in &p.cookies {
        pairs.push((n.clone(), v.clone()));
    }
    if pairs.is_empty() {
        return req;
    }
    let header: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let mut req = Rc::unwrap_or_clone(req);
    let _ = req.set_header("Cookie", &header.join("; "));
    Rc::new(req)
}

/// Emits k6's per-request samples (one per redirect hop) through brunt-http's recorder.
fn record(host: &Host, p: &Prepared, resp: &Response) {
    record_as(host, p, resp, p.expected.as_deref());
}

/// [`record`] with `expected` statuses of its own.
fn record_as(host: &Host, p: &Prepared, resp: &Response, expected: Option<&ExpectedStatuses>) {
    if resp.error_code == brunt_http::ErrorCode::INVALID_URL {
        // k6 records nothing for a URL it could not parse.
        return;
    }
    let tags = sample_tags(host, p);
    let lag = host.iter.borrow().scheduled_lag;
    let mut metrics = host.metrics.borrow_mut();
    // The worker's VUs share its aggregator: the script's trace is set for this response only.
    let outer = host
        .metadata_trace
        .get()
        .map(|t| metrics.set_trace(Some(t)));
    crate::host::with_recorder(|r| {
        r.set_system_tags(host.shared.system_tags());
        r.record(&mut metrics, resp, &tags, expected, lag)
    });
    if let Some(outer) = outer {
        metrics.set_trace(outer);
    }
}

/// The tags of a request's samples: the VU's (scenario, group, ...) and the script's.
fn sample_tags(host: &Host, p: &Prepared) -> brunt_metrics::TagSet {
    p.tags.on(host.base_tags())
}

/// `--http-debug`: the request as it goes out over HTTP/1.1 (its request line, `Host`,
/// `User-Agent` and `Content-Length` included) and the response with its status text, with the
/// bodies for `full`: two info lines with `source=http-debug`, as k6 logs them (so
/// `--log-output` and `--log-format` apply).
#[cold]
#[inline(never)]
fn debug_log(host: &Host, level: u8, req: &Request, resp: &Response) {
    let mut out = String::from("Request:\n");
    match host.shared.user_agent.get() {
        Some(ua) => {
            let head = req.h1_head(ua);
            let head = String::from_utf8_lossy(&head);
            let mut lines = head.trim_end().split("\r\n");
            out.push_str(lines.next().unwrap_or_default());
            out.push('\n');
            for line in lines {
                let (name, value) = line.split_once(": ").unwrap_or((line, ""));
                out.push_str(&format!("{}: {value}\n", response::canonical_header(name)));
            }
        }
        None => out.push_str(&format!("{} {} HTTP/1.1\n", req.method(), req.url())),
    }
    if level > 1 && !req.body().is_empty() {
        out.push_str(&format!("\n{}\n", String::from_utf8_lossy(req.body())));
    }
    let fields = [("source", "http-debug")];
    log::log(log::Level::Info, &out, &fields);
    let reason = http::StatusCode::from_u16(resp.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut out = format!(
        "Response:\n{} {} {reason}\n",
        resp.proto.as_str(),
        resp.status
    );
    for (k, v) in resp.headers() {
        out.push_str(&format!(
            "{}: {}\n",
            response::canonical_header(k.as_str()),
            v.to_str().unwrap_or("")
        ));
    }
    if level > 1 && !resp.body.is_empty() {
        out.push_str(&format!("\n{}\n", String::from_utf8_lossy(&resp.body)));
    }
    log::log(log::Level::Info, &out, &fields);
}

/// What k6 does with one hop's response: its samples, the debug log, the cookies it sets.
/// Returns the next hop when the response redirects and the request may follow it.
///
/// Runs on the VU's stack for every response, so the rare cases (a digest challenge, the debug
/// log, cookies to store, a redirect) are functions of their own: inlined, their temporaries (a
/// `Request` is 600 bytes) would deepen the stack every VU touches on every request.
fn after_hop(
    host: &Host,
    jars: &Jars,
    p: &mut Prepared,
    req: &Request,
    resp: &Response,
) -> Option<Rc<Request>> {
    if p.digest.is_some() {
        if let Some(next) = digest_hop(host, p, req, resp) {
            return Some(next);
        }
    }
    record(host, p, resp);
    if !host.shared.throw.load(Ordering::Relaxed) {
        failed::warn(resp);
    }
    let level = host.shared.http_debug.load(Ordering::Relaxed);
    if level > 0 {
        debug_log(host, level, req, resp);
    }
    if resp.has_set_cookie() {
        store_cookies(jars, p, req, resp);
    }
    if !matches!(resp.status, 301 | 302 | 303 | 307 | 308) || p.redirects_left == 0 {
        return None;
    }
    redirect_hop(p, req, resp)
}

/// The answer to a digest challenge, recorded as k6 does: a request whose 401 was expected.
#[inline(never)]
fn digest_hop(
    host: &Host,
    p: &mut Prepared,
    req: &Request,
    resp: &Response,
) -> Option<Rc<Request>> {
    let next = digest_answer(p, req, resp)?;
    let challenged = ExpectedStatuses::new([401..=401]);
    record_as(host, p, resp, p.expected.as_ref().map(|_| &challenged));
    Some(Rc::new(next))
}

/// Keeps the cookies a response sets in the request's jar.
#[inline(never)]
fn store_cookies(jars: &Jars, p: &Prepared, req: &Request, resp: &Response) {
    if let Some(jar) = jars.borrow_mut().get_mut(p.jar) {
        for v in resp.headers().get_all(http::header::SET_COOKIE) {
            if let Some(c) = v.to_str().ok().and_then(|s| parse_set_cookie(req.url(), s)) {
                jar.store(c);
            }
        }
    }
}

/// The hop a redirect leads to, when its `Location` can be followed.
#[inline(never)]
fn redirect_hop(p: &mut Prepared, req: &Request, resp: &Response) -> Option<Rc<Request>> {
    let loc = resp
        .headers()
        .get(http::header::LOCATION)
        .and_then(|l| l.to_str().ok())?;
    let next = follow(req, resp.status, loc)?;
    p.redirects_left -= 1;
    Some(Rc::new(next))
}

fn check_phase(ctx: &Ctx<'_>, host: &Host) -> Result<()> {
    if host.phase.get() == Phase::Init {
        return Err(throw(
            ctx,
            "making HTTP requests in the init context is not supported (move it into default() or setup())",
        ));
    }
    Ok(())
}

/// k6's `throw` option: a request that got no response throws its error (`Get "URL": ...`)
/// instead of returning a response with `error` set.
fn throw_if_failed(ctx: &Ctx<'_>, host: &Host, resp: &Response) -> Result<()> {
    match &resp.error {
        Some(e) if host.shared.throw.load(Ordering::Relaxed) => {
            Err(throw(ctx, &failed::go_error(resp, e)))
        }
        _ => Ok(()),
    }
}

/// Sends one prepared request, following redirects, and with a `retry` param sends it again
/// while its policy says so; returns the last request and its response.
fn execute_one(
    ctx: &Ctx<'_>,
    host: &Host,
    jars: &Jars,
    p: &mut Prepared,
) -> Result<(Rc<Request>, Box<Response>)> {
    check_phase(ctx, host)?;
    let Some(retry) = p.retry.take() else {
        let (req, resp) = send_hops(ctx, host, jars, p)?;
        throw_if_failed(ctx, host, &resp)?;
        return Ok((req, resp));
    };
    execute_retrying(ctx, host, jars, p, retry)
}

/// [`execute_one`] for a request with a `retry` param; apart, so that a plain request's frame on
/// the VU's stack stays small.
#[inline(never)]
fn execute_retrying(
    ctx: &Ctx<'_>,
    host: &Host,
    jars: &Jars,
    p: &mut Prepared,
    retry: Retrying,
) -> Result<(Rc<Request>, Box<Response>)> {
    let mut attempts = Attempts::start(&retry.policy);
    loop {
        let (req, resp) = send_hops(ctx, host, jars, p)?;
        match attempts.after(resp.status) {
            Some(wait) => {
                if !wait.is_zero()
                    && !matches!(host.wait(IoRequest::Sleep(wait)), Ok(IoReply::Slept))
                {
                    return Err(cancelled(ctx));
                }
                p.req = Some(retry.request.clone());
                p.redirects_left = retry.redirects;
            }
            None => {
                let tags = sample_tags(host, p);
                attempts.record(retry.metrics, &mut host.metrics.borrow_mut(), &tags);
                throw_if_failed(ctx, host, &resp)?;
                return Ok((req, resp));
            }
        }
    }
}

/// Sends one prepared request, following redirects; returns the last request and its response.
fn send_hops(
    ctx: &Ctx<'_>,
    host: &Host,
    jars: &Jars,
    p: &mut Prepared,
) -> Result<(Rc<Request>, Box<Response>)> {
    loop {
        let req = with_cookies(p.req.take().expect("a request to send"), p, jars);
        let resp = match host.wait(IoRequest::Send(req.clone())) {
            Ok(IoReply::Sent(resp)) => resp,
            // Any other reply answers a cancelled wait.
            _ => return Err(cancelled(ctx)),
        };
        match after_hop(host, jars, p, &req, &resp) {
            Some(next) => p.req = Some(next),
            None => return Ok((req, resp)),
        }
    }
}

/// `http.batch`'s `batch` and `batchPerHost` options (k6's defaults 20 and 6), read once per VU.
fn batch_limits(host: &Host, cache: &Cell<Option<(usize, usize)>>) -> (usize, usize) {
    if let Some(l) = cache.get() {
        return l;
    }
    let v: serde_json::Value =
        serde_json::from_str(&host.shared.options_json()).unwrap_or_default();
    let get = |k: &str, d: usize| v.get(k).and_then(|n| n.as_u64()).map_or(d, |n| n as usize);
    let l = (get("batch", 20), get("batchPerHost", 6));
    cache.set(Some(l));
    l
}

/// Sends every prepared request as `http.batch` does (first hops together, within the limits),
/// following redirects; returns the last sent request and final response of each.
fn execute_batch(
    ctx: &Ctx<'_>,
    host: &Host,
    jars: &Jars,
    items: &mut [Prepared],
    (limit, per_host): (usize, usize),
) -> Result<Vec<(Rc<Request>, Response)>> {
    check_phase(ctx, host)?;
    let mut done: Vec<Option<(Rc<Request>, Response)>> = items.iter().map(|_| None).collect();
    let mut active: Vec<usize> = (0..items.len()).collect();
    while !active.is_empty() {
        let reqs: Vec<Rc<Request>> = active
            .iter()
            .map(|&i| {
                let req = items[i].req.take().expect("a request to send");
                with_cookies(req, &items[i], jars)
            })
            .collect();
        let op = PendingRequest::Batch {
            reqs,
            limit,
            per_host,
        };
        let (reqs, resps) = match host.wait(IoRequest::Http(vec![op])) {
            Ok(IoReply::Http(mut r)) => match r.pop() {
                Some((PendingRequest::Batch { reqs, .. }, Completed::Batch(resps))) => {
                    (reqs, resps)
                }
                _ => return Err(cancelled(ctx)),
            },
            _ => return Err(cancelled(ctx)),
        };
        let mut next = Vec::new();
        for ((&i, req), resp) in active.iter().zip(reqs).zip(resps) {
            match after_hop(host, jars, &mut items[i], &req, &resp) {
                Some(n) => {
                    items[i].req = Some(n);
                    next.push(i);
                }
                None => done[i] = Some((req, resp)),
            }
        }
        active = next;
    }
    for (_, resp) in done.iter().flatten() {
        throw_if_failed(ctx, host, resp)?;
    }
    Ok(done
        .into_iter()
        .map(|d| d.expect("every request finished"))
        .collect())
}

/// The next hop of a redirect, with Go's (k6's) rules on method and body.
fn follow(prev: &Request, status: u16, location: &str) -> Option<Request> {
    let url = prev.url().join(location).ok()?;
    let keep = matches!(status, 307 | 308);
    let method = if keep || prev.method() == http::Method::HEAD {
        prev.method().clone()
    } else {
        http::Method::GET
    };
    let mut next = Request::new(method, url.as_str()).ok()?;
    let same_host = url.host_str() == prev.url().host_str();
    for (k, v) in prev.headers() {
        let drop_body_header =
            !keep && (k == http::header::CONTENT_TYPE || k == http::header::CONTENT_LENGTH);
        let drop_secret = !same_host && (k == http::header::AUTHORIZATION);
        if k == http::header::COOKIE || k == http::header::HOST || drop_body_header || drop_secret {
            continue;
        }
        next.headers_mut().append(k.clone(), v.clone());
    }
    if keep {
        next.set_body(prev.body().clone());
    }
    next.timeout = prev.timeout;
    next.max_redirects = Some(0);
    next.discard_body = prev.discard_body;
    Some(next)
}

/// The VU's `http.asyncRequest`s that have not finished: their prepared state by id.
#[derive(Default)]
struct AsyncState {
    next_id: u64,
    /// [`Host::async_epoch`] when they were started: an interrupted call leaves its requests
    /// behind, and a later call drops them.
    epoch: u64,
    pending: HashMap<u64, Prepared>,
}

/// A VU's `k6/http` state, shared by the module's functions and its JavaScript layer.
pub(crate) struct State {
    host: Rc<Host>,
    jars: Jars,
    /// The requests the VU sent before, and the scratch key to look them up (see `cache.rs`).
    cache: RefCell<RequestCache>,
    key: RefCell<Key>,
    /// The headers and tags of the last native request, for the next (see `params.rs`).
    seen: RefCell<params::Seen>,
    /// What `http.setResponseCallback` set: the statuses counted as expected, or None (null).
    expected: RefCell<Option<Rc<ExpectedStatuses>>>,
    /// `batch` and `batchPerHost`, read on first use.
    limits: Cell<Option<(usize, usize)>>,
    asynchronous: RefCell<AsyncState>,
}

impl State {
    pub(crate) fn new(host: Rc<Host>) -> Self {
        State {
            host,
            jars: Rc::new(RefCell::new(vec![Jar::default()])),
            cache: RefCell::default(),
            key: RefCell::default(),
            seen: RefCell::default(),
            expected: RefCell::new(Some(Rc::default())),
            limits: Cell::new(None),
            asynchronous: RefCell::default(),
        }
    }

    /// The jar a `jar` param names (a `CookieJar` of this VU), or the VU's own when it is nullish.
    pub(crate) fn jar_of<'js>(&self, ctx: &Ctx<'js>, jar: &Value<'js>) -> Result<usize> {
        if jar.is_undefined() || jar.is_null() {
            return Ok(0);
        }
        jar::jar_id(ctx, &self.jars, jar)
    }

    /// The `Cookie` header of jar `id` for a WebSocket URL (`k6/ws`'s handshake), read as the
    /// http(s) URL it upgrades.
    pub(crate) fn ws_cookies(&self, id: usize, url: &url::Url) -> Option<String> {
        let url = http_url(url)?;
        let jars = self.jars.borrow();
        let pairs: Vec<String> = jars
            .get(id)?
            .matching(&url)
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Stores the `Set-Cookie` headers of a WebSocket handshake's response in jar `id`.
    pub(crate) fn ws_store<'a>(
        &self,
        id: usize,
        url: &url::Url,
        set_cookies: impl Iterator<Item = &'a str>,
    ) {
        let Some(url) = http_url(url) else { return };
        if let Some(jar) = self.jars.borrow_mut().get_mut(id) {
            for c in set_cookies.filter_map(|h| parse_set_cookie(&url, h)) {
                jar.store(c);
            }
        }
    }

    /// Sends a request that `module.rs` read from the script's arguments without the JavaScript
    /// layer: a method, a URL, a body or none, and the params' headers and tags. This is the path
    /// load tests take most: the request built for the same description before is sent again
    /// (see `cache.rs`), so a repeated request costs no parsing, copying or serializing.
    fn send<'js>(
        &self,
        ctx: &Ctx<'js>,
        method: &[u8],
        url: &rquickjs::String<'js>,
        body: Option<&rquickjs::String<'js>>,
        headers: &[params::Pair],
        tags: &[params::Pair],
    ) -> Result<Value<'js>> {
        let h = &self.host;
        let body_type = default_body_type(h);
        let discard = body_type == BodyType::None;
        let url = Utf8::of(ctx, url)?;
        let body = body.map(|b| Utf8::of(ctx, b)).transpose()?;
        let hit = {
            let mut key = self.key.borrow_mut();
            key.clear();
            key.push(&[discard as u8, body.is_some() as u8]);
            key.push(method);
            key.push(url.bytes());
            key.push(body.as_ref().map_or(&[][..], |b| b.bytes()));
            for list in [headers, tags] {
                key.push(&(list.len() as u32).to_le_bytes());
                for (k, v) in list.iter().map(|p| &p.text) {
                    key.push(k.as_bytes());
                    key.push(v.as_bytes());
                }
            }
            self.cache.borrow().get(&key)
        };
        let (req, tags) = match hit {
            Some(hit) => hit,
            None => {
                let body = body.as_ref().map(|b| b.bytes());
                self.build(ctx, method, &url.str(), body, headers, tags, discard)?
            }
        };
        let mut p = Prepared {
            req: Some(req),
            tags,
            body_type,
            expected: self.expected.borrow().clone(),
            jar: 0,
            cookies: Vec::new(),
            redirects_left: h.shared.max_redirects.load(Ordering::Relaxed),
            digest: None,
            retry: None,
        };
        let (req, resp) = execute_one(ctx, h, &self.jars, &mut p)?;
        response_object(ctx, p.body_type, req, resp)
    }

    /// A request [`send`](Self::send) has not seen, built and kept in the cache. Apart, so that
    /// its temporaries (a `Request` is 600 bytes) are not on the stack of every request.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        ctx: &Ctx<'_>,
        method: &[u8],
        url: &str,
        body: Option<&[u8]>,
        headers: &[params::Pair],
        tags: &[params::Pair],
        discard: bool,
    ) -> Result<(Rc<Request>, Rc<ScriptTags>)> {
        let method = parse_method(ctx, method)?;
        let owned = |list: &[params::Pair]| -> Vec<(String, String)> {
            list.iter().map(|p| p.text.clone()).collect()
        };
        let mut req = new_request(ctx, method, url, &owned(headers), body.map(<[u8]>::to_vec))?;
        req.max_redirects = Some(0);
        req.discard_body = discard;
        let req = Rc::new(req);
        let tags = Rc::new(ScriptTags::new(owned(tags)));
        self.cache
            .borrow_mut()
            .put(&self.key.borrow(), req.clone(), tags.clone());
        Ok((req, tags))
    }
}

/// The native functions of the JavaScript layer (`js/http.js`).
pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>, state: &Rc<State>) -> Result<()> {
    let st = state.clone();
    def(
        ctx,
        native,
        "request",
        move |ctx: Ctx<'js>, d: Array<'js>| -> Result<Value<'js>> {
            let mut p = prepare(&ctx, &st, d)?;
            let (req, resp) = execute_one(&ctx, &st.host, &st.jars, &mut p)?;
            response_object(&ctx, p.body_type, req, resp)
        },
    )?;
    let st = state.clone();
    def(
        ctx,
        native,
        "batch",
        move |ctx: Ctx<'js>, list: Vec<Array<'js>>| -> Result<Array<'js>> {
            let mut items = list
                .into_iter()
                .map(|d| prepare(&ctx, &st, d))
                .collect::<Result<Vec<_>>>()?;
            let l = batch_limits(&st.host, &st.limits);
            let out = execute_batch(&ctx, &st.host, &st.jars, &mut items, l)?;
            let arr = Array::new(ctx.clone())?;
            for (i, (p, (req, resp))) in items.iter().zip(out).enumerate() {
                arr.set(i, response_object(&ctx, p.body_type, req, resp)?)?;
            }
            Ok(arr)
        },
    )?;
    let st = state.clone();
    def(
        ctx,
        native,
        "setResponseCallback",
        move |ranges: Option<Vec<Vec<u16>>>| {
            *st.expected.borrow_mut() = ranges.map(|r| Rc::new(expected_statuses(r)));
        },
    )?;
    install_async(ctx, native, state)?;
    def(
        ctx,
        native,
        "utf8",
        |ctx: Ctx<'js>, v: Value<'js>| -> Result<String> {
            Ok(String::from_utf8_lossy(&bytes_of(&ctx, &v)?).into_owned())
        },
    )?;
    def(ctx, native, "multipartBoundary", || -> String {
        format!("------brunt{:016x}", rand::random::<u64>())
    })?;
    def(
        ctx,
        native,
        "multipart",
        |ctx: Ctx<'js>, boundary: String, parts: Vec<Vec<Value<'js>>>| -> Result<Value<'js>> {
            let mut body = Vec::new();
            for part in parts {
                let name: String = part
                    .first()
                    .map(|v| v.get())
                    .transpose()?
                    .unwrap_or_default();
                let data = part
                    .get(1)
                    .map(|v| bytes_of(&ctx, v))
                    .transpose()?
                    .unwrap_or_default();
                body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                if part.len() >= 4 {
                    let filename: String = part[2].get()?;
                    let ctype: String = part[3].get()?;
                    body.extend_from_slice(
                        format!(
                            "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                } else {
                    body.extend_from_slice(
                        format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                            .as_bytes(),
                    );
                }
                body.extend_from_slice(&data);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            super::array_buffer(&ctx, body)
        },
    )
}

/// `[[min, max], ...]` from `http.expectedStatuses(...)` (see `js/http.js`).
fn expected_statuses(ranges: Vec<Vec<u16>>) -> ExpectedStatuses {
    ExpectedStatuses::new(
        ranges
            .into_iter()
            .filter(|r| r.len() == 2)
            .map(|r| r[0]..=r[1]),
    )
}

/// Queues the next hop of async request `id` for the driver to start at the VU's next wait.
fn start_hop(host: &Host, jars: &Jars, p: &mut Prepared, id: u64) {
    let req = with_cookies(p.req.take().expect("a request to send"), p, jars);
    host.async_start.borrow_mut().push((id, req));
}

/// `http.asyncRequest`: `start` prepares a request and queues it for the driver, which starts it
/// at the VU's next wait; it then progresses while the VU waits for anything (a sleep, another
/// request). `pump`, a promise job that `js/http.js` keeps queued while requests are
/// outstanding, waits for some to finish once nothing else is left to run, and hands back their
/// Response objects.
fn install_async<'js>(ctx: &Ctx<'js>, native: &Object<'js>, state: &Rc<State>) -> Result<()> {
    let st = state.clone();
    def(
        ctx,
        native,
        "start",
        move |ctx: Ctx<'js>, d: Array<'js>| -> Result<f64> {
            let h = &st.host;
            check_phase(&ctx, h)?;
            let mut p = prepare(&ctx, &st, d)?;
            let mut a = st.asynchronous.borrow_mut();
            // What an interrupted iteration left is dropped: its promises went with it.
            let reset = a.epoch != h.async_epoch.get();
            if reset {
                a.pending.clear();
                a.epoch = h.async_epoch.get();
            }
            a.next_id += 1;
            let id = a.next_id;
            start_hop(h, &st.jars, &mut p, id);
            a.pending.insert(id, p);
            // A negative id tells the JS layer to forget the promises of an interrupted call.
            Ok(if reset { -(id as f64) } else { id as f64 })
        },
    )?;
    let st = state.clone();
    def(
        ctx,
        native,
        "pump",
        move |ctx: Ctx<'js>| -> Result<Value<'js>> {
            let h = &st.host;
            if jobs_pending(&ctx) {
                // Other jobs first: the pump runs again after them.
                return Ok(Value::new_null(ctx));
            }
            {
                let mut a = st.asynchronous.borrow_mut();
                if a.epoch != h.async_epoch.get() || a.pending.is_empty() {
                    a.pending.clear();
                    a.epoch = h.async_epoch.get();
                    return Ok(Value::new_bool(ctx, false));
                }
            }
            // No later than the VU's next timer or its sockets' next event: the event loop runs
            // them while requests are in flight, as k6's does (the pump waits again after).
            let until = h.timers.borrow().next_due();
            let finished = match h.wait(IoRequest::Http(vec![PendingRequest::Collect(until)])) {
                Ok(IoReply::Http(mut r)) => match r.pop() {
                    Some((_, Completed::Collected(list))) => list,
                    _ => return Err(cancelled(&ctx)),
                },
                _ => {
                    st.asynchronous.borrow_mut().pending.clear();
                    return Err(cancelled(&ctx));
                }
            };
            let out = Array::new(ctx.clone())?;
            for (id, req, resp) in finished {
                let mut a = st.asynchronous.borrow_mut();
                // Unknown ids were started by an interrupted call.
                let Some(p) = a.pending.get_mut(&id) else {
                    continue;
                };
                match after_hop(h, &st.jars, p, &req, &resp) {
                    Some(next) => {
                        p.req = Some(next);
                        start_hop(h, &st.jars, p, id);
                    }
                    None => {
                        let p = a.pending.remove(&id).expect("pending request");
                        drop(a);
                        let n = out.len();
                        out.set(n, id as f64)?;
                        out.set(n + 1, response_object(&ctx, p.body_type, req, resp)?)?;
                    }
                }
            }
            Ok(out.into_value())
        },
    )?;
    Ok(())
}

/// The http(s) URL a ws(s) URL upgrades, whose cookies its handshake carries.
fn http_url(url: &url::Url) -> Option<url::Url> {
    let scheme = match url.scheme() {
        "ws" => "http",
        "wss" => "https",
        _ => return Some(url.clone()),
    };
    url::Url::parse(&format!("{scheme}{}", &url[url::Position::AfterScheme..])).ok()
}
