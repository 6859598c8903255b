//! Remote outputs (`--out prometheus-rw=URL`, `--out influxdb=URL`, `--out opentelemetry`):
//! per-second aggregates encoded on the collector thread and handed to a sender thread through a
//! bounded queue, which sends them over HTTP (brunt-http's client) or gRPC. A down or slow
//! backend never stalls the run: when the queue is full a batch is dropped and counted, and the
//! end of the run says how many samples never arrived.

mod influxdb;
mod opentelemetry;
mod prometheus;

use crate::sink::{IntervalView, OutKind, SampleSink};
use crate::OutputError;
use brunt_http::{Client, ClientConfig, Request};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Batches waiting for the sender; past this, new ones are dropped.
const QUEUE: usize = 32;
/// How long one request to the backend may take.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the end of the run waits for queued batches to go out.
const FINISH_WAIT: Duration = Duration::from_secs(5);
/// The reachability check at start.
const CONNECT_CHECK: Duration = Duration::from_secs(1);
/// Default time between two sends.
const DEFAULT_FLUSH: Duration = Duration::from_secs(1);

/// Where and how a remote output sends:
/// `KIND=URL[,label.NAME=VALUE...][,header.NAME=VALUE...][,flush=DURATION]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    pub url: String,
    /// Extra labels (Prometheus) or tags (InfluxDB) on every series.
    pub labels: Vec<(String, String)>,
    /// Extra HTTP headers on every request (authorization, tenant ids).
    pub headers: Vec<(String, String)>,
    /// Time between two sends (each send carries every second since the last).
    pub flush: Duration,
    kind: OutKind,
    /// `opentelemetry`'s settings, from k6's `K6_OTEL_*` variables.
    otel: Option<Box<opentelemetry::OtelConfig>>,
}

