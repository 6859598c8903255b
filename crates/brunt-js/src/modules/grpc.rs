//! `k6/net/grpc`: the native side of `js/grpc.js`, over brunt-grpc. A VU's clients keep their
//! protos and connection here; a blocking call (`connect`, `invoke`, `healthCheck`) waits in the
//! VU's I/O driver (`IoRequest::Grpc`) like an HTTP request. `asyncInvoke` and streams run on
//! tasks of their own and report to one channel per VU, which the JavaScript layer's pump reads
//! through `next` (waiting no longer than the VU's next timer), so handlers run on the VU's
//! event loop. Metrics and tags are k6's: `grpc_req_duration` per call (tags `url`, `service`,
//! `method`, `name`, `status`), `grpc_streams`, `grpc_streams_msgs_sent` and
//! `grpc_streams_msgs_received`, and the connection's bytes as `data_sent`/`data_received`.

use super::{def, throw};
use crate::host::{Host, Phase};
use crate::vu::{IoReply, IoRequest};
use brunt_grpc::client::{ConnectOptions, Connection, StreamEvent};
use brunt_grpc::{
    json, protos, reflection, CallStream, MessageDescriptor, MethodDescriptor, MethodInfo, Protos,
    Reply, Status,
};
use brunt_http::ByteCounter;
use brunt_metrics::{builtin, MetricId, MetricType, SystemTag, ValueType};
use rquickjs::{Array, Ctx, Object, Result, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// What a VU asks of its I/O driver for gRPC.
pub(crate) enum GrpcOp {
    /// Dial with the VU's HTTP client settings and speak HTTP/2 (boxed: every wait of a VU moves
    /// an [`IoRequest`](crate::vu::IoRequest), which is as large as its largest kind).
    Connect(Box<Dial>),
    /// Wait for a call of brunt-grpc's to end.
    Await(Pin<Box<dyn Future<Output = GrpcReply>>>),
    /// The next event of the VU's async calls and streams; None when the instant comes first.
    Next(Rc<RefCell<UnboundedReceiver<Event>>>, Option<Instant>),
}

/// What [`GrpcOp::Connect`] dials.
pub(crate) struct Dial {
    host: String,
    port: u16,
    tls: bool,
    /// connect()'s `tls` param: CA and client certificates of the connection's own.
    extras: Option<brunt_http::TlsExtras>,
    opts: ConnectOptions,
    timeout: Duration,
}

pub(crate) enum GrpcReply {
    Connected(std::result::Result<(Connection, ByteCounter, Tracing), String>),
    Invoked(Reply),
    Reflected(std::result::Result<Vec<brunt_grpc::FileDescriptorProto>, String>),
    Health(std::result::Result<i32, Status>),
    Event(Option<Event>),
}

/// What the tasks of async calls and streams report.
pub(crate) enum Event {
    Invoked(u64, Reply),
    Stream(u64, StreamEvent),
}

/// Performs `op` with the VU's HTTP client (its dialing and TLS settings).
pub(crate) async fn perform(client: &brunt_http::Client, op: GrpcOp) -> GrpcReply {
    match op {
        GrpcOp::Connect(dial) => {
            let Dial {
                host,
                port,
                tls,
                extras,
                mut opts,
                timeout,
            } = *dial;
            opts.user_agent = Some(client.config().user_agent.clone());
            let dial = async {
                let raw = client.connect_h2(&host, port, tls, extras.as_ref()).await;
                let raw = raw.map_err(|e| {
                    format!("connection error: desc = \"transport: error while dialing: {e}\"")
                })?;
                let counter = raw.counter();
                let conn = Connection::handshake(raw, opts).await?;
                Ok((conn, counter, client.config().tracing.clone()))
            };
            let done = tokio::time::timeout(timeout, dial).await;
            GrpcReply::Connected(done.unwrap_or_else(|_| Err("context deadline exceeded".into())))
        }
        GrpcOp::Await(f) => f.await,
        GrpcOp::Next(rx, until) => {
            // Borrowed only while polled: the VU's JavaScript does not run meanwhile anyway.
            let recv = std::future::poll_fn(|cx| rx.borrow_mut().poll_recv(cx));
            let ev = match until {
                Some(t) => tokio::time::timeout_at(t.into(), recv).await.ok().flatten(),
                None => recv.await,
            };
            GrpcReply::Event(ev)
        }
    }
}

/// Asks the driver for `op`; a cancelled wait unwinds the script.
fn grpc_op(ctx: &Ctx<'_>, host: &Host, op: GrpcOp) -> Result<GrpcReply> {
    match host.wait(IoRequest::Grpc(op)) {
        Ok(IoReply::Grpc(reply)) => Ok(*reply),
        Ok(_) => Err(throw(ctx, "the gRPC driver answered another request")),
        Err(_) => Err(super::cancelled(ctx)),
    }
}

struct Metrics {
    duration: MetricId,
    streams: MetricId,
    sent: MetricId,
    received: MetricId,
}

/// The run's trace context and run id header (`--trace-context`, `options.tracing`), which every
/// call's metadata carries as an HTTP request's headers do.
type Tracing = Option<std::sync::Arc<brunt_http::RequestTracing>>;

/// A client's connection.
#[derive(Clone)]
struct Live {
    conn: Connection,
    counter: ByteCounter,
    addr: String,
    tracing: Tracing,
}

/// A `grpc.Client`.
#[derive(Default)]
struct Client {
    protos: Protos,
    live: Option<Live>,
}

/// A call's tags and what its answer needs.
struct CallTags {
    tags: Vec<(String, String)>,
    discard: bool,
    input: MessageDescriptor,
    output: MessageDescriptor,
    counter: ByteCounter,
    /// The call's trace, kept with its `grpc_req_duration` sample.
    trace: Option<brunt_metrics::Trace>,
}

/// An async call or open stream, by the id the JavaScript layer knows it by.
enum Pending {
    Invoke(CallTags, tokio::task::AbortHandle),
    Stream(CallTags, CallStream),
}

struct State {
    host: Rc<Host>,
    m: Metrics,
    clients: RefCell<Vec<Client>>,
    tx: UnboundedSender<Event>,
    rx: Rc<RefCell<UnboundedReceiver<Event>>>,
    next_id: Cell<u64>,
    pending: RefCell<HashMap<u64, Pending>>,
}

impl State {
    fn emit(&self, metric: MetricId, value: f64, tags: &[(String, String)]) {
        self.host.emit(metric, value, tags);
    }

    /// The connection's bytes since the last call, as k6's dialer counts them.
    fn emit_bytes(&self, counter: &ByteCounter) {
        let (sent, received) = counter.take();
        if sent > 0 {
            self.emit(builtin::DATA_SENT, sent as f64, &[]);
        }
        if received > 0 {
            self.emit(builtin::DATA_RECEIVED, received as f64, &[]);
        }
    }

    /// A call's end: `grpc_req_duration` with its status, and the connection's bytes.
    fn emit_end(&self, call: &CallTags, code: brunt_grpc::Code, took: Duration) {
        let metrics = &self.host.metrics;
        let outer = call.trace.map(|t| metrics.borrow_mut().set_trace(Some(t)));
        self.emit_duration(call.tags.clone(), code, took);
        if let Some(outer) = outer {
            metrics.borrow_mut().set_trace(outer);
        }
        self.emit_bytes(&call.counter);
    }

    /// `grpc_req_duration` with `tags` and the status (k6 measures its own reflection and
    /// health calls with no tags but the status).
    fn emit_duration(
        &self,
        mut tags: Vec<(String, String)>,
        code: brunt_grpc::Code,
        took: Duration,
    ) {
        if self.host.shared.system_tags().has(SystemTag::Status) {
            tags.push(("status".into(), (code as i32).to_string()));
        }
        self.emit(self.m.duration, took.as_secs_f64() * 1000.0, &tags);
    }

    /// A unary call of `method` with the JSON `body`, ready to send: its tags and trace, and
    /// the call itself (invoke awaits it, asyncInvoke spawns it).
    fn unary(
        &self,
        ctx: &Ctx<'_>,
        id: usize,
        method: &str,
        body: &str,
        p: Object<'_>,
    ) -> Result<(CallTags, impl Future<Output = Reply> + Send + 'static)> {
        let (conn, desc, live) = self.target(ctx, id, method)?;
        let mut p = params(p)?;
        let request = json::from_json(&desc.input(), body).map_err(|e| {
            throw(
                ctx,
                &format!("unable to serialise request object to protocol buffer: {e}"),
            )
        })?;
        let call = self.call(&live, &desc, &mut p);
        let (metadata, timeout) = (p.metadata, p.timeout);
        let send = async move { conn.invoke(&desc, request, &metadata, timeout).await };
        Ok((call, send))
    }

    /// The client's connection and the method, or k6's error.
    fn target(
        &self,
        ctx: &Ctx<'_>,
        id: usize,
        method: &str,
    ) -> Result<(Connection, MethodDescriptor, Live)> {
        if self.host.phase.get() == Phase::Init {
            return Err(throw(
                ctx,
                "invoking RPC methods in the init context is not supported",
            ));
        }
        let clients = self.clients.borrow();
        let client = clients
            .get(id)
            .ok_or_else(|| throw(ctx, "not a gRPC client"))?;
        let Some(live) = &client.live else {
            return Err(throw(
                ctx,
                "no gRPC connection, you must call connect first",
            ));
        };
        if method.is_empty() {
            return Err(throw(ctx, "method to invoke cannot be empty"));
        }
        let name = if method.starts_with('/') {
            method.to_string()
        } else {
            format!("/{method}")
        };
        let desc = client.protos.method(&name).ok_or_else(|| {
            throw(
                ctx,
                &format!("method \"{name}\" not found in file descriptors"),
            )
        })?;
        Ok((live.conn.clone(), desc, live.clone()))
    }

    /// A call's tags (the script's, then k6's `url`, `service`, `method` and `name`) and what
    /// its answer needs.
    fn call(&self, live: &Live, desc: &MethodDescriptor, p: &mut Params) -> CallTags {
        let system = self.host.shared.system_tags();
        let addr = &live.addr;
        let user = std::mem::take(&mut p.tags);
        let path = brunt_grpc::client::path_of(desc);
        let mut tags = user;
        if system.has(SystemTag::Url) {
            tags.push(("url".into(), format!("{addr}{path}")));
        }
        if system.has(SystemTag::Service) {
            tags.push((
                "service".into(),
                desc.parent_service().full_name().to_string(),
            ));
        }
        if system.has(SystemTag::Method) {
            tags.push(("method".into(), desc.name().to_string()));
        }
        if system.has(SystemTag::Name) && !tags.iter().any(|(k, _)| k == "name") {
            tags.push(("name".into(), path));
        }
        let mut trace = None;
        if let Some(tracing) = &live.tracing {
            let (t, headers) =
                tracing.start(|h| p.metadata.iter().any(|(k, _)| k.eq_ignore_ascii_case(h)));
            trace = t;
            for (k, v) in headers {
                let v = v.to_str().expect("trace and run id headers are ASCII");
                p.metadata.push((k.as_str().to_string(), v.to_string()));
            }
        }
        CallTags {
            tags,
            discard: p.discard,
            input: desc.input(),
            output: desc.output(),
            counter: live.counter.clone(),
            trace,
        }
    }
}

/// A call's params, as the JavaScript layer checked them: `[metadata pairs, tags, timeout ms,
/// discardResponseMessage]`.
struct Params {
    metadata: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    timeout: Option<Duration>,
    discard: bool,
}

fn params(p: Object<'_>) -> Result<Params> {
    let metadata: Vec<Vec<String>> = p.get("metadata")?;
    let ms: Option<f64> = p.get("timeout")?;
    Ok(Params {
        metadata: metadata
            .into_iter()
            .filter_map(|kv| Some((kv.first()?.clone(), kv.get(1)?.clone())))
            .collect(),
        tags: super::tag_pairs(p.get("tags")?)?,
        timeout: ms
            .filter(|m| *m > 0.0)
            .map(|m| Duration::from_secs_f64(m / 1000.0)),
        discard: p.get::<_, Option<bool>>("discard")?.unwrap_or(false),
    })
}

/// The response object k6 gives a script.
fn response<'js>(
    ctx: &Ctx<'js>,
    r: &Reply,
    output: &MessageDescriptor,
    discard: bool,
) -> Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    o.set("status", r.status as i32)?;
    // k6 converts the response message even when the call failed (then it is all defaults).
    let message = if discard {
        serde_json::json!({})
    } else {
        match &r.message {
            Some(m) => json::to_json(m),
            None => json::to_json(&brunt_grpc::DynamicMessage::new(output.clone())),
        }
    };
    o.set("message", json_value(ctx, &message)?)?;
    o.set("headers", metadata(ctx, &r.headers)?)?;
    o.set("trailers", metadata(ctx, &r.trailers)?)?;
    match &r.error {
        Some(e) => o.set("error", error_object(ctx, e)?)?,
        None => o.set("error", Value::new_null(ctx.clone()))?,
    }
    Ok(o)
}

