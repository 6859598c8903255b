//! A Prometheus text-format endpoint (`prometheus=URL[,METRIC...]`), scraped once a second with
//! hyper (already brunt's HTTP stack) and parsed with `prometheus-parse`. Each counter, gauge or
//! untyped sample becomes a brunt gauge of the same name, tagged with its labels and the monitor;
//! histograms and summaries are kept through their `_sum` and `_count` series.

use crate::{Batch, Limits, MonitorSpec, Opened, Probe};
use brunt_metrics::{MetricId, MetricType, Registry, TagSet, ValueType};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// A scrape slower than this is a failed one: the next is due a second after the last.
const SCRAPE_TIMEOUT: Duration = Duration::from_millis(800);

struct Endpoint {
    url: http::Uri,
    text: String,
    keep: HashSet<String>,
    tags: TagSet,
    registry: Arc<Registry>,
    ids: HashMap<String, Option<MetricId>>,
    rt: tokio::runtime::Runtime,
    /// The last scrape failed: said once, and again when it recovers.
    failing: bool,
}

pub(crate) fn open(
    spec: &MonitorSpec,
    url: &str,
    metrics: &[String],
    tags: TagSet,
    registry: Arc<Registry>,
) -> Result<Opened, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("'{url}' is not a URL: {e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut ep = Endpoint {
        url: uri,
        text: url.to_string(),
        keep: metrics.iter().cloned().collect(),
        tags,
        registry,
        ids: HashMap::new(),
        rt,
        failing: false,
    };
    let first = ep.scrape()?;
    let mut warnings = Vec::new();
    for name in metrics {
        if !first.iter().any(|s| s.metric == *name) {
            warnings.push(format!("{url} has no metric '{name}' yet"));
        }
    }
    // Register what is there now, so thresholds can name it before the run.
    for s in &first {
        if let Err(w) = ep.id(&s.metric) {
            warnings.push(w);
        }
    }
    Ok(Opened {
        probe: Box::new(ep),
        limits: Limits {
            monitor: spec.name.clone(),
            memory_bytes: None,
            cpu_cores: None,
        },
        warnings,
    })
}

impl Endpoint {
    /// One scrape, as the kept samples; an error says what is wrong with the endpoint.
    fn scrape(&self) -> Result<Vec<prometheus_parse::Sample>, String> {
        let body = self
            .rt
            .block_on(async { tokio::time::timeout(SCRAPE_TIMEOUT, get(&self.url)).await })
            .map_err(|_| format!("{} did not answer within {SCRAPE_TIMEOUT:?}", self.text))?
            .map_err(|e| format!("{}: {e}", self.text))?;
        let text = String::from_utf8_lossy(&body);
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let scrape =
            prometheus_parse::Scrape::parse(lines).map_err(|e| format!("{}: {e}", self.text))?;
        if scrape.samples.is_empty() {
            return Err(format!(
                "{} returned no Prometheus samples (is it a /metrics endpoint?)",
                self.text
            ));
        }
        Ok(scrape
            .samples
            .into_iter()
            .filter(|s| self.keep.is_empty() || self.keep.contains(&s.metric))
            .collect())
    }

    /// The brunt metric of a scraped name, registered on first sight; an error (said once) when
    /// the name is not a valid brunt metric or is one of brunt's own of another type.
    fn id(&mut self, name: &str) -> Result<MetricId, String> {
        if let Some(known) = self.ids.get(name) {
            return known.ok_or_else(String::new);
        }
        let r = self
            .registry
            .register(name, MetricType::Trend, ValueType::Default)
            .map_err(|e| format!("{}: {e}; the metric is not kept", self.text));
        self.ids.insert(name.to_string(), r.as_ref().ok().copied());
        r
    }
}

impl Probe for Endpoint {
    fn sample(&mut self, out: &mut Batch) {
        let samples = match self.scrape() {
            Ok(s) => s,
            Err(e) => {
                if !self.failing {
                    out.event(format!("scrape failed: {e}"));
                    self.failing = true;
                }
                return;
            }
        };
        if std::mem::take(&mut self.failing) {
            out.event("scrapes succeed again".to_string());
        }
        for s in samples {
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => continue,
            };
            match self.id(&s.metric) {
                Ok(id) => {
                    let tags = self.tags.with(s.labels.iter());
                    out.add(id, &tags, value);
                }
                Err(e) if !e.is_empty() => out.event(e),
                Err(_) => {}
            }
        }
    }
}

/// GET `url` over HTTP/1.1; the body of a 200, or why there is none.
async fn get(url: &http::Uri) -> Result<Bytes, String> {
    let host = url.host().ok_or("the URL has no host")?;
    let port = url.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let path = url.path_and_query().map_or("/", |p| p.as_str());
    let req = http::Request::get(path)
        .header(http::header::HOST, format!("{host}:{port}"))
        .header(http::header::ACCEPT, "text/plain")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = res.status();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    Ok(body)
}
