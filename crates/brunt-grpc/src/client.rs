//! A connection to a gRPC server and the calls on it. The caller dials (brunt-js dials with
//! brunt-http, so name lookup, block lists, TLS settings and byte counts are the run's); this
//! speaks HTTP/2 on that stream with hyper's client connection, and gRPC with tonic's client
//! over it. One connection per client, as grpc-go's `ClientConn` keeps for k6.

use crate::codec::{Codec, Dynamic};
use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderValue, Uri};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tonic::body::Body;
use tonic::metadata::{Ascii, Binary, KeyAndValueRef, MetadataKey, MetadataMap, MetadataValue};
use tonic::{Code, Status, Streaming};

/// What `connect()` sets up besides the stream.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `:authority` of every call (k6's `authority`, else the address dialed).
    pub authority: String,
    pub tls: bool,
    pub user_agent: Option<String>,
    /// Largest message received; larger ones fail the call with ResourceExhausted.
    pub max_receive: usize,
    /// Largest message sent; larger ones fail before they are sent.
    pub max_send: usize,
}

/// Metadata as k6 shows it: each key with its values.
pub type Metadata = Vec<(String, Vec<String>)>;

/// How a unary call ended.
#[derive(Debug)]
pub struct Reply {
    pub status: Code,
    /// The response; None when the call failed.
    pub message: Option<DynamicMessage>,
    pub headers: Metadata,
    pub trailers: Metadata,
    /// The failure, with grpc-go's code and message.
    pub error: Option<Status>,
    /// From the start of the call to its end (k6's `grpc_req_duration`).
    pub took: Duration,
}

/// What a stream tells its owner, in order: messages, then its end once.
#[derive(Debug)]
pub enum StreamEvent {
    Message(DynamicMessage),
    End {
        error: Option<Status>,
        took: Duration,
    },
}

/// hyper's HTTP/2 sender as the service tonic's client calls.
#[derive(Clone)]
struct H2 {
    send: SendRequest<Body>,
    user_agent: Option<HeaderValue>,
}

type Responding =
    Pin<Box<dyn Future<Output = hyper::Result<http::Response<hyper::body::Incoming>>> + Send>>;

impl tower_service::Service<http::Request<Body>> for H2 {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = Responding;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.send.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Responding {
        if let Some(ua) = &self.user_agent {
            req.headers_mut()
                .insert(http::header::USER_AGENT, ua.clone());
        }
        Box::pin(self.send.send_request(req))
    }
}

#[derive(Clone)]
pub struct Connection {
    grpc: tonic::client::Grpc<H2>,
    max_receive: usize,
    max_send: usize,
}