fn json_value<'js>(ctx: &Ctx<'js>, v: &serde_json::Value) -> Result<Value<'js>> {
    ctx.json_parse(v.to_string())
}

fn metadata<'js>(ctx: &Ctx<'js>, m: &brunt_grpc::Metadata) -> Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    for (k, vs) in m {
        o.set(k.as_str(), vs.clone())?;
    }
    Ok(o)
}

/// A failed status as k6 shows it: `{code, message, details}`.
fn error_object<'js>(ctx: &Ctx<'js>, s: &Status) -> Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    o.set("code", s.code() as i32)?;
    o.set("message", s.message())?;
    o.set("details", Array::new(ctx.clone())?)?;
    Ok(o)
}

/// Registers k6's gRPC metrics and installs the natives of `k6/net/grpc`.
pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let reg = &host.shared.registry;
    let metric = |name: &str, t: MetricType, v: ValueType| {
        reg.register(name, t, v)
            .map_err(|e| throw(ctx, &e.to_string()))
    };
    let m = Metrics {
        duration: metric("grpc_req_duration", MetricType::Trend, ValueType::Time)?,
        streams: metric("grpc_streams", MetricType::Counter, ValueType::Default)?,
        sent: metric(
            "grpc_streams_msgs_sent",
            MetricType::Counter,
            ValueType::Default,
        )?,
        received: metric(
            "grpc_streams_msgs_received",
            MetricType::Counter,
            ValueType::Default,
        )?,
    };
    let (tx, rx) = unbounded_channel();
    let st = Rc::new(State {
        host: host.clone(),
        m,
        clients: RefCell::default(),
        tx,
        rx: Rc::new(RefCell::new(rx)),
        next_id: Cell::new(0),
        pending: RefCell::default(),
    });

    let constants = Object::new(ctx.clone())?;
    for (name, code) in brunt_grpc::status::K6_STATUS_NAMES {
        constants.set(name, code as i32)?;
    }
    for (name, n) in brunt_grpc::health::K6_SERVING_NAMES {
        constants.set(name, n)?;
    }
    native.set("constants", constants)?;

    let s = st.clone();
    def(ctx, native, "client", move || -> usize {
        let mut c = s.clients.borrow_mut();
        c.push(Client::default());
        c.len() - 1
    })?;

    let s = st.clone();
    def(
        ctx,
        native,
        "load",
        move |ctx: Ctx<'js>,
              id: usize,
              paths: Vec<String>,
              files: Vec<String>|
              -> Result<Array<'js>> {
            if s.host.phase.get() != Phase::Init {
                return Err(throw(&ctx, "load must be called in the init context"));
            }
            // As k6: relative paths from the calling module's directory; none given, that one.
            let mut dirs: Vec<std::path::PathBuf> = paths
                .iter()
                .map(|p| super::globals::resolve_path(&ctx, &s.host, p))
                .collect();
            if dirs.is_empty() {
                dirs.push(super::globals::resolve_path(&ctx, &s.host, "."));
            }
            let key = format!("{dirs:?}{files:?}");
            load_once(&ctx, &s, id, &key, || protos::parse(&dirs, &files))
        },
    )?;

    let s = st.clone();
    def(
        ctx,
        native,
        "loadProtoset",
        move |ctx: Ctx<'js>, id: usize, path: String| -> Result<Array<'js>> {
            if s.host.phase.get() != Phase::Init {
                return Err(throw(&ctx, "load must be called in the init context"));
            }
            let file = super::globals::resolve_path(&ctx, &s.host, &path);
            let key = format!("protoset:{}", file.display());
            load_once(&ctx, &s, id, &key, || {
                let bytes = s
                    .host
                    .shared
                    .file(&file)
                    .map_err(|e| format!("couldn't open protoset: {e}"))?;
                protos::decode_protoset(&bytes)
                    .map_err(|e| format!("couldn't unmarshal protoset file {path}: {e}"))
            })
        },
    )?;

    let s = st.clone();
    def(
        ctx,
        native,
        "connect",
        move |ctx: Ctx<'js>, id: usize, addr: String, p: Object<'js>| -> Result<bool> {
            if s.host.phase.get() == Phase::Init {
                return Err(throw(
                    &ctx,
                    "connecting to a gRPC server in the init context is not supported",
                ));
            }
            let (host, port) = split_addr(&addr).map_err(|e| throw(&ctx, &e))?;
            let plaintext: bool = p.get("plaintext")?;
            let timeout: f64 = p.get("timeout")?;
            let authority: Option<String> = p.get("authority")?;
            let max_receive: f64 = p.get("maxReceiveSize")?;
            let max_send: f64 = p.get("maxSendSize")?;
            let opts = ConnectOptions {
                authority: authority.unwrap_or_else(|| format!("{host}:{port}")),
                tls: !plaintext,
                user_agent: None,
                max_receive: if max_receive > 0.0 {
                    max_receive as usize
                } else {
                    brunt_grpc::DEFAULT_MAX_RECEIVE
                },
                max_send: if max_send > 0.0 {
                    max_send as usize
                } else {
                    i32::MAX as usize
                },
            };
            let extras = match p.get::<_, Option<Object<'js>>>("tls")? {
                Some(t) if !plaintext => {
                    let param = super::grpc_tls::TlsParam {
                        cert: t.get("cert")?,
                        key: t.get("key")?,
                        password: t.get("password")?,
                        cacerts: t.get("cacerts")?,
                    };
                    Some(super::grpc_tls::extras(&param).map_err(|e| throw(&ctx, &e))?)
                }
                _ => None,
            };
            let op = GrpcOp::Connect(Box::new(Dial {
                host,
                port,
                tls: !plaintext,
                extras,
                opts,
                timeout: Duration::from_secs_f64(timeout.max(0.0) / 1000.0),
            }));
            let GrpcReply::Connected(done) = grpc_op(&ctx, &s.host, op)? else {
                return Err(throw(&ctx, "the gRPC driver answered another request"));
            };
            let (conn, counter, tracing) = done.map_err(|e| throw(&ctx, &e))?;
            if p.get::<_, bool>("reflect")? {
                let meta: Vec<Vec<String>> = p.get("reflectMetadata")?;
                let meta: Vec<(String, String)> = meta
                    .into_iter()
                    .filter_map(|kv| Some((kv.first()?.clone(), kv.get(1)?.clone())))
                    .collect();
                let c = conn.clone();
                let f = async move { GrpcReply::Reflected(reflection::reflect(&c, &meta).await) };
                let start = Instant::now();
                let GrpcReply::Reflected(files) =
                    grpc_op(&ctx, &s.host, GrpcOp::Await(Box::pin(f)))?
                else {
                    return Err(throw(&ctx, "the gRPC driver answered another request"));
                };
                s.emit_bytes(&counter);
                let files = files.map_err(|e| throw(&ctx, &e))?;
                s.emit_duration(Vec::new(), brunt_grpc::Code::Ok, start.elapsed());
                let mut clients = s.clients.borrow_mut();
                let client = clients
                    .get_mut(id)
                    .ok_or_else(|| throw(&ctx, "not a gRPC client"))?;
                client
                    .protos
                    .add(files)
                    .map_err(|e| throw(&ctx, &format!("can't convert method info: {e}")))?;
            }
            let mut clients = s.clients.borrow_mut();
            let client = clients
                .get_mut(id)
                .ok_or_else(|| throw(&ctx, "not a gRPC client"))?;
            client.live = Some(Live {
                conn,
                counter,
                addr,
                tracing,
            });
            Ok(true)
        },
    )?;

    let s = st.clone();
    def(
        ctx,
        native,
        "invoke",
        move |ctx: Ctx<'js>,
              id: usize,
              method: String,
              body: String,
              p: Object<'js>|
              -> Result<Object<'js>> {
            let (call, send) = s.unary(&ctx, id, &method, &body, p)?;
            let f = async move { GrpcReply::Invoked(send.await) };
            let GrpcReply::Invoked(reply) = grpc_op(&ctx, &s.host, GrpcOp::Await(Box::pin(f)))?
            else {
                return Err(throw(&ctx, "the gRPC driver answered another request"));
            };
            s.emit_end(&call, reply.status, reply.took);
            response(&ctx, &reply, &call.output, call.discard)
        },
    )?;

    let s = st.clone();
    def(
        ctx,
        native,
        "asyncInvoke",
        move |ctx: Ctx<'js>,
              id: usize,
              method: String,
              body: String,
              p: Object<'js>|
              -> Result<f64> {
            let (call, send) = s.unary(&ctx, id, &method, &body, p)?;
            let n = s.next_id.get() + 1;
            s.next_id.set(n);
            let tx = s.tx.clone();
            let task = tokio::spawn(async move {
                let _ = tx.send(Event::Invoked(n, send.await));
            });
            s.pending
                .borrow_mut()
                .insert(n, Pending::Invoke(call, task.abort_handle()));
            Ok(n as f64)
        },
    )?;

    let s = st.clone();
    def(
        ctx,
        native,
        "streamOpen",
        move |ctx: Ctx<'js>, id: usize, method: String, p: Object<'js>| -> Result<Object<'js>> {
            let (conn, desc, live) = s.target(&ctx, id, &method)?;
            let mut p = params(p)?;
            let call = s.call(&live, &desc, &mut p);
            let n = s.next_id.get() + 1;
            s.next_id.set(n);
            let tx = s.tx.clone();
            let stream = conn.open_stream(&desc, p.metadata, p.timeout, move |e| {
                let _ = tx.send(Event::Stream(n, e));
            });
            s.emit(s.m.streams, 1.0, &call.tags);
            s.pending
                .borrow_mut()
                .insert(n, Pending::Stream(call, stream));
            let o = Object::new(ctx.clone())?;
            o.set("id", n as f64)?;
            // Without client streaming, the first message is the whole request (grpc-go ends the
            // sending side after it).
            o.set("single", !desc.is_client_streaming())?;
            Ok(o)
        },
    )?;

    let s = st.clone();
    def(
        ctx,
        native,
        "streamWrite",
        move |ctx: Ctx<'js>, id: f64, body: String| -> Result<Value<'js>> {
            let mut pending = s.pending.borrow_mut();
            let Some(Pending::Stream(call, stream)) = pending.get_mut(&(id as u64)) else {
                return Ok(Value::new_null(ctx));
            };
            let msg = json::from_json(&call.input, &body).map_err(|e| {
                throw(
                    &ctx,
                    &format!("can't serialise request object to protocol buffer: {e}"),
                )
            })?;
            match stream.write(msg) {
                Ok(()) => {
                    s.emit(s.m.sent, 1.0, &call.tags);
                    Ok(Value::new_null(ctx))
                }
                Err(status) => {
                    // grpc-go's send failure ends the stream with that error.
                    let Some(Pending::Stream(call, _)) = pending.remove(&(id as u64)) else {
                        return Ok(Value::new_null(ctx));
                    };
                    s.emit_end(&call, status.code(), Duration::ZERO);
                    Ok(error_object(&ctx, &status)?.into_value())
                }
            }
        },
    )?;

    let s = st.clone();
    def(ctx, native, "streamEnd", move |id: f64| {
        if let Some(Pending::Stream(_, stream)) = s.pending.borrow_mut().get_mut(&(id as u64)) {
            stream.end();
        }
    })?;

    let s = st.clone();
    def(
        ctx,
        native,
        "next",
        move |ctx: Ctx<'js>| -> Result<Value<'js>> {
            if s.pending.borrow().is_empty() {
                return Ok(Value::new_bool(ctx, false));
            }
            if super::http::jobs_pending(&ctx) {
                // Other jobs first: the pump runs again after them.
                return Ok(Value::new_null(ctx));
            }
            // No later than the VU's next timer, so that timers run on time between events.
            let until = s.host.timers.borrow().next_due();
            let GrpcReply::Event(first) = grpc_op(&ctx, &s.host, GrpcOp::Next(s.rx.clone(), until))
                .inspect_err(|_| {
                    // Cancelled: the calls and streams of the interrupted iteration go.
                    for (_, p) in s.pending.borrow_mut().drain() {
                        if let Pending::Invoke(_, task) = p {
                            task.abort();
                        }
                    }
                })?
            else {
                return Err(throw(&ctx, "the gRPC driver answered another request"));
            };
            let out = Array::new(ctx.clone())?;
            let mut ev = first;
            while let Some(e) = ev {
                deliver(&ctx, &s, e, &out)?;
                ev = s.rx.borrow_mut().try_recv().ok();
            }
            Ok(out.into_value())
        },
    )?;

    let s = st.clone();
    def(
        ctx,
        native,
        "health",
        move |ctx: Ctx<'js>, id: usize, service: String| -> Result<Object<'js>> {
            let live = {
                let clients = s.clients.borrow();
                match clients.get(id).and_then(|c| c.live.as_ref()) {
                    Some(l) => l.clone(),
                    None => {
                        return Err(throw(
                            &ctx,
                            "no gRPC connection, you must call connect first",
                        ))
                    }
                }
            };
            let conn = live.conn.clone();
            let f =
                async move { GrpcReply::Health(brunt_grpc::health::check(&conn, &service).await) };
            let start = Instant::now();
            let GrpcReply::Health(status) = grpc_op(&ctx, &s.host, GrpcOp::Await(Box::pin(f)))?
            else {
                return Err(throw(&ctx, "the gRPC driver answered another request"));
            };
            let code = status
                .as_ref()
                .map_or_else(Status::code, |_| brunt_grpc::Code::Ok);
            s.emit_duration(Vec::new(), code, start.elapsed());
            s.emit_bytes(&live.counter);
            let status = status.map_err(|e| throw(&ctx, &brunt_grpc::status::error_text(&e)))?;
            let o = Object::new(ctx.clone())?;
            o.set("status", status)?;
            Ok(o)
        },
    )?;

    let s = st;
    def(ctx, native, "close", move |id: usize| {
        if let Some(c) = s.clients.borrow_mut().get_mut(id) {
            c.live = None;
        }
    })?;
    Ok(())
}

