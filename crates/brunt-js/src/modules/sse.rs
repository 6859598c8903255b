//! Streamed responses for scripts: the driver side (one stream per VU, read chunk by chunk
//! between the VU's waits, each chunk stamped as it arrived) and the native side of `k6/x/sse`,
//! xk6-sse's API: `sse.open(url, params, (client) => ...)` runs the client's `open`, `event` and
//! `error` handlers as events arrive, counts each event in `sse_event`, and the whole exchange in
//! `http_reqs` and `http_req_duration` (as xk6-sse does). `brunt/llm` (`llm.rs`) reads its
//! streams through the same driver.

use super::{def, throw};
use crate::host::Host;
use crate::vu::{IoReply, IoRequest};
use brunt_http::{BodySink, Client, Request, Response, SseParser};
use brunt_metrics::{builtin, MetricId, MetricType, ValueType};
use bytes::Bytes;
use http::HeaderMap;
use rquickjs::function::Opt;
use rquickjs::{Ctx, Object, Result, Value};
use serde_json::json;
use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::ops::ControlFlow;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

/// What a VU asks of its stream (an [`IoRequest::Stream`]).
pub(crate) enum StreamOp {
    /// Send the request and wait for the response's head (ending any stream still open).
    Open(Rc<Request>),
    /// Wait for the next chunks, or the end.
    Next,
    /// Drop the stream (its connection closes).
    Close,
    /// Send a request whose body goes to a sink of the native side's, to its end or until the
    /// sink stops it (`brunt/llm`: no script runs while it streams).
    Whole(Rc<Request>, Box<dyn BodySink>),
}

/// The answer to a [`StreamOp`].
pub(crate) enum StreamReply {
    /// The head (status and headers), or the response when the request ended without one.
    Opened(std::result::Result<(u16, HeaderMap), Response>),
    /// The chunks that came since the last call, each with its arrival; the response once the
    /// stream has ended.
    Chunks(Vec<(Instant, Bytes)>, Option<Response>),
    /// No stream is open (closed, or never opened).
    Closed,
    /// The response of a [`StreamOp::Whole`].
    Whole(Response),
}

/// A sink the native side keeps a handle on while the driver feeds it.
pub(crate) struct SharedSink<S>(pub Rc<RefCell<S>>);

impl<S: BodySink> BodySink for SharedSink<S> {
    fn head(&mut self, status: u16, headers: &HeaderMap) {
        self.0.borrow_mut().head(status, headers);
    }

    fn data(&mut self, at: Instant, bytes: &[u8]) -> ControlFlow<()> {
        self.0.borrow_mut().data(at, bytes)
    }
}

/// What the stream's sink collected and the driver has not handed over yet.
#[derive(Default)]
struct Queue {
    head: Option<(u16, HeaderMap)>,
    chunks: Vec<(Instant, Bytes)>,
}

struct Sink(Rc<RefCell<Queue>>);

impl BodySink for Sink {
    fn head(&mut self, status: u16, headers: &HeaderMap) {
        self.0.borrow_mut().head = Some((status, headers.clone()));
    }

    fn data(&mut self, at: Instant, bytes: &[u8]) -> ControlFlow<()> {
        self.0
            .borrow_mut()
            .chunks
            .push((at, Bytes::copy_from_slice(bytes)));
        ControlFlow::Continue(())
    }
}

/// A VU's open stream, kept by its I/O driver between waits.
pub(crate) struct Live {
    queue: Rc<RefCell<Queue>>,
    exchange: Pin<Box<dyn Future<Output = Response>>>,
}

