//! The instance's side: join the coordinator, fetch the archive, say when ready, wait for the
//! common start, send each second's aggregates, and wait for the others before `teardown()`.
//! Plain HTTP/1.1 requests (hyper), one connection each; a coordinator that cannot be reached is
//! tried again for a bounded time, then the instance gives up with a message naming its URL.

use crate::proto::{
    InstanceEnd, JoinRequest, Joined, Ready, Refusal, Report, ReportReply, Start, BASE,
};
use brunt_engine::{Control, Observer, Progress, Tick};
use brunt_metrics::Registry;
use brunt_output::SeriesRecord;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request may take this long (a held start or teardown request is answered within 5 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Why an instance cannot go on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("invalid --coordinator URL '{url}': {why}")]
    Url { url: String, why: String },
    #[error("cannot reach the coordinator at {url} (tried for {secs:.0}s): {error}")]
    Unreachable {
        url: String,
        secs: f64,
        error: String,
    },
    #[error("the coordinator at {url} refused this instance: {message}")]
    Refused { url: String, message: String },
    #[error("the coordinator at {url} called the run off: {message}")]
    CalledOff { url: String, message: String },
    #[error("the coordinator at {url} answered {what}: {error}")]
    Protocol {
        url: String,
        what: String,
        error: String,
    },
}

/// HTTP to the coordinator, on a runtime of its own (one per thread that talks to it).
pub struct Client {
    url: String,
    authority: String,
    token: Option<String>,
    retry_for: Duration,
    rt: tokio::runtime::Runtime,
}

impl Client {
    /// `url` is `http://host:port`; `retry_for` bounds how long an unreachable coordinator is
    /// tried again.
    pub fn new(
        url: &str,
        token: Option<String>,
        retry_for: Duration,
    ) -> Result<Client, ClientError> {
        let bad = |why: &str| ClientError::Url {
            url: url.to_string(),
            why: why.to_string(),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if parsed.scheme() != "http" {
            return Err(bad("the coordinator speaks plain http://"));
        }
        let host = parsed.host_str().ok_or_else(|| bad("no host"))?;
        let port = parsed.port_or_known_default().unwrap_or(80);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Client {
            url: url.trim_end_matches('/').to_string(),
            authority: format!("{host}:{port}"),
            token,
            retry_for,
            rt,
        })
    }

    /// Another client to the same coordinator, for another thread.
    fn fresh(&self) -> Client {
        Client::new(&self.url, self.token.clone(), self.retry_for)
            .expect("a URL that parsed once parses again")
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn send(
        &self,
        method: &Method,
        path: &str,
        body: &[u8],
    ) -> Result<(StatusCode, Bytes), String> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("{BASE}{path}"))
            .header(http::header::HOST, &self.authority)
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(t) = &self.token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, bytes))
    }

    /// One request, tried again while the coordinator cannot be reached (up to `retry_for`);
    /// an error status becomes [`ClientError::Refused`] (or `CalledOff` for 410) with its message.
    fn call(
        &self,
        method: Method,
        path: &str,
        body: &[u8],
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let first = Instant::now();
        let mut wait = Duration::from_millis(100);
        loop {
            let sent = self.rt.block_on(async {
                tokio::time::timeout(REQUEST_TIMEOUT, self.send(&method, path, body))
                    .await
                    .unwrap_or_else(|_| Err("no answer in time".into()))
            });
            match sent {
                Ok((status, bytes)) if status.is_success() => return Ok((status, bytes)),
                Ok((status, bytes)) => {
                    let message = serde_json::from_slice::<Refusal>(&bytes)
                        .map(|r| r.error)
                        .unwrap_or_else(|_| {
                            format!("{status}: {}", String::from_utf8_lossy(&bytes))
                        });
                    let url = self.url.clone();
                    return Err(match status {
                        StatusCode::GONE => ClientError::CalledOff { url, message },
                        _ => ClientError::Refused { url, message },
                    });
                }
                Err(error) if first.elapsed() >= self.retry_for => {
                    return Err(ClientError::Unreachable {
                        url: self.url.clone(),
                        secs: first.elapsed().as_secs_f64(),
                        error,
                    })
                }
                Err(_) => {
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &impl serde::Serialize,
        what: &str,
    ) -> Result<Option<T>, ClientError> {
        let body = serde_json::to_vec(body).expect("protocol types serialize");
        let (status, bytes) = self.call(method, path, &body)?;
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ClientError::Protocol {
                url: self.url.clone(),
                what: what.into(),
                error: e.to_string(),
            })
    }
}

/// This process, as the coordinator's messages and summary name it: host name and pid.
fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "instance".into());
    format!("{host}/{}", std::process::id())
}

/// An instance that has joined a coordinated run.
pub struct Instance {
    client: Client,
    pub joined: Joined,
}

impl Instance {
    /// Joins the coordinator at `url`, claiming segment `index` (or the next free one), with
    /// the hash of a local script to check against the coordinator's.
    pub fn join(
        url: &str,
        token: Option<String>,
        index: Option<usize>,
        script_hash: Option<String>,
        retry_for: Duration,
    ) -> Result<Instance, ClientError> {
        let client = Client::new(url, token, retry_for)?;
        let req = JoinRequest {
            index,
            name: instance_name(),
            script_hash,
        };
        let joined = client
            .json::<Joined>(Method::POST, "/join", &req, "the join")?
            .ok_or_else(|| ClientError::Protocol {
                url: url.into(),
                what: "the join".into(),
                error: "an empty answer".into(),
            })?;
        Ok(Instance { client, joined })
    }

