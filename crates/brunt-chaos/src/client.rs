//! An async client for the Toxiproxy 2.x API (this crate's server or Toxiproxy
//! itself), used by `brunt chaos` and by scripts.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpStream;

/// Toxiproxy's default API port.
pub const DEFAULT_PORT: u16 = 8474;

/// A proxy as the API describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProxyInfo {
    /// Unique name.
    pub name: String,
    /// Address the proxy listens on (the bound port when created with port 0).
    pub listen: String,
    /// Address connections are forwarded to.
    pub upstream: String,
    /// Whether the proxy accepts connections.
    pub enabled: bool,
    /// Its toxics, upstream ones first.
    #[serde(default)]
    pub toxics: Vec<ToxicInfo>,
}

/// A toxic as the API describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToxicInfo {
    /// Unique name within its proxy.
    pub name: String,
    /// Toxic type, e.g. `latency`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `upstream` (client to server) or `downstream`.
    pub stream: String,
    /// Probability that a connection (or request, for HTTP toxics) is affected.
    pub toxicity: f32,
    /// Type-specific attributes.
    #[serde(default)]
    pub attributes: Value,
}

/// A proxy to create (or to populate).
#[derive(Clone, Debug, Default, Serialize)]
pub struct NewProxy {
    /// Unique name.
    pub name: String,
    /// Listen address; port 0 picks a free port.
    pub listen: String,
    /// Upstream address.
    pub upstream: String,
    /// Start disabled with `Some(false)`; enabled by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Changes to a proxy; `None` keeps the current value.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProxyChanges {
    /// New listen address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// New upstream address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// Enable or disable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A toxic to add. Unset fields take the server's defaults (stream
/// `downstream`, toxicity 1, name `<type>_<stream>`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct NewToxic {
    /// Name; defaults to `<type>_<stream>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Toxic type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `upstream` or `downstream`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Probability in `[0, 1]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toxicity: Option<f32>,
    /// Type-specific attributes (a JSON object).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub attributes: Value,
}

/// Changes to a toxic; attributes not named keep their value.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ToxicChanges {
    /// New toxicity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toxicity: Option<f32>,
    /// Attributes to change (a JSON object).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub attributes: Value,
}

/// What went wrong talking to the API.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{message} (HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The host could not be reached or the exchange failed.
    #[error("cannot talk to the fault proxy at {host}: {detail}")]
    Transport {
        /// The API address.
        host: String,
        /// What failed.
        detail: String,
    },
    /// The answer was not what the API returns.
    #[error("unexpected answer from {host}: {detail}")]
    Decode {
        /// The API address.
        host: String,
        /// What was wrong.
        detail: String,
    },
    /// The host was not `host[:port]` or `http://host[:port]`.
    #[error("invalid fault proxy address {0:?}: expected host[:port] or http://host[:port]")]
    InvalidHost(String),
}

/// How long a request may take by default before it fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for one API server.
#[derive(Clone, Debug)]
pub struct Client {
    authority: String,
    timeout: Duration,
}

impl Client {
    /// `host` is `host[:port]` or `http://host[:port]`; the port defaults to 8474.
    pub fn new(host: &str) -> Result<Self, ClientError> {
        let rest = host
            .strip_prefix("http://")
            .unwrap_or(host)
            .trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') || host.starts_with("https://") {
            return Err(ClientError::InvalidHost(host.to_string()));
        }
        let has_port = match rest.rsplit_once(':') {
            Some((h, p)) => !h.ends_with(':') && p.parse::<u16>().is_ok(),
            None => false,
        };
        let authority = if has_port {
            rest.to_string()
        } else {
            format!("{rest}:{DEFAULT_PORT}")
        };
        Ok(Self {
            authority,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Limits how long each request may take (default [`DEFAULT_TIMEOUT`]), so a
    /// script never hangs on an unresponsive server.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `host:port` this client talks to.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// `GET /version`.
    pub async fn version(&self) -> Result<String, ClientError> {
        #[derive(Deserialize)]
        struct V {
            version: String,
        }
        let v: V = self.call(Method::GET, "/version", None).await?;
        Ok(v.version)
    }

    /// `GET /proxies`, by name.
    pub async fn proxies(&self) -> Result<BTreeMap<String, ProxyInfo>, ClientError> {
        self.call(Method::GET, "/proxies", None).await
    }

    /// `GET /proxies/{name}`.
    pub async fn proxy(&self, name: &str) -> Result<ProxyInfo, ClientError> {
        self.call(Method::GET, &format!("/proxies/{}", segment(name)), None)
            .await
    }

    /// `POST /proxies`.
    pub async fn create_proxy(&self, proxy: &NewProxy) -> Result<ProxyInfo, ClientError> {
        self.call(Method::POST, "/proxies", Some(body(proxy))).await
    }

    /// `PATCH /proxies/{name}`.
    pub async fn update_proxy(
        &self,
        name: &str,
        changes: &ProxyChanges,
    ) -> Result<ProxyInfo, ClientError> {
        self.call(
            Method::PATCH,
            &format!("/proxies/{}", segment(name)),
            Some(body(changes)),
        )
        .await
    }

    /// `DELETE /proxies/{name}`.
    pub async fn delete_proxy(&self, name: &str) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &format!("/proxies/{}", segment(name)))
            .await
    }