/// Turns one event into what the JavaScript layer dispatches, recording its metrics.
fn deliver<'js>(ctx: &Ctx<'js>, s: &State, e: Event, out: &Array<'js>) -> Result<()> {
    let o = Object::new(ctx.clone())?;
    match e {
        Event::Invoked(id, reply) => {
            let Some(Pending::Invoke(call, _)) = s.pending.borrow_mut().remove(&id) else {
                return Ok(());
            };
            s.emit_end(&call, reply.status, reply.took);
            o.set("type", "invoked")?;
            o.set("id", id as f64)?;
            o.set(
                "response",
                response(ctx, &reply, &call.output, call.discard)?,
            )?;
        }
        Event::Stream(id, StreamEvent::Message(msg)) => {
            let pending = s.pending.borrow();
            let Some(Pending::Stream(call, _)) = pending.get(&id) else {
                return Ok(());
            };
            s.emit(s.m.received, 1.0, &call.tags);
            let message = if call.discard {
                serde_json::json!({})
            } else {
                json::to_json(&msg)
            };
            o.set("type", "data")?;
            o.set("id", id as f64)?;
            o.set("message", json_value(ctx, &message)?)?;
        }
        Event::Stream(id, StreamEvent::End { error, took }) => {
            let Some(Pending::Stream(call, _)) = s.pending.borrow_mut().remove(&id) else {
                return Ok(());
            };
            let code = error.as_ref().map_or(brunt_grpc::Code::Ok, Status::code);
            s.emit_end(&call, code, took);
            o.set("type", "end")?;
            o.set("id", id as f64)?;
            // As k6: a stream cancelled by the client ends without an error.
            match error.filter(|e| e.code() != brunt_grpc::Code::Cancelled) {
                Some(e) => o.set("error", error_object(ctx, &e)?)?,
                None => o.set("error", Value::new_null(ctx.clone()))?,
            }
        }
    }
    out.set(out.len(), o)?;
    Ok(())
}

