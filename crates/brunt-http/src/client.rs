//! The per-VU client: its own connections, requests exchanged on them, redirects followed.

use crate::config::ClientConfig;
use crate::connect::{connect, Alpn};
use crate::dns::Resolver;
use crate::error::{ErrorCode, RequestError};
use crate::h1::H1Conn;
use crate::h2::H2Conn;
use crate::metered::IoStats;
use crate::nanos::Nanos;
use crate::request::{Origin, Request};
use crate::response::{Exchanged, Proto, Response, Stamps, Timings};
use crate::stream::BodySink;
use brunt_metrics::Trace;
use http::header::{HeaderValue, LOCATION};
use http::{Method, Version};
use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// An HTTP client for one VU. It keeps its own connections, as k6 does per VU: idle HTTP/1.1
/// keep-alive connections (reopened when the server closes them) and one multiplexed HTTP/2
/// connection per host. Use it on one thread; it is not `Sync`. The runtime needs its timer
/// enabled. HTTP/1.1 is spoken inside the request's own task (no task per connection);
/// HTTP/2 connections (hyper's) run as a spawned task.
pub struct Client {
    config: ClientConfig,
    user_agent: HeaderValue,
    resolver: Resolver,
    pool: RefCell<Vec<PoolEntry>>,
    /// The request timer, reused request after request (see [`Client::before`]), with the
    /// runtime it belongs to.
    timer: Cell<Option<(tokio::runtime::Id, Pin<Box<Sleep>>)>>,
}

struct PoolEntry {
    origin: Arc<Origin>,
    /// Boxed as in [`Conn::H1`]: checked out and in by moving the box, not the connection.
    #[allow(clippy::vec_box)]
    idle: Vec<Box<H1>>,
    h2: Option<H2>,
}

/// What a request learns about the connection it used.
#[derive(Clone)]
struct ConnInfo {
    stats: Arc<IoStats>,
    remote: SocketAddr,
    tls_version: Option<&'static str>,
}

struct H1 {
    conn: H1Conn,
    info: ConnInfo,
}

#[derive(Clone)]
struct H2 {
    conn: H2Conn,
    info: ConnInfo,
}

enum Conn {
    /// Boxed: an HTTP/1.1 connection is moved out of the pool, through the exchange and back
    /// for every request, and a pointer is cheaper to move than the connection's state.
    H1(Box<H1>),
    H2(H2),
}

impl Client {
    /// Fails only on a user agent that cannot be a header value.
    pub fn new(config: ClientConfig) -> Result<Self, RequestError> {
        let user_agent = HeaderValue::from_str(&config.user_agent).map_err(|_| {
            RequestError::new(
                ErrorCode::GENERIC,
                format!("invalid user agent \"{}\"", config.user_agent),
            )
        })?;
        Ok(Client {
            resolver: Resolver::new(config.dns),
            config,
            user_agent,
            pool: RefCell::new(Vec::new()),
            timer: Cell::new(None),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The client's name cache (k6's `dns` option), which its tunnels share.
    pub(crate) fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Sends a request, following redirects, and returns the final response. Never fails: a
    /// network error, a timeout or a bad redirect is a response with status 0 and k6's error.
    ///
    /// This and [`send_with`](Self::send_with) are plain functions handing back
    /// [`send_hops`](Self::send_hops)'s future: as `async fn`s each was a state machine of its
    /// own, and each copied the response (about 350 bytes) out of its callee's result into its
    /// caller's, on every request.
    pub fn send<'a>(&'a self, req: &'a Request) -> impl Future<Output = Response> + 'a {
        self.send_with(req, |_, _| {})
    }

    /// As [`send`](Self::send), calling `on_redirect` with each redirect response (each is its
    /// own sample in k6) and the request for the next hop, which it may change (cookies).
    pub fn send_with<'a>(
        &'a self,
        req: &'a Request,
        on_redirect: impl FnMut(&Response, &mut Request) + 'a,
    ) -> impl Future<Output = Response> + 'a {
        self.send_hops(req, Hops::Caller, on_redirect)
    }

    /// [`send_hops`](Self::send_hops) with the run's trace context added to the request. Boxed
    /// by the caller, as the redirects are: the copy of the request it may make would otherwise
    /// sit in every request's future.
    async fn send_traced(
        &self,
        req: &Request,
        on_redirect: impl FnMut(&Response, &mut Request),
    ) -> Response {
        match self.traced(req) {
            Some((traced, trace)) => {
                self.send_hops(&traced, Hops::Traced(trace), on_redirect)
                    .await
            }
            None => self.send_hops(req, Hops::Traced(None), on_redirect).await,
        }
    }

