//! Opening a connection: name lookup, TCP connect (with `TCP_NODELAY`), TLS, each phase stamped.

use crate::config::{ClientConfig, HttpVersion};
use crate::dns::Resolver;
use crate::error::RequestError;
use crate::metered::{IoStats, Metered};
use crate::nanos::Nanos;
use crate::request::{Host, Origin};
use crate::response::Stamps;
use crate::tls;
use rustls::pki_types::ServerName;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// k6's dialer gives up on a TCP connect after 30 s, whatever the request's timeout.
const DIAL_TIMEOUT: Duration = Duration::from_secs(30);

/// A plain or TLS stream. TLS bytes are counted under the encryption (wire bytes, as k6 counts).
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<Metered<TcpStream>>>),
}

/// The connection's stream with its stamps and counts.
pub(crate) type Io = Metered<Transport>;

pub(crate) struct Connected {
    pub io: Io,
    pub stats: Arc<IoStats>,
    pub remote: SocketAddr,
    pub tls_version: Option<&'static str>,
    /// Speak HTTP/2 on it (prior knowledge or negotiated by ALPN).
    pub h2: bool,
}

/// A TCP connection to `addr`, from `local` when the client has a source address.
async fn dial(addr: SocketAddr, local: Option<IpAddr>) -> io::Result<TcpStream> {
    let Some(local) = local else {
        return TcpStream::connect(addr).await;
    };
    let socket = match local {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(addr).await
}

/// What a connection offers by ALPN over TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alpn {
    /// As the client's HTTP version says (its requests).
    Client,
    /// HTTP/1.1 only, whatever the client's version (a WebSocket's upgrade needs it).
    Http1,
    /// `h2` (gRPC).
    Http2,
}

impl Alpn {
    fn offers_h2(self, config: &ClientConfig) -> bool {
        match self {
            Alpn::Client => config.http_version != HttpVersion::Http1,
            Alpn::Http1 => false,
            Alpn::Http2 => true,
        }
    }

    /// Whether a plain connection speaks HTTP/2 (prior knowledge).
    fn speaks_h2(self, config: &ClientConfig) -> bool {
        match self {
            Alpn::Client => config.http_version == HttpVersion::Http2,
            Alpn::Http1 => false,
            Alpn::Http2 => true,
        }
    }
}

/// Opens a connection to `origin`, recording the connect and TLS phases in `stamps`, offering by
/// ALPN what `alpn` asks for, with the connection's own TLS `extras` if it has some.
pub(crate) async fn connect(
    origin: &Origin,
    config: &ClientConfig,
    resolver: &Resolver,
    stamps: &mut Stamps,
    alpn: Alpn,
    extras: Option<&tls::TlsExtras>,
) -> Result<Connected, RequestError> {
    let ips: Arc<[IpAddr]> = match &origin.host {
        Host::Ip(ip) => Arc::new([*ip]),
        Host::Domain(name) => {
            config.blocked_hostnames.check(name)?;
            resolver.resolve(name).await?
        }
    };
    for ip in ips.iter() {
        config.blocked_ips.check(*ip)?;
    }
    let connect_start = Nanos::now();
    let mut first_err = None;
    let mut tcp = None;
    for ip in ips.iter() {
        let addr = SocketAddr::new(*ip, origin.port);
        match tokio::time::timeout(DIAL_TIMEOUT, dial(addr, config.local_ip)).await {
            Ok(Ok(s)) => {
                tcp = Some((s, addr));
                break;
            }
            Ok(Err(e)) => {
                first_err.get_or_insert(RequestError::dial(&e));
            }
            Err(_) => {
                first_err.get_or_insert(RequestError::timeout(true));
            }
        }
    }
    let Some((tcp, remote)) = tcp else {
        return Err(first_err.unwrap_or_else(RequestError::no_such_host));
    };
    let connected = Nanos::now();
    stamps.connect = Some((connect_start, connected));
    // Small requests must leave at once, not wait for Nagle's algorithm.
    let _ = tcp.set_nodelay(true);
    let stats = IoStats::new();
    if !origin.https {
        return Ok(Connected {
            io: Metered::new(Transport::Plain(tcp), stats.clone(), true, true),
            stats,
            remote,
            tls_version: None,
            h2: alpn.speaks_h2(config),
        });
    }
    let offer_h2 = alpn.offers_h2(config);
    let tls_config = match extras {
        None => tls::client_config(config.insecure_skip_verify, offer_h2),
        Some(x) => tls::client_config_with(config.insecure_skip_verify, offer_h2, x)
            .map_err(|e| RequestError::new(crate::ErrorCode::TLS, e))?,
    };
    let connector = TlsConnector::from(tls_config);
    let server_name = match &origin.host {
        Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
        Host::Domain(d) => ServerName::try_from(d.to_string()).map_err(|_| {
            RequestError::new(
                crate::ErrorCode::TLS,
                format!("tls: invalid server name \"{d}\""),
            )
        })?,
    };
    let counted = Metered::new(tcp, stats.clone(), false, true);
    let tls = connector
        .connect(server_name, counted)
        .await
        .map_err(|e| RequestError::tls(&e))?;
    stamps.tls = Some((connected, Nanos::now()));
    let session = tls.get_ref().1;
    let h2 = session.alpn_protocol() == Some(b"h2");
    let tls_version = match session.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => Some("tls1.3"),
        Some(rustls::ProtocolVersion::TLSv1_2) => Some("tls1.2"),
        _ => None,
    };
    Ok(Connected {
        io: Metered::new(Transport::Tls(Box::new(tls)), stats.clone(), true, false),
        stats,
        remote,
        tls_version,
        h2,
    })
}

impl Io {
    /// Whether an idle connection is still fit for a request: nothing waits to be read (no
    /// close by the server, no error, no bytes it was not asked for). Plain TCP is asked with
    /// `try_read`, which answers from the readiness tokio has already seen (no system call
    /// unless the socket became readable) and registers no waker, where a poll would take the
    /// socket's waker lock twice; TLS is polled with a no-op waker, since its stream may hold
    /// bytes it already read. What a probe reads is not counted: the connection is dropped.
    pub fn idle_and_open(&mut self) -> bool {
        match self.get_mut() {
            Transport::Plain(s) => {
                let mut probe = [0u8; 1];
                matches!(s.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Transport::Tls(_) => {
                let mut cx = Context::from_waker(Waker::noop());
                let mut probe = [MaybeUninit::<u8>::uninit(); 1];
                let mut rb = ReadBuf::uninit(&mut probe);
                Pin::new(self).poll_read(&mut cx, &mut rb).is_pending()
            }
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}