/// Performs `op` on the VU's stream `live` with its client.
pub(crate) async fn perform(
    client: &Rc<Client>,
    live: &mut Option<Live>,
    op: StreamOp,
) -> StreamReply {
    match op {
        StreamOp::Open(req) => {
            let queue: Rc<RefCell<Queue>> = Rc::default();
            let (c, q) = (client.clone(), queue.clone());
            let exchange = Box::pin(async move { c.send_streaming(&req, &mut Sink(q)).await });
            let stream = live.insert(Live { queue, exchange });
            let ended = poll_fn(|cx| match stream.exchange.as_mut().poll(cx) {
                Poll::Ready(resp) => Poll::Ready(Some(resp)),
                Poll::Pending if stream.queue.borrow().head.is_some() => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            })
            .await;
            let head = stream.queue.borrow_mut().head.take();
            let Some(resp) = ended else {
                return match head {
                    Some(head) => StreamReply::Opened(Ok(head)),
                    None => StreamReply::Closed,
                };
            };
            match head {
                // Ended before the first chunk was asked for: keep what came for `Next`.
                Some(head) => {
                    stream.exchange = Box::pin(std::future::ready(resp));
                    StreamReply::Opened(Ok(head))
                }
                None => {
                    *live = None;
                    StreamReply::Opened(Err(resp))
                }
            }
        }
        StreamOp::Next => {
            let Some(stream) = live.as_mut() else {
                return StreamReply::Closed;
            };
            let ended = poll_fn(|cx| match stream.exchange.as_mut().poll(cx) {
                Poll::Ready(resp) => Poll::Ready(Some(resp)),
                Poll::Pending if !stream.queue.borrow().chunks.is_empty() => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            })
            .await;
            let chunks = std::mem::take(&mut stream.queue.borrow_mut().chunks);
            if ended.is_some() {
                *live = None;
            }
            StreamReply::Chunks(chunks, ended)
        }
        StreamOp::Close => {
            *live = None;
            StreamReply::Closed
        }
        StreamOp::Whole(req, mut sink) => {
            StreamReply::Whole(client.send_streaming(&req, &mut *sink).await)
        }
    }
}

/// Asks the driver for `op`; a cancelled wait unwinds the script.
pub(crate) fn stream_op(ctx: &Ctx<'_>, host: &Host, op: StreamOp) -> Result<StreamReply> {
    match host.wait(IoRequest::Stream(op)) {
        Ok(IoReply::Stream(reply)) => Ok(*reply),
        Ok(_) => Err(throw(ctx, "the stream driver answered another request")),
        Err(_) => Err(super::cancelled(ctx)),
    }
}

/// Tags given as a JS object, as (name, value) pairs.
pub(crate) fn tag_pairs(tags: Option<Object<'_>>) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    if let Some(t) = tags {
        for key in t.keys::<String>() {
            let key = key?;
            let v: Value = t.get(&key)?;
            let s = match v.as_string() {
                Some(s) => s.to_string()?,
                None => v
                    .as_number()
                    .map(|n| n.to_string())
                    .or_else(|| v.as_bool().map(|b| b.to_string()))
                    .unwrap_or_default(),
            };
            out.push((key, s));
        }
    }
    Ok(out)
}

/// The request a script described: method, URL, body, headers and timeout (k6's duration
/// format or milliseconds).
pub(crate) fn build_request<'js>(
    ctx: &Ctx<'js>,
    what: &str,
    method: &str,
    url: &str,
    body: Option<String>,
    headers: Option<Object<'js>>,
    timeout: Option<Value<'js>>,
) -> Result<Request> {
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| throw(ctx, &format!("{what}: '{method}' is not an HTTP method")))?;
    let mut req = Request::new(method, url)
        .map_err(|e| throw(ctx, &format!("{what}: URL '{url}': {}", e.message)))?;
    for (name, value) in tag_pairs(headers)? {
        req.set_header(&name, &value)
            .map_err(|e| throw(ctx, &format!("{what}: header '{name}': {}", e.message)))?;
    }
    if let Some(b) = body {
        req.set_body(b);
    }
    if let Some(t) = timeout.filter(|t| !t.is_null() && !t.is_undefined()) {
        let d = match t.as_number() {
            Some(ms) if ms >= 0.0 && ms.is_finite() => {
                std::time::Duration::from_secs_f64(ms / 1000.0)
            }
            Some(_) => return Err(throw(ctx, &format!("{what}: invalid timeout {t:?}"))),
            None => {
                let s = t.as_string().map(|s| s.to_string()).transpose()?;
                let s = s.unwrap_or_default();
                brunt_engine::parse_duration(&s)
                    .map_err(|e| throw(ctx, &format!("{what}: invalid timeout '{s}': {e}")))?
            }
        };
        req.timeout = Some(d);
    }
    Ok(req)
}

/// `sse.open`'s stream: its parser, start and tags, between the native calls of one `open`.
struct Open {
    parser: SseParser,
    start: Instant,
    tags: Vec<(String, String)>,
}

