//! Loopback servers for the client tests: a hyper server (HTTP/1.1 and h2c, optionally TLS with a
//! self-signed certificate) with a few routes, and raw TCP servers for misbehaviour.

#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Routes: `/` says hello; `/status/N`; `/redirect/N` redirects N times then says done;
/// `/echo` returns the request body; `/cookie` returns the request's Cookie header; `/close` answers with `Connection: close`; `/slow` answers
/// after 5 s; `/big` returns 100 000 bytes.
async fn route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let mut resp = Response::new(Full::new(Bytes::from_static(b"hello")));
    if let Some(code) = path.strip_prefix("/status/") {
        *resp.status_mut() = code.parse().unwrap_or(hyper::StatusCode::BAD_REQUEST);
    } else if let Some(n) = path.strip_prefix("/redirect/") {
        let n: u32 = n.parse().unwrap_or(0);
        if n == 0 {
            *resp.body_mut() = Full::new(Bytes::from_static(b"done"));
        } else {
            *resp.status_mut() = hyper::StatusCode::FOUND;
            resp.headers_mut()
                .insert("location", format!("/redirect/{}", n - 1).parse().unwrap());
        }
    } else if path == "/cookie" {
        let cookie = req.headers().get("cookie").map(|v| v.as_bytes().to_vec());
        *resp.body_mut() = Full::new(Bytes::from(cookie.unwrap_or_default()));
    } else if path == "/echo" {
        let body = req.into_body().collect().await.map(|b| b.to_bytes());
        *resp.body_mut() = Full::new(body.unwrap_or_default());
    } else if path == "/close" {
        resp.headers_mut()
            .insert("connection", "close".parse().unwrap());
    } else if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(5)).await;
    } else if path == "/big" {
        *resp.body_mut() = Full::new(Bytes::from(vec![b'x'; 100_000]));
    }
    Ok(resp)
}

/// A listener on a fresh loopback port, and its address.
async fn loopback() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Starts a server on a loopback port that runs `handle` on a task of its own for every
/// connection it accepts.
async fn serve_each<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (listener, addr) = loopback().await;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(handle(tcp));
        }
    });
    addr
}

/// Serves the routes on one connection, HTTP/1.1 or prior-knowledge HTTP/2.
async fn serve_routes(io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static) {
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), hyper::service::service_fn(route))
        .await;
}

/// Starts the hyper server (HTTP/1.1 and prior-knowledge HTTP/2) on a loopback port.
pub async fn serve() -> SocketAddr {
    serve_each(serve_routes).await
}

/// Starts the same routes over TLS with a fresh self-signed certificate for `localhost`,
/// offering h2 and http/1.1 by ALPN.
pub async fn serve_tls() -> SocketAddr {
    serve_tls_with(|_| {}).await
}

/// As [`serve_tls`], with a self-signed certificate for `localhost` that `edit` shapes (a CA
/// certificate, an expired one).
pub async fn serve_tls_with(edit: impl FnOnce(&mut rcgen::CertificateParams)) -> SocketAddr {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    edit(&mut params);
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key_pair).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    serve_each(move |tcp| {
        let accept = acceptor.accept(tcp);
        async move {
            if let Ok(tls) = accept.await {
                serve_routes(tls).await;
            }
        }
    })
    .await
}

/// A server that answers every request with the same raw bytes, and closes each connection
/// after its first answer when `close_after_one` (whatever the bytes say about keep-alive).
pub async fn serve_raw(reply: &'static [u8], close_after_one: bool) -> SocketAddr {
    serve_raw_in_pieces(reply, close_after_one, reply.len().max(1)).await
}

/// As [`serve_raw`], writing the reply `piece` bytes at a time a millisecond apart, so that the
/// client reads it in many parts.
pub async fn serve_raw_in_pieces(
    reply: &'static [u8],
    close_after_one: bool,
    piece: usize,
) -> SocketAddr {
    serve_each(move |mut tcp| async move {
        let _ = tcp.set_nodelay(true);
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                buf.drain(..end + 4);
                for (i, part) in reply.chunks(piece).enumerate() {
                    if i > 0 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    if tcp.write_all(part).await.is_err() {
                        return;
                    }
                }
                if close_after_one {
                    return;
                }
            }
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
}

/// A server that accepts connections and never answers.
pub async fn serve_silent() -> SocketAddr {
    let (listener, addr) = loopback().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    addr
}

/// A loopback port that nothing listens on.
pub async fn closed_port() -> SocketAddr {
    loopback().await.1
}

/// A listener that never accepts, its queue filled, so that a new connect hangs (Linux drops
/// the SYN of a connection whose accept queue is full). Keep the returned values alive.
pub async fn unaccepting() -> (SocketAddr, TcpListener, Vec<TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let listener = socket.listen(1).unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            _ => break,
        }
    }
    (addr, listener, fillers)
}

/// An HTTP/2 (prior knowledge) server that answers every request with a stream reset.
pub async fn serve_h2_refusing(reset: h2::Reason) -> SocketAddr {
    serve_each(move |tcp| async move {
        let Ok(mut conn) = h2::server::handshake(tcp).await else {
            return;
        };
        while let Some(Ok((_req, mut respond))) = conn.accept().await {
            respond.send_reset(reset);
        }
    })
    .await
}
