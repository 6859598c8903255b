//! Small builders for the responses every route shares. Header values are
//! static so that answering costs no allocation beyond hyper's own.

use std::fmt::Display;
use std::io::Write;

use bytes::Bytes;
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;
use http::header::{HeaderValue, ALLOW, CONTENT_ENCODING, CONTENT_TYPE, LOCATION};
use http::{Response, StatusCode};
use http_body_util::Full;

/// Every route answers with a body held in memory.
pub(crate) type Reply = Response<Full<Bytes>>;

pub(crate) const TEXT: &str = "text/plain; charset=utf-8";
pub(crate) const JSON: &str = "application/json";
pub(crate) const HTML: &str = "text/html; charset=utf-8";
pub(crate) const BINARY: &str = "application/octet-stream";

/// A response with `body` of type `content_type`.
pub(crate) fn with_body(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Reply {
    let mut reply = Response::new(Full::new(body.into()));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply
}

/// A JSON document, newline-terminated so that it reads well in a terminal.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    with_body(status, JSON, json_bytes(value))
}

fn json_bytes(value: &serde_json::Value) -> Vec<u8> {
    let mut body = serde_json::to_vec_pretty(value).expect("a JSON value always serializes");
    body.push(b'\n');
    body
}

/// The HTTP content codings `/gzip` and `/deflate` answer in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Coding {
    Gzip,
    /// HTTP's "deflate" is the zlib format (RFC 9110), not raw deflate.
    Deflate,
}

/// A JSON document compressed with `coding`, labelled with Content-Encoding.
pub(crate) fn compressed_json(value: &serde_json::Value, coding: Coding) -> Reply {
    let plain = json_bytes(value);
    let (body, name) = match coding {
        Coding::Gzip => {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
            encoder.write_all(&plain).and_then(|()| encoder.finish())
        }
        .map(|body| (body, "gzip")),
        Coding::Deflate => {
            let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
            encoder.write_all(&plain).and_then(|()| encoder.finish())
        }
        .map(|body| (body, "deflate")),
    }
    .expect("compressing into memory cannot fail");
    let mut reply = with_body(StatusCode::OK, JSON, body);
    reply
        .headers_mut()
        .insert(CONTENT_ENCODING, HeaderValue::from_static(name));
    reply
}

/// A response without a body.
pub(crate) fn empty(status: StatusCode) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = status;
    reply
}

/// A client error explained in a JSON `error` field.
pub(crate) fn error(status: StatusCode, message: impl Display) -> Reply {
    json(status, &serde_json::json!({ "error": message.to_string() }))
}

/// 405 naming the methods the route accepts.
pub(crate) fn method_not_allowed(allow: &'static str) -> Reply {
    let mut reply = error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed; use {allow}"),
    );
    reply
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    reply
}

/// A redirect with the given status to `location`, or a 400 if that is not a valid header value.
pub(crate) fn redirect(status: StatusCode, location: &str) -> Reply {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut reply = empty(status);
            reply.headers_mut().insert(LOCATION, value);
            reply
        }
        Err(_) => error(
            StatusCode::BAD_REQUEST,
            format!("invalid redirect location {location:?}"),
        ),
    }
}
