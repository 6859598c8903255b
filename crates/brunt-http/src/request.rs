//! A request, parsed and prepared once so that sending it again costs no parsing.

use crate::error::{ErrorCode, RequestError};
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{
    HeaderName, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST,
    TRANSFER_ENCODING, USER_AGENT,
};
use http::{HeaderMap, Method, Uri};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use url::{Position, Url};

/// Where a request connects to: the key of a client's connection pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub https: bool,
    pub host: Host,
    pub port: u16,
}

impl Origin {
    /// Where `url` connects to (its host, and its port or its scheme's); `https` says whether
    /// the connection speaks TLS.
    pub(crate) fn of(url: &Url, https: bool) -> Result<Origin, RequestError> {
        let invalid = |what: &str| {
            RequestError::new(
                ErrorCode::INVALID_URL,
                format!("invalid URL \"{url}\": {what}"),
            )
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => Host::Domain(d.into()),
            Some(url::Host::Ipv4(ip)) => Host::Ip(ip.into()),
            Some(url::Host::Ipv6(ip)) => Host::Ip(ip.into()),
            _ => return Err(invalid("no host")),
        };
        let port = url
            .port_or_known_default()
            .ok_or_else(|| invalid("no port"))?;
        Ok(Origin { https, host, port })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Host {
    Ip(IpAddr),
    Domain(Box<str>),
}

/// An HTTP request: method, URL, headers and body. Build it once; [`Client::send`](crate::Client::send)
/// borrows it, so sending the same request again costs no parsing and no copying of the body.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: Url,
    url_tag: Arc<str>,
    pub(crate) origin: Arc<Origin>,
    /// Origin-form target (`/path?query`), for HTTP/1.1.
    pub(crate) path_uri: Uri,
    /// Absolute target, for HTTP/2's pseudo-headers.
    pub(crate) full_uri: Uri,
    pub(crate) host_header: HeaderValue,
    headers: HeaderMap,
    body: Bytes,
    /// Overrides the client's timeout for this request.
    pub timeout: Option<Duration>,
    /// Overrides the client's `max_redirects` for this request (k6's `redirects` param).
    pub max_redirects: Option<u32>,
    /// Drop the body as it arrives, still counting its bytes (k6's `responseType: "none"`).
    pub discard_body: bool,
    /// Keep no response header but `Location` (which a redirect needs): an HTTP/1.1 response
    /// then builds no header names, values or map (`brunt quick` reads none).
    pub discard_headers: bool,
    /// The HTTP/1.1 bytes on the wire, serialized on first send with the user agent it used.
    wire: OnceLock<(HeaderValue, Bytes)>,
    /// Why sending fails at once, and the URL its response shows, for a request made by
    /// [`Request::failing`].
    failure: Option<Box<(RequestError, String)>>,
}

/// Bodies up to this size are sent in the same write as the head.
const INLINE_BODY: usize = 64 * 1024;

impl Request {
    /// A request without headers or body. Fails with k6's code 1020 on a URL that does not parse,
    /// and 1000 on a scheme other than http or https.
    pub fn new(method: Method, url: &str) -> Result<Self, RequestError> {
        let trimmed = url.trim();
        let parsed = Url::parse(trimmed).map_err(|e| match e {
            // Go parses these as a relative reference, which its client then cannot send.
            url::ParseError::RelativeUrlWithoutBase | url::ParseError::EmptyHost
                if !trimmed.contains("://") =>
            {
                RequestError::new(ErrorCode::GENERIC, "unsupported protocol scheme \"\"")
            }
            e => RequestError::new(
                ErrorCode::INVALID_URL,
                format!("invalid URL: parse \"{trimmed}\": {e}"),
            ),
        })?;
        // k6 tags the URL as written, with a password masked.
        let tag = if parsed.password().is_some() {
            let mut masked = parsed.clone();
            let _ = masked.set_password(Some("****"));
            masked.to_string()
        } else {
            trimmed.to_string()
        };
        let mut req = Self::from_url(method, parsed, tag.into())?;
        if let Some(auth) = basic_auth(&req.url) {
            req.headers.insert(AUTHORIZATION, auth);
        }
        Ok(req)
    }

