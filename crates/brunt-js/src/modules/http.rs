//! Native side of `k6/http`: turns a request description from `js/http.js` into a brunt-http
//! [`Request`], waits for it on the VU's coroutine, follows redirects (each hop is a sample, as in
//! k6), keeps the VU's cookies, records k6's `http_*` metrics and builds the Response object.

use super::cookies::{parse_set_cookie, Jar};
use super::{array_buffer, bytes_of, cancelled, def, tag_pairs, throw};
use crate::host::{Host, Phase};
use crate::vu::{IoReply, IoRequest};
use base64::Engine;
use brunt_http::{ExpectedStatuses, Request, Response};
use rquickjs::function::Opt;
use rquickjs::{Array, Ctx, Object, Result, Value};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// What a native call waits for: one request of a (possibly redirected) exchange.
pub(crate) type PendingRequest = Request;
/// The answer to a [`PendingRequest`].
pub(crate) type Completed = Response;

#[derive(Clone, Copy, PartialEq)]
enum BodyType {
    Text,
    Binary,
    None,
}

/// A request as the script described it, plus what k6 does around it.
struct Prepared {
    /// The next request to send (taken while it is in flight).
    req: Option<Request>,
    tags: Vec<(String, String)>,
    body_type: BodyType,
    /// Statuses counted as expected; None when the response callback is null.
    expected: Option<ExpectedStatuses>,
    jar: usize,
    cookies: Vec<(String, String, bool)>,
    redirects_left: u32,
}

/// The VU's cookie jars: index 0 is the VU's own.
type Jars = Rc<RefCell<Vec<Jar>>>;

fn canonical_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
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

/// Reads the positional description `js/http.js` builds (see `describe` there).
fn prepare<'js>(ctx: &Ctx<'js>, host: &Host, d: Array<'js>) -> Result<Prepared> {
    let method: String = d.get(0)?;
    let url: String = d.get(1)?;
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| throw(ctx, &format!("invalid HTTP method '{method}'")))?;
    let mut req = Request::new(method, &url).map_err(|e| throw(ctx, &e.message))?;
    for (k, v) in pairs(d.get(2)?) {
        req.set_header(&k, &v).map_err(|e| throw(ctx, &e.message))?;
    }
    let auth: Option<String> = d.get(11)?;
    let user = req.url().username().to_string();
    if !user.is_empty() || req.url().password().is_some() {
        match auth.as_deref() {
            None | Some("basic") => {
                let pass = req.url().password().unwrap_or("");
                let creds =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                req.set_header("Authorization", &format!("Basic {creds}"))
                    .map_err(|e| throw(ctx, &e.message))?;
            }
            Some(other) => {
                return Err(throw(
                    ctx,
                    &format!("auth '{other}' is not supported by brunt; use 'basic'"),
                ))
            }
        }
    }
    let body: Value = d.get(3)?;
    if !body.is_null() && !body.is_undefined() {
        req.set_body(bytes_of(ctx, &body)?);
    }
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
        None if host.shared.discard_bodies.load(Ordering::Relaxed) => BodyType::None,
        None => BodyType::Text,
        Some(other) => {
            return Err(throw(
                ctx,
                &format!("unknown responseType '{other}': use 'text', 'binary' or 'none'"),
            ))
        }
    };
    req.discard_body = body_type == BodyType::None;
    let expected_v: Value = d.get(8)?;
    let expected = if expected_v.is_undefined() {
        Some(ExpectedStatuses::default())
    } else if let Some(arr) = expected_v.as_array() {
        let mut r = Vec::new();
        for pair in arr.iter::<Vec<u16>>() {
            let pair = pair?;
            if pair.len() == 2 {
                r.push(pair[0]..=pair[1]);
            }
        }
        Some(ExpectedStatuses::new(r))
    } else {
        None
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
        tags: pairs(d.get(4)?),
        body_type,
        expected,
        jar: d.get::<Option<usize>>(9)?.unwrap_or(0),
        cookies,
        redirects_left: redirects.unwrap_or(host.shared.max_redirects.load(Ordering::Relaxed)),
    })
}