/// The native side of `k6/x/sse`.
pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let sse_event: MetricId = host
        .shared
        .registry
        .register("sse_event", MetricType::Counter, ValueType::Default)
        .map_err(|e| throw(ctx, &e.to_string()))?;
    let open: Rc<RefCell<Option<Open>>> = Rc::default();
    let (h, o) = (host.clone(), open.clone());
    def(
        ctx,
        native,
        "open",
        move |ctx: Ctx<'js>,
              url: String,
              method: String,
              body: Option<String>,
              headers: Option<Object<'js>>,
              timeout: Option<Value<'js>>,
              tags: Opt<Option<Object<'js>>>|
              -> Result<Object<'js>> {
            let mut req = build_request(&ctx, "sse.open", &method, &url, body, headers, timeout)?;
            if !req.headers().contains_key(http::header::ACCEPT) {
                req.set_header("accept", "text/event-stream")
                    .map_err(|e| throw(&ctx, &e.message))?;
            }
            let mut tags = tag_pairs(tags.0.flatten())?;
            tags.push(("url".into(), url.clone()));
            tags.push(("method".into(), method.clone()));
            let start = Instant::now();
            let result = match stream_op(&ctx, &h, StreamOp::Open(Rc::new(req)))? {
                StreamReply::Opened(Ok((status, headers))) => {
                    tags.push(("status".into(), status.to_string()));
                    let headers: serde_json::Map<String, serde_json::Value> = headers
                        .keys()
                        .map(|k| {
                            let joined: Vec<&str> = headers
                                .get_all(k)
                                .iter()
                                .filter_map(|v| v.to_str().ok())
                                .collect();
                            (canonical(k.as_str()), json!(joined.join(", ")))
                        })
                        .collect();
                    *o.borrow_mut() = Some(Open {
                        parser: SseParser::new(),
                        start,
                        tags,
                    });
                    json!({"url": url, "status": status, "headers": headers, "error": ""})
                }
                StreamReply::Opened(Err(resp)) => {
                    json!({"url": url, "status": 0, "headers": {}, "error": resp.error.unwrap_or_default()})
                }
                _ => return Err(throw(&ctx, "the stream driver answered another request")),
            };
            ctx.json_parse(result.to_string())?
                .into_object()
                .ok_or_else(|| throw(&ctx, "sse.open: no result"))
        },
    )?;
    let (h, o) = (host.clone(), open.clone());
    def(
        ctx,
        native,
        "next",
        move |ctx: Ctx<'js>| -> Result<Object<'js>> {
            let StreamReply::Chunks(chunks, ended) = stream_op(&ctx, &h, StreamOp::Next)? else {
                return Err(throw(&ctx, "sse: no stream is open"));
            };
            let mut events = Vec::new();
            let mut guard = o.borrow_mut();
            let Some(open) = guard.as_mut() else {
                return Err(throw(&ctx, "sse: no stream is open"));
            };
            for (_, bytes) in &chunks {
                let _ = open.parser.feed(bytes, |e| {
                    events.push(json!({"id": e.id.unwrap_or_default(), "name": e.event, "data": e.data, "comment": ""}));
                    ControlFlow::<()>::Continue(())
                });
            }
            for _ in &events {
                h.emit(sse_event, 1.0, &open.tags);
            }
            let error = ended.as_ref().and_then(|r| r.error.clone());
            if ended.is_some() {
                let open = guard.take().expect("the stream is open");
                finish(&h, &open);
            }
            let result = json!({"events": events, "done": ended.is_some(), "error": error});
            ctx.json_parse(result.to_string())?
                .into_object()
                .ok_or_else(|| throw(&ctx, "sse: no events"))
        },
    )?;
    let h = host.clone();
    def(ctx, native, "close", move |ctx: Ctx<'js>| -> Result<()> {
        if let Some(open) = open.borrow_mut().take() {
            stream_op(&ctx, &h, StreamOp::Close)?;
            finish(&h, &open);
        }
        Ok(())
    })
}

/// The exchange's `http_reqs` and `http_req_duration` (open to end or close), as xk6-sse
/// records them.
fn finish(host: &Host, open: &Open) {
    let ms = open.start.elapsed().as_secs_f64() * 1000.0;
    host.emit(builtin::HTTP_REQS, 1.0, &open.tags);
    host.emit(builtin::HTTP_REQ_DURATION, ms, &open.tags);
}

/// A header name as Go's `http.Header` keys it (`Content-Type`), which xk6-sse's response shows.
pub(crate) fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}