    pub fn url(&self) -> &str {
        self.client.url()
    }

    /// The coordinator's archive: the script, its modules and the run's options.
    pub fn archive(&self) -> Result<Vec<u8>, ClientError> {
        Ok(self.client.call(Method::GET, "/archive", &[])?.1.to_vec())
    }

    /// Says the VUs are ready (with `setup()`'s data or error on the instance that ran it).
    pub fn ready(&self, ready: &Ready) -> Result<(), ClientError> {
        let path = format!("/instances/{}/ready", self.joined.index);
        self.client
            .json::<serde_json::Value>(Method::POST, &path, ready, "ready")
            .map(drop)
    }

    /// Waits for the common start (every instance ready): the delay to wait from now, and
    /// `setup()`'s data.
    pub fn wait_start(&self) -> Result<Start, ClientError> {
        let path = format!("/instances/{}/start", self.joined.index);
        loop {
            if let Some(start) = self
                .client
                .json::<Start>(Method::GET, &path, &(), "the start")?
            {
                return Ok(start);
            }
        }
    }

    /// For the engine's `before_teardown`: waits until every other instance has ended (or the
    /// coordinator cannot be reached any more, when `teardown()` runs anyway).
    pub fn teardown_gate(&self) -> Box<dyn FnOnce() + Send> {
        let client = self.client.fresh();
        let path = format!("/instances/{}/teardown", self.joined.index);
        Box::new(move || loop {
            match client.call(Method::GET, &path, &[]) {
                Ok((StatusCode::NO_CONTENT, _)) => continue,
                Ok(_) => return,
                Err(e) => {
                    brunt_engine::log::warn(&format!(
                        "teardown() runs without waiting for the other instances: {e}"
                    ));
                    return;
                }
            }
        })
    }

    /// The engine's observer that sends each second to the coordinator (from a thread of its
    /// own, so the collector never waits on the network), and the sender to end with.
    pub fn reporter(&self, registry: Arc<Registry>) -> (Observer, Sender) {
        let (tx, rx) = mpsc::channel::<Report>();
        let shared = Arc::new(Mutex::new(Shipped::default()));
        let client = self.client.fresh();
        let path = format!("/instances/{}/report", self.joined.index);
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("coordinator-reports".into())
                .spawn(move || ship(client, path, rx, shared))
                .expect("a thread for the reports")
        };
        let observer = {
            let shared = shared.clone();
            let tx = tx.clone();
            Box::new(move |tick: &mut Tick| {
                let series = brunt_output::encode_series(&tick.interval.series, &registry)
                    .unwrap_or_default();
                let elapsed_ms = tick.elapsed.as_millis() as u64;
                let mut s = lock(&shared);
                if tick.is_final {
                    s.last = Some((elapsed_ms, series, tick.progress.clone()));
                    return Control::Continue;
                }
                let _ = tx.send(Report {
                    elapsed_ms,
                    series,
                    progress: tick.progress.clone(),
                    end: None,
                });
                match &s.abort {
                    Some(why) => Control::Abort(why.clone()),
                    None => Control::Continue,
                }
            }) as Observer
        };
        (observer, Sender { tx, shared, thread })
    }
}

/// What the report thread learnt, and the final tick kept for the last report.
#[derive(Default)]
struct Shipped {
    abort: Option<String>,
    failed: Option<ClientError>,
    last: Option<(u64, Vec<SeriesRecord>, Progress)>,
}

fn lock(s: &Mutex<Shipped>) -> std::sync::MutexGuard<'_, Shipped> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn ship(client: Client, path: String, rx: mpsc::Receiver<Report>, shared: Arc<Mutex<Shipped>>) {
    for report in rx {
        match client.json::<ReportReply>(Method::POST, &path, &report, "a report") {
            Ok(reply) => {
                if let Some(why) = reply.and_then(|r| r.abort) {
                    lock(&shared).abort.get_or_insert(why);
                }
            }
            Err(e) => {
                let mut s = lock(&shared);
                s.abort.get_or_insert_with(|| e.to_string());
                s.failed = Some(e);
                return;
            }
        }
    }
}

/// Ends the instance's reporting with its last report.
pub struct Sender {
    tx: mpsc::Sender<Report>,
    shared: Arc<Mutex<Shipped>>,
    thread: std::thread::JoinHandle<()>,
}

impl Sender {
    /// Why the coordinator told this instance to stop, if it did.
    pub fn abort_reason(&self) -> Option<String> {
        lock(&self.shared).abort.clone()
    }

    /// Sends the last report (what the final tick held, and how the run ended) and waits
    /// until every report has gone; the error when the coordinator was lost.
    pub fn finish(self, end: InstanceEnd) -> Result<(), ClientError> {
        let last = lock(&self.shared).last.take();
        let (elapsed_ms, series, progress) = last.unwrap_or_default();
        let _ = self.tx.send(Report {
            elapsed_ms,
            series,
            progress,
            end: Some(end),
        });
        drop(self.tx);
        let _ = self.thread.join();
        match lock(&self.shared).failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