    /// A request that `url` could not make, which fails at once with `error` when sent, without
    /// touching the network: k6 gives a script a response with the error rather than an
    /// exception. As in k6, when only the scheme was wrong its response shows `url` as written and
    /// its samples are tagged with it as Go writes a relative reference (`not%20a%20url`); when the
    /// URL did not parse, both are empty.
    pub fn failing(method: Method, url: &str, error: RequestError) -> Self {
        let (shown, tag) = if error.code == ErrorCode::INVALID_URL {
            (String::new(), String::new())
        } else {
            (url.to_string(), url.trim().replace(' ', "%20"))
        };
        let placeholder = Url::parse("http://invalid.invalid/").expect("a valid URL");
        let mut req = Self::from_url(method, placeholder, tag.into())
            .expect("the placeholder URL makes a request");
        req.failure = Some(Box::new((error, shown)));
        req
    }

    /// Why sending this request fails at once, for one made by [`Request::failing`].
    pub(crate) fn failure(&self) -> Option<&RequestError> {
        self.failure.as_ref().map(|f| &f.0)
    }

    /// The URL a response to this request shows (k6's `res.url`): the parsed URL, or what
    /// [`Request::failing`] keeps.
    pub fn shown_url(&self) -> &str {
        match &self.failure {
            Some(f) => &f.1,
            None => self.url.as_str(),
        }
    }