/// The request to send now, with the jar's and the script's cookies.
fn with_cookies(mut req: Request, p: &Prepared, jars: &Jars) -> Request {
    let jars = jars.borrow();
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(jar) = jars.get(p.jar) {
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
    if !pairs.is_empty() {
        let header: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let _ = req.set_header("Cookie", &header.join("; "));
    }
    req
}

/// Emits k6's per-request samples (one per redirect hop) through brunt-http's recorder.
fn record(host: &Host, p: &Prepared, resp: &Response) {
    let base = host.base_tags();
    let tags = if p.tags.is_empty() {
        base
    } else {
        crate::host::intern(base.with(p.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
    };
    let lag = host.iter.borrow().scheduled_lag;
    crate::host::with_recorder(|r| {
        r.record(
            &mut host.metrics.borrow_mut(),
            resp,
            &tags,
            p.expected.as_ref(),
            lag,
        )
    });
}

/// `--http-debug`: the request and response (with bodies for `full`) on stderr, as k6 logs them.
fn debug_log(host: &Host, req: &Request, resp: &Response) {
    let level = host.shared.http_debug.load(Ordering::Relaxed);
    if level == 0 {
        return;
    }
    let mut out = format!("Request:\n{} {} HTTP/1.1\n", req.method(), req.url());
    for (k, v) in req.headers() {
        out.push_str(&format!(
            "{}: {}\n",
            canonical_header(k.as_str()),
            v.to_str().unwrap_or("")
        ));
    }
    if level > 1 && !req.body().is_empty() {
        out.push_str(&format!("\n{}\n", String::from_utf8_lossy(req.body())));
    }
    out.push_str(&format!(
        "\nResponse:\n{} {}\n",
        resp.proto.as_str(),
        resp.status
    ));
    for (k, v) in &resp.headers {
        out.push_str(&format!(
            "{}: {}\n",
            canonical_header(k.as_str()),
            v.to_str().unwrap_or("")
        ));
    }
    if level > 1 && !resp.body.is_empty() {
        out.push_str(&format!("\n{}\n", String::from_utf8_lossy(&resp.body)));
    }
    eprintln!("{out}");
}

/// Sends every prepared request (all first hops in one wait, as `http.batch` does), following
/// redirects; returns the last sent request and final response of each.
fn execute(
    ctx: &Ctx<'_>,
    host: &Host,
    jars: &Jars,
    mut items: Vec<Prepared>,
) -> Result<Vec<(Prepared, Request, Response)>> {
    if host.phase.get() == Phase::Init {
        return Err(throw(
            ctx,
            "making HTTP requests in the init context is not supported (move it into default() or setup())",
        ));
    }
    let mut done: Vec<Option<(Request, Response)>> = items.iter().map(|_| None).collect();
    let mut active: Vec<usize> = (0..items.len()).collect();
    while !active.is_empty() {
        let sent: Vec<Request> = active
            .iter()
            .map(|&i| {
                let req = items[i].req.take().expect("a request to send");
                with_cookies(req, &items[i], jars)
            })
            .collect();
        let replies = match host.wait(IoRequest::Http(sent)) {
            Ok(IoReply::Http(r)) => r,
            Ok(IoReply::Slept) | Err(_) => return Err(cancelled(ctx)),
        };
        let mut next = Vec::new();
        for (&i, (req, resp)) in active.iter().zip(replies) {
            record(host, &items[i], &resp);
            debug_log(host, &req, &resp);
            if let Some(jar) = jars.borrow_mut().get_mut(items[i].jar) {
                for v in resp.headers.get_all(http::header::SET_COOKIE) {
                    if let Some(c) = v.to_str().ok().and_then(|s| parse_set_cookie(req.url(), s)) {
                        jar.store(c);
                    }
                }
            }
            let location = resp
                .headers
                .get(http::header::LOCATION)
                .and_then(|l| l.to_str().ok());
            let redirect = matches!(resp.status, 301 | 302 | 303 | 307 | 308);
            match location {
                Some(loc) if redirect && items[i].redirects_left > 0 => {
                    if let Some(n) = follow(&req, resp.status, loc) {
                        items[i].req = Some(n);
                        items[i].redirects_left -= 1;
                        next.push(i);
                        continue;
                    }
                    done[i] = Some((req, resp));
                }
                _ => done[i] = Some((req, resp)),
            }
        }
        active = next;
    }
    Ok(items
        .into_iter()
        .zip(done)
        .map(|(p, d)| {
            let (req, resp) = d.expect("every request finished");
            (p, req, resp)
        })
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

/// Headers as one `Name: value\n` text: one string for JavaScript to split when a script reads
/// them, instead of two per header on every response.
fn header_lines(headers: &http::HeaderMap) -> String {
    let mut out = String::with_capacity(headers.len() * 32);
    for (k, v) in headers {
        out.push_str(&canonical_header(k.as_str()));
        out.push_str(": ");
        out.push_str(v.to_str().unwrap_or(""));
        out.push('\n');
    }
    out
}

/// The positional answer `js/http.js` turns into a Response (see `Response` there).
fn response_array<'js>(
    ctx: &Ctx<'js>,
    p: &Prepared,
    req: &Request,
    resp: Response,
) -> Result<Array<'js>> {
    let a = Array::new(ctx.clone())?;
    a.set(0, resp.status)?;
    let reason = http::StatusCode::from_u16(resp.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    a.set(1, format!("{} {reason}", resp.status))?;
    a.set(2, req.url().as_str())?;
    a.set(3, resp.proto.as_str())?;
    a.set(4, resp.error.as_deref().unwrap_or(""))?;
    a.set(5, resp.error_code.0)?;
    a.set(
        6,
        resp.remote.map(|r| r.ip().to_string()).unwrap_or_default(),
    )?;
    a.set(7, resp.remote.map(|r| r.port()).unwrap_or(0))?;
    a.set(8, resp.tls_version.unwrap_or(""))?;
    a.set(9, header_lines(&resp.headers))?;
    let mut cookies: Option<Array> = None;
    for v in resp.headers.get_all(http::header::SET_COOKIE) {
        if let Some(c) = v.to_str().ok().and_then(|s| parse_set_cookie(req.url(), s)) {
            let list = match &cookies {
                Some(l) => l.clone(),
                None => {
                    let l = Array::new(ctx.clone())?;
                    cookies = Some(l.clone());
                    l
                }
            };
            let n = list.len();
            list.set(n, c.name.as_str())?;
            list.set(n + 1, c.value.as_str())?;
            list.set(n + 2, c.domain.as_str())?;
            list.set(n + 3, c.path.as_str())?;
            list.set(n + 4, c.http_only)?;
            list.set(n + 5, c.secure)?;
        }
    }
    a.set(10, cookies)?;
    let t = resp.timings;
    a.set(
        11,
        vec![
            t.blocked,
            t.connecting,
            t.tls_handshaking,
            t.sending,
            t.waiting,
            t.receiving,
            t.duration,
        ],
    )?;
    let body: Value = match p.body_type {
        BodyType::None => Value::new_null(ctx.clone()),
        _ if resp.status == 0 && resp.body.is_empty() => Value::new_null(ctx.clone()),
        BodyType::Binary => array_buffer(ctx, resp.body.to_vec())?,
        BodyType::Text => {
            rquickjs::String::from_str(ctx.clone(), &String::from_utf8_lossy(&resp.body))?
                .into_value()
        }
    };
    a.set(12, body)?;
    let rq = Array::new(ctx.clone())?;
    rq.set(0, req.method().as_str())?;
    rq.set(1, req.url().as_str())?;
    rq.set(2, header_lines(req.headers()))?;
    rq.set(3, String::from_utf8_lossy(req.body()).into_owned())?;
    a.set(13, rq)?;
    Ok(a)
}

pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let jars: Jars = Rc::new(RefCell::new(vec![Jar::default()]));
    let (h, j) = (host.clone(), jars.clone());
    def(
        ctx,
        native,
        "request",
        move |ctx: Ctx<'js>, d: Array<'js>| -> Result<Array<'js>> {
            let p = prepare(&ctx, &h, d)?;
            let mut out = execute(&ctx, &h, &j, vec![p])?;
            let (p, req, resp) = out.pop().expect("one request, one response");
            response_array(&ctx, &p, &req, resp)
        },
    )?;
    let (h, j) = (host.clone(), jars.clone());
    def(
        ctx,
        native,
        "batch",
        move |ctx: Ctx<'js>, list: Vec<Array<'js>>| -> Result<Array<'js>> {
            let items = list
                .into_iter()
                .map(|d| prepare(&ctx, &h, d))
                .collect::<Result<Vec<_>>>()?;
            let arr = Array::new(ctx.clone())?;
            for (i, (p, req, resp)) in execute(&ctx, &h, &j, items)?.into_iter().enumerate() {
                arr.set(i, response_array(&ctx, &p, &req, resp)?)?;
            }
            Ok(arr)
        },
    )?;
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
            array_buffer(&ctx, body)
        },
    )?;
    install_jars(ctx, native, &jars)
}