impl Connection {
    /// Speaks HTTP/2 (prior knowledge, or as negotiated by the caller's TLS) on `io`.
    pub async fn handshake<IO>(io: IO, opts: ConnectOptions) -> Result<Connection, String>
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let scheme = if opts.tls { "https" } else { "http" };
        let origin: Uri = format!("{scheme}://{}", opts.authority)
            .parse()
            .map_err(|e| format!("invalid authority \"{}\": {e}", opts.authority))?;
        let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(io))
            .await
            .map_err(|e| format!("connection error: desc = \"transport: {e}\""))?;
        // The connection's reader and writer; it ends when every sender is dropped.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let user_agent = opts.user_agent.and_then(|u| HeaderValue::from_str(&u).ok());
        let grpc = tonic::client::Grpc::with_origin(H2 { send, user_agent }, origin)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        Ok(Connection {
            grpc,
            max_receive: opts.max_receive,
            max_send: opts.max_send,
        })
    }

    /// Opens a call at `path`: the request messages are what `requests` yields until its sender
    /// is dropped. Returns the response headers and messages (trailers after the last one).
    pub async fn streaming<M, C>(
        &self,
        path: &str,
        mut requests: UnboundedReceiver<M>,
        metadata: &[(String, String)],
        codec: C,
    ) -> Result<(MetadataMap, Streaming<C::Decode>), Status>
    where
        M: Send + Sync + 'static,
        C: tonic::codec::Codec<Encode = M> + Send + 'static,
        C::Decode: Send + Sync + 'static,
    {
        let mut grpc = self.grpc.clone();
        grpc.ready().await.map_err(|e| {
            Status::unavailable(format!("connection error: desc = \"transport: {e}\""))
        })?;
        let path = PathAndQuery::try_from(path)
            .map_err(|e| Status::internal(format!("invalid method path \"{path}\": {e}")))?;
        let body = futures_util::stream::poll_fn(move |cx| requests.poll_recv(cx));
        let mut req = tonic::Request::new(body);
        add_metadata(req.metadata_mut(), metadata)?;
        let resp = grpc.streaming(req, path, codec).await?;
        let (headers, body, _) = resp.into_parts();
        Ok((headers, body))
    }

    /// A unary call of `method`, bounded by `timeout` (sent as `grpc-timeout` too).
    pub async fn invoke(
        &self,
        method: &MethodDescriptor,
        request: DynamicMessage,
        metadata: &[(String, String)],
        timeout: Option<Duration>,
    ) -> Reply {
        let start = Instant::now();
        let failed = |error: Status, headers: MetadataMap| Reply {
            status: error.code(),
            message: None,
            headers: shown(headers),
            trailers: shown(error.metadata().clone()),
            error: Some(error),
            took: start.elapsed(),
        };
        if let Err(e) = self.fits(&request) {
            return failed(e, MetadataMap::new());
        }
        let mut metadata = metadata.to_vec();
        if let Some(t) = timeout {
            metadata.push(("grpc-timeout".into(), grpc_timeout(t)));
        }
        let call = self.unary(method, request, &metadata);
        let result = match timeout {
            Some(t) => tokio::time::timeout(t, call)
                .await
                .unwrap_or_else(|_| Err((deadline_exceeded(), MetadataMap::new()))),
            None => call.await,
        };
        match result {
            Ok((headers, message, trailers)) => Reply {
                status: Code::Ok,
                message: Some(message),
                headers: shown(headers),
                trailers: shown(trailers),
                error: None,
                took: start.elapsed(),
            },
            Err((error, headers)) => failed(error, headers),
        }
    }

    async fn unary(
        &self,
        method: &MethodDescriptor,
        request: DynamicMessage,
        metadata: &[(String, String)],
    ) -> Result<(MetadataMap, DynamicMessage, MetadataMap), (Status, MetadataMap)> {
        let (send, requests) = unbounded_channel();
        let _ = send.send(request);
        drop(send);
        let codec =
            Codec::<DynamicMessage, Dynamic>::new(Dynamic(method.output()), self.max_receive);
        let (headers, mut body) = self
            .streaming(&path_of(method), requests, metadata, codec)
            .await
            .map_err(|s| (s, MetadataMap::new()))?;
        let message = match body.message().await {
            Ok(Some(m)) => m,
            Ok(None) => {
                let s = Status::internal("grpc: the server sent no response message");
                return Err((s, headers));
            }
            Err(s) => return Err((s, headers)),
        };
        match body.trailers().await {
            Ok(trailers) => Ok((headers, message, trailers.unwrap_or_default())),
            Err(s) => Err((s, headers)),
        }
    }

    /// Refuses a message over `maxSendSize` as grpc-go does, before anything is sent.
    fn fits(&self, msg: &DynamicMessage) -> Result<(), Status> {
        let size = msg.encoded_len();
        if size > self.max_send {
            return Err(Status::resource_exhausted(format!(
                "grpc: trying to send message larger than max ({size} vs. {})",
                self.max_send
            )));
        }
        Ok(())
    }

    /// Opens a stream of `method` on a task of its own; `emit` gets its messages and its end.
    pub fn open_stream(
        &self,
        method: &MethodDescriptor,
        metadata: Vec<(String, String)>,
        timeout: Option<Duration>,
        mut emit: impl FnMut(StreamEvent) + Send + 'static,
    ) -> CallStream {
        let (send, requests) = unbounded_channel();
        let conn = self.clone();
        let path = path_of(method);
        let codec =
            Codec::<DynamicMessage, Dynamic>::new(Dynamic(method.output()), self.max_receive);
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut metadata = metadata;
            if let Some(t) = timeout {
                metadata.push(("grpc-timeout".into(), grpc_timeout(t)));
            }
            let run = async {
                let (_, mut body) = conn.streaming(&path, requests, &metadata, codec).await?;
                while let Some(m) = body.message().await? {
                    emit(StreamEvent::Message(m));
                }
                body.trailers().await?;
                Ok::<(), Status>(())
            };
            let result = match timeout {
                Some(t) => tokio::time::timeout(t, run)
                    .await
                    .unwrap_or_else(|_| Err(deadline_exceeded())),
                None => run.await,
            };
            emit(StreamEvent::End {
                error: result.err(),
                took: start.elapsed(),
            });
        });
        CallStream {
            send: Some(send),
            task: task.abort_handle(),
            max_send: self.max_send,
        }
    }
}

