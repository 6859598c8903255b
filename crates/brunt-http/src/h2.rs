//! HTTP/2 exchanges on hyper's client connection, which runs as its own task so that requests
//! can share it (one multiplexed connection per host, as Go's transport and so k6 keep).

use crate::connect::Io;
use crate::error::RequestError;
use crate::nanos::Nanos;
use crate::request::Request;
use crate::response::{Exchanged, Headers};
use crate::stream::BodySink;
use bytes::{Bytes, BytesMut};
use http::header::{HeaderValue, HOST, USER_AGENT};
use http::{HeaderMap, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::poll_fn;
use std::time::Instant;

#[derive(Clone)]
pub(crate) struct H2Conn {
    sender: http2::SendRequest<Full<Bytes>>,
}

impl H2Conn {
    /// Starts HTTP/2 on `io` and spawns the connection's task.
    pub async fn handshake(io: Io) -> Result<Self, RequestError> {
        let (sender, driver) = http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(io))
            .await
            .map_err(|e| RequestError::hyper(&e, false))?;
        tokio::spawn(driver);
        Ok(H2Conn { sender })
    }

    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends the request and reads the response. The connection's task also reads frames of
    /// its own (settings, pings), so the first response byte is stamped in `first_byte` when the
    /// response head arrives.
    pub async fn exchange(
        &self,
        req: &Request,
        user_agent: &HeaderValue,
        first_byte: &mut Option<Nanos>,
    ) -> Result<Exchanged, RequestError> {
        let mut sender = self.sender.clone();
        poll_fn(|cx| sender.poll_ready(cx))
            .await
            .map_err(|e| RequestError::hyper(&e, false))?;
        let resp = sender
            .send_request(build(req, user_agent))
            .await
            .map_err(|e| RequestError::hyper(&e, true))?;
        *first_byte = Some(Nanos::now());
        let (parts, mut body) = resp.into_parts();
        let body = read_body(&mut body, req.discard_body)
            .await
            .map_err(|e| RequestError::hyper(&e, true))?;
        Ok(Exchanged {
            status: parts.status.as_u16(),
            version: parts.version,
            headers: Headers::of(parts.headers),
            body,
        })
    }
}

impl H2Conn {
    /// As [`exchange`](Self::exchange), handing the body to `sink` frame by frame as it
    /// arrives instead of buffering it; the returned body is empty. A sink that stops early
    /// resets the stream.
    pub async fn exchange_streaming(
        &self,
        req: &Request,
        user_agent: &HeaderValue,
        first_byte: &mut Option<Nanos>,
        sink: &mut dyn BodySink,
    ) -> Result<Exchanged, RequestError> {
        let mut sender = self.sender.clone();
        poll_fn(|cx| sender.poll_ready(cx))
            .await
            .map_err(|e| RequestError::hyper(&e, false))?;
        let resp = sender
            .send_request(build(req, user_agent))
            .await
            .map_err(|e| RequestError::hyper(&e, true))?;
        *first_byte = Some(Nanos::now());
        let (parts, mut body) = resp.into_parts();
        sink.head(parts.status.as_u16(), &parts.headers);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| RequestError::hyper(&e, true))?;
            if let Ok(data) = frame.into_data() {
                if sink.data(Instant::now(), &data).is_break() {
                    break;
                }
            }
        }
        Ok(Exchanged {
            status: parts.status.as_u16(),
            version: parts.version,
            headers: Headers::of(parts.headers),
            body: Bytes::new(),
        })
    }
}

/// The hyper request: absolute target, the request's headers (less `Host`, which
/// `:authority` replaces) and `User-Agent` when the request has none.
fn build(req: &Request, user_agent: &HeaderValue) -> http::Request<Full<Bytes>> {
    let mut headers = HeaderMap::with_capacity(req.headers().len() + 1);
    for (k, v) in req.headers() {
        if k != HOST {
            headers.append(k, v.clone());
        }
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, user_agent.clone());
    }
    let mut r = http::Request::new(Full::new(req.body().clone()));
    *r.method_mut() = req.method().clone();
    *r.uri_mut() = req.full_uri.clone();
    *r.headers_mut() = headers;
    *r.version_mut() = Version::HTTP_2;
    r
}

/// Reads a body to its end; with `discard` the data is dropped (bytes are counted on the wire).
async fn read_body(body: &mut Incoming, discard: bool) -> Result<Bytes, hyper::Error> {
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        if discard {
            continue;
        }
        match (&mut first, &mut rest) {
            (None, _) => first = Some(data),
            (Some(f), None) => {
                let mut buf = BytesMut::with_capacity(f.len() + data.len());
                buf.extend_from_slice(f);
                buf.extend_from_slice(&data);
                rest = Some(buf);
            }
            (Some(_), Some(buf)) => buf.extend_from_slice(&data),
        }
    }
    Ok(match rest {
        Some(buf) => buf.freeze(),
        None => first.unwrap_or_default(),
    })
}
