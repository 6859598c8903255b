//! Loopback fixtures shared by the integration tests: an API server, upstream
//! servers (echo, byte source, HTTP), and a raw HTTP helper for exact answers.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brunt_chaos::client::{Client, NewProxy, NewToxic};
use brunt_chaos::{Server, ServerOptions};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Upper bound for any single wait in a test.
pub const LIMIT: Duration = Duration::from_secs(10);

pub async fn start_api(seed: u64) -> (Server, Client) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = brunt_chaos::start(listener, ServerOptions { seed: Some(seed) })
        .await
        .unwrap();
    let client = Client::new(&server.api_addr().to_string()).unwrap();
    (server, client)
}

/// An API server with one enabled proxy `name` in front of `upstream`; returns
/// the server, a client for it and the proxy's listen address.
pub async fn start_proxy(
    seed: u64,
    name: &str,
    upstream: SocketAddr,
) -> (Server, Client, SocketAddr) {
    let (server, client) = start_api(seed).await;
    let listen = proxy(&client, name, upstream).await;
    (server, client, listen)
}

/// Creates an enabled proxy on a free loopback port; returns its address.
pub async fn proxy(client: &Client, name: &str, upstream: SocketAddr) -> SocketAddr {
    let p = client
        .create_proxy(&NewProxy {
            name: name.into(),
            listen: "127.0.0.1:0".into(),
            upstream: upstream.to_string(),
            enabled: None,
        })
        .await
        .unwrap();
    p.listen.parse().unwrap()
}

/// Adds a toxic that acts on every connection (toxicity 1).
pub async fn toxic(
    client: &Client,
    proxy: &str,
    kind: &str,
    stream: &str,
    attributes: serde_json::Value,
) {
    toxic_at(client, proxy, kind, stream, 1.0, attributes).await;
}

/// Adds a toxic that acts on a `toxicity` share of connections.
pub async fn toxic_at(
    client: &Client,
    proxy: &str,
    kind: &str,
    stream: &str,
    toxicity: f32,
    attributes: serde_json::Value,
) {
    client
        .add_toxic(
            proxy,
            &NewToxic {
                name: None,
                kind: kind.into(),
                stream: Some(stream.into()),
                toxicity: Some(toxicity),
                attributes,
            },
        )
        .await
        .unwrap();
}

/// Echoes every byte back on every connection.
pub async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Sends `n` bytes (a repeating pattern) on each connection, then closes.
pub async fn source_server(n: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = s.write_all(&pattern(n)).await;
                let _ = s.shutdown().await;
                // Drain until the client closes so the close is a clean FIN.
                let mut sink = [0u8; 1024];
                while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A keep-alive HTTP/1.1 server answering `200` with the path as body; records paths.
pub async fn http_server() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = find(&buf, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        buf.drain(..end + 4);
                        let path = head.split(' ').nth(1).unwrap_or("").to_string();
                        log.lock().unwrap().push(path.clone());
                        let body = format!("path={path}");
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if s.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (addr, seen)
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends a GET on an open connection and reads one response (content-length framed).
pub async fn http_get(s: &mut TcpStream, path: &str) -> std::io::Result<(u16, String, String)> {
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n").as_bytes())
        .await?;
    read_response(s).await
}

pub async fn read_response(s: &mut TcpStream) -> std::io::Result<(u16, String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            break end;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((status, head, String::from_utf8_lossy(&body).to_string()))
}

/// One raw request to the API with `Connection: close`: status, headers, body.
pub async fn api(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: api\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(LIMIT, s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

/// Reads exactly `n` bytes, failing the test past [`LIMIT`] or on an error.
pub async fn read_n(r: &mut (impl AsyncRead + Unpin), n: usize) -> Vec<u8> {
    let mut back = vec![0u8; n];
    tokio::time::timeout(LIMIT, r.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    back
}

/// One read of up to 4 bytes within [`LIMIT`]; an error counts as 0 (closed).
pub async fn read_once(s: &mut TcpStream) -> usize {
    let mut buf = [0u8; 4];
    tokio::time::timeout(LIMIT, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0)
}

/// Writes `msg` and reads the same number of bytes back; returns the time taken.
pub async fn round_trip(s: &mut TcpStream, msg: &[u8]) -> Duration {
    let start = std::time::Instant::now();
    s.write_all(msg).await.unwrap();
    let back = read_n(s, msg.len()).await;
    assert_eq!(back, msg);
    start.elapsed()
}
