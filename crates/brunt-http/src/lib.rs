//! HTTP/1.1 and HTTP/2 client with k6's per-phase timings, error codes and metric samples.
//!
//! A [`Client`] belongs to one VU, as in k6: it owns its connections (HTTP/1.1 keep-alive, one
//! multiplexed HTTP/2 connection per host) and is driven from a single-threaded runtime. A
//! [`Request`] is built once and sent many times; [`Client::send`] never fails: a network error is
//! a [`Response`] with status 0 and k6's `error`/`error_code`. [`Recorder`] turns responses into
//! k6's `http_*` samples with k6's tags.
//! [`Client::send_streaming`] hands a body to a [`BodySink`] as it arrives, each piece stamped,
//! and [`SseParser`] splits such a body into server-sent events.

mod block;
mod client;
mod config;
mod connect;
mod dns;
mod error;
mod h1;
mod h2;
mod local_ips;
mod metered;
mod nanos;
mod open_files;
mod rate;
mod record;
mod request;
mod response;
pub mod retry;
mod sse;
mod stream;
mod tls;
mod trace_context;
mod tunnel;

pub use block::{BlockedHostnames, BlockedIps};
pub use client::Client;
pub use config::{ClientConfig, HttpVersion};
pub use dns::DnsConfig;
pub use error::{ErrorCode, RequestError};
pub use local_ips::LocalIps;
pub use open_files::check_open_files;
pub use rate::RateLimiter;
pub use record::{ExpectedStatuses, Recorder};
pub use request::Request;
pub use response::{Proto, Response, Timings};
pub use sse::{SseEvent, SseParser};
pub use stream::BodySink;
pub use tls::TlsExtras;
pub use trace_context::{Propagator, RequestTracing, TraceContext};
pub use tunnel::{ByteCounter, Tunnel};
