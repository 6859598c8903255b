//! A response, or a failure shaped like one, with k6's phase timings.

use crate::error::{ErrorCode, RequestError};
use crate::nanos::Nanos;
use crate::request::Request;
use brunt_metrics::Trace;
use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{HeaderMap, Method, Version};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The protocol of a response, as k6 writes it in `res.proto` and the `proto` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Proto {
    /// No response (the request failed).
    #[default]
    None,
    Http10,
    Http11,
    Http2,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::None => "",
            Proto::Http10 => "HTTP/1.0",
            Proto::Http11 => "HTTP/1.1",
            Proto::Http2 => "HTTP/2.0",
        }
    }
}

/// k6's `res.timings`, in milliseconds. `duration` = `sending` + `waiting` + `receiving`;
/// `blocked` is the wait for a usable connection and so includes `connecting` and
/// `tls_handshaking` when a new connection was opened; on a reused connection those two are 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub blocked: f64,
    pub connecting: f64,
    pub tls_handshaking: f64,
    pub sending: f64,
    pub waiting: f64,
    pub receiving: f64,
    pub duration: f64,
}

/// One HTTP response (one hop of a redirect chain). A failed request is a response too: status 0,
/// `error` and `error_code` set, timings for the phases it got through.
#[derive(Debug, Clone)]
pub struct Response {
    pub method: Method,
    /// The URL of this hop, as k6 tags it.
    pub url: Arc<str>,
    /// 0 when the request failed.
    pub status: u16,
    pub proto: Proto,
    /// Read through [`headers`](Self::headers): built on first read.
    pub(crate) headers: Headers,
    /// Empty when the request asked to discard it.
    pub body: Bytes,
    pub timings: Timings,
    /// k6's `error`: the failure's message (none for an HTTP error status).
    pub error: Option<String>,
    /// k6's `error_code`: the failure's code, or 1000 + status for a status >= 400.
    pub error_code: ErrorCode,
    /// Bytes written and read on the wire for this request (TLS included), for `data_sent` and
    /// `data_received`.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub remote: Option<SocketAddr>,
    /// `tls1.2` / `tls1.3` on TLS connections (k6's `tls_version` tag).
    pub tls_version: Option<&'static str>,
    /// Wall time from the start of the send to the end of the body, every phase included.
    pub elapsed: Duration,
    /// The trace the client's trace context put in the request's headers.
    pub trace: Option<Trace>,
}

impl Response {
    /// The response's headers, in the order received, duplicates kept. An HTTP/1 response's
    /// map is built here, on the first call: most scripts never read the headers.
    pub fn headers(&self) -> &HeaderMap {
        self.headers.map()
    }

    /// Whether the response sets a cookie, known without building the header map (the cookie
    /// jar every VU has asks this of every response).
    pub fn has_set_cookie(&self) -> bool {
        self.headers.has_set_cookie()
    }

    /// k6's `error` of the response and its samples' `error` tag: the code's fixed text where
    /// k6 has one, else the failure's message.
    pub fn error_text(&self) -> Option<&str> {
        self.error
            .as_ref()
            .map(|e| self.error_code.fixed_message().unwrap_or(e))
    }

    /// A request that got no response: status 0 with k6's error and code. Bytes, the remote
    /// address and the TLS version are the caller's to add when a connection was made.
    pub fn failure(req: &Request, e: RequestError, timings: Timings, elapsed: Duration) -> Self {
        Response {
            method: req.method().clone(),
            url: req.url_tag().clone(),
            status: 0,
            proto: Proto::None,
            headers: Headers::default(),
            body: Bytes::new(),
            timings,
            error: Some(e.message),
            error_code: e.code,
            bytes_sent: 0,
            bytes_received: 0,
            remote: None,
            tls_version: None,
            elapsed,
            trace: None,
        }
    }
}