impl RemoteSpec {
    pub(crate) fn parse(kind: OutKind, value: &str) -> Result<RemoteSpec, OutputError> {
        let out = format!("{}={value}", kind.name());
        let bad = |reason: String| OutputError::BadOut {
            out: out.clone(),
            reason,
        };
        if kind == OutKind::OpenTelemetry {
            if !value.is_empty() {
                return Err(bad(
                    "takes no value: configure it with k6's K6_OTEL_* environment variables \
                     (docs/outputs.md), e.g. K6_OTEL_EXPORTER_PROTOCOL=http/protobuf"
                        .into(),
                ));
            }
            let cfg = opentelemetry::config_from_env().map_err(|reason| OutputError::BadOut {
                out: kind.name().into(),
                reason,
            })?;
            return Ok(RemoteSpec {
                url: cfg.url.clone(),
                labels: Vec::new(),
                headers: cfg.headers.clone(),
                flush: cfg.export_interval,
                kind,
                otel: Some(Box::new(cfg)),
            });
        }
        let mut parts = value.split(',');
        let url = parts.next().unwrap_or_default().trim().to_string();
        let parsed = url::Url::parse(&url).map_err(|e| {
            bad(format!(
                "'{url}' is not a URL ({e}); e.g. {}",
                match kind {
                    OutKind::InfluxDb => "influxdb=http://localhost:8086/k6",
                    _ => "prometheus-rw=http://localhost:9090/api/v1/write",
                }
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(bad(format!("'{url}' must be an http:// or https:// URL")));
        }
        if kind == OutKind::InfluxDb && influxdb::database(&parsed).is_none() {
            return Err(bad(
                "name the database in the URL's path, e.g. influxdb=http://localhost:8086/k6"
                    .into(),
            ));
        }
        let mut spec = RemoteSpec {
            url,
            labels: Vec::new(),
            headers: Vec::new(),
            flush: DEFAULT_FLUSH,
            kind,
            otel: None,
        };
        for opt in parts {
            let (k, v) = opt
                .split_once('=')
                .ok_or_else(|| bad(format!("option '{opt}' is not NAME=VALUE")))?;
            if let Some(label) = k.strip_prefix("label.") {
                if !valid_label(label) {
                    return Err(bad(format!(
                        "label name '{label}' must be letters, digits and underscores, not starting with a digit"
                    )));
                }
                spec.labels.push((label.to_string(), v.to_string()));
            } else if let Some(header) = k.strip_prefix("header.") {
                let valid = http::HeaderName::from_bytes(header.as_bytes()).is_ok()
                    && http::HeaderValue::from_str(v).is_ok();
                if !valid {
                    return Err(bad(format!(
                        "header '{header}: {v}' is not a valid HTTP header"
                    )));
                }
                spec.headers.push((header.to_string(), v.to_string()));
            } else if k == "flush" {
                spec.flush = brunt_engine::parse_duration(v)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        bad(format!("flush '{v}' is not a duration such as 1s or 500ms"))
                    })?;
            } else {
                return Err(bad(format!(
                    "unknown option '{k}'; options: label.NAME=VALUE, header.NAME=VALUE, flush=DURATION"
                )));
            }
        }
        Ok(spec)
    }
}

fn valid_label(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Opens a remote output. A backend that cannot be reached now is a warning, not an error: it
/// may come up during the run, and a load test should not depend on its monitoring.
pub(crate) fn open(spec: &RemoteSpec, name: String) -> Box<dyn SampleSink> {
    if let Err(e) = reachable(&spec.url) {
        eprintln!(
            "warning: --out {name}: {e}; the run goes on and counts what cannot be delivered"
        );
    }
    match (&spec.otel, spec.kind) {
        (Some(cfg), _) => {
            eprintln!("output: opentelemetry ({})", cfg.describe());
            Box::new(opentelemetry::OtelSink::new((**cfg).clone(), name))
        }
        (None, OutKind::InfluxDb) => Box::new(influxdb::InfluxSink::new(spec, name)),
        (None, _) => Box::new(prometheus::PromSink::new(spec, name)),
    }
}

fn reachable(url: &str) -> Result<(), String> {
    let u = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = u.host_str().unwrap_or_default();
    let port = u.port_or_known_default().unwrap_or(80);
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("{host} resolves to no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, CONNECT_CHECK) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("cannot connect to {a} ({e})"),
        }
    }
    Err(last)
}

/// One request's worth of samples.
struct Batch {
    body: Vec<u8>,
    samples: u64,
}

/// Delivery counts shared with the sender thread.
#[derive(Default)]
struct Stats {
    sent: AtomicU64,
    dropped: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Stats {
    fn drop_batch(&self, samples: u64, why: String) {
        self.dropped.fetch_add(samples, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}

/// The collector's end of a sender thread.
pub(crate) struct Sender {
    name: String,
    tx: Option<SyncSender<Batch>>,
    done: Receiver<()>,
    stats: Arc<Stats>,
    queued: Arc<AtomicU64>,
    /// Test time between two sends, and when the last one was.
    flush: Duration,
    last_flush: Duration,
}

/// How a sender's batches reach the backend.
pub(crate) enum Transport {
    /// One HTTP request a batch, made by the closure and sent with brunt-http's client.
    Http(Box<dyn Fn(Vec<u8>) -> Result<Request, String> + Send>),
    /// One unary gRPC call a batch (the OTLP collector's Export).
    Grpc(opentelemetry::GrpcTarget),
}

/// What every send of a sender shares.
pub(crate) struct Route {
    /// HTTP headers on every request (gRPC metadata for gRPC).
    pub headers: Vec<(String, String)>,
    /// Time between two sends, for [`Sender::flush_due`].
    pub flush: Duration,
    /// Accept any certificate (`K6_OTEL_TLS_INSECURE_SKIP_VERIFY`).
    pub insecure: bool,
}

impl Sender {
    /// Starts an HTTP sender for `spec`. `prelude` is sent once first (InfluxDB's CREATE
    /// DATABASE); `build` turns a body into the request to send; the spec's headers go on every
    /// request.
    fn spawn(
        name: String,
        spec: &RemoteSpec,
        prelude: Option<Request>,
        build: impl Fn(Vec<u8>) -> Result<Request, String> + Send + 'static,
    ) -> Sender {
        let route = Route {
            headers: spec.headers.clone(),
            flush: spec.flush,
            insecure: false,
        };
        Sender::start(name, route, prelude, Transport::Http(Box::new(build)))
    }

    /// Starts the thread that sends over `transport`.
    fn start(name: String, route: Route, prelude: Option<Request>, transport: Transport) -> Sender {
        let Route {
            headers,
            flush,
            insecure,
        } = route;
        let (tx, rx) = mpsc::sync_channel::<Batch>(QUEUE);
        let (done_tx, done) = mpsc::channel();
        let stats = Arc::new(Stats::default());
        let queued = Arc::new(AtomicU64::new(0));
        let (s, q) = (stats.clone(), queued.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("out-{name}"))
            .spawn(move || {
                let prelude =
                    prelude.and_then(|mut r| with_headers(&mut r, &headers).ok().map(|()| r));
                send_loop(rx, prelude, transport, &headers, insecure, &s, &q);
                let _ = done_tx.send(());
            });
        if let Err(e) = spawned {
            stats.drop_batch(0, format!("cannot start its thread: {e}"));
        }
        Sender {
            name,
            tx: Some(tx),
            done,
            stats,
            queued,
            flush,
            last_flush: Duration::ZERO,
        }
    }

    /// Whether the sink should send what it has batched after this interval: at the end of
    /// the run, and once the flush time has passed since the last send.
    fn flush_due(&mut self, view: &IntervalView<'_>) -> bool {
        if view.is_final || view.elapsed.saturating_sub(self.last_flush) >= self.flush {
            self.last_flush = view.elapsed;
            true
        } else {
            false
        }
    }

    /// Queues a batch, or drops and counts it when the backend is behind.
    fn send(&self, body: Vec<u8>, samples: u64) {
        let Some(tx) = &self.tx else { return };
        self.queued.fetch_add(samples, Ordering::Relaxed);
        match tx.try_send(Batch { body, samples }) {
            Ok(()) => {}
            Err(TrySendError::Full(b)) | Err(TrySendError::Disconnected(b)) => {
                self.queued.fetch_sub(b.samples, Ordering::Relaxed);
                self.stats
                    .drop_batch(b.samples, "the backend is too slow or down".into());
            }
        }
    }

    /// Lets queued batches go out for a little while, then gives up on the rest.
    fn close(&mut self) {
        if self.tx.take().is_some() {
            let _ = self.done.recv_timeout(FINISH_WAIT);
        }
    }

    fn notes(&self) -> Vec<String> {
        let undelivered = self.queued.load(Ordering::Relaxed);
        let dropped = self.stats.dropped.load(Ordering::Relaxed) + undelivered;
        if dropped == 0 {
            return Vec::new();
        }
        let sent = self.stats.sent.load(Ordering::Relaxed);
        let why = self
            .stats
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "still queued when the run ended".into());
        vec![format!(
            "output {}: {dropped} of {} samples were not delivered ({why})",
            self.name,
            dropped + sent
        )]
    }
}

fn send_loop(
    rx: Receiver<Batch>,
    prelude: Option<Request>,
    transport: Transport,
    headers: &[(String, String)],
    insecure: bool,
    stats: &Stats,
    queued: &AtomicU64,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return stats.drop_batch(0, format!("cannot start its runtime: {e}")),
    };
    let config = ClientConfig {
        timeout: REQUEST_TIMEOUT,
        insecure_skip_verify: insecure,
        ..ClientConfig::default()
    };
    let client = match Client::new(config) {
        Ok(c) => c,
        Err(e) => return stats.drop_batch(0, format!("cannot start its client: {}", e.message)),
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        if let Some(req) = prelude {
            if let Err(e) = deliver(&client, &req).await {
                stats.drop_batch(0, e);
            }
        }
        // The gRPC channel lives on this thread's runtime.
        enum Link {
            Http(Box<dyn Fn(Vec<u8>) -> Result<Request, String> + Send>),
            Grpc(Box<opentelemetry::GrpcClient>),
        }
        let mut link = match transport {
            Transport::Http(build) => Link::Http(build),
            Transport::Grpc(target) => match target.connect() {
                Ok(c) => Link::Grpc(Box::new(c)),
                Err(e) => return stats.drop_batch(0, e),
            },
        };
        // Blocking on the channel is fine: this thread does nothing else between sends.
        while let Ok(batch) = rx.recv() {
            let result = match &mut link {
                Link::Grpc(grpc) => grpc.export(batch.body).await,
                Link::Http(build) => match build(batch.body) {
                    Ok(mut req) => match with_headers(&mut req, headers) {
                        Ok(()) => deliver(&client, &req).await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                },
            };
            queued.fetch_sub(batch.samples, Ordering::Relaxed);
            match result {
                Ok(()) => {
                    stats.sent.fetch_add(batch.samples, Ordering::Relaxed);
                }
                Err(e) => stats.drop_batch(batch.samples, e),
            }
        }
    });
}

fn with_headers(req: &mut Request, headers: &[(String, String)]) -> Result<(), String> {
    for (k, v) in headers {
        req.set_header(k, v).map_err(|e| e.message)?;
    }
    Ok(())
}

async fn deliver(client: &Client, req: &Request) -> Result<(), String> {
    let res = client.send(req).await;
    if let Some(e) = res.error.filter(|_| res.status == 0) {
        return Err(e);
    }
    if !(200..300).contains(&res.status) {
        let body = String::from_utf8_lossy(&res.body);
        return Err(format!("HTTP {}: {}", res.status, body.trim()));
    }
    Ok(())
}
