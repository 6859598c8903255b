//! `k6/ws`, k6's blocking WebSocket API: the driver side (the VU's one open socket, kept by its
//! I/O driver between waits, as `sse.rs` keeps a stream) and the natives under `js/ws.js`, which
//! runs the socket's handlers and timers in `ws.connect` until the socket closes. Metrics and
//! tags are k6's: `ws_sessions` and `ws_connecting` once the handshake ends (tagged `url`,
//! `status`, `subproto`), `ws_msgs_sent`/`ws_msgs_received` per data message, `ws_ping` per
//! answered ping, `ws_session_duration` when the socket closes. `compression: 'deflate'` is
//! permessage-deflate (`ws_deflate.rs`), for both modules.

use super::websockets::{ms, Metrics};
use super::ws_deflate::{Deflate, OFFER};
use super::ws_read::ReadAhead;
use super::{array_buffer, bytes_of, def, throw};
use crate::host::{Host, Phase};
use crate::vu::{IoReply, IoRequest};
use brunt_http::{ByteCounter, Client, Tunnel};
use brunt_metrics::SystemTag;
use futures_util::{SinkExt, StreamExt};
use rquickjs::{Ctx, Object, Result, Value};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

/// A socket's connection: brunt-http's, read ahead (`ws_read.rs`), with permessage-deflate when
/// it was asked for.
pub(crate) type Wire = Deflate<ReadAhead<Tunnel>>;

/// The VU's open socket, kept by its I/O driver.
pub(crate) type Live = Box<WebSocketStream<Wire>>;

/// k6's fixed handshake timeout.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// tungstenite's read buffer, which a socket holds for its whole life: small, so that an idle
/// socket holds little (tungstenite's default is 128 KiB, which the first read fills, and its
/// own handshake left each socket 4 KiB: `ws_handshake.rs`). [`ReadAhead`] beneath it reads the
/// connection in larger pieces, so a larger message costs no more system calls.
const READ_BUFFER: usize = 512;

/// What a VU asks of its socket (an [`IoRequest::Ws`]).
pub(crate) enum WsOp {
    /// Open a socket (closing any still open) with these request headers; true to offer
    /// permessage-deflate.
    Connect(String, Vec<(String, String)>, bool),
    Send(Message),
    /// Wait for the next message, or until the instant (a timer of the script is due).
    Next(Option<Instant>),
    /// Send a close frame with this code and drop the socket.
    Close(u16),
}

/// The handshake's response, as `ws.connect` returns it.
pub(crate) struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Each `Set-Cookie` apart (joined, their dates' commas would be ambiguous).
    pub set_cookies: Vec<String>,
    pub body: String,
}

/// The answer to a [`WsOp`].
pub(crate) enum WsReply {
    /// The handshake's time, its response when one came, the error when it failed, and the
    /// server's address and the connection's byte counts when it opened.
    Connected(
        Duration,
        Option<Head>,
        Option<String>,
        Option<(std::net::IpAddr, ByteCounter)>,
    ),
    Sent(std::result::Result<(), String>),
    Text(String),
    Binary(Vec<u8>),
    Ping,
    Pong(Vec<u8>, Instant),
    /// The socket closed with this code; the error when the close was not a normal one.
    Closed(u16, Option<String>),
    /// `Next`'s instant came first.
    Due,
}

/// Performs `op` on the VU's socket `live`, with its client's settings (TLS, User-Agent).
pub(crate) async fn perform(client: &Client, live: &mut Option<Live>, op: WsOp) -> WsReply {
    match op {
        WsOp::Connect(url, headers, compress) => {
            *live = None;
            let start = Instant::now();
            let (head, error, conn) = match handshake(client, &url, headers, compress).await {
                Ok(o) => {
                    *live = Some(Box::new(o.sock));
                    (Some(o.head), None, Some((o.ip, o.bytes)))
                }
                Err((head, e)) => (head, Some(e), None),
            };
            WsReply::Connected(start.elapsed(), head, error, conn)
        }
        WsOp::Send(msg) => match live.as_mut() {
            Some(sock) => WsReply::Sent(sock.send(msg).await.map_err(|e| e.to_string())),
            None => WsReply::Sent(Err("websocket: close sent".into())),
        },
        WsOp::Next(until) => next(live, until).await,
        WsOp::Close(code) => {
            if let Some(mut sock) = live.take() {
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: "".into(),
                };
                // Written, not waited for: k6 closes its end once the frame is out. A socket the
                // peer closed already answers with an error, which k6 does not report either.
                let _ = tokio::time::timeout(
                    Duration::from_secs(10),
                    sock.send(Message::Close(Some(frame))),
                )
                .await;
            }
            WsReply::Closed(code, None)
        }
    }
}