/// A response's headers: a map already built (HTTP/2, or the few a discarding request keeps),
/// or an HTTP/1 head as received, one shared slice of the read buffer, parsed into the map
/// when first read. The head was checked in full when it was read (every error the map's
/// building could meet is found there, see `h1::parse_head`), so the late parse cannot fail.
#[derive(Debug, Clone, Default)]
pub(crate) struct Headers {
    /// The HTTP/1 head (status line, header lines, the empty line); empty when `map` came built,
    /// and for a response whose headers were discarded (its map, made if read, is empty).
    head: Bytes,
    map: OnceLock<HeaderMap>,
    /// Whether there is a `Set-Cookie` header.
    set_cookie: bool,
}

impl Headers {
    /// A map already built, and whether it has a `Set-Cookie` header (known to the caller).
    pub fn built(map: HeaderMap, set_cookie: bool) -> Self {
        Headers {
            head: Bytes::new(),
            map: OnceLock::from(map),
            set_cookie,
        }
    }

    /// A map already built.
    pub fn of(map: HeaderMap) -> Self {
        let set_cookie = map.contains_key(SET_COOKIE);
        Headers::built(map, set_cookie)
    }

    /// An HTTP/1 head, checked by `h1::parse_head`, and whether it has a `Set-Cookie` header.
    pub fn unparsed(head: Bytes, set_cookie: bool) -> Self {
        Headers {
            head,
            map: OnceLock::new(),
            set_cookie,
        }
    }

    pub fn has_set_cookie(&self) -> bool {
        self.set_cookie
    }

    pub fn map(&self) -> &HeaderMap {
        self.map.get_or_init(|| crate::h1::header_map(&self.head))
    }
}

/// A response as read off a connection, before it becomes a [`Response`].
pub(crate) struct Exchanged {
    pub status: u16,
    pub version: Version,
    pub headers: Headers,
    pub body: Bytes,
}

/// When each phase of one request began and ended; k6's tracer arithmetic turns them into
/// [`Timings`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamps {
    pub start: Nanos,
    pub connect: Option<(Nanos, Nanos)>,
    pub tls: Option<(Nanos, Nanos)>,
    pub got_conn: Option<Nanos>,
    pub wrote: Option<Nanos>,
    pub first_byte: Option<Nanos>,
}

impl Stamps {
    pub fn new(start: Nanos) -> Self {
        Stamps {
            start,
            connect: None,
            tls: None,
            got_conn: None,
            wrote: None,
            first_byte: None,
        }
    }

    pub fn timings(&self, end: Nanos) -> Timings {
        let mut t = Timings::default();
        if let Some(got) = self.got_conn {
            t.blocked = got.ms_since(self.start);
        }
        if let Some((a, b)) = self.connect {
            t.connecting = b.ms_since(a);
        }
        if let Some((a, b)) = self.tls {
            t.tls_handshaking = b.ms_since(a);
        }
        if let Some(wrote) = self.wrote {
            let ready = self.got_conn.unwrap_or(self.start);
            t.sending = wrote.ms_since(ready);
            t.waiting = match self.first_byte {
                // A server may answer before the request is fully written: then waiting is 0.
                Some(fb) => fb.ms_since(wrote),
                None => end.ms_since(wrote),
            };
        }
        if let Some(fb) = self.first_byte {
            t.receiving = end.ms_since(fb);
        }
        t.duration = t.sending + t.waiting + t.receiving;
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k6_arithmetic() {
        let t0 = Nanos::now();
        let at = |ms: u64| Nanos::from_raw(t0.raw() + ms * 1_000_000);
        let s = Stamps {
            start: t0,
            connect: Some((at(1), at(3))),
            tls: Some((at(3), at(7))),
            got_conn: Some(at(7)),
            wrote: Some(at(8)),
            first_byte: Some(at(20)),
        };
        let t = s.timings(at(25));
        assert_eq!(t.blocked, 7.0);
        assert_eq!(t.connecting, 2.0);
        assert_eq!(t.tls_handshaking, 4.0);
        assert_eq!(t.sending, 1.0);
        assert_eq!(t.waiting, 12.0);
        assert_eq!(t.receiving, 5.0);
        assert_eq!(t.duration, 18.0);
        // No response byte: waiting runs to the end (a timeout), as in k6.
        let s = Stamps {
            first_byte: None,
            ..s
        };
        assert_eq!(s.timings(at(50)).waiting, 42.0);
    }
}
