//! The httpbin-style echo documents: what the target saw of a request, as JSON,
//! in httpbin's shapes so that scripts written against httpbin read them unchanged.

use std::convert::Infallible;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, HOST, USER_AGENT};
use http::HeaderMap;
use serde_json::{Map, Value};
use url::form_urlencoded;

use crate::routes::Received;

/// Everything: `/anything`, `/post`, `/put`, `/patch`, `/delete`. A form body
/// (urlencoded or multipart) shows in `form` and `files` instead of `data`;
/// a multipart body that does not parse is the error.
pub(crate) async fn anything(req: &Received) -> Result<Value, String> {
    let content_type = req
        .parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (data, form, files) = if content_type.starts_with("application/x-www-form-urlencoded") {
        let form = multi_map(form_urlencoded::parse(&req.body));
        (String::new(), form, Map::new())
    } else if let Ok(boundary) = multer::parse_boundary(content_type) {
        let (form, files) = multipart(req.body.clone(), boundary)
            .await
            .map_err(|e| format!("{}: multipart body: {e}", req.parts.uri.path()))?;
        (String::new(), form, files)
    } else {
        let data = String::from_utf8_lossy(&req.body).into_owned();
        (data, Map::new(), Map::new())
    };
    let json = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let mut doc = get(req);
    let fields = doc.as_object_mut().expect("get() builds an object");
    fields.insert("data".into(), data.into());
    fields.insert("files".into(), files.into());
    fields.insert("form".into(), form.into());
    fields.insert("json".into(), json);
    fields.insert("method".into(), req.parts.method.as_str().into());
    fields.insert("path".into(), req.parts.uri.path().into());
    Ok(doc)
}

/// The fields and the files (parts with a file name) of a multipart/form-data
/// body, each by name with its content as text.
async fn multipart(
    body: Bytes,
    boundary: String,
) -> Result<(Map<String, Value>, Map<String, Value>), multer::Error> {
    let body = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut parts = multer::Multipart::new(body, boundary);
    let (mut fields, mut files) = (Vec::new(), Vec::new());
    while let Some(part) = parts.next_field().await? {
        let name = part.name().unwrap_or_default().to_owned();
        let is_file = part.file_name().is_some();
        let content = String::from_utf8_lossy(&part.bytes().await?).into_owned();
        if is_file {
            files.push((name, content));
        } else {
            fields.push((name, content));
        }
    }
    Ok((multi_map(fields), multi_map(files)))
}

/// The request line and headers, as httpbin's `/get` shows them.
pub(crate) fn get(req: &Received) -> Value {
    let query = req.parts.uri.query().unwrap_or("");
    serde_json::json!({
        "args": multi_map(form_urlencoded::parse(query.as_bytes())),
        "headers": header_map(&req.parts.headers),
        "origin": req.peer.ip().to_string(),
        "url": full_url(req),
    })
}

/// `/gzip` and `/deflate`: who asked, and `flag` (`gzipped`, `deflated`) set.
pub(crate) fn compressed(req: &Received, flag: &str) -> Value {
    let mut doc = serde_json::json!({
        "headers": header_map(&req.parts.headers),
        "method": req.parts.method.as_str(),
        "origin": req.peer.ip().to_string(),
    });
    doc[flag] = true.into();
    doc
}

/// `/ip`.
pub(crate) fn ip(req: &Received) -> Value {
    serde_json::json!({ "origin": req.peer.ip().to_string() })
}

/// `/user-agent`.
pub(crate) fn user_agent(req: &Received) -> Value {
    let agent = req
        .parts
        .headers
        .get(USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    serde_json::json!({ "user-agent": agent })
}

/// `/headers`.
pub(crate) fn headers(req: &Received) -> Value {
    serde_json::json!({ "headers": header_map(&req.parts.headers) })
}

/// `/cookies`: the cookies the client sent, by name.
pub(crate) fn cookies(req: &Received) -> Value {
    let mut jar = Map::new();
    for header in req.parts.headers.get_all(COOKIE) {
        let Ok(header) = header.to_str() else {
            continue;
        };
        for pair in header.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=') {
                jar.insert(name.to_owned(), value.into());
            }
        }
    }
    serde_json::json!({ "cookies": jar })
}

/// Query or form pairs as httpbin shows them: a string per name, or a list
/// of strings when the name repeats.
pub(crate) fn multi_map<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Map<String, Value>
where
    K: AsRef<str> + Into<String>,
    V: Into<String>,
{
    let mut map = Map::new();
    for (name, value) in pairs {
        let value = Value::String(value.into());
        match map.get_mut(name.as_ref()) {
            None => {
                map.insert(name.into(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
        }
    }
    map
}

/// Headers by canonical name (`Content-Type`), repeated ones joined with commas.
fn header_map(headers: &HeaderMap) -> Map<String, Value> {
    let mut map = Map::new();
    for name in headers.keys() {
        let joined = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
            .collect::<Vec<_>>()
            .join(",");
        map.insert(title_case(name.as_str()), joined.into());
    }
    map
}

/// `content-type` -> `Content-Type`, as httpbin (and most servers' logs) print names.
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

/// The URL the client asked for: from the request target for HTTP/2 (which
/// carries the authority) and from the Host header for HTTP/1.1.
fn full_url(req: &Received) -> String {
    let uri = &req.parts.uri;
    let host = uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| req.parts.headers.get(HOST).and_then(|h| h.to_str().ok()))
        .unwrap_or("localhost");
    let scheme = uri.scheme_str().unwrap_or("http");
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    format!("{scheme}://{host}{target}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_title_cased() {
        assert_eq!(title_case("content-type"), "Content-Type");
        assert_eq!(title_case("x-request-id"), "X-Request-Id");
        assert_eq!(title_case("accept"), "Accept");
    }

    #[test]
    fn repeated_names_become_lists() {
        let map = multi_map(form_urlencoded::parse(b"a=1&b=2&a=3&a=4"));
        assert_eq!(
            Value::from(map),
            serde_json::json!({"a": ["1", "3", "4"], "b": "2"})
        );
    }
}