/// A handshake that failed: its response when one came, and the error.
pub(crate) type Failed = (Option<Head>, String);

/// An open socket and what its handshake told.
pub(crate) struct Opened {
    pub sock: WebSocketStream<Wire>,
    pub head: Head,
    /// The server's address (k6's `ip` tag).
    pub ip: std::net::IpAddr,
    /// The connection's bytes, for `data_sent` and `data_received`.
    pub bytes: ByteCounter,
}

/// Opens `url` with the client's connection settings (DNS, blocklists, source address, TLS)
/// and performs the handshake with these request headers (and the client's User-Agent unless
/// they have one; permessage-deflate's offer when `compress`), within k6's handshake timeout.
pub(crate) async fn handshake(
    client: &Client,
    url: &str,
    headers: Vec<(String, String)>,
    compress: bool,
) -> std::result::Result<Opened, Failed> {
    let mut req = url
        .into_client_request()
        .map_err(|e| (None, format!("invalid URL '{url}': {e}")))?;
    for (name, value) in headers {
        let n = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| (None, format!("header '{name}': {e}")))?;
        let v = http::HeaderValue::from_str(&value)
            .map_err(|e| (None, format!("header '{name}': {e}")))?;
        req.headers_mut().insert(n, v);
    }
    if compress {
        req.headers_mut().insert(
            http::header::SEC_WEBSOCKET_EXTENSIONS,
            http::HeaderValue::from_static(OFFER),
        );
    }
    if !req.headers().contains_key(http::header::USER_AGENT) {
        if let Ok(v) = http::HeaderValue::from_str(&client.config().user_agent) {
            req.headers_mut().insert(http::header::USER_AGENT, v);
        }
    }
    let target = url::Url::parse(url).map_err(|e| (None, format!("invalid URL '{url}': {e}")))?;
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let dial = async {
        let tunnel = client
            .open_tunnel(&target)
            .await
            .map_err(|e| (None, e.message))?;
        let (ip, bytes) = (tunnel.remote().ip(), tunnel.counter());
        let wire = Deflate::new(ReadAhead::new(tunnel), compress);
        match super::ws_handshake::client(req, wire, config).await {
            Ok((sock, resp)) => {
                if let Some(why) = sock.get_ref().refused() {
                    return Err((None, why.to_string()));
                }
                let body = resp.body().as_deref().map(String::from_utf8_lossy);
                let head = head(
                    resp.status(),
                    resp.headers(),
                    body.unwrap_or_default().into(),
                );
                Ok(Opened {
                    sock,
                    head,
                    ip,
                    bytes,
                })
            }
            Err(tungstenite::Error::Http(resp)) => {
                let body = resp.body().as_deref().map(String::from_utf8_lossy);
                let h = head(
                    resp.status(),
                    resp.headers(),
                    body.unwrap_or_default().into(),
                );
                Err((Some(h), "websocket: bad handshake".into()))
            }
            Err(e) => Err((None, e.to_string())),
        }
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, dial).await {
        Err(_) => Err((None, "websocket: handshake timed out".into())),
        Ok(r) => r,
    }
}

/// A handshake response with its headers keyed as Go's `http.Header` keys them, which k6 shows.
fn head(status: http::StatusCode, headers: &http::HeaderMap, body: String) -> Head {
    let values = |k| headers.get_all(k).iter().filter_map(|v| v.to_str().ok());
    Head {
        status: status.as_u16(),
        headers: headers
            .keys()
            .map(|k| {
                let joined: Vec<&str> = values(k).collect();
                (super::sse::canonical(k.as_str()), joined.join(", "))
            })
            .collect(),
        set_cookies: values(&http::header::SET_COOKIE)
            .map(String::from)
            .collect(),
        body,
    }
}

