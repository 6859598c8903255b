//! `/ws/echo`: a WebSocket echo (text and binary messages sent back as they came; pings answered),
//! and `/ws/chat?room=NAME`: every message a client sends goes to every client connected to the
//! room (the sender included), so `k6/ws` and `k6/websockets` scripts run offline against the
//! target. The handshake is RFC 6455's over HTTP/1.1; the first subprotocol a client offers is
//! accepted.

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
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The server's end of an upgraded connection.
type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// A client's messages are dropped past this many behind the room (a slow reader must not hold
/// the room's memory).
const ROOM_BACKLOG: usize = 1024;

/// The chat rooms by name, each a broadcast channel its clients subscribe to; a room goes when
/// its last client does.
#[derive(Default, Debug)]
pub(crate) struct Rooms(Mutex<HashMap<String, broadcast::Sender<Message>>>);

/// `/ws/echo`.
pub(crate) fn echo(req: Request<Incoming>) -> Reply {
    upgrade(req, serve)
}

/// `/ws/chat?room=NAME` (the room `lobby` without one).
pub(crate) fn chat(req: Request<Incoming>, rooms: Arc<Rooms>) -> Reply {
    let room = req
        .uri()
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "room")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| "lobby".into());
    upgrade(req, move |ws| broadcast_in(ws, rooms, room))
}

/// Answers the handshake with 101 and runs `serve` on the upgraded connection; anything that is
/// not a WebSocket handshake gets 400 saying what is missing.
fn upgrade<F, Fut>(mut req: Request<Incoming>, serve: F) -> Reply
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
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
async fn serve(mut ws: Socket) {
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

/// Sends every message of the client to the room, and the room's messages to the client, until
/// the client closes.
async fn broadcast_in(mut ws: Socket, rooms: Arc<Rooms>, room: String) {
    use futures_util::{SinkExt, StreamExt};
    let (tx, mut rx) = {
        let mut all = rooms.0.lock().unwrap_or_else(|e| e.into_inner());
        let tx = all
            .entry(room.clone())
            .or_insert_with(|| broadcast::channel(ROOM_BACKLOG).0)
            .clone();
        let rx = tx.subscribe();
        (tx, rx)
    };
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                    let _ = tx.send(m);
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            got = rx.recv() => match got {
                Ok(m) => {
                    if ws.send(m).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    let _ = ws.flush().await;
    drop(rx);
    let mut all = rooms.0.lock().unwrap_or_else(|e| e.into_inner());
    if tx.receiver_count() == 0 {
        all.remove(&room);
    }
}
