//! Connections for protocols the caller speaks itself: WebSocket (an HTTP/1.1 upgrade) and gRPC's
//! HTTP/2 (brunt-grpc). Opened the way the client opens its HTTP connections (its DNS settings,
//! blocked hostnames and IPs, source address and TLS settings), offering by ALPN only what the
//! protocol speaks, with the wire bytes counted for `data_sent` and `data_received`.

use crate::client::Client;
use crate::connect::{connect, Alpn, Io};
use crate::error::{ErrorCode, RequestError};
use crate::metered::IoStats;
use crate::nanos::Nanos;
use crate::request::{Host, Origin};
use crate::response::Stamps;
use crate::tls::TlsExtras;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use url::Url;

/// An open connection (plain or TLS) for the caller's own protocol.
pub struct Tunnel {
    io: Io,
    stats: Arc<IoStats>,
    remote: SocketAddr,
}

/// The bytes a [`Tunnel`] has moved, readable while the tunnel is in use elsewhere.
#[derive(Clone, Debug)]
pub struct ByteCounter(Arc<IoStats>);

impl ByteCounter {
    /// Bytes (sent, received) on the wire since the last call.
    pub fn take(&self) -> (u64, u64) {
        self.0.take_bytes()
    }
}

impl Tunnel {
    /// The address the connection went to (k6's `ip` tag).
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// A handle on the connection's byte counts.
    pub fn counter(&self) -> ByteCounter {
        ByteCounter(self.stats.clone())
    }
}

impl Client {
    /// Opens a connection to `url`'s host: TLS for `https` and `wss`, plain TCP for `http`
    /// and `ws`. Fails as a request would (k6's dial, DNS, TLS and blocklist errors).
    pub async fn open_tunnel(&self, url: &Url) -> Result<Tunnel, RequestError> {
        let https = match url.scheme() {
            "ws" | "http" => false,
            "wss" | "https" => true,
            other => {
                return Err(RequestError::new(
                    ErrorCode::GENERIC,
                    format!("unsupported protocol scheme \"{other}\""),
                ))
            }
        };
        let origin = Origin::of(url, https)?;
        self.tunnel(&origin, Alpn::Http1, None).await
    }

    /// Connects to `host:port` for HTTP/2 (`h2` by ALPN), with TLS when `tls` (with `extras`
    /// added to the client's TLS settings when given).
    pub async fn connect_h2(
        &self,
        host: &str,
        port: u16,
        tls: bool,
        extras: Option<&TlsExtras>,
    ) -> Result<Tunnel, RequestError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let host = match bare.parse() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => Host::Domain(host.to_ascii_lowercase().into()),
        };
        let origin = Origin {
            https: tls,
            host,
            port,
        };
        self.tunnel(&origin, Alpn::Http2, extras).await
    }

    async fn tunnel(
        &self,
        origin: &Origin,
        alpn: Alpn,
        extras: Option<&TlsExtras>,
    ) -> Result<Tunnel, RequestError> {
        let mut stamps = Stamps::new(Nanos::now());
        let c = connect(
            origin,
            self.config(),
            self.resolver(),
            &mut stamps,
            alpn,
            extras,
        )
        .await?;
        Ok(Tunnel {
            io: c.io,
            stats: c.stats,
            remote: c.remote,
        })
    }
}

impl AsyncRead for Tunnel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tunnel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