/// The next message worth a handler, or the socket's end.
async fn next(live: &mut Option<Live>, until: Option<Instant>) -> WsReply {
    let Some(sock) = live.as_mut() else {
        return WsReply::Closed(1006, None);
    };
    loop {
        let item = match until {
            Some(t) => match tokio::time::timeout_at(t.into(), sock.next()).await {
                Ok(item) => item,
                Err(_) => return WsReply::Due,
            },
            None => sock.next().await,
        };
        let reply = match item {
            Some(Ok(Message::Text(t))) => WsReply::Text(t.to_string()),
            Some(Ok(Message::Binary(b))) => WsReply::Binary(b.to_vec()),
            Some(Ok(Message::Ping(_))) => {
                // tungstenite queued the pong; send it now, not with the next write.
                let _ = sock.flush().await;
                WsReply::Ping
            }
            Some(Ok(Message::Pong(data))) => WsReply::Pong(data.to_vec(), Instant::now()),
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                // As gorilla/websocket (k6): a close other than normal or going away is an error.
                let error = (code != 1000 && code != 1001).then(|| close_error(code, &reason));
                WsReply::Closed(code, error)
            }
            Some(Ok(Message::Frame(_))) => continue,
            Some(Err(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            )))
            | None => {
                *live = None;
                WsReply::Closed(1006, Some(close_error(1006, "unexpected EOF")))
            }
            Some(Err(e)) => {
                *live = None;
                WsReply::Closed(1006, Some(e.to_string()))
            }
        };
        return reply;
    }
}

/// A close as gorilla/websocket words it (`websocket: close 1011 (internal server error)`).
pub(crate) fn close_error(code: u16, reason: &str) -> String {
    let name = match code {
        1000 => " (normal)",
        1001 => " (going away)",
        1002 => " (protocol error)",
        1003 => " (unsupported data)",
        1005 => " (no status)",
        1006 => " (abnormal closure)",
        1007 => " (invalid payload data)",
        1008 => " (policy violation)",
        1009 => " (message too big)",
        1010 => " (mandatory extension missing)",
        1011 => " (internal server error)",
        1015 => " (TLS handshake error)",
        _ => "",
    };
    let mut s = format!("websocket: close {code}{name}");
    if !reason.is_empty() {
        s.push_str(": ");
        s.push_str(reason);
    }
    s
}

/// Asks the driver for `op`; a cancelled wait unwinds the script.
fn ws_op(ctx: &Ctx<'_>, host: &Host, op: WsOp) -> Result<WsReply> {
    match host.wait(IoRequest::Ws(op)) {
        Ok(IoReply::Ws(reply)) => Ok(*reply),
        Ok(_) => Err(throw(ctx, "the WebSocket driver answered another request")),
        Err(_) => Err(super::cancelled(ctx)),
    }
}

/// The open session of `ws.connect`: its tags, start and pings awaiting their pong.
pub(crate) struct Session {
    tags: Vec<(String, String)>,
    start: Instant,
    pings: HashMap<String, Instant>,
    ping_seq: u64,
    /// The connection's bytes, for `data_sent` and `data_received`.
    bytes: Option<ByteCounter>,
}

/// The handshake's request headers: the script's, and the jar's cookies (the VU's own jar by
/// default) unless the script set Cookie, as k6 does; with the jar's id. Both WebSocket modules
/// refuse to connect in the init context.
pub(crate) fn request_headers<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    jars: &super::http::State,
    headers: Option<Object<'js>>,
    jar: &Value<'js>,
    url: Option<&url::Url>,
) -> Result<(Vec<(String, String)>, usize)> {
    if host.phase.get() == Phase::Init {
        return Err(throw(
            ctx,
            "using websockets in the init context is not supported",
        ));
    }
    let mut headers = super::tag_pairs(headers)?;
    let jar = jars.jar_of(ctx, jar)?;
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("cookie"))
    {
        if let Some(c) = url.and_then(|u| jars.ws_cookies(jar, u)) {
            headers.push(("Cookie".into(), c));
        }
    }
    Ok((headers, jar))
}

