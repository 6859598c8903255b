//! [`ReadAhead`]: the WebSocket connection's reads, so that an idle socket holds no read buffer.
//! tungstenite keeps a read buffer for a socket's whole life and never reads more than its size
//! at once; that size is kept small here (`ws::READ_BUFFER`), and this layer beneath it reads
//! the connection in pieces of up to [`PIECE`] bytes into the stack, handing tungstenite what it
//! asked for and keeping the rest on the heap only until tungstenite takes it. A large message
//! still costs one system call per piece; an idle socket costs a few hundred bytes, not 4 KiB.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most bytes read from the connection at once (the permessage-deflate layer above reads
/// in pieces of this size too).
const PIECE: usize = 8192;

/// A connection whose reads go through a stack buffer; writes pass as they are.
pub(crate) struct ReadAhead<S> {
    inner: S,
    /// Bytes read from the connection and not yet asked for, from `at`; empty (no allocation)
    /// once taken.
    ahead: Vec<u8>,
    at: usize,
}

impl<S> ReadAhead<S> {
    pub(crate) fn new(inner: S) -> Self {
        ReadAhead {
            inner,
            ahead: Vec::new(),
            at: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.ahead.len() {
            let n = buf.remaining().min(this.ahead.len() - this.at);
            buf.put_slice(&this.ahead[this.at..this.at + n]);
            this.at += n;
            if this.at == this.ahead.len() {
                this.ahead = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= PIECE {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        // Not `[MaybeUninit::uninit(); PIECE]`, which an unoptimized build fills byte by byte.
        // SAFETY: an array of `MaybeUninit` needs no initialization.
        let mut piece: [MaybeUninit<u8>; PIECE] = unsafe { MaybeUninit::uninit().assume_init() };
        let mut read = ReadBuf::uninit(&mut piece);
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
        let got = read.filled();
        let n = buf.remaining().min(got.len());
        buf.put_slice(&got[..n]);
        if n < got.len() {
            this.ahead = got[n..].to_vec();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
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
    use tokio::io::AsyncReadExt;

    /// Small reads get the bytes in order, from one read of the connection, and the layer
    /// holds nothing once they are taken.
    #[tokio::test]
    async fn small_reads_take_the_bytes_in_order_and_leave_nothing_held() {
        let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let mut r = ReadAhead::new(&data[..]);
        let mut got = Vec::new();
        let mut small = [0u8; 100];
        loop {
            let n = r.read(&mut small).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, data);
        assert_eq!(r.ahead.capacity(), 0);
    }

    /// A read as large as a piece goes straight to the connection.
    #[tokio::test]
    async fn large_reads_pass_through() {
        let data = vec![7u8; 3 * PIECE];
        let mut r = ReadAhead::new(&data[..]);
        let mut big = vec![0u8; 2 * PIECE];
        assert_eq!(r.read(&mut big).await.unwrap(), 2 * PIECE);
        assert!(r.ahead.is_empty());
    }
}