/// Loads the files `read` gives (once per run for each `key`) into a client; returns k6's
/// method list.
fn load_once<'js>(
    ctx: &Ctx<'js>,
    s: &State,
    id: usize,
    key: &str,
    read: impl FnOnce() -> std::result::Result<Vec<brunt_grpc::FileDescriptorProto>, String>,
) -> Result<Array<'js>> {
    let loaded = s.host.shared.grpc_protos(key, || {
        let mut p = Protos::default();
        let methods = p.add(read()?)?;
        Ok((p, methods))
    });
    let (loaded, methods) = loaded.map_err(|e| throw(ctx, &e))?;
    add_protos(ctx, s, id, loaded, methods)
}

/// Adds loaded protos to a client; returns k6's method list.
fn add_protos<'js>(
    ctx: &Ctx<'js>,
    s: &State,
    id: usize,
    loaded: Protos,
    methods: Vec<MethodInfo>,
) -> Result<Array<'js>> {
    {
        let mut clients = s.clients.borrow_mut();
        let client = clients
            .get_mut(id)
            .ok_or_else(|| throw(ctx, "not a gRPC client"))?;
        if client.protos.is_empty() {
            client.protos = loaded.clone();
        } else {
            let files = loaded
                .pool()
                .files()
                .map(|f| f.file_descriptor_proto().clone())
                .collect();
            client.protos.add(files).map_err(|e| throw(ctx, &e))?;
        }
    }
    let out = Array::new(ctx.clone())?;
    for (i, m) in methods.iter().enumerate() {
        let o = Object::new(ctx.clone())?;
        // k6 v1.1's field names.
        o.set("package", m.package.as_str())?;
        o.set("service", m.service.rsplit('.').next().unwrap_or_default())?;
        o.set("full_method", m.full_method.as_str())?;
        o.set("name", m.full_method.rsplit('/').next().unwrap_or_default())?;
        o.set("is_client_stream", m.client_streaming)?;
        o.set("is_server_stream", m.server_streaming)?;
        out.set(i, o)?;
    }
    Ok(out)
}

/// `host:port` (`[v6]:port`); without a port, gRPC's 443.
fn split_addr(addr: &str) -> std::result::Result<(String, u16), String> {
    let bad = || format!("invalid gRPC address \"{addr}\": use host:port, e.g. 127.0.0.1:9000");
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if tail.is_empty() => 443,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !host.contains(':') => {
            Ok((host.to_string(), port.parse().map_err(|_| bad())?))
        }
        None if !addr.is_empty() => Ok((addr.to_string(), 443)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::split_addr;

    #[test]
    fn addresses_are_host_and_port() {
        assert_eq!(
            split_addr("127.0.0.1:9000").unwrap(),
            ("127.0.0.1".into(), 9000)
        );
        assert_eq!(split_addr("grpc.example:443").unwrap().1, 443);
        assert_eq!(split_addr("example.com").unwrap().1, 443);
        assert_eq!(split_addr("[::1]:81").unwrap(), ("::1".into(), 81));
        assert!(split_addr("host:port").is_err());
        assert!(split_addr("").is_err());
    }
}