/// The native side of `k6/ws`.
pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    native: &Object<'js>,
    host: &Rc<Host>,
    cookies: &Rc<super::http::State>,
) -> Result<()> {
    let m = Rc::new(Metrics::register(ctx, host)?);
    let session = host.websockets.borrow().blocking_session.clone();

    let (h, m2, s, jars) = (host.clone(), m.clone(), session.clone(), cookies.clone());
    def(
        ctx,
        native,
        "connect",
        move |ctx: Ctx<'js>,
              url: String,
              headers: Option<Object<'js>>,
              tags: Option<Object<'js>>,
              jar: Value<'js>,
              compress: bool|
              -> Result<Object<'js>> {
            let parsed = url::Url::parse(&url).ok();
            let (headers, jar) = request_headers(&ctx, &h, &jars, headers, &jar, parsed.as_ref())?;
            let mut tags = super::tag_pairs(tags)?;
            let system = h.shared.system_tags();
            if system.has(SystemTag::Url) {
                tags.push(("url".into(), url.clone()));
            }
            let start = Instant::now();
            let WsReply::Connected(took, head, error, conn) =
                ws_op(&ctx, &h, WsOp::Connect(url.clone(), headers, compress))?
            else {
                return Err(throw(&ctx, "the WebSocket driver answered another request"));
            };
            let res = Object::new(ctx.clone())?;
            res.set("url", url.as_str())?;
            let heads = Object::new(ctx.clone())?;
            if let (Some((ip, _)), true) = (&conn, system.has(SystemTag::Ip)) {
                tags.push(("ip".into(), ip.to_string()));
            }
            if let Some(head) = &head {
                if let Some(u) = &parsed {
                    jars.ws_store(jar, u, head.set_cookies.iter().map(String::as_str));
                }
                if system.has(SystemTag::Status) {
                    tags.push(("status".into(), head.status.to_string()));
                }
                if system.has(SystemTag::Subproto) {
                    let sub = head
                        .headers
                        .iter()
                        .find(|(k, _)| k == "Sec-Websocket-Protocol")
                        .map(|(_, v)| v.clone());
                    tags.push(("subproto".into(), sub.unwrap_or_default()));
                }
                res.set("status", head.status)?;
                res.set("body", head.body.as_str())?;
                for (k, v) in &head.headers {
                    heads.set(k.as_str(), v.as_str())?;
                }
            } else {
                res.set("status", 0)?;
                res.set("body", "")?;
            }
            res.set("headers", heads)?;
            h.emit(m2.sessions, 1.0, &tags);
            h.emit(m2.connecting, ms(took), &tags);
            // As k6: a failed handshake with a response returns that response, without error.
            match (&error, &head) {
                (Some(e), None) => {
                    h.emit(m2.duration, ms(start.elapsed()), &tags);
                    // k6's `throw` option makes a failed connection an exception.
                    if h.shared.throw.load(std::sync::atomic::Ordering::Relaxed) {
                        return Err(throw(&ctx, e));
                    }
                    res.set("error", e.as_str())?;
                }
                (Some(_), Some(_)) => {
                    h.emit(m2.duration, ms(start.elapsed()), &tags);
                    res.set("error", "")?;
                }
                (None, _) => {
                    res.set("error", "")?;
                    *s.borrow_mut() = Some(Session {
                        tags,
                        start,
                        pings: HashMap::new(),
                        ping_seq: 0,
                        bytes: conn.map(|(_, b)| b),
                    });
                }
            }
            res.set("opened", error.is_none())?;
            Ok(res)
        },
    )?;

    let (h, m2, s) = (host.clone(), m.clone(), session.clone());
    def(
        ctx,
        native,
        "send",
        move |ctx: Ctx<'js>, data: Value<'js>, binary: bool| -> Result<Option<String>> {
            let msg = if binary {
                let is_buffer = data
                    .as_object()
                    .is_some_and(|o| o.as_array_buffer().is_some());
                if !is_buffer {
                    return Err(throw(
                        &ctx,
                        &format!(
                            "expected ArrayBuffer as argument, received: {}",
                            data.type_name()
                        ),
                    ));
                }
                Message::Binary(bytes_of(&ctx, &data)?.into())
            } else {
                let text = match data.as_string() {
                    Some(t) => t.to_string()?,
                    None => ctx
                        .globals()
                        .get::<_, rquickjs::Function>("String")?
                        .call((data,))?,
                };
                Message::Text(text.into())
            };
            let WsReply::Sent(sent) = ws_op(&ctx, &h, WsOp::Send(msg))? else {
                return Err(throw(&ctx, "the WebSocket driver answered another request"));
            };
            match sent {
                Ok(()) => {
                    if let Some(sess) = &*s.borrow() {
                        h.emit(m2.sent, 1.0, &sess.tags);
                    }
                    Ok(None)
                }
                Err(e) => Ok(Some(e)),
            }
        },
    )?;

    let (h, s) = (host.clone(), session.clone());
    def(
        ctx,
        native,
        "ping",
        move |ctx: Ctx<'js>| -> Result<Option<String>> {
            let id = match &mut *s.borrow_mut() {
                Some(sess) => {
                    let id = sess.ping_seq.to_string();
                    sess.ping_seq += 1;
                    id
                }
                None => return Ok(Some("websocket: close sent".into())),
            };
            let msg = Message::Ping(id.clone().into_bytes().into());
            let WsReply::Sent(sent) = ws_op(&ctx, &h, WsOp::Send(msg))? else {
                return Err(throw(&ctx, "the WebSocket driver answered another request"));
            };
            if sent.is_ok() {
                if let Some(sess) = &mut *s.borrow_mut() {
                    sess.pings.insert(id, Instant::now());
                }
            }
            Ok(sent.err())
        },
    )?;

    let (h, m2, s) = (host.clone(), m.clone(), session.clone());
    def(
        ctx,
        native,
        "next",
        move |ctx: Ctx<'js>, wait_ms: f64| -> Result<Object<'js>> {
            let until = (wait_ms >= 0.0 && wait_ms.is_finite())
                .then(|| Instant::now() + Duration::from_secs_f64(wait_ms / 1000.0));
            let reply = ws_op(&ctx, &h, WsOp::Next(until))?;
            let ev = Object::new(ctx.clone())?;
            let guard = s.borrow();
            let tags = guard
                .as_ref()
                .map(|s| s.tags.as_slice())
                .unwrap_or_default();
            match reply {
                WsReply::Text(t) => {
                    h.emit(m2.received, 1.0, tags);
                    ev.set("type", "message")?;
                    ev.set("data", t)?;
                }
                WsReply::Binary(b) => {
                    h.emit(m2.received, 1.0, tags);
                    ev.set("type", "binaryMessage")?;
                    ev.set("data", array_buffer(&ctx, b)?)?;
                }
                WsReply::Ping => ev.set("type", "ping")?,
                WsReply::Pong(data, at) => {
                    drop(guard);
                    if let Some(sess) = &mut *s.borrow_mut() {
                        let id = String::from_utf8_lossy(&data).into_owned();
                        if let Some(sent) = sess.pings.remove(&id) {
                            h.emit(m2.ping, ms(at.duration_since(sent)), &sess.tags);
                        }
                    }
                    ev.set("type", "pong")?;
                }
                WsReply::Closed(code, error) => {
                    ev.set("type", "close")?;
                    ev.set("code", code)?;
                    ev.set("error", error)?;
                }
                WsReply::Due => ev.set("type", "due")?,
                WsReply::Connected(..) | WsReply::Sent(_) => {
                    return Err(throw(&ctx, "the WebSocket driver answered another request"))
                }
            }
            Ok(ev)
        },
    )?;

    let h = host.clone();
    def(
        ctx,
        native,
        "close",
        move |ctx: Ctx<'js>, code: i32| -> Result<()> {
            let code = u16::try_from(code)
                .map_err(|_| throw(&ctx, &format!("invalid close code {code}")))?;
            ws_op(&ctx, &h, WsOp::Close(code))?;
            if let Some(sess) = session.borrow_mut().take() {
                h.emit(m.duration, ms(sess.start.elapsed()), &sess.tags);
                if let Some(b) = &sess.bytes {
                    super::websockets::record_bytes(&h, b);
                }
            }
            Ok(())
        },
    )
}

/// Ends a `ws.connect` session that the end of its call interrupted (the scenario's end): its
/// socket gets a going-away close frame if its connection takes it at once, as k6 closes it,
/// and the session its last samples (no handler runs: the script is stopped).
pub(crate) fn end_interrupted(host: &Host, socket: Option<Live>, session: Option<Session>) {
    if let Some(mut sock) = socket {
        super::websockets::close_now(&mut sock, CloseCode::Away);
    }
    let Some(sess) = session else {
        return;
    };
    if let Ok(m) = Metrics::ids(host) {
        host.emit(m.duration, ms(sess.start.elapsed()), &sess.tags);
    }
    if let Some(b) = &sess.bytes {
        super::websockets::record_bytes(host, b);
    }
}
