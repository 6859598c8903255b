//! Connections for protocols spoken over the client's dialing rather than its requests (gRPC's
//! HTTP/2, in brunt-grpc): the same name lookup, block lists, source address and TLS settings
//! (offering `h2` by ALPN), with the wire bytes counted for `data_sent`/`data_received`.

use crate::client::Client;
use crate::connect::{connect, Io};
use crate::error::RequestError;
use crate::metered::IoStats;
use crate::request::{Host, Origin};
use crate::response::Stamps;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An open connection, plain or TLS.
pub struct RawConnection {
    io: Io,
    stats: Arc<IoStats>,
    remote: SocketAddr,
}

/// The bytes a [`RawConnection`] moved, readable after the connection was handed away.
#[derive(Clone, Debug)]
pub struct ByteCounter(Arc<IoStats>);

impl ByteCounter {
    /// Bytes (sent, received) since the last call.
    pub fn take(&self) -> (u64, u64) {
        self.0.take_bytes()
    }
}

impl RawConnection {
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    pub fn counter(&self) -> ByteCounter {
        ByteCounter(self.stats.clone())
    }
}

impl Client {
    /// Connects to `host:port`, with TLS when `tls`, as this client's requests would.
    pub async fn connect_raw(
        &self,
        host: &str,
        port: u16,
        tls: bool,
    ) -> Result<RawConnection, RequestError> {
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
        let mut stamps = Stamps::new(Instant::now());
        let c = connect(&origin, self.config(), self.resolver(), &mut stamps, true).await?;
        Ok(RawConnection {
            io: c.io,
            stats: c.stats,
            remote: c.remote,
        })
    }
}

impl AsyncRead for RawConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for RawConnection {
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
