//! `k6/websockets` (and the deprecated `k6/experimental/websockets`): the browser's WebSocket
//! API. A socket is a small state machine that the VU's I/O driver polls beside its HTTP
//! requests at every wait (`io.rs`), not a task or a thread of its own: what the script sends
//! waits in the socket's queue until the VU next waits, and what happens on the wire becomes an
//! [`Event`] queued here. The VU's event loop (`timers::run_next`) waits for events beside its
//! timers and hands each to the JavaScript layer (`js/websockets.js`), which keeps the socket's
//! `readyState` and `bufferedAmount` and fires its listeners; the metrics are recorded here, on
//! the way, with k6's names and tags.

use super::ws::{close_error, handshake, Failed, Head, Opened, Wire};
use super::{array_buffer, def, throw};
use crate::host::{Host, ScriptError};
use crate::runtime::caught;
use crate::vu::IoRequest;
use brunt_http::{ByteCounter, Client};
use brunt_metrics::{builtin, Aggregator, MetricId, MetricType, SystemTag, TagSet, ValueType};
use futures_util::{Sink, Stream};
use rquickjs::{Array, CatchResultExt, Ctx, Function, IntoJs, Object, Persistent, Result, Value};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

/// How long a closing socket waits for the other side's close frame before it is dropped
/// (gorilla/websocket, k6's, waits for ever; a VU must not).
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Events read ahead of the script: past this, a socket is read again only after the script
/// has taken some (a server that floods a busy VU fills the socket's buffers, not the heap).
const READ_AHEAD: usize = 1024;

type Handshake = Pin<Box<dyn Future<Output = (std::result::Result<Opened, Failed>, Duration)>>>;

/// A socket's connection, as the driver sees it.
enum Conn {
    /// Asked for by the script; the driver starts it (it holds the VU's client). True to offer
    /// permessage-deflate.
    New(String, Vec<(String, String)>, bool),
    Connecting(Handshake),
    /// Open; true once the close handshake is over for the script (its close event is queued):
    /// the reply close frame is then flushed and the connection read to its end, in the
    /// background.
    Open(Box<WebSocketStream<Wire>>, bool),
    /// Done with (only while changing state).
    Gone,
}

/// One socket in the driver's hands.
struct Socket {
    id: u32,
    conn: Conn,
    /// Messages the script sent, not yet handed to the connection.
    out: VecDeque<Message>,
    /// Set when a close frame went out or came in: the close handshake must end by then.
    close_by: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// What happened on a socket, for the script.
pub(crate) enum Event {
    Open(u32, Duration, Head, std::net::IpAddr, ByteCounter),
    Failed(u32, Duration, Option<Head>, String),
    Text(u32, String),
    Binary(u32, Vec<u8>),
    Ping(u32),
    Pong(u32, Vec<u8>, Instant),
    /// The socket closed: the close code (0 for none), its reason, and the error when the close
    /// was not a normal one.
    Closed(u32, u16, String, Option<String>),
}

/// What the script side keeps of a socket until it closes: its tags, for the metrics.
struct Meta {
    tags: TagSet,
    /// When the socket was made: `ws_session_duration` runs from here, as in k6.
    start: Instant,
    /// Pings sent, by id, awaiting their pong.
    pings: HashMap<String, Instant>,
    ping_seq: u64,
    /// The script called `close()`: messages that still arrive are dropped, as in k6.
    closing: bool,
    opened: bool,
    bytes: Option<ByteCounter>,
    /// Bytes of data messages sent and not yet written (`bufferedAmount`).
    buffered: usize,
    /// The cookie jar of the handshake (k6/http's jar id), and the URL its cookies are for.
    jar: usize,
    url: url::Url,
}

/// The VU's sockets: shared by its natives (which queue commands) and its I/O driver (which
/// polls them), never both at once.
#[derive(Default)]
pub(crate) struct Sockets {
    next_id: u32,
    live: Vec<Socket>,
    events: VecDeque<Event>,
    meta: HashMap<u32, Meta>,
    /// The script's side, once the module is imported; cleared before the VU's runtime is freed.
    script: Option<Rc<Script>>,
    /// `k6/ws`'s socket, kept here between the VU's waits (the driver takes it for each), and
    /// its session: the end of a call closes what an interruption left open.
    pub(crate) blocking: Option<super::ws::Live>,
    pub(crate) blocking_session: Rc<RefCell<Option<super::ws::Session>>>,
}

/// What delivering events needs of the script's side.
struct Script {
    /// The JavaScript layer's `deliver(event)`.
    deliver: Persistent<Function<'static>>,
    metrics: Metrics,
    /// The cookie jars (k6/http's), which handshakes read and fill.
    jars: Rc<super::http::State>,
    /// The VU's samples, which the driver adds `ws_msgs_sent` to as it writes.
    samples: Rc<RefCell<Aggregator>>,
}

/// What the driver does itself as it hands a frame to a connection, with no event for the
/// script (which would wake the VU for nothing): the frame counts in `ws_msgs_sent` (k6 counts
/// every frame it writes, pings and the close frame included), and a data message leaves
/// `bufferedAmount`.
struct Written<'a> {
    meta: &'a mut HashMap<u32, Meta>,
    script: Option<&'a Script>,
}