    /// `POST /populate`: creates, replaces or keeps each proxy.
    pub async fn populate(&self, proxies: &[NewProxy]) -> Result<Vec<ProxyInfo>, ClientError> {
        #[derive(Deserialize)]
        struct P {
            proxies: Option<Vec<ProxyInfo>>,
        }
        let p: P = self
            .call(Method::POST, "/populate", Some(body(&proxies)))
            .await?;
        Ok(p.proxies.unwrap_or_default())
    }

    /// `POST /reset`: enables all proxies and removes all toxics.
    pub async fn reset(&self) -> Result<(), ClientError> {
        let (status, bytes) = self.request(Method::POST, "/reset", None).await?;
        self.check(status, &bytes)
    }

    /// `GET /proxies/{proxy}/toxics`.
    pub async fn toxics(&self, proxy: &str) -> Result<Vec<ToxicInfo>, ClientError> {
        self.call(
            Method::GET,
            &format!("/proxies/{}/toxics", segment(proxy)),
            None,
        )
        .await
    }

    /// `POST /proxies/{proxy}/toxics`.
    pub async fn add_toxic(&self, proxy: &str, toxic: &NewToxic) -> Result<ToxicInfo, ClientError> {
        self.call(
            Method::POST,
            &format!("/proxies/{}/toxics", segment(proxy)),
            Some(body(toxic)),
        )
        .await
    }

    /// `GET /proxies/{proxy}/toxics/{name}`.
    pub async fn toxic(&self, proxy: &str, name: &str) -> Result<ToxicInfo, ClientError> {
        self.call(Method::GET, &toxic_path(proxy, name), None).await
    }

    /// `PATCH /proxies/{proxy}/toxics/{name}`.
    pub async fn update_toxic(
        &self,
        proxy: &str,
        name: &str,
        changes: &ToxicChanges,
    ) -> Result<ToxicInfo, ClientError> {
        self.call(Method::PATCH, &toxic_path(proxy, name), Some(body(changes)))
            .await
    }

    /// `DELETE /proxies/{proxy}/toxics/{name}`.
    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &toxic_path(proxy, name))
            .await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<T, ClientError> {
        let (status, bytes) = self.request(method, path, body).await?;
        self.check(status, &bytes)?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            host: self.authority.clone(),
            detail: e.to_string(),
        })
    }

    async fn call_empty(&self, method: Method, path: &str) -> Result<(), ClientError> {
        let (status, bytes) = self.request(method, path, None).await?;
        self.check(status, &bytes)
    }

    fn check(&self, status: StatusCode, bytes: &[u8]) -> Result<(), ClientError> {
        if status.is_success() {
            return Ok(());
        }
        #[derive(Deserialize)]
        struct E {
            error: String,
        }
        let message = serde_json::from_slice::<E>(bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(bytes).trim().to_string());
        Err(ClientError::Api {
            status: status.as_u16(),
            message,
        })
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        match tokio::time::timeout(self.timeout, self.exchange(method, path, body)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Transport {
                host: self.authority.clone(),
                detail: format!("no answer within {:?}", self.timeout),
            }),
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let transport = |detail: String| ClientError::Transport {
            host: self.authority.clone(),
            detail,
        };
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| transport(e.to_string()))?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| transport(e.to_string()))?;
        tokio::spawn(conn);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, &self.authority)
            .header(
                http::header::USER_AGENT,
                concat!("brunt-chaos/", env!("CARGO_PKG_VERSION")),
            )
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| transport(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| transport(e.to_string()))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transport(e.to_string()))?
            .to_bytes();
        Ok((status, bytes))
    }
}

fn body<T: Serialize + ?Sized>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("request bodies serialize"))
}

fn toxic_path(proxy: &str, toxic: &str) -> String {
    format!("/proxies/{}/toxics/{}", segment(proxy), segment(toxic))
}

/// Percent-encodes a path segment (names may hold any character).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms() {
        assert_eq!(
            Client::new("localhost").unwrap().authority(),
            "localhost:8474"
        );
        assert_eq!(
            Client::new("http://127.0.0.1:9000/").unwrap().authority(),
            "127.0.0.1:9000"
        );
        assert_eq!(Client::new("[::1]:8474").unwrap().authority(), "[::1]:8474");
        assert!(Client::new("https://x").is_err());
        assert!(Client::new("http://x/y").is_err());
    }

    #[tokio::test]
    async fn an_unresponsive_server_times_out() {
        // Accepts but never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move { listener.accept().await });
        let client = Client::new(&addr.to_string())
            .unwrap()
            .with_timeout(Duration::from_millis(200));
        let err = client.version().await.unwrap_err();
        assert!(matches!(err, ClientError::Transport { .. }), "{err}");
        hold.abort();
    }

    #[tokio::test]
    async fn connection_refused_is_a_transport_error_naming_the_host() {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = Client::new(&addr.to_string())
            .unwrap()
            .proxies()
            .await
            .unwrap_err();
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }

    #[test]
    fn segments_are_escaped() {
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(segment("redis_1"), "redis_1");
    }
}