/// An open stream's sending side; dropping it cancels the stream.
pub struct CallStream {
    send: Option<UnboundedSender<DynamicMessage>>,
    task: tokio::task::AbortHandle,
    max_send: usize,
}

impl CallStream {
    /// Queues a message; one over `maxSendSize` is refused (the stream then should end).
    pub fn write(&mut self, msg: DynamicMessage) -> Result<(), Status> {
        let size = msg.encoded_len();
        if size > self.max_send {
            return Err(Status::resource_exhausted(format!(
                "grpc: trying to send message larger than max ({size} vs. {})",
                self.max_send
            )));
        }
        if let Some(s) = &self.send {
            // A stream that ended already drops what is written after.
            let _ = s.send(msg);
        }
        Ok(())
    }

    /// Ends the sending side (the server sees the end of the request stream).
    pub fn end(&mut self) {
        self.send = None;
    }
}

impl Drop for CallStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `/package.Service/Method`.
pub fn path_of(method: &MethodDescriptor) -> String {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
}

/// grpc-go's words for a call that ran past its deadline.
fn deadline_exceeded() -> Status {
    Status::deadline_exceeded("context deadline exceeded")
}

/// The `grpc-timeout` header's form: at most 8 digits and a unit.
fn grpc_timeout(t: Duration) -> String {
    let ms = t.as_millis();
    if ms < 100_000_000 {
        format!("{ms}m")
    } else {
        format!("{}S", t.as_secs().min(99_999_999))
    }
}

/// Adds the script's metadata; keys ending in `-bin` carry binary values.
fn add_metadata(map: &mut MetadataMap, metadata: &[(String, String)]) -> Result<(), Status> {
    for (k, v) in metadata {
        let bad =
            |e: &dyn std::fmt::Display| Status::internal(format!("invalid metadata \"{k}\": {e}"));
        if k.ends_with("-bin") {
            let key = MetadataKey::<Binary>::from_bytes(k.as_bytes()).map_err(|e| bad(&e))?;
            map.append_bin(key, MetadataValue::from_bytes(v.as_bytes()));
        } else {
            let key = MetadataKey::<Ascii>::from_bytes(k.as_bytes()).map_err(|e| bad(&e))?;
            let value = MetadataValue::<Ascii>::try_from(v.as_str()).map_err(|e| bad(&e))?;
            map.append(key, value);
        }
    }
    Ok(())
}

/// Metadata as grpc-go hands it to k6: gRPC's own reserved headers left out, values grouped by
/// key, binary ones decoded.
fn shown(map: MetadataMap) -> Metadata {
    const RESERVED: [&str; 6] = [
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
        "grpc-encoding",
        "grpc-timeout",
        "te",
    ];
    let mut out: Metadata = Vec::new();
    for kv in map.iter() {
        let (name, value) = match kv {
            KeyAndValueRef::Ascii(k, v) => (
                k.as_str(),
                String::from_utf8_lossy(v.as_encoded_bytes()).into_owned(),
            ),
            KeyAndValueRef::Binary(k, v) => {
                let bytes: Bytes = v.to_bytes().unwrap_or_default();
                (k.as_str(), String::from_utf8_lossy(&bytes).into_owned())
            }
        };
        if RESERVED.contains(&name) {
            continue;
        }
        match out.iter_mut().find(|(k, _)| k == name) {
            Some((_, values)) => values.push(value),
            None => out.push((name.to_string(), vec![value])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_fit_the_header() {
        assert_eq!(grpc_timeout(Duration::from_secs(120)), "120000m");
        assert_eq!(grpc_timeout(Duration::from_secs(1_000_000)), "1000000S");
    }
}
