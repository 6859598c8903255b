//! Client settings, with k6's defaults.

use crate::block::{BlockedHostnames, BlockedIps};
use crate::dns::DnsConfig;
use crate::rate::RateLimiter;
use crate::trace_context::RequestTracing;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Which HTTP versions a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/1.1 only.
    Http1,
    /// k6's behaviour: HTTP/1.1 for `http://`, HTTP/2 for `https://` when the server offers it
    /// through ALPN.
    #[default]
    Auto,
    /// HTTP/2 everywhere: prior knowledge (h2c) for `http://`, ALPN `h2` for `https://`.
    Http2,
}

/// Settings of one [`Client`](crate::Client).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Whole-request timeout, redirects included (k6's `timeout`, default 60 s).
    pub timeout: Duration,
    /// Accept any server certificate (k6's `insecureSkipTLSVerify`).
    pub insecure_skip_verify: bool,
    pub http_version: HttpVersion,
    /// Redirects followed before the redirect response itself is returned (k6's `maxRedirects`, 10).
    pub max_redirects: u32,
    /// Sent when a request has no `User-Agent` header of its own.
    pub user_agent: String,
    /// Keep connections open between requests (false is k6's `noConnectionReuse`).
    pub reuse_connections: bool,
    /// Idle HTTP/1.1 connections kept per host (k6's `batchPerHost`, 6).
    pub max_idle_per_host: usize,
    /// k6's `rps`: one limit shared by every client of the run.
    pub rps: Option<Arc<RateLimiter>>,
    /// k6's `blacklistIPs`.
    pub blocked_ips: Arc<BlockedIps>,
    /// k6's `blockHostnames`.
    pub blocked_hostnames: Arc<BlockedHostnames>,
    /// k6's `dns`: the answers' lifetime, family policy and which address is used.
    pub dns: DnsConfig,
    /// The source address of this client's connections (k6's `--local-ips`, one per VU).
    pub local_ip: Option<IpAddr>,
    /// Trace context and run id headers added to every request (`--trace-context`,
    /// `--run-id-header`).
    pub tracing: Option<Arc<RequestTracing>>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(60),
            insecure_skip_verify: false,
            http_version: HttpVersion::Auto,
            max_redirects: 10,
            user_agent: concat!("brunt/", env!("CARGO_PKG_VERSION")).to_string(),
            reuse_connections: true,
            max_idle_per_host: 6,
            rps: None,
            blocked_ips: Arc::default(),
            blocked_hostnames: Arc::default(),
            local_ip: None,
            dns: DnsConfig::default(),
            tracing: None,
        }
    }
}
