//! The target's gRPC services (`grpc/hello.proto`), answered on the target's port: a request
//! with `content-type: application/grpc` (HTTP/2, cleartext) goes here instead of the HTTP
//! routes. Server reflection and health checking come with brunt-grpc's server.

use std::time::Duration;

use brunt_grpc::server::{handler, Handler, Messages, Server};
use brunt_grpc::{DynamicMessage, Protos, Status};
use futures_util::StreamExt;
use prost_reflect::{MessageDescriptor, Value};
use tonic::metadata::{KeyAndValueRef, MetadataMap};
use tonic::{Code, Request, Response, Streaming};

/// The services' definitions, also what reflection serves.
pub const PROTO: &str = include_str!("grpc/hello.proto");

/// Replies of `LotsOfReplies`.
const REPLIES: usize = 10;
/// Longest `Probe/Echo` delay.
const MAX_DELAY_MS: i32 = 60_000;
/// Largest `Probe/Echo` payload.
const MAX_PAYLOAD: i64 = 16 * 1024 * 1024;

/// Is this request for the gRPC services?
pub(crate) fn is_grpc<B>(req: &http::Request<B>) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// The services with their handlers.
pub(crate) fn server() -> Server {
    let protos = Protos::from_source("hello.proto", PROTO).expect("hello.proto is valid");
    let hello = protos
        .message("hello.HelloResponse")
        .expect("HelloResponse");
    let echo = protos.message("hello.EchoResponse").expect("EchoResponse");
    let handlers: Vec<(&str, Handler)> = vec![
        ("hello.HelloService/SayHello", say_hello(hello.clone(), 1)),
        (
            "hello.HelloService/LotsOfReplies",
            say_hello(hello.clone(), REPLIES),
        ),
        (
            "hello.HelloService/LotsOfGreetings",
            lots_of_greetings(hello.clone()),
        ),
        ("hello.HelloService/BidiHello", bidi_hello(hello)),
        ("hello.Probe/Echo", probe_echo(echo)),
    ];
    Server::new(protos, handlers).expect("every handler's method is in hello.proto")
}

fn text(msg: &DynamicMessage, field: &str) -> String {
    msg.get_field_by_name(field)
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn int(msg: &DynamicMessage, field: &str) -> i64 {
    msg.get_field_by_name(field)
        .and_then(|v| v.as_i64().or(v.as_i32().map(i64::from)))
        .unwrap_or_default()
}

fn reply(desc: &MessageDescriptor, greeting: &str) -> DynamicMessage {
    let mut r = DynamicMessage::new(desc.clone());
    r.set_field_by_name("reply", Value::String(format!("hello {greeting}")));
    r
}

fn answer(messages: Vec<Result<DynamicMessage, Status>>) -> Response<Messages> {
    let stream: Messages = Box::pin(futures_util::stream::iter(messages));
    Response::new(stream)
}

/// The first request message; a call without one is an error.
async fn first(req: Request<Streaming<DynamicMessage>>) -> Result<DynamicMessage, Status> {
    req.into_inner()
        .message()
        .await?
        .ok_or_else(|| Status::invalid_argument("no request message"))
}

/// `SayHello` (one reply) and `LotsOfReplies` (`times` replies).
fn say_hello(desc: MessageDescriptor, times: usize) -> Handler {
    handler(move |req| {
        let desc = desc.clone();
        async move {
            let greeting = text(&first(req).await?, "greeting");
            Ok(answer(
                (0..times).map(|_| Ok(reply(&desc, &greeting))).collect(),
            ))
        }
    })
}

fn lots_of_greetings(desc: MessageDescriptor) -> Handler {
    handler(move |req| {
        let desc = desc.clone();
        async move {
            let mut stream = req.into_inner();
            let mut greetings = Vec::new();
            while let Some(m) = stream.message().await? {
                greetings.push(text(&m, "greeting"));
            }
            Ok(answer(vec![Ok(reply(&desc, &greetings.join(", ")))]))
        }
    })
}

fn bidi_hello(desc: MessageDescriptor) -> Handler {
    handler(move |req: Request<Streaming<DynamicMessage>>| {
        let desc = desc.clone();
        let replies = req
            .into_inner()
            .map(move |m| m.map(|m| reply(&desc, &text(&m, "greeting"))));
        let replies: Messages = Box::pin(replies);
        async move { Ok(Response::new(replies)) }
    })
}

fn probe_echo(desc: MessageDescriptor) -> Handler {
    handler(move |req: Request<Streaming<DynamicMessage>>| {
        let desc = desc.clone();
        async move {
            let echoed = echoed(req.metadata());
            let msg = first(req).await?;
            let delay = int(&msg, "delay_ms").clamp(0, i64::from(MAX_DELAY_MS));
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay as u64)).await;
            }
            let message = text(&msg, "message");
            let status = int(&msg, "status") as i32;
            if status != 0 {
                return Err(Status::with_metadata(
                    Code::from_i32(status),
                    message,
                    echoed,
                ));
            }
            let size = int(&msg, "size").clamp(0, MAX_PAYLOAD);
            let mut r = DynamicMessage::new(desc.clone());
            r.set_field_by_name("message", Value::String(message));
            r.set_field_by_name("payload", Value::Bytes(vec![b'x'; size as usize].into()));
            r.set_field_by_name("size", Value::I64(size));
            let mut resp = answer(vec![Ok(r)]);
            *resp.metadata_mut() = echoed;
            Ok(resp)
        }
    })
}

/// The request's `x-` metadata, to send back.
fn echoed(meta: &MetadataMap) -> MetadataMap {
    let mut out = MetadataMap::new();
    for kv in meta.iter() {
        match kv {
            KeyAndValueRef::Ascii(k, v) if k.as_str().starts_with("x-") => {
                out.append(k.clone(), v.clone());
            }
            KeyAndValueRef::Binary(k, v) if k.as_str().starts_with("x-") => {
                out.append_bin(k.clone(), v.clone());
            }
            _ => {}
        }
    }
    out
}