impl Written<'_> {
    fn record(&mut self, id: u32, size: usize, data: bool) {
        let Some(meta) = self.meta.get_mut(&id) else {
            return;
        };
        if data {
            meta.buffered = meta.buffered.saturating_sub(size);
        }
        if let Some(script) = self.script {
            let sent = script.metrics.sent;
            script.samples.borrow_mut().add(sent, &meta.tags, 1.0);
        }
    }
}

impl Sockets {
    /// Whether the event loop has anything of the sockets' to wait for.
    pub(crate) fn pending(&self) -> bool {
        !self.events.is_empty() || self.live.iter().any(|s| !s.draining())
    }

    /// Whether a wait for events can end: one is queued, or no socket can make one.
    pub(crate) fn ready(&self) -> bool {
        !self.pending() || !self.events.is_empty()
    }

    /// Whether an event waits for the script.
    pub(crate) fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Whether the driver has nothing to poll.
    pub(crate) fn idle(&self) -> bool {
        self.live.is_empty()
    }

    /// Drives every socket: starts handshakes, writes what was sent, reads what came.
    pub(crate) fn poll(&mut self, client: &Rc<Client>, cx: &mut Context<'_>) {
        let mut i = 0;
        while i < self.live.len() {
            let written = Written {
                meta: &mut self.meta,
                script: self.script.as_deref(),
            };
            if self.live[i].poll(client, cx, &mut self.events, written) {
                self.live.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    fn socket(&mut self, id: u32) -> Option<&mut Socket> {
        self.live.iter_mut().find(|s| s.id == id)
    }

    /// Forgets the JavaScript side (the VU's runtime is going away).
    pub(crate) fn clear(&mut self) {
        self.script = None;
        self.blocking = None;
        self.blocking_session.borrow_mut().take();
        self.events.clear();
        self.meta.clear();
        self.live.clear();
    }
}

impl Socket {
    fn draining(&self) -> bool {
        matches!(self.conn, Conn::Open(_, true))
    }

    /// Advances the socket; true when it is done with.
    fn poll(
        &mut self,
        client: &Rc<Client>,
        cx: &mut Context<'_>,
        events: &mut VecDeque<Event>,
        mut written: Written<'_>,
    ) -> bool {
        loop {
            match &mut self.conn {
                Conn::New(url, headers, compress) => {
                    let (url, headers) = (std::mem::take(url), std::mem::take(headers));
                    let (client, compress) = (client.clone(), *compress);
                    self.conn = Conn::Connecting(Box::pin(async move {
                        let start = Instant::now();
                        let r = handshake(&client, &url, headers, compress).await;
                        (r, start.elapsed())
                    }));
                }
                Conn::Connecting(f) => match f.as_mut().poll(cx) {
                    Poll::Pending => return false,
                    Poll::Ready((Ok(o), took)) => {
                        events.push_back(Event::Open(self.id, took, o.head, o.ip, o.bytes));
                        self.conn = Conn::Open(Box::new(o.sock), false);
                    }
                    Poll::Ready((Err((head, e)), took)) => {
                        events.push_back(Event::Failed(self.id, took, head, e));
                        return true;
                    }
                },
                Conn::Open(ws, false) => {
                    match poll_open(
                        self.id,
                        ws,
                        &mut self.out,
                        &mut self.close_by,
                        cx,
                        events,
                        &mut written,
                    ) {
                        Step::Pending => {}
                        Step::Closed => {
                            self.conn = match std::mem::replace(&mut self.conn, Conn::Gone) {
                                Conn::Open(ws, _) => Conn::Open(ws, true),
                                other => other,
                            };
                            self.close_by
                                .get_or_insert_with(|| Box::pin(tokio::time::sleep(CLOSE_WAIT)));
                            continue;
                        }
                        Step::Gone => return true,
                    }
                    // The close handshake ran out of time: the socket ends abnormally.
                    if self
                        .close_by
                        .as_mut()
                        .is_some_and(|t| t.as_mut().poll(cx).is_ready())
                    {
                        let e = close_error(1006, "the server did not answer the close frame");
                        events.push_back(Event::Closed(self.id, 1006, String::new(), Some(e)));
                        return true;
                    }
                    return false;
                }
                Conn::Open(ws, true) => {
                    let done = loop {
                        match Pin::new(&mut **ws).poll_next(cx) {
                            Poll::Ready(Some(Ok(_))) => continue,
                            Poll::Ready(_) => break true,
                            Poll::Pending => break false,
                        }
                    };
                    let _ = Pin::new(&mut **ws).poll_flush(cx);
                    return done
                        || self
                            .close_by
                            .as_mut()
                            .is_some_and(|t| t.as_mut().poll(cx).is_ready());
                }
                Conn::Gone => return true,
            }
        }
    }
}

/// How an open socket's turn ended.
enum Step {
    Pending,
    /// A close frame came in (its event is queued): the socket drains.
    Closed,
    /// The connection failed or ended (its event is queued).
    Gone,
}

/// Writes the queued messages, then reads what came, into `events`.
fn poll_open(
    id: u32,
    ws: &mut WebSocketStream<Wire>,
    out: &mut VecDeque<Message>,
    close_by: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    cx: &mut Context<'_>,
    events: &mut VecDeque<Event>,
    written: &mut Written<'_>,
) -> Step {
    let mut ws = Pin::new(ws);
    while !out.is_empty() {
        match ws.as_mut().poll_ready(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return failed(id, e, events),
            Poll::Pending => break,
        }
        let msg = out.pop_front().expect("a queued message");
        let size = msg.len();
        let data = matches!(msg, Message::Text(_) | Message::Binary(_));
        let close = matches!(msg, Message::Close(_));
        if let Err(e) = ws.as_mut().start_send(msg) {
            return failed(id, e, events);
        }
        written.record(id, size, data);
        if close {
            close_by.get_or_insert_with(|| Box::pin(tokio::time::sleep(CLOSE_WAIT)));
        }
    }
    if let Poll::Ready(Err(e)) = ws.as_mut().poll_flush(cx) {
        return failed(id, e, events);
    }
    while events.len() < READ_AHEAD {
        let msg = match ws.as_mut().poll_next(cx) {
            Poll::Pending => break,
            Poll::Ready(Some(Ok(msg))) => msg,
            Poll::Ready(Some(Err(e))) => return failed(id, e, events),
            Poll::Ready(None) => return failed(id, tungstenite::Error::ConnectionClosed, events),
        };
        match msg {
            Message::Text(t) => events.push_back(Event::Text(id, t.as_str().to_owned())),
            Message::Binary(b) => events.push_back(Event::Binary(id, b.to_vec())),
            Message::Ping(_) => {
                // tungstenite queued the pong: send it now, not with the next write.
                let _ = ws.as_mut().poll_flush(cx);
                events.push_back(Event::Ping(id));
            }
            Message::Pong(data) => events.push_back(Event::Pong(id, data.to_vec(), Instant::now())),
            Message::Close(frame) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                // As gorilla/websocket (k6): a close other than normal or going away is an error.
                let error = (code != 1000 && code != 1001).then(|| close_error(code, &reason));
                events.push_back(Event::Closed(id, code, reason, error));
                return Step::Closed;
            }
            Message::Frame(_) => {}
        }
    }
    Step::Pending
}

/// The event of a connection that failed: an end without a close frame is gorilla's abnormal
/// closure (1006, "unexpected EOF"); anything else closes with its own words.
fn failed(id: u32, e: tungstenite::Error, events: &mut VecDeque<Event>) -> Step {
    use tungstenite::error::ProtocolError;
    let error = match e {
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            close_error(1006, "unexpected EOF")
        }
        tungstenite::Error::Capacity(c) => format!("websocket: read limit exceeded ({c})"),
        other => format!("websocket: {other}"),
    };
    events.push_back(Event::Closed(id, 1006, String::new(), Some(error)));
    Step::Gone
}

/// k6's WebSocket metrics (both modules'), registered on first import.
pub(crate) struct Metrics {
    pub sessions: MetricId,
    pub connecting: MetricId,
    pub duration: MetricId,
    pub sent: MetricId,
    pub received: MetricId,
    pub ping: MetricId,
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Metrics {
    /// Registers the metrics (once per run; later calls find them).
    pub(crate) fn register(ctx: &Ctx<'_>, host: &Host) -> Result<Self> {
        Self::ids(host).map_err(|e| throw(ctx, &e))
    }

    pub(crate) fn ids(host: &Host) -> std::result::Result<Self, String> {
        let reg = &host.shared.registry;
        let metric = |name: &str, t: MetricType, v: ValueType| {
            reg.register(name, t, v).map_err(|e| e.to_string())
        };
        Ok(Metrics {
            sessions: metric("ws_sessions", MetricType::Counter, ValueType::Default)?,
            connecting: metric("ws_connecting", MetricType::Trend, ValueType::Time)?,
            duration: metric("ws_session_duration", MetricType::Trend, ValueType::Time)?,
            sent: metric("ws_msgs_sent", MetricType::Counter, ValueType::Default)?,
            received: metric("ws_msgs_received", MetricType::Counter, ValueType::Default)?,
            ping: metric("ws_ping", MetricType::Trend, ValueType::Time)?,
        })
    }
}

fn add(host: &Host, metric: MetricId, tags: &TagSet, value: f64) {
    host.metrics.borrow_mut().add(metric, tags, value);
}

/// A closed socket's last samples: its duration (when it opened) and its bytes.
fn finish(host: &Host, m: &Metrics, meta: Meta) {
    if meta.opened {
        add(host, m.duration, &meta.tags, ms(meta.start.elapsed()));
    }
    if let Some(b) = &meta.bytes {
        record_bytes(host, b);
    }
}

/// The bytes a socket moved since last asked, as `data_sent` and `data_received` under the
/// iteration's tags (k6 counts a VU's connections' bytes alike).
pub(crate) fn record_bytes(host: &Host, bytes: &ByteCounter) {
    let (sent, received) = bytes.take();
    if sent > 0 {
        host.emit(builtin::DATA_SENT, sent as f64, &[]);
    }
    if received > 0 {
        host.emit(builtin::DATA_RECEIVED, received as f64, &[]);
    }
}

/// Ends what a call left open (an exception, or the scenario's end interrupting it): each socket
/// gets a normal close frame if its connection takes it at once, as k6 closes its sockets when
/// the VU is interrupted, and its last samples. Called after every call.
pub(crate) fn end_call(host: &Host) {
    let mut s = host.websockets.borrow_mut();
    let session = s.blocking_session.borrow_mut().take();
    if session.is_some() {
        let socket = s.blocking.take();
        drop(s);
        super::ws::end_interrupted(host, socket, session);
        s = host.websockets.borrow_mut();
    }
    if s.meta.is_empty() {
        return;
    }
    // Sockets whose close is over for the script finish draining in the VU's later waits.
    let (draining, left): (Vec<Socket>, Vec<Socket>) = std::mem::take(&mut s.live)
        .into_iter()
        .partition(Socket::draining);
    s.live = draining;
    for sock in left {
        if let Conn::Open(mut ws, false) = sock.conn {
            close_now(&mut ws, CloseCode::Normal);
        }
    }
    s.events.clear();
    let metas: Vec<Meta> = s.meta.drain().map(|(_, m)| m).collect();
    let script = s.script.clone();
    drop(s);
    if let Some(script) = script {
        for meta in metas {
            finish(host, &script.metrics, meta);
        }
    }
}

/// Waits for the sockets' next event, or until `until` (the VU's next timer), and hands it to
/// the script's listeners; false when `until` came first.
pub(crate) fn deliver_next(
    ctx: &Ctx<'_>,
    host: &Host,
    until: Option<Instant>,
) -> std::result::Result<bool, ScriptError> {
    let queued = !host.websockets.borrow().events.is_empty();
    // (No borrow of the sockets may live across the wait: the driver polls them meanwhile.)
    if !queued && host.wait(IoRequest::Sockets(until)).is_err() {
        return Err(ScriptError::plain("the VU was stopped".into()));
    }
    let (event, script) = {
        let mut s = host.websockets.borrow_mut();
        (s.events.pop_front(), s.script.clone())
    };
    let Some(event) = event else {
        return Ok(false);
    };
    let Some(script) = script else {
        return Ok(true);
    };
    let record = record(ctx, host, &script, event)
        .catch(ctx)
        .map_err(|e| caught(ctx, e))?;
    if let Some((id, kind, [a, b, c])) = record {
        let deliver =
            script.deliver.clone().restore(ctx).map_err(|e| {
                ScriptError::plain(format!("the WebSocket listeners are gone: {e}"))
            })?;
        deliver
            .call::<_, Value>((id, kind as u8, a, b, c))
            .catch(ctx)
            .map_err(|e| caught(ctx, e))?;
    }
    Ok(true)
}

/// The kinds of event `js/websockets.js`'s `deliver` takes (its OPENED, MESSAGE, ...).
#[derive(Clone, Copy)]
enum Kind {
    Open = 0,
    Message = 1,
    Ping = 2,
    Pong = 3,
    Close = 4,
}

/// An event for `deliver(id, kind, a, b, c)`: the socket, the kind, and the kind's fields as
/// arguments (no object is built per event): open (protocol, extensions header), message
/// (data), close (code, reason, error).
type Delivery<'js> = (u32, Kind, [Value<'js>; 3]);

