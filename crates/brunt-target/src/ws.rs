//! `/ws/echo`: a WebSocket echo (text and binary messages sent back as they came; pings answered),
//! so `k6/ws` scripts run offline against the target. The handshake is RFC 6455's over HTTP/1.1;
//! the first subprotocol a client offers is accepted.

use http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL};
use http::header::{SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::response::{self, Reply};

/// Answers the handshake with 101 and echoes on the upgraded connection; anything that is not
/// a WebSocket handshake gets 400 saying what is missing.
pub(crate) fn echo(mut req: Request<Incoming>) -> Reply {
    let upgrade = req
        .headers()
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let version = req.headers().get(SEC_WEBSOCKET_VERSION);
    let Some(key) = req.headers().get(SEC_WEBSOCKET_KEY).filter(|_| upgrade) else {
        return response::error(
            StatusCode::BAD_REQUEST,
            "a WebSocket handshake: Upgrade: websocket and Sec-WebSocket-Key are required",
        );
    };
    if version.is_some_and(|v| v != "13") {
        return response::error(StatusCode::BAD_REQUEST, "Sec-WebSocket-Version must be 13");
    }
    let accept = derive_accept_key(key.as_bytes());
    let protocol = req
        .headers()
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|p| HeaderValue::from_str(p.trim()).ok());
    let upgraded = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        // A client that goes away mid-handshake only ends its own task.
        if let Ok(io) = upgraded.await {
            let ws = WebSocketStream::from_raw_socket(TokioIo::new(io), Role::Server, None).await;
            serve(ws).await;
        }
    });
    let mut reply = Response::new(Full::default());
    *reply.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = reply.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(p) = protocol {
        h.insert(SEC_WEBSOCKET_PROTOCOL, p);
    }
    reply
}

/// Echoes data messages until the client closes (tungstenite answers pings and the close).
async fn serve<S>(mut ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::{SinkExt, StreamExt};
    while let Some(Ok(msg)) = ws.next().await {
        let sent = match msg {
            Message::Text(_) | Message::Binary(_) => ws.send(msg).await,
            Message::Close(_) => break,
            _ => continue,
        };
        if sent.is_err() {
            break;
        }
    }
    let _ = ws.flush().await;
}