    fn from_url(method: Method, url: Url, url_tag: Arc<str>) -> Result<Self, RequestError> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(RequestError::new(
                    ErrorCode::GENERIC,
                    format!("unsupported protocol scheme \"{other}\""),
                ))
            }
        };
        let invalid = |what: &str| {
            RequestError::new(
                ErrorCode::INVALID_URL,
                format!("invalid URL \"{url}\": {what}"),
            )
        };
        let origin = Origin::of(&url, https)?;
        let authority = &url[Position::BeforeHost..Position::BeforePath];
        let host_header = HeaderValue::from_str(authority).map_err(|_| invalid("bad host"))?;
        let path = &url[Position::BeforePath..Position::AfterQuery];
        let path_uri: Uri = if path.is_empty() { "/" } else { path }
            .parse()
            .map_err(|_| invalid("bad path"))?;
        let full_uri: Uri = url[..Position::AfterQuery]
            .parse()
            .map_err(|_| invalid("bad URL"))?;
        Ok(Request {
            method,
            url_tag,
            origin: Arc::new(origin),
            path_uri,
            full_uri,
            host_header,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: None,
            max_redirects: None,
            discard_body: false,
            discard_headers: false,
            wire: OnceLock::new(),
            failure: None,
            url,
        })
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL as k6 tags it (`url` and default `name`): as written, password masked.
    pub fn url_tag(&self) -> &Arc<str> {
        &self.url_tag
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Headers to send; `Host` and `User-Agent` are added when absent.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.wire = OnceLock::new();
        &mut self.headers
    }

    /// Sets a header, replacing one of the same name; the error names the bad header.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), RequestError> {
        let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            RequestError::new(
                ErrorCode::GENERIC,
                format!("invalid header name \"{name}\""),
            )
        })?;
        let v = HeaderValue::from_str(value).map_err(|_| {
            RequestError::new(
                ErrorCode::GENERIC,
                format!("invalid value for header \"{name}\""),
            )
        })?;
        self.headers_mut().insert(n, v);
        Ok(())
    }

    pub fn body(&self) -> &Bytes {
        &self.body
    }

    pub fn set_body(&mut self, body: impl Into<Bytes>) {
        self.wire = OnceLock::new();
        self.body = body.into();
    }

    /// The request as HTTP/1.1 bytes, and whether they include the body (small bodies ride
    /// in the same write). Serialized once and reused while the user agent stays the same.
    pub(crate) fn h1_wire(&self, user_agent: &HeaderValue) -> (Bytes, bool) {
        let included = self.body.len() <= INLINE_BODY;
        let (ua, wire) = self
            .wire
            .get_or_init(|| (user_agent.clone(), self.serialize_h1(user_agent, included)));
        if ua == user_agent {
            (wire.clone(), included)
        } else {
            (self.serialize_h1(user_agent, included), included)
        }
    }

    /// The request line and headers this request goes out with over HTTP/1.1 (`Host`,
    /// `User-Agent` and `Content-Length` added as the client adds them), for `--http-debug`.
    pub fn h1_head(&self, user_agent: &HeaderValue) -> Bytes {
        self.serialize_h1(user_agent, false)
    }

    /// Lower-case header names, as hyper and HTTP/2 send them; `Content-Length` for any body,
    /// and for an empty POST, PUT or PATCH as Go sends it.
    fn serialize_h1(&self, user_agent: &HeaderValue, with_body: bool) -> Bytes {
        let mut b = BytesMut::with_capacity(256 + if with_body { self.body.len() } else { 0 });
        b.put_slice(self.method.as_str().as_bytes());
        b.put_u8(b' ');
        b.put_slice(
            self.path_uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .as_bytes(),
        );
        b.put_slice(b" HTTP/1.1\r\n");
        let mut line = |name: &[u8], value: &[u8]| {
            b.put_slice(name);
            b.put_slice(b": ");
            b.put_slice(value);
            b.put_slice(b"\r\n");
        };
        if !self.headers.contains_key(HOST) {
            line(b"host", self.host_header.as_bytes());
        }
        if !self.headers.contains_key(USER_AGENT) {
            line(b"user-agent", user_agent.as_bytes());
        }
        for (k, v) in &self.headers {
            line(k.as_str().as_bytes(), v.as_bytes());
        }
        let framed = self.headers.contains_key(CONTENT_LENGTH)
            || self.headers.contains_key(TRANSFER_ENCODING);
        let wants_length = !self.body.is_empty()
            || matches!(self.method, Method::POST | Method::PUT | Method::PATCH);
        if wants_length && !framed {
            line(b"content-length", self.body.len().to_string().as_bytes());
        }
        b.put_slice(b"\r\n");
        if with_body {
            b.put_slice(&self.body);
        }
        b.freeze()
    }

    /// The request for the next hop of a redirect, as Go's client (and so k6) builds it: 301, 302
    /// and 303 turn a non-HEAD request into a body-less GET; 307 and 308 keep method and body.
    /// Credentials and cookies are not sent to another host.
    pub(crate) fn redirected(&self, status: u16, location: &str) -> Result<Self, RequestError> {
        let next = self.url.join(location).map_err(|e| {
            RequestError::new(
                ErrorCode::GENERIC,
                format!("failed to parse Location header \"{location}\": {e}"),
            )
        })?;
        let keep_body = matches!(status, 307 | 308);
        let method = if keep_body || self.method == Method::HEAD {
            self.method.clone()
        } else {
            Method::GET
        };
        let tag: Arc<str> = next.as_str().into();
        let mut req = Self::from_url(method, next, tag)?;
        req.headers = self.headers.clone();
        req.headers.remove(HOST);
        if keep_body {
            req.body = self.body.clone();
        } else {
            req.headers.remove(CONTENT_TYPE);
            req.headers.remove(CONTENT_LENGTH);
        }
        if req.origin.host != self.origin.host {
            req.headers.remove(AUTHORIZATION);
            req.headers.remove(COOKIE);
        }
        req.timeout = self.timeout;
        req.max_redirects = self.max_redirects;
        req.discard_body = self.discard_body;
        req.discard_headers = self.discard_headers;
        Ok(req)
    }
}