/// Records an event's samples and turns it into what `js/websockets.js` delivers; None for
/// the events the script does not see (a message after `close()`, an event of a socket gone).
fn record<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    script: &Script,
    event: Event,
) -> Result<Option<Delivery<'js>>> {
    let m = &script.metrics;
    let id = event_id(&event);
    let none = || Value::new_undefined(ctx.clone());
    let mut sockets = host.websockets.borrow_mut();
    let (kind, args) = match event {
        Event::Open(id, took, head, ip, bytes) => {
            let Some(meta) = sockets.meta.get_mut(&id) else {
                return Ok(None);
            };
            let protocol = header(&head, "Sec-Websocket-Protocol");
            let system = host.shared.system_tags();
            let mut extra: Vec<(&str, String)> = Vec::new();
            if system.has(SystemTag::Ip) {
                extra.push(("ip", ip.to_string()));
            }
            if system.has(SystemTag::Status) {
                extra.push(("status", head.status.to_string()));
            }
            if system.has(SystemTag::Subproto) {
                extra.push(("subproto", protocol.clone()));
            }
            meta.tags = crate::host::intern(meta.tags.with(extra));
            meta.opened = true;
            meta.bytes = Some(bytes);
            let (tags, jar, url) = (meta.tags.clone(), meta.jar, meta.url.clone());
            drop(sockets);
            add(host, m.sessions, &tags, 1.0);
            add(host, m.connecting, &tags, ms(took));
            store_cookies(script, jar, &url, &head);
            let ext = header(&head, "Sec-Websocket-Extensions");
            let args = [protocol.into_js(ctx)?, ext.into_js(ctx)?, none()];
            (Kind::Open, args)
        }
        Event::Failed(id, took, head, error) => {
            let Some(mut meta) = sockets.meta.remove(&id) else {
                return Ok(None);
            };
            drop(sockets);
            if let Some(head) = &head {
                if host.shared.system_tags().has(SystemTag::Status) {
                    meta.tags = meta.tags.with([("status", head.status.to_string())]);
                }
                store_cookies(script, meta.jar, &meta.url, head);
            }
            add(host, m.sessions, &meta.tags, 1.0);
            add(host, m.connecting, &meta.tags, ms(took));
            finish(host, m, meta);
            let args = [0.into_js(ctx)?, "".into_js(ctx)?, error.into_js(ctx)?];
            (Kind::Close, args)
        }
        Event::Text(id, _) | Event::Binary(id, _)
            if sockets.meta.get(&id).is_none_or(|m| m.closing) =>
        {
            return Ok(None);
        }
        Event::Text(id, text) => {
            let tags = sockets.meta[&id].tags.clone();
            drop(sockets);
            add(host, m.received, &tags, 1.0);
            (Kind::Message, [text.into_js(ctx)?, none(), none()])
        }
        Event::Binary(id, bytes) => {
            let tags = sockets.meta[&id].tags.clone();
            drop(sockets);
            add(host, m.received, &tags, 1.0);
            (Kind::Message, [array_buffer(ctx, bytes)?, none(), none()])
        }
        Event::Ping(_) => (Kind::Ping, [none(), none(), none()]),
        Event::Pong(id, data, at) => {
            let Some(meta) = sockets.meta.get_mut(&id) else {
                return Ok(None);
            };
            let ping = String::from_utf8_lossy(&data).into_owned();
            let sample = meta
                .pings
                .remove(&ping)
                .map(|sent| (meta.tags.clone(), sent));
            drop(sockets);
            match sample {
                Some((tags, sent)) => add(host, m.ping, &tags, ms(at.duration_since(sent))),
                None => {
                    brunt_engine::log::warn(&format!("received pong for unknown ping ID {ping}"))
                }
            }
            (Kind::Pong, [none(), none(), none()])
        }
        Event::Closed(id, code, reason, error) => {
            let Some(meta) = sockets.meta.remove(&id) else {
                return Ok(None);
            };
            drop(sockets);
            finish(host, m, meta);
            let args = [
                code.into_js(ctx)?,
                reason.into_js(ctx)?,
                error.into_js(ctx)?,
            ];
            (Kind::Close, args)
        }
    };
    Ok(Some((id, kind, args)))
}

