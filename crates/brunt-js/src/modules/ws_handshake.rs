//! The client's side of the WebSocket opening handshake (RFC 6455, section 4), for both WebSocket
//! modules. tungstenite writes the request (`generate_request`) and parses the response
//! (`TryParse`); the rest is here, with tungstenite's checks and errors, because tungstenite's
//! own handshake holds two 4 KiB buffers for each handshake in flight and hands the larger to the
//! open socket as its read buffer for life: 10,000 sockets opened at once held over 100 MB at
//! the peak. Here the response head is read in small pieces into a buffer of its own size, and
//! the socket starts with the read buffer its config asks for.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::error::{ProtocolError, SubProtocolError};
use tokio_tungstenite::tungstenite::handshake::client::{generate_request, Request, Response};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::machine::TryParse;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Error;
use tokio_tungstenite::WebSocketStream;

/// The most bytes read at once while the response head comes (most heads fit).
const PIECE: usize = 512;

/// Performs the handshake of `request` on `stream`: the open socket and the server's response,
/// or tungstenite's error (`Error::Http` with the response, and what came after its head as
/// its body, when the server did not switch protocols).
pub(crate) async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    request: Request,
    mut stream: S,
    config: WebSocketConfig,
) -> Result<(WebSocketStream<S>, Response), Error> {
    let offered = subprotocols(&request)?;
    let (bytes, key) = generate_request(request)?;
    stream.write_all(&bytes).await?;
    stream.flush().await?;
    drop(bytes);
    let mut head = Vec::new();
    let mut piece = [0u8; PIECE];
    let mut check = AttackCheck::default();
    let (size, response) = loop {
        let n = stream.read(&mut piece).await?;
        if n == 0 {
            return Err(Error::Protocol(ProtocolError::HandshakeIncomplete));
        }
        check.packet(n)?;
        head.extend_from_slice(&piece[..n]);
        if let Some(parsed) = Response::try_parse(&head)? {
            break parsed;
        }
    };
    let tail = head.split_off(size);
    drop(head);
    let response = verify(
        response,
        &derive_accept_key(key.as_bytes()),
        &offered,
        tail.clone(),
    )?;
    let ws = WebSocketStream::from_partially_read(stream, tail, Role::Client, Some(config)).await;
    Ok((ws, response))
}

/// The subprotocols the request offers (tungstenite's reading of its header).
fn subprotocols(request: &Request) -> Result<Option<Vec<String>>, Error> {
    match request.headers().get("Sec-WebSocket-Protocol") {
        Some(v) => Ok(Some(
            v.to_str()?
                .split(',')
                .map(|s| s.trim().to_string())
                .collect(),
        )),
        None => Ok(None),
    }
}

/// The response, when it completes the handshake: tungstenite's checks (`VerifyData`), in its
/// order, with its errors. `tail` becomes the body of a response that is not a 101.
fn verify(
    response: Response,
    accept_key: &str,
    offered: &Option<Vec<String>>,
    tail: Vec<u8>,
) -> Result<Response, Error> {
    if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        let mut response = response;
        *response.body_mut() = Some(tail);
        return Err(Error::Http(Box::new(response)));
    }
    let headers = response.headers();
    let is = |name: &str, want: &str| {
        headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| h.eq_ignore_ascii_case(want))
    };
    if !is("Upgrade", "websocket") {
        return Err(Error::Protocol(
            ProtocolError::MissingUpgradeWebSocketHeader,
        ));
    }
    if !is("Connection", "Upgrade") {
        return Err(Error::Protocol(
            ProtocolError::MissingConnectionUpgradeHeader,
        ));
    }
    if headers
        .get("Sec-WebSocket-Accept")
        .is_none_or(|h| h != accept_key)
    {
        return Err(Error::Protocol(
            ProtocolError::SecWebSocketAcceptKeyMismatch,
        ));
    }
    let sub = |e| {
        Err(Error::Protocol(
            ProtocolError::SecWebSocketSubProtocolError(e),
        ))
    };
    match (headers.get("Sec-WebSocket-Protocol"), offered) {
        (None, Some(_)) => return sub(SubProtocolError::NoSubProtocol),
        (Some(_), None) => return sub(SubProtocolError::ServerSentSubProtocolNoneRequested),
        (Some(chosen), Some(offered)) if !offered.contains(&chosen.to_str()?.to_string()) => {
            return sub(SubProtocolError::InvalidSubProtocol)
        }
        _ => {}
    }
    Ok(response)
}

/// tungstenite's bounds on a response head: 64 KiB, in at most 512 reads, of 128 bytes on
/// average past the 64th.
#[derive(Default)]
struct AttackCheck {
    packets: usize,
    bytes: usize,
}

impl AttackCheck {
    fn packet(&mut self, size: usize) -> Result<(), Error> {
        self.packets += 1;
        self.bytes += size;
        let trickle = self.packets > 64 && self.packets * 128 > self.bytes;
        if self.bytes > 65536 || self.packets > 512 || trickle {
            return Err(Error::AttackAttempt);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio::io::DuplexStream;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    /// Reads the request's head from the server's end and answers with `answer(accept key)`.
    async fn answer(mut server: DuplexStream, answer: impl FnOnce(String) -> Vec<u8>) {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            server.read_exact(&mut b).await.unwrap();
            head.push(b[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        server
            .write_all(&answer(derive_accept_key(key.as_bytes())))
            .await
            .unwrap();
        // Held open until the client is done.
        let _ = server.read(&mut [0u8; 1]).await;
    }

    fn request() -> Request {
        "ws://127.0.0.1/x".into_client_request().unwrap()
    }

    /// A frame that comes with the response head, in the same read, is the socket's first.
    #[tokio::test]
    async fn a_frame_sent_with_the_head_is_read_first() {
        let (client_end, server_end) = tokio::io::duplex(4096);
        let server = tokio::spawn(answer(server_end, |accept| {
            let mut r = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            )
            .into_bytes();
            r.extend_from_slice(b"\x81\x02hi");
            r
        }));
        let (mut ws, resp) = client(request(), client_end, WebSocketConfig::default())
            .await
            .unwrap();
        assert_eq!(resp.status(), 101);
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hi"));
        drop(ws);
        server.await.unwrap();
    }

    /// A wrong accept key and a refused upgrade fail as tungstenite's handshake fails.
    #[tokio::test]
    async fn bad_answers_fail_with_tungstenites_errors() {
        let (client_end, server_end) = tokio::io::duplex(4096);
        tokio::spawn(answer(server_end, |_| {
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n"
                .to_vec()
        }));
        let e = client(request(), client_end, WebSocketConfig::default())
            .await
            .err()
            .unwrap();
        assert!(matches!(
            e,
            Error::Protocol(ProtocolError::SecWebSocketAcceptKeyMismatch)
        ));

        let (client_end, server_end) = tokio::io::duplex(4096);
        tokio::spawn(answer(server_end, |_| {
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope\n".to_vec()
        }));
        match client(request(), client_end, WebSocketConfig::default()).await {
            Err(Error::Http(resp)) => {
                assert_eq!(resp.status(), 403);
                assert_eq!(resp.body().as_deref(), Some(&b"nope\n"[..]));
            }
            other => panic!("expected a refused handshake, got {:?}", other.err()),
        }
    }
}