    /// The request's first hop, then its redirects. Every future on a request's way is moved
    /// (copied) a few times as the caller's futures start, so this one holds no more than the
    /// first hop's: the redirects, rare, are a boxed future of their own.
    async fn send_hops(
        &self,
        req: &Request,
        which: Hops,
        on_redirect: impl FnMut(&Response, &mut Request),
    ) -> Response {
        let trace = match which {
            Hops::Traced(trace) => trace,
            Hops::Caller => {
                if let Some(e) = req.failure() {
                    return Response::failure(req, e.clone(), Timings::default(), Duration::ZERO);
                }
                if let Some(limit) = &self.config.rps {
                    limit.wait().await;
                }
                if self.config.tracing.is_some() {
                    return Box::pin(self.send_traced(req, on_redirect)).await;
                }
                None
            }
        };
        // One clock read for the deadline and the first hop's start.
        let start = Nanos::now();
        let deadline = deadline_from(start, req.timeout.unwrap_or(self.config.timeout));
        let mut resp = self.hop(req, start, deadline, None).await;
        resp.trace = trace;
        if !is_redirect(resp.status) {
            return resp;
        }
        Box::pin(self.follow(req, resp, deadline, on_redirect)).await
    }

    /// Follows the redirects from the redirect response `resp` to `req`, up to the request's
    /// limit, and returns the last response.
    async fn follow(
        &self,
        req: &Request,
        mut resp: Response,
        deadline: tokio::time::Instant,
        mut on_redirect: impl FnMut(&Response, &mut Request),
    ) -> Response {
        let trace = resp.trace;
        let max_redirects = req.max_redirects.unwrap_or(self.config.max_redirects);
        let mut hops = 0;
        let mut owned: Option<Request> = None;
        loop {
            if !is_redirect(resp.status) || hops >= max_redirects {
                return resp;
            }
            let Some(location) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) else {
                return resp;
            };
            let current = owned.as_ref().unwrap_or(req);
            let mut next = match current.redirected(resp.status, location) {
                Ok(next) => next,
                Err(e) => return failed(current, e, Stamps::new(Nanos::now()), None),
            };
            on_redirect(&resp, &mut next);
            hops += 1;
            let next = owned.insert(next);
            resp = self.hop(next, Nanos::now(), deadline, None).await;
            // A redirect carries the request's headers, and so its trace.
            resp.trace = trace;
        }
    }

    /// The request with the run's trace context and run id headers, and its trace; None when
    /// the run adds none (or the script set them all itself).
    fn traced(&self, req: &Request) -> Option<(Request, Option<Trace>)> {
        let tracing = self.config.tracing.as_deref()?;
        let (trace, headers) = tracing.start(|h| req.headers().contains_key(h));
        if headers.is_empty() {
            return None;
        }
        let mut req = req.clone();
        let map = req.headers_mut();
        for (k, v) in headers {
            map.insert(k, v);
        }
        Some((req, trace))
    }

    /// Sends a request and hands its response body to `sink` as it arrives, each piece stamped
    /// with its arrival (token streams, server-sent events). Redirects are not followed: a 3xx is
    /// the response. The request's timeout covers the whole body. The returned response has an
    /// empty body and the same timings, errors and byte counts as [`send`](Self::send)'s; a body
    /// cut short (the connection closed, the timeout) is a failure after `sink` saw its start.
    pub async fn send_streaming(&self, req: &Request, sink: &mut dyn BodySink) -> Response {
        if let Some(e) = req.failure() {
            return Response::failure(req, e.clone(), Timings::default(), Duration::ZERO);
        }
        let traced = self.traced(req);
        let (req, trace) = match &traced {
            Some((r, t)) => (r, *t),
            None => (req, None),
        };
        let start = Nanos::now();
        let deadline = deadline_from(start, req.timeout.unwrap_or(self.config.timeout));
        let mut resp = self.hop(req, start, deadline, Some(sink)).await;
        resp.trace = trace;
        resp
    }

    /// Closes every connection (k6's `noVUConnectionReuse` does this between iterations).
    pub fn close_idle(&self) {
        self.pool.borrow_mut().clear();
    }

    /// One request and response, without redirects, from `start`; the body goes to `sink` when
    /// there is one.
    async fn hop(
        &self,
        req: &Request,
        start: Nanos,
        deadline: tokio::time::Instant,
        sink: Option<&mut dyn BodySink>,
    ) -> Response {
        let mut stamps = Stamps::new(start);
        let mut info: Option<(ConnInfo, bool)> = None;
        let result = {
            let exchange = pin!(self.exchange(req, &mut stamps, &mut info, sink));
            self.before(deadline, exchange).await
        };
        if let Some((conn, h2)) = &info {
            stamps.wrote = conn.stats.wrote_at();
            // HTTP/2 connections also read frames of their own (settings, pings); their first
            // response byte is the arrival of the response headers, stamped by the exchange.
            if !h2 {
                stamps.first_byte = conn.stats.first_read_at();
            }
        }
        let end = Nanos::now();
        // Matched where it lies: unwrapping the timeout first copied the exchange's result.
        match result {
            None => {
                let while_connecting = stamps.got_conn.is_none() && stamps.connect.is_none();
                let e = RequestError::timeout(while_connecting);
                failed(req, e, stamps, info.map(|i| i.0))
            }
            Some(Err(e)) => failed(req, e, stamps, info.map(|i| i.0)),
            Some(Ok(x)) => {
                let (bytes_sent, bytes_received, remote, tls_version) = match &info {
                    Some((c, _)) => {
                        let (s, r) = c.stats.take_bytes();
                        (s, r, Some(c.remote), c.tls_version)
                    }
                    None => (0, 0, None, None),
                };
                Response {
                    method: req.method().clone(),
                    url: req.url_tag().clone(),
                    status: x.status,
                    proto: match x.version {
                        Version::HTTP_2 => Proto::Http2,
                        Version::HTTP_10 => Proto::Http10,
                        _ => Proto::Http11,
                    },
                    headers: x.headers,
                    body: x.body,
                    timings: stamps.timings(end),
                    error: None,
                    error_code: ErrorCode::for_status(x.status),
                    bytes_sent,
                    bytes_received,
                    remote,
                    tls_version,
                    elapsed: end.since(stamps.start),
                    trace: None,
                }
            }
        }
    }

    /// Runs `fut` to its end, or None at `deadline`. A timer per request takes the timer wheel's
    /// lock to be set and again to be dropped, so the client keeps one timer. It is moved only
    /// when it would fire after `deadline` (a shorter timeout than the last request's) or has
    /// fired: a timer left at an earlier request's deadline fires early, and is then moved on to
    /// this one's, so a request on a kept-alive connection pays no timer update at all (moving
    /// it each time cost a clock conversion and an atomic exchange). A request sent while
    /// another is in flight (a batch, an async request) makes its own timer, and so does one on
    /// another runtime than the timer's. `fut` is pinned where the caller made it: taken by
    /// value, it would be stored twice in this future (the argument and the pinned local) and
    /// copied into it.
    async fn before<T>(
        &self,
        deadline: tokio::time::Instant,
        mut fut: Pin<&mut impl Future<Output = T>>,
    ) -> Option<T> {
        let runtime = tokio::runtime::Handle::current().id();
        let mut timer = match self.timer.take() {
            Some((id, mut t)) if id == runtime => {
                if t.deadline() > deadline || t.is_elapsed() {
                    t.as_mut().reset(deadline);
                }
                t
            }
            _ => Box::pin(tokio::time::sleep_until(deadline)),
        };
        let out = poll_fn(|cx| match fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => loop {
                ready!(timer.as_mut().poll(cx));
                if timer.deadline() >= deadline {
                    return Poll::Ready(None);
                }
                // An earlier request's deadline: on to this one's.
                timer.as_mut().reset(deadline);
            },
        })
        .await;
        self.timer.set(Some((runtime, timer)));
        out
    }

    /// Gets a connection and exchanges the request on it; a reused connection that the server
    /// closed before answering is replaced once, as Go's client does for idempotent requests.
    async fn exchange(
        &self,
        req: &Request,
        stamps: &mut Stamps,
        info: &mut Option<(ConnInfo, bool)>,
        mut sink: Option<&mut dyn BodySink>,
    ) -> Result<Exchanged, RequestError> {
        let mut reuse = true;
        loop {
            let (c, reused) = self.connection(&req.origin, stamps, reuse).await?;
            stamps.got_conn = Some(Nanos::now());
            match c {
                Conn::H2(h2) => {
                    *info = Some((h2.info.clone(), true));
                    h2.info.stats.begin();
                    let out = match sink.as_deref_mut() {
                        None => {
                            h2.conn
                                .exchange(req, &self.user_agent, &mut stamps.first_byte)
                                .await
                        }
                        Some(sink) => {
                            let first_byte = &mut stamps.first_byte;
                            Box::pin(h2.conn.exchange_streaming(
                                req,
                                &self.user_agent,
                                first_byte,
                                sink,
                            ))
                            .await
                        }
                    };
                    if reused
                        && out.is_err()
                        && stamps.first_byte.is_none()
                        && is_idempotent(req.method())
                    {
                        reuse = false;
                        continue;
                    }
                    if out.is_ok() {
                        self.checkin_h2(&req.origin, h2);
                    }
                    return out;
                }
                Conn::H1(mut h1) => {
                    *info = Some((h1.info.clone(), false));
                    h1.info.stats.begin();
                    let out = match sink.as_deref_mut() {
                        None => h1.conn.exchange(req, &self.user_agent).await,
                        // Boxed, so that the plain exchange's future stays the size it was.
                        Some(sink) => {
                            Box::pin(h1.conn.exchange_streaming(req, &self.user_agent, sink)).await
                        }
                    };
                    let retry = reused
                        && out.is_err()
                        && h1.info.stats.first_read_at().is_none()
                        && is_idempotent(req.method());
                    if retry {
                        reuse = false;
                        continue;
                    }
                    if out.is_ok() && h1.conn.reusable() {
                        self.checkin_h1(&req.origin, h1);
                    }
                    return out;
                }
            }
        }
    }

    /// A pooled connection to `origin` (and true) unless `reuse` is false or none is idle, else
    /// a new one. Its own future, so that the exchange's holds no connection but the one in use.
    async fn connection(
        &self,
        origin: &Arc<Origin>,
        stamps: &mut Stamps,
        reuse: bool,
    ) -> Result<(Conn, bool), RequestError> {
        if let Some(c) = reuse.then(|| self.checkout(origin)).flatten() {
            return Ok((c, true));
        }
        // Boxed: connecting (name lookup, TCP, TLS) is most of this future's size, and requests
        // on kept-alive connections, the most, need none of it.
        Ok((Box::pin(self.open(origin, stamps)).await?, false))
    }

    /// Opens a new connection and starts HTTP on it.
    async fn open(&self, origin: &Origin, stamps: &mut Stamps) -> Result<Conn, RequestError> {
        let c = connect(
            origin,
            &self.config,
            &self.resolver,
            stamps,
            Alpn::Client,
            None,
        )
        .await?;
        let info = ConnInfo {
            stats: c.stats,
            remote: c.remote,
            tls_version: c.tls_version,
        };
        if c.h2 {
            Ok(Conn::H2(H2 {
                conn: H2Conn::handshake(c.io).await?,
                info,
            }))
        } else {
            Ok(Conn::H1(Box::new(H1 {
                conn: H1Conn::new(c.io),
                info,
            })))
        }
    }

    /// A live pooled connection to `origin`, if there is one.
    fn checkout(&self, origin: &Arc<Origin>) -> Option<Conn> {
        let mut pool = self.pool.borrow_mut();
        let entry = pool
            .iter_mut()
            .find(|e| Arc::ptr_eq(&e.origin, origin) || *e.origin == **origin)?;
        if let Some(h2) = &entry.h2 {
            if !h2.conn.is_closed() {
                return Some(Conn::H2(h2.clone()));
            }
            entry.h2 = None;
        }
        while let Some(mut c) = entry.idle.pop() {
            if c.conn.still_open() {
                return Some(Conn::H1(c));
            }
        }
        None
    }

    fn entry(&self, origin: &Arc<Origin>, f: impl FnOnce(&mut PoolEntry)) {
        if !self.config.reuse_connections {
            return;
        }
        let mut pool = self.pool.borrow_mut();
        match pool
            .iter_mut()
            .find(|e| Arc::ptr_eq(&e.origin, origin) || *e.origin == **origin)
        {
            Some(e) => f(e),
            None => {
                let mut e = PoolEntry {
                    origin: origin.clone(),
                    idle: Vec::new(),
                    h2: None,
                };
                f(&mut e);
                pool.push(e);
            }
        }
    }

    fn checkin_h1(&self, origin: &Arc<Origin>, c: Box<H1>) {
        let max = self.config.max_idle_per_host;
        self.entry(origin, |e| {
            if e.idle.len() < max {
                e.idle.push(c);
            }
        });
    }

    /// The connection last used is the one kept: a dead one it replaced goes.
    fn checkin_h2(&self, origin: &Arc<Origin>, c: H2) {
        self.entry(origin, |e| e.h2 = Some(c));
    }
}

/// Which request [`Client::send_hops`] sends.
enum Hops {
    /// The caller's: checked, rate-limited and given the run's trace context there first.
    Caller,
    /// The copy [`Client::send_traced`] made (or the caller's, when it needed no trace
    /// headers), with the trace its headers carry.
    Traced(Option<Trace>),
}

/// The deadline `timeout` after `start`, on tokio's clock.
fn deadline_from(start: Nanos, timeout: Duration) -> tokio::time::Instant {
    tokio::time::Instant::from_std(start.to_instant()) + timeout
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// A failure as a response: status 0, k6's error, and the timings of the phases it reached.
fn failed(req: &Request, e: RequestError, stamps: Stamps, conn: Option<ConnInfo>) -> Response {
    let end = Nanos::now();
    let timings = if stamps.got_conn.is_some() {
        stamps.timings(end)
    } else {
        Timings::default()
    };
    let mut resp = Response::failure(req, e, timings, end.since(stamps.start));
    if let Some(c) = conn {
        (resp.bytes_sent, resp.bytes_received) = c.stats.take_bytes();
        resp.remote = Some(c.remote);
        resp.tls_version = c.tls_version;
    }
    resp
}