/// A handshake response header's value ("" when absent).
fn header(head: &Head, name: &str) -> String {
    head.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The handshake's cookies go to the socket's jar, as gorilla/websocket's dialer does for k6.
fn store_cookies(script: &Script, jar: usize, url: &url::Url, head: &Head) {
    script
        .jars
        .ws_store(jar, url, head.set_cookies.iter().map(String::as_str));
}

/// The socket `id`'s queue, or the error k6 throws for a socket that is not open.
fn queue(sockets: &mut Sockets, id: u32) -> Option<&mut VecDeque<Message>> {
    sockets.socket(id).map(|s| &mut s.out)
}

/// The native side of `k6/websockets`.
pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    native: &Object<'js>,
    host: &Rc<Host>,
    http: &Rc<super::http::State>,
) -> Result<()> {
    let metrics = RefCell::new(Some(Metrics::register(ctx, host)?));
    let (h, jars) = (host.clone(), http.clone());
    def(
        ctx,
        native,
        "listen",
        move |ctx: Ctx<'js>, deliver: Function<'js>| -> Result<()> {
            let Some(metrics) = metrics.borrow_mut().take() else {
                return Err(throw(&ctx, "k6/websockets is set up already"));
            };
            h.websockets.borrow_mut().script = Some(Rc::new(Script {
                deliver: Persistent::save(&ctx, deliver),
                metrics,
                jars: jars.clone(),
                samples: h.metrics.clone(),
            }));
            Ok(())
        },
    )?;

    let (h, jars) = (host.clone(), http.clone());
    def(
        ctx,
        native,
        "open",
        move |ctx: Ctx<'js>,
              url: String,
              protocols: Vec<String>,
              headers: Option<Object<'js>>,
              tags: Option<Object<'js>>,
              jar: Value<'js>,
              compress: bool|
              -> Result<Array<'js>> {
            let parsed = url::Url::parse(&url).map_err(|e| {
                throw(
                    &ctx,
                    &format!("WebSocket requires valid url, but got {url:?} which resulted in {e}"),
                )
            })?;
            if parsed.scheme() != "ws" && parsed.scheme() != "wss" {
                let msg = format!(
                    "WebSocket requires url with scheme ws or wss, but got {:?}",
                    parsed.scheme()
                );
                return Err(throw(&ctx, &msg));
            }
            if let Some(f) = parsed.fragment() {
                let msg = format!("WebSocket requires no url fragment, but got {f:?}");
                return Err(throw(&ctx, &msg));
            }
            let (mut headers, jar) =
                super::ws::request_headers(&ctx, &h, &jars, headers, &jar, Some(&parsed))?;
            if !protocols.is_empty() {
                headers.push(("Sec-WebSocket-Protocol".into(), protocols.join(", ")));
            }
            let mut tags = super::tag_pairs(tags)?;
            let system = h.shared.system_tags();
            // As k6 (since v0.41): `url` and `name` are both the URL, or both a given name.
            let shown = parsed.to_string();
            match tags
                .iter()
                .find(|(k, _)| k == "name")
                .map(|(_, v)| v.clone())
            {
                Some(name) if system.has(SystemTag::Url) => tags.push(("url".into(), name)),
                Some(_) => {}
                None => {
                    if system.has(SystemTag::Url) {
                        tags.push(("url".into(), shown.clone()));
                    }
                    if system.has(SystemTag::Name) {
                        tags.push(("name".into(), shown.clone()));
                    }
                }
            }
            let tags = crate::host::intern(h.base_tags().with(tags));
            let mut s = h.websockets.borrow_mut();
            s.next_id += 1;
            let id = s.next_id;
            s.live.push(Socket {
                id,
                conn: Conn::New(shown.clone(), headers, compress),
                out: VecDeque::new(),
                close_by: None,
            });
            s.meta.insert(
                id,
                Meta {
                    tags,
                    start: Instant::now(),
                    pings: HashMap::new(),
                    ping_seq: 0,
                    closing: false,
                    opened: false,
                    bytes: None,
                    buffered: 0,
                    jar,
                    url: parsed,
                },
            );
            let out = Array::new(ctx.clone())?;
            out.set(0, id)?;
            out.set(1, shown)?;
            Ok(out)
        },
    )?;

    let h = host.clone();
    def(
        ctx,
        native,
        "send",
        move |ctx: Ctx<'js>, id: u32, data: Value<'js>| -> Result<()> {
            let msg = if let Some(text) = data.as_string() {
                Message::Text(text.to_string()?.into())
            } else if data.is_object() && !data.is_function() && !data.is_array() {
                let obj = data.as_object().expect("an object");
                let view = obj.as_array_buffer().is_some()
                    || ctx
                        .globals()
                        .get::<_, Object>("ArrayBuffer")?
                        .get::<_, Function>("isView")?
                        .call::<_, bool>((data.clone(),))?;
                if !view {
                    return Err(throw(&ctx, "unsupported send type object"));
                }
                Message::Binary(super::bytes_of(&ctx, &data)?.into())
            } else {
                let msg = format!("unsupported send type {}", data.type_name());
                return Err(throw(&ctx, &msg));
            };
            let mut s = h.websockets.borrow_mut();
            let size = msg.len();
            if let Some(q) = queue(&mut s, id) {
                q.push_back(msg);
                if let Some(meta) = s.meta.get_mut(&id) {
                    meta.buffered += size;
                }
            }
            Ok(())
        },
    )?;

    let h = host.clone();
    def(ctx, native, "ping", move |id: u32| {
        let mut s = h.websockets.borrow_mut();
        let Some(meta) = s.meta.get_mut(&id) else {
            return;
        };
        let ping = meta.ping_seq.to_string();
        meta.ping_seq += 1;
        meta.pings.insert(ping.clone(), Instant::now());
        if let Some(q) = queue(&mut s, id) {
            q.push_back(Message::Ping(ping.into_bytes().into()));
        }
    })?;

    let h = host.clone();
    def(
        ctx,
        native,
        "close",
        move |id: u32, code: u16, reason: String| {
            let mut s = h.websockets.borrow_mut();
            if let Some(meta) = s.meta.get_mut(&id) {
                meta.closing = true;
            }
            if let Some(q) = queue(&mut s, id) {
                q.push_back(Message::Close(Some(CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                })));
            }
        },
    )?;

    // A listener threw: the connection is dropped at once, as k6 closes it.
    let h = host.clone();
    def(ctx, native, "abort", move |id: u32| {
        let mut s = h.websockets.borrow_mut();
        s.live.retain(|sock| sock.id != id);
        s.events.retain(|e| event_id(e) != id);
        let meta = s.meta.remove(&id);
        let script = s.script.clone();
        drop(s);
        if let (Some(meta), Some(script)) = (meta, script) {
            finish(&h, &script.metrics, meta);
        }
    })?;

    let h = host.clone();
    def(ctx, native, "buffered", move |id: u32| -> f64 {
        h.websockets
            .borrow()
            .meta
            .get(&id)
            .map_or(0.0, |m| m.buffered as f64)
    })?;

    // Blob.stream()'s ReadableStream: k6/experimental/streams, evaluated on first use.
    let h = host.clone();
    def(ctx, native, "streams", move |ctx: Ctx<'js>| {
        crate::loader::evaluate_internal(&ctx, &h.shared, "k6/experimental/streams")
    })?;

    def(ctx, native, "warn", |msg: String| {
        brunt_engine::log::warn(&msg)
    })
}

fn event_id(e: &Event) -> u32 {
    match e {
        Event::Open(id, ..)
        | Event::Failed(id, ..)
        | Event::Text(id, _)
        | Event::Binary(id, _)
        | Event::Ping(id)
        | Event::Pong(id, ..)
        | Event::Closed(id, ..) => *id,
    }
}

/// Writes a close frame with `code` if the connection takes it at once (no wait: the socket is
/// dropped next).
pub(crate) fn close_now(ws: &mut WebSocketStream<Wire>, code: CloseCode) {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let frame = CloseFrame {
        code,
        reason: "".into(),
    };
    let mut ws = Pin::new(ws);
    if let Poll::Ready(Ok(())) = ws.as_mut().poll_ready(&mut cx) {
        let _ = ws.as_mut().start_send(Message::Close(Some(frame)));
        let _ = ws.as_mut().poll_flush(&mut cx);
    }
}
