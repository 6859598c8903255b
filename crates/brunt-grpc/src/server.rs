//! Serving methods described at run time, with server reflection (v1 and v1alpha) and the health
//! service built in: what `brunt target` answers gRPC requests with, inside its own hyper
//! server. Every method is served as a bidirectional stream (on the wire a unary call is one
//! message each way), so one handler shape fits all four kinds.

use crate::codec::{Codec, Dynamic, Typed, DEFAULT_MAX_RECEIVE};
use crate::health::{self, CheckRequest, CheckResponse};
use crate::protos::Protos;
use crate::reflection::{self, V1, V1ALPHA};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use prost_reflect::{DynamicMessage, MethodDescriptor};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
pub use tonic::body::Body;
use tonic::{Request, Response, Status, Streaming};

/// The response messages of a call.
pub type Messages = Pin<Box<dyn Stream<Item = Result<DynamicMessage, Status>> + Send>>;
type Answering<T> = Pin<Box<dyn Future<Output = Result<Response<T>, Status>> + Send>>;
/// A method's implementation: the request messages in, the response messages out.
pub type Handler =
    Arc<dyn Fn(Request<Streaming<DynamicMessage>>) -> Answering<Messages> + Send + Sync>;

/// A [`Handler`] from an async function.
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Request<Streaming<DynamicMessage>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Messages>, Status>> + Send + 'static,
{
    Arc::new(move |req| Box::pin(f(req)))
}

#[derive(Clone)]
pub struct Server {
    protos: Protos,
    methods: Arc<HashMap<String, (MethodDescriptor, Handler)>>,
}

impl Server {
    /// Serves the methods of `handlers` (`package.Service/Method` to its handler), each of which
    /// `protos` must describe.
    pub fn new(protos: Protos, handlers: Vec<(&str, Handler)>) -> Result<Server, String> {
        let mut methods = HashMap::new();
        for (name, handler) in handlers {
            let method = protos
                .method(name)
                .ok_or_else(|| format!("method \"{name}\" is not in the protos"))?;
            methods.insert(crate::client::path_of(&method), (method, handler));
        }
        Ok(Server {
            protos,
            methods: Arc::new(methods),
        })
    }

    /// Answers one gRPC request (an HTTP/2 request with `content-type: application/grpc`).
    pub async fn handle<B>(&self, req: http::Request<B>) -> http::Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
    {
        let path = req.uri().path().to_string();
        if path == format!("/{V1}/ServerReflectionInfo")
            || path == format!("/{V1ALPHA}/ServerReflectionInfo")
        {
            let codec = Codec::<reflection::Response, Typed<reflection::Request>>::new(
                Typed::default(),
                DEFAULT_MAX_RECEIVE,
            );
            let svc = Reflect(self.protos.clone());
            return tonic::server::Grpc::new(codec).streaming(svc, req).await;
        }
        if path == format!("/{}/Check", health::SERVICE) {
            let codec = Codec::<CheckResponse, Typed<CheckRequest>>::new(
                Typed::default(),
                DEFAULT_MAX_RECEIVE,
            );
            let svc = Health(self.protos.clone());
            return tonic::server::Grpc::new(codec).unary(svc, req).await;
        }
        match self.methods.get(&path) {
            Some((method, handler)) => {
                let codec = Codec::<DynamicMessage, Dynamic>::new(
                    Dynamic(method.input()),
                    DEFAULT_MAX_RECEIVE,
                );
                tonic::server::Grpc::new(codec)
                    .streaming(Call(handler.clone()), req)
                    .await
            }
            None => unknown(&self.protos, &path).into_http(),
        }
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut methods: Vec<&String> = self.methods.keys().collect();
        methods.sort();
        f.debug_struct("Server").field("methods", &methods).finish()
    }
}

/// grpc-go's answer to a path it does not serve.
fn unknown(protos: &Protos, path: &str) -> Status {
    let (service, method) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .unwrap_or((path, ""));
    if protos.pool().get_service_by_name(service).is_some() {
        Status::unimplemented(format!("unknown method {method} for service {service}"))
    } else {
        Status::unimplemented(format!("unknown service {service}"))
    }
}

struct Call(Handler);

impl tower_service::Service<Request<Streaming<DynamicMessage>>> for Call {
    type Response = Response<Messages>;
    type Error = Status;
    type Future = Answering<Messages>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Streaming<DynamicMessage>>) -> Self::Future {
        (self.0)(req)
    }
}

type Answers = Pin<Box<dyn Stream<Item = Result<reflection::Response, Status>> + Send>>;

/// The reflection service: each request answered from the protos served.
struct Reflect(Protos);

impl tower_service::Service<Request<Streaming<reflection::Request>>> for Reflect {
    type Response = Response<Answers>;
    type Error = Status;
    type Future = Answering<Answers>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Streaming<reflection::Request>>) -> Self::Future {
        let protos = self.0.clone();
        let answers = req
            .into_inner()
            .map(move |r| r.map(|r| reflection::answer(&protos, r)));
        let answers: Answers = Box::pin(answers);
        Box::pin(async move { Ok(Response::new(answers)) })
    }
}

/// The health service: the server (the empty name) and every service it serves are SERVING;
/// another name is NotFound, as grpc-go's health server answers.
struct Health(Protos);

impl tower_service::Service<Request<CheckRequest>> for Health {
    type Response = Response<CheckResponse>;
    type Error = Status;
    type Future = Answering<CheckResponse>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<CheckRequest>) -> Self::Future {
        let name = req.into_inner().service;
        let known = name.is_empty() || self.0.pool().get_service_by_name(&name).is_some();
        Box::pin(async move {
            if known {
                Ok(Response::new(CheckResponse {
                    status: health::SERVING,
                }))
            } else {
                Err(Status::not_found("unknown service"))
            }
        })
    }
}