fn parse_url(ctx: &Ctx<'_>, u: &str) -> Result<url::Url> {
    url::Url::parse(u).map_err(|e| throw(ctx, &format!("invalid URL '{u}': {e}")))
}

fn install_jars<'js>(ctx: &Ctx<'js>, native: &Object<'js>, jars: &Jars) -> Result<()> {
    let j = jars.clone();
    def(ctx, native, "jarNew", move || -> usize {
        let mut j = j.borrow_mut();
        j.push(Jar::default());
        j.len() - 1
    })?;
    let j = jars.clone();
    def(
        ctx,
        native,
        "jarCookies",
        move |ctx: Ctx<'js>, id: usize, u: String| -> Result<Object<'js>> {
            let url = parse_url(&ctx, &u)?;
            let out = Object::new(ctx.clone())?;
            if let Some(jar) = j.borrow().get(id) {
                for c in jar.matching(&url) {
                    let list: Vec<String> =
                        match out.get::<_, Option<Vec<String>>>(c.name.as_str())? {
                            Some(mut l) => {
                                l.push(c.value.clone());
                                l
                            }
                            None => vec![c.value.clone()],
                        };
                    out.set(c.name.as_str(), list)?;
                }
            }
            Ok(out)
        },
    )?;
    let j = jars.clone();
    def(
        ctx,
        native,
        "jarSet",
        move |ctx: Ctx<'js>,
              id: usize,
              u: String,
              name: String,
              value: String,
              opts: Opt<Option<Object<'js>>>|
              -> Result<()> {
            let url = parse_url(&ctx, &u)?;
            let mut header = format!("{name}={value}");
            if let Some(o) = opts.0.flatten() {
                for (k, v) in tag_pairs(Some(o))? {
                    match k.as_str() {
                        "domain" | "path" | "expires" => header.push_str(&format!("; {k}={v}")),
                        "max_age" => header.push_str(&format!("; Max-Age={v}")),
                        "secure" if v == "true" => header.push_str("; Secure"),
                        "http_only" if v == "true" => header.push_str("; HttpOnly"),
                        _ => {}
                    }
                }
            }
            let cookie = parse_set_cookie(&url, &header)
                .ok_or_else(|| throw(&ctx, &format!("invalid cookie '{name}'")))?;
            if let Some(jar) = j.borrow_mut().get_mut(id) {
                jar.store(cookie);
            }
            Ok(())
        },
    )?;
    let j = jars.clone();
    def(
        ctx,
        native,
        "jarClear",
        move |ctx: Ctx<'js>, id: usize, u: String| -> Result<()> {
            let url = parse_url(&ctx, &u)?;
            if let Some(jar) = j.borrow_mut().get_mut(id) {
                jar.clear_for(&url);
            }
            Ok(())
        },
    )?;
    let j = jars.clone();
    def(
        ctx,
        native,
        "jarDelete",
        move |ctx: Ctx<'js>, id: usize, u: String, name: String| -> Result<()> {
            let url = parse_url(&ctx, &u)?;
            if let Some(jar) = j.borrow_mut().get_mut(id) {
                jar.delete(&url, &name);
            }
            Ok(())
        },
    )?;
    Ok(())
}
