//! The I/O wrapper that the phase timings and byte counts come from: it stamps the last write
//! before the response and the first read of it, and counts bytes as they cross the socket.

use crate::nanos::Nanos;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What one connection's I/O has seen since the last [`IoStats::begin`]. Shared between the
/// connection (which may run in its own task, for HTTP/2) and the request that reads it.
#[derive(Debug)]
pub(crate) struct IoStats {
    written: AtomicU64,
    read: AtomicU64,
    /// [`Nanos`] as stored; 0 means "not yet" (the monotonic clock is far past 0 once booted).
    last_write: AtomicU64,
    first_read: AtomicU64,
}

impl IoStats {
    pub fn new() -> Arc<Self> {
        Arc::new(IoStats {
            written: AtomicU64::new(0),
            read: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            first_read: AtomicU64::new(0),
        })
    }

    /// Starts a request's stamps (byte counts run on until [`take_bytes`](Self::take_bytes), so a
    /// new connection's handshake bytes go to its first request, as in k6).
    pub fn begin(&self) {
        self.last_write.store(0, Relaxed);
        self.first_read.store(0, Relaxed);
    }

    /// Bytes (sent, received) since the last call.
    pub fn take_bytes(&self) -> (u64, u64) {
        (self.written.swap(0, Relaxed), self.read.swap(0, Relaxed))
    }

    /// When the request's last byte was written (the last write before the first response byte).
    pub fn wrote_at(&self) -> Option<Nanos> {
        self.at(&self.last_write)
    }

    pub fn first_read_at(&self) -> Option<Nanos> {
        self.at(&self.first_read)
    }

    fn at(&self, stamp: &AtomicU64) -> Option<Nanos> {
        match stamp.load(Relaxed) {
            0 => None,
            n => Some(Nanos::from_raw(n)),
        }
    }

    fn on_write(&self, n: usize, stamp: bool, count: bool) {
        if count {
            self.written.fetch_add(n as u64, Relaxed);
        }
        if stamp && n > 0 && self.first_read.load(Relaxed) == 0 {
            self.last_write.store(Nanos::now().raw(), Relaxed);
        }
    }

    fn on_read(&self, n: usize, stamp: bool, count: bool) {
        if count {
            self.read.fetch_add(n as u64, Relaxed);
        }
        if stamp && n > 0 && self.first_read.load(Relaxed) == 0 {
            self.first_read.store(Nanos::now().raw(), Relaxed);
        }
    }
}

/// Wraps a stream: `count` at the wire (under TLS), `stamp` where request and response bytes
/// are plaintext (over TLS), both for plain TCP.
pub(crate) struct Metered<T> {
    inner: T,
    stats: Arc<IoStats>,
    stamp: bool,
    count: bool,
}

impl<T> Metered<T> {
    pub fn new(inner: T, stats: Arc<IoStats>, stamp: bool, count: bool) -> Self {
        Metered {
            inner,
            stats,
            stamp,
            count,
        }
    }

    /// The stream itself, past the stamps and counts.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Metered<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            let n = buf.filled().len() - before;
            this.stats.on_read(n, this.stamp, this.count);
        }
        res
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Metered<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            this.stats.on_write(n, this.stamp, this.count);
        }
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = res {
            this.stats.on_write(n, this.stamp, this.count);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn stamps_last_write_before_first_read_and_counts_bytes() {
        let (a, mut b) = tokio::io::duplex(64);
        let stats = IoStats::new();
        let mut m = Metered::new(a, stats.clone(), true, true);
        stats.begin();
        m.write_all(b"GET").await.unwrap();
        m.write_all(b" /").await.unwrap();
        let wrote = stats.wrote_at().unwrap();
        b.write_all(b"HTTP").await.unwrap();
        let mut buf = [0u8; 4];
        m.read_exact(&mut buf).await.unwrap();
        let first = stats.first_read_at().unwrap();
        assert!(first >= wrote);
        // A write after the response began does not move the request's stamp.
        m.write_all(b"x").await.unwrap();
        assert_eq!(stats.wrote_at(), Some(wrote));
        assert_eq!(stats.take_bytes(), (6, 4));
        assert_eq!(stats.take_bytes(), (0, 0));
    }
}