/// `Basic` credentials from a URL's user info, percent-decoded.
fn basic_auth(url: &Url) -> Option<HeaderValue> {
    use base64::Engine;
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    let mut creds = decode(url.username());
    creds.push(b':');
    creds.extend(decode(url.password().unwrap_or("")));
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(creds)
    );
    HeaderValue::from_str(&value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_get_k6_codes() {
        let relative = Request::new(Method::GET, "not a url").unwrap_err();
        assert_eq!(relative.code, ErrorCode::GENERIC);
        assert_eq!(relative.message, "unsupported protocol scheme \"\"");
        let unparsable = Request::new(Method::GET, "http://[::1").unwrap_err();
        assert_eq!(unparsable.code, ErrorCode::INVALID_URL);
        assert!(unparsable
            .message
            .starts_with("invalid URL: parse \"http://[::1\": "));
        let ftp = Request::new(Method::GET, "ftp://x/").unwrap_err();
        assert_eq!(ftp.code, ErrorCode::GENERIC);
        assert!(ftp.message.contains("ftp"), "{}", ftp.message);
    }

    #[test]
    fn targets_and_host_are_prepared_once() {
        let r = Request::new(Method::GET, "http://127.0.0.1:8080?a=1#frag").unwrap();
        assert_eq!(r.path_uri, "/?a=1");
        assert_eq!(r.host_header, "127.0.0.1:8080");
        assert_eq!(&**r.url_tag(), "http://127.0.0.1:8080?a=1#frag");
        let r = Request::new(Method::GET, "https://[::1]/x").unwrap();
        assert_eq!(r.origin.port, 443);
        assert_eq!(r.host_header, "[::1]");
        assert_eq!(r.full_uri, "https://[::1]/x");
        let r = Request::new(Method::GET, "http://u:secret@h/").unwrap();
        assert_eq!(&**r.url_tag(), "http://u:****@h/");
        assert_eq!(r.headers()[AUTHORIZATION], "Basic dTpzZWNyZXQ=");
    }

    #[test]
    fn redirects_follow_go_rules() {
        let mut post = Request::new(Method::POST, "http://a/x").unwrap();
        post.set_body("data");
        post.set_header("Content-Type", "text/plain").unwrap();
        post.set_header("Authorization", "secret").unwrap();
        let r = post.redirected(302, "/y").unwrap();
        assert_eq!(r.method(), Method::GET);
        assert!(r.body().is_empty());
        assert!(r.headers().get(CONTENT_TYPE).is_none());
        assert_eq!(r.url().as_str(), "http://a/y");
        assert!(r.headers().get(AUTHORIZATION).is_some());
        let r = post.redirected(307, "http://b/z").unwrap();
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.body(), "data");
        assert!(r.headers().get(AUTHORIZATION).is_none());
        assert!(post.set_header("bad name", "v").is_err());
    }

    #[test]
    fn http1_bytes_are_serialized_once_and_refreshed_on_change() {
        let ua = HeaderValue::from_static("brunt/test");
        let mut r = Request::new(Method::POST, "http://h:81/p?q").unwrap();
        r.set_body("abc");
        let (wire, inline) = r.h1_wire(&ua);
        assert!(inline);
        assert_eq!(
            &wire[..],
            b"POST /p?q HTTP/1.1\r\nhost: h:81\r\nuser-agent: brunt/test\r\ncontent-length: 3\r\n\r\nabc"
        );
        assert_eq!(r.h1_wire(&ua).0.as_ptr(), wire.as_ptr(), "cached");
        r.set_header("User-Agent", "mine").unwrap();
        let (wire, _) = r.h1_wire(&ua);
        assert!(wire.windows(16).any(|w| w == b"user-agent: mine"));
        let get = Request::new(Method::GET, "http://h/").unwrap();
        assert!(!get
            .h1_wire(&ua)
            .0
            .windows(14)
            .any(|w| w == b"content-length"));
    }
}
