//! HTTP/1.1 exchanges on a connection of our own: the request goes out as bytes serialized once
//! per [`Request`], reads land in a per-thread scratch buffer from which only the response's
//! bytes are copied to the connection, the response head is parsed by `httparse` straight from
//! those and kept whole (its header map built only if read), and small bodies are slices of
//! them, not copies. This is the hot path
//! of `brunt quick`; hyper's connection (channels, a task hand-off per request) cost a third of
//! wrk's throughput here, see docs/benchmarks.md.

use crate::connect::Io;
use crate::error::{ErrorCode, RequestError};
use crate::request::Request;
use crate::response::{Exchanged, Headers};
use crate::stream::BodySink;
use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Version};
use std::cell::RefCell;
use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

/// Most response headers parsed; more is an error, as in hyper (which allows 100).
const MAX_HEADERS: usize = 100;
/// Longest header name `HeaderName` takes.
const MAX_NAME: usize = (1 << 16) - 1;
/// Largest response head accepted.
const MAX_HEAD: usize = 1 << 20;
/// Most bytes one read takes. Reads go to a buffer of this size per thread, not per connection,
/// because a test may hold thousands of connections that all wait for their responses at once.
const SCRATCH: usize = 64 * 1024;
/// A connection's buffer with this much room reserved (for a large body) is read into directly,
/// saving the copy from the scratch buffer.
const DIRECT_READ: usize = 4 * 1024;

thread_local! {
    static SCRATCH_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH].into_boxed_slice());
}

pub(crate) struct H1Conn {
    io: Io,
    /// Bytes read but not yet taken by the response: a partial head or body, or what follows it.
    /// Empty and unallocated between exchanges.
    buf: BytesMut,
    /// False once the connection cannot carry another request (closed, `Connection: close`,
    /// body delimited by the close, or in an unknown state after an error).
    reusable: bool,
}

/// How the response body is delimited (RFC 9112, section 6.3).
enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

impl H1Conn {
    pub fn new(io: Io) -> Self {
        H1Conn {
            io,
            buf: BytesMut::new(),
            reusable: true,
        }
    }

    pub fn reusable(&self) -> bool {
        self.reusable
    }

    /// Notices, without waiting, a close by the server while the connection sat idle.
    pub fn still_open(&mut self) -> bool {
        if !self.reusable {
            return false;
        }
        // EOF, an error or unasked-for bytes all end the connection.
        self.reusable = self.io.idle_and_open();
        self.reusable
    }

    /// Writes the request and reads the whole response.
    pub async fn exchange(
        &mut self,
        req: &Request,
        user_agent: &HeaderValue,
    ) -> Result<Exchanged, RequestError> {
        self.send(req, user_agent).await?;
        let head_only = req.method() == Method::HEAD;
        if req.discard_headers && req.discard_body {
            if let Some((status, version, headers, _, keep_alive)) =
                self.read_whole_discarded(head_only).await?
            {
                self.reusable = keep_alive;
                return Ok(Exchanged {
                    status,
                    version,
                    headers,
                    body: Bytes::new(),
                });
            }
        }
        loop {
            let (status, version, headers, framing, keep_alive) =
                self.read_head(head_only, !req.discard_headers).await?;
            // Interim responses (100 Continue, 103 Early Hints) precede the real one.
            if (100..200).contains(&status) && status != 101 {
                continue;
            }
            let body = match framing {
                Framing::None => Bytes::new(),
                Framing::Length(n) => self.read_exact(n, req.discard_body).await?,
                Framing::Chunked => self.read_chunked(req.discard_body).await?,
                Framing::UntilClose => self.read_to_close(req.discard_body).await?,
            };
            self.reusable = keep_alive
                && status != 101
                && !matches!(framing, Framing::UntilClose)
                && self.buf.is_empty();
            // The response's slices keep the bytes they need; an idle connection keeps none.
            self.buf = BytesMut::new();
            return Ok(Exchanged {
                status,
                version,
                headers,
                body,
            });
        }
    }

    /// Writes the request and hands its response to `sink` as the body arrives, without
    /// buffering it: the returned body is empty. The connection is reused only when the body
    /// was read to its end.
    pub async fn exchange_streaming(
        &mut self,
        req: &Request,
        user_agent: &HeaderValue,
        sink: &mut dyn BodySink,
    ) -> Result<Exchanged, RequestError> {
        self.send(req, user_agent).await?;
        let head_only = req.method() == Method::HEAD;
        loop {
            let (status, version, headers, framing, keep_alive) =
                self.read_head(head_only, !req.discard_headers).await?;
            if (100..200).contains(&status) && status != 101 {
                continue;
            }
            sink.head(status, headers.map());
            let complete = match framing {
                Framing::None => true,
                Framing::Length(n) => self.stream_length(n, sink).await?,
                Framing::Chunked => self.stream_chunked(sink).await?,
                Framing::UntilClose => {
                    self.stream_to_close(sink).await?;
                    false
                }
            };
            self.reusable = complete && keep_alive && status != 101 && self.buf.is_empty();
            self.buf = BytesMut::new();
            return Ok(Exchanged {
                status,
                version,
                headers,
                body: Bytes::new(),
            });
        }
    }

    /// Writes the request. Until its response is complete, an interrupted exchange leaves the
    /// connection unusable.
    async fn send(&mut self, req: &Request, user_agent: &HeaderValue) -> Result<(), RequestError> {
        self.reusable = false;
        let (wire, body_included) = req.h1_wire(user_agent);
        self.write(&wire).await?;
        if !body_included {
            self.write(req.body()).await?;
        }
        self.io
            .flush()
            .await
            .map_err(|e| RequestError::io(&e, "write"))
    }

    /// Reads more bytes into the buffer, failing at end of stream; returns when they arrived.
    async fn fill_stamped(&mut self) -> Result<Instant, RequestError> {
        self.fill_or_eof().await?;
        Ok(Instant::now())
    }

    /// Streams a body of `n` bytes; `Ok(false)` when the sink stopped it early.
    async fn stream_length(
        &mut self,
        n: usize,
        sink: &mut dyn BodySink,
    ) -> Result<bool, RequestError> {
        let mut left = n;
        let mut at = Instant::now();
        loop {
            let take = left.min(self.buf.len());
            if take > 0 {
                left -= take;
                let piece = self.buf.split_to(take);
                if sink.data(at, &piece).is_break() {
                    return Ok(false);
                }
            }
            if left == 0 {
                return Ok(true);
            }
            at = self.fill_stamped().await?;
        }
    }

    /// Streams a chunked body, handing over each chunk's data as it arrives (a chunk may come
    /// in several pieces); `Ok(false)` when the sink stopped it early.
    async fn stream_chunked(&mut self, sink: &mut dyn BodySink) -> Result<bool, RequestError> {
        let mut at = Instant::now();
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.buf.advance(used);
                        break usize::try_from(size).map_err(|_| malformed("chunk too large"))?;
                    }
                    Ok(httparse::Status::Partial) => at = self.fill_stamped().await?,
                    Err(_) => return Err(malformed("invalid chunk size")),
                }
            };
            if size == 0 {
                self.skip_trailers().await?;
                return Ok(true);
            }
            let mut left = size;
            while left > 0 {
                if self.buf.is_empty() {
                    at = self.fill_stamped().await?;
                }
                let piece = self.buf.split_to(left.min(self.buf.len()));
                left -= piece.len();
                if sink.data(at, &piece).is_break() {
                    return Ok(false);
                }
            }
            while self.buf.len() < 2 {
                at = self.fill_stamped().await?;
            }
            if &self.buf[..2] != b"\r\n" {
                return Err(malformed("missing CRLF after chunk"));
            }
            self.buf.advance(2);
        }
    }

    /// Streams a body delimited by the connection's close.
    async fn stream_to_close(&mut self, sink: &mut dyn BodySink) -> Result<(), RequestError> {
        let mut at = Instant::now();
        loop {
            if !self.buf.is_empty() {
                let piece = self.buf.split();
                if let ControlFlow::Break(()) = sink.data(at, &piece) {
                    return Ok(());
                }
            }
            if !self.fill().await? {
                return Ok(());
            }
            at = Instant::now();
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), RequestError> {
        self.io
            .write_all(bytes)
            .await
            .map_err(|e| RequestError::io(&e, "write"))
    }

    /// Reads more bytes into the buffer; `Ok(false)` at end of stream.
    async fn fill(&mut self) -> Result<bool, RequestError> {
        Ok(self.read_some(0).await? > 0)
    }

    /// Reads once, drops the first `skip` bytes read (a discarded body; the buffer must then be
    /// empty) and appends the rest to the buffer. Returns the bytes read, 0 at end of stream.
    async fn read_some(&mut self, skip: usize) -> Result<usize, RequestError> {
        debug_assert!(skip == 0 || self.buf.is_empty());
        let read = if self.buf.capacity() - self.buf.len() >= DIRECT_READ {
            self.io.read_buf(&mut self.buf).await.inspect(|&n| {
                self.buf.advance(n.min(skip));
            })
        } else {
            let (io, buf) = (&mut self.io, &mut self.buf);
            poll_fn(|cx| {
                poll_scratch(io, cx, |got| {
                    buf.extend_from_slice(&got[got.len().min(skip)..]);
                    got.len()
                })
            })
            .await
        };
        read.map_err(|e| RequestError::io(&e, "read"))
    }

    /// `brunt quick`'s path, where neither the headers nor the body are kept: the first read of
    /// a response lands in the thread's scratch buffer and, when it holds the whole response (a
    /// final status, the body framed by its length and nothing after it), is parsed there and
    /// never copied; the connection's buffer stays unallocated. Anything else is copied to that
    /// buffer, and None tells the caller to read the response from it as usual.
    async fn read_whole_discarded(
        &mut self,
        head_only: bool,
    ) -> Result<Option<Head>, RequestError> {
        if !self.buf.is_empty() {
            return Ok(None);
        }
        let (io, buf) = (&mut self.io, &mut self.buf);
        poll_fn(|cx| {
            poll_scratch(io, cx, |got| {
                if let Ok(Some((len, head))) = parse_head_discarding(got, head_only) {
                    let body = got.len() - len;
                    let whole = match head.3 {
                        Framing::None => body == 0,
                        Framing::Length(n) => body == n,
                        _ => false,
                    };
                    if whole && !(100..200).contains(&head.0) {
                        return Some(head);
                    }
                }
                buf.extend_from_slice(got);
                None
            })
        })
        .await
        .map_err(|e| RequestError::io(&e, "read"))
    }

    async fn fill_or_eof(&mut self) -> Result<(), RequestError> {
        if self.fill().await? {
            Ok(())
        } else {
            Err(unexpected_eof())
        }
    }

    async fn read_head(
        &mut self,
        head_only: bool,
        keep_headers: bool,
    ) -> Result<Head, RequestError> {
        loop {
            if !self.buf.is_empty() {
                if let Some(parsed) = parse_head(&mut self.buf, head_only, keep_headers)? {
                    return Ok(parsed);
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(RequestError::new(
                        ErrorCode::GENERIC,
                        "server response headers exceeded 1 MiB",
                    ));
                }
            }
            let was_empty = self.buf.is_empty();
            if !self.fill().await? {
                // A close before any byte is what Go reports as plain EOF (and retries).
                let msg = if was_empty { "EOF" } else { "unexpected EOF" };
                return Err(RequestError::new(ErrorCode::GENERIC, msg));
            }
        }
    }

    /// Takes `n` body bytes from the buffer and the connection.
    async fn read_exact(&mut self, n: usize, discard: bool) -> Result<Bytes, RequestError> {
        if discard {
            let mut left = n;
            loop {
                let take = left.min(self.buf.len());
                self.buf.advance(take);
                left -= take;
                if left == 0 {
                    return Ok(Bytes::new());
                }
                match self.read_some(left).await? {
                    0 => return Err(unexpected_eof()),
                    got => left -= got.min(left),
                }
            }
        }
        if self.buf.len() < n {
            self.buf.reserve(n - self.buf.len());
        }
        while self.buf.len() < n {
            self.fill_or_eof().await?;
        }
        Ok(self.buf.split_to(n).freeze())
    }

    async fn read_chunked(&mut self, discard: bool) -> Result<Bytes, RequestError> {
        let mut out = BytesMut::new();
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.buf.advance(used);
                        break usize::try_from(size).map_err(|_| malformed("chunk too large"))?;
                    }
                    Ok(httparse::Status::Partial) => self.fill_or_eof().await?,
                    Err(_) => return Err(malformed("invalid chunk size")),
                }
            };
            if size == 0 {
                self.skip_trailers().await?;
                return Ok(out.freeze());
            }
            let data = self.read_exact(size, discard).await?;
            if !discard {
                out.extend_from_slice(&data);
            }
            while self.buf.len() < 2 {
                self.fill_or_eof().await?;
            }
            if &self.buf[..2] != b"\r\n" {
                return Err(malformed("missing CRLF after chunk"));
            }
            self.buf.advance(2);
        }
    }

    /// Skips the trailer section after the last chunk, up to its empty line.
    async fn skip_trailers(&mut self) -> Result<(), RequestError> {
        loop {
            match self.buf.windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.buf.advance(2);
                    return Ok(());
                }
                Some(i) => self.buf.advance(i + 2),
                None => self.fill_or_eof().await?,
            }
        }
    }

    async fn read_to_close(&mut self, discard: bool) -> Result<Bytes, RequestError> {
        let skip = if discard {
            self.buf.clear();
            usize::MAX
        } else {
            0
        };
        while self.read_some(skip).await? > 0 {}
        Ok(self.buf.split().freeze())
    }
}

/// Reads once into the thread's scratch buffer and hands what came to `take`. The scratch
/// buffer is borrowed only within this poll, never across a wait.
fn poll_scratch<T>(
    io: &mut Io,
    cx: &mut Context<'_>,
    take: impl FnOnce(&[u8]) -> T,
) -> Poll<std::io::Result<T>> {
    SCRATCH_BUF.with_borrow_mut(|scratch| {
        let mut rb = ReadBuf::new(&mut scratch[..]);
        ready!(Pin::new(io).poll_read(cx, &mut rb))?;
        Poll::Ready(Ok(take(rb.filled())))
    })
}

fn unexpected_eof() -> RequestError {
    RequestError::new(ErrorCode::GENERIC, "unexpected EOF")
}

fn malformed(what: &str) -> RequestError {
    RequestError::new(
        ErrorCode::GENERIC,
        format!("malformed HTTP response: {what}"),
    )
}

/// What the framing headers of a response head say (RFC 9112, section 6.3).
struct FramingHeaders {
    length: Option<usize>,
    chunked: bool,
    keep_alive: bool,
}

impl FramingHeaders {
    /// Takes in one header by its raw name (httparse checked that names are tokens): matching
    /// the framing headers needs no `HeaderName`. Names are told apart by length first: most
    /// of a server's headers are none of the three and cost one comparison.
    fn see(&mut self, name: &[u8], value: &[u8]) -> Result<(), RequestError> {
        match name.len() {
            14 if name_is(name, b"content-length") => {
                let n = digits(value)
                    .or_else(|| {
                        std::str::from_utf8(value)
                            .ok()
                            .and_then(|s| s.trim().parse::<usize>().ok())
                    })
                    .ok_or_else(|| malformed("invalid Content-Length"))?;
                if self.length.is_some_and(|l| l != n) {
                    return Err(malformed("conflicting Content-Length"));
                }
                self.length = Some(n);
            }
            17 if name_is(name, b"transfer-encoding") => {
                self.chunked = value
                    .rsplit(|b| *b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            }
            // The usual value first, whole: one token, nothing to split.
            10 if name_is(name, b"connection") && value.eq_ignore_ascii_case(b"keep-alive") => {
                self.keep_alive = true;
            }
            10 if name_is(name, b"connection") => {
                for token in value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    if token.eq_ignore_ascii_case(b"close") {
                        self.keep_alive = false;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        self.keep_alive = true;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A value of ASCII digits alone (as servers write Content-Length), read without the UTF-8
/// check and the trim of the general parse, which gives the same number for it; None for any
/// other value (the general parse decides) and on overflow (which it refuses too).
fn digits(value: &[u8]) -> Option<usize> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0usize, |n, &b| {
        let d = b.wrapping_sub(b'0');
        (d <= 9).then_some(())?;
        n.checked_mul(10)?.checked_add(usize::from(d))
    })
}

/// Whether the header name `name` (a token: httparse rejects any other) is `lower`, a lowercase
/// name of letters and '-', in any case. Setting bit 0x20 lowercases a letter and leaves '-',
/// and turns no other token character into a letter or '-', so the bytes are compared with it
/// set, all at once (no branch a byte).
fn name_is(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len()
        && name
            .iter()
            .zip(lower)
            .fold(0u8, |diff, (a, b)| diff | ((a | 0x20) ^ b))
            == 0
}

/// A parsed response head: status, version, the headers kept, body framing and keep-alive.
type Head = (u16, Version, Headers, Framing, bool);
/// What httparse's pass over a head gives: its length, status, version, framing, keep-alive.
type RawHead = (usize, u16, Version, Framing, bool);

/// Parses a complete response head off the front of `buf`, or returns None if more is needed.
/// With `keep_headers` the head is split off the buffer and kept whole, its header map built
/// only when read ([`header_map`]); without, the head is read as [`parse_head_discarding`]
/// does and the buffer advanced past it.
///
/// Every header of a kept head is checked here as the map's building would check it, so that a
/// bad head fails its request whether or not anything reads the headers: httparse accepts
/// exactly the name and value bytes `HeaderName` and `HeaderValue` do (the test
/// `httparse_accepts_what_the_header_map_does` holds it to that), which leaves the length of a
/// name, checked after the framing as the map's building came after it.
fn parse_head(
    buf: &mut BytesMut,
    head_only: bool,
    keep_headers: bool,
) -> Result<Option<Head>, RequestError> {
    if !keep_headers {
        let Some((len, head)) = parse_head_discarding(buf, head_only)? else {
            return Ok(None);
        };
        // Nothing refers to the head: the buffer stays one allocation, not shared.
        buf.advance(len);
        return Ok(Some(head));
    }
    let mut set_cookie = false;
    let mut long_name = false;
    let Some((len, status, version, framing, keep_alive)) =
        parse_raw(buf, head_only, |name, _| {
            set_cookie |= name.len() == 10 && name_is(name, b"set-cookie");
            long_name |= name.len() > MAX_NAME;
            Ok(())
        })?
    else {
        return Ok(None);
    };
    if long_name {
        return Err(malformed("header name"));
    }
    let head = Headers::unparsed(buf.split_to(len).freeze(), set_cookie);
    Ok(Some((status, version, head, framing, keep_alive)))
}

/// The header map of a head that [`parse_head`] kept: the same names, values (slices of the
/// head), order and duplicates as the head's lines. An empty head has none.
pub(crate) fn header_map(head: &Bytes) -> HeaderMap {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    // The head was parsed whole, with this configuration, before it was kept.
    let _ = parser().parse_response_with_uninit_headers(&mut resp, head, &mut slots);
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    for h in resp.headers.iter() {
        // `parse_head` checked every name and value; none is skipped here.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_maybe_shared(head.slice_ref(h.value)),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

/// Parses a complete response head at the front of `buf` without keeping its headers: they
/// are read only for the framing, and the map holds only `Location` (a redirect needs it),
/// copied. Returns the head's length with it, or None if more is needed.
fn parse_head_discarding(
    buf: &[u8],
    head_only: bool,
) -> Result<Option<(usize, Head)>, RequestError> {
    let mut location: Option<HeaderMap> = None;
    let parsed = parse_raw(buf, head_only, |name, value| {
        if name.eq_ignore_ascii_case(b"location") {
            let value = HeaderValue::from_bytes(value).map_err(|_| malformed("header value"))?;
            location
                .get_or_insert_with(HeaderMap::new)
                .append(http::header::LOCATION, value);
        }
        Ok(())
    })?;
    // Only `Location` is kept: no cookie. Without one, the headers are an empty head, whose
    // (empty) map is made only if read: no map to make and drop for every response.
    let headers = location.map_or_else(Headers::default, |map| Headers::built(map, false));
    Ok(parsed.map(|(len, status, version, framing, keep_alive)| {
        (len, (status, version, headers, framing, keep_alive))
    }))
}

/// How response heads are parsed, when read and again when their header map is built.
fn parser() -> httparse::ParserConfig {
    httparse::ParserConfig::default()
}

/// Parses a complete response head at the front of `buf` with httparse, handing each header's
/// raw name and value to `header` after reading its framing (RFC 9112, section 6.3). Returns
/// the head's length, status, version, framing and keep-alive, or None if more is needed.
fn parse_raw<'b>(
    buf: &'b [u8],
    head_only: bool,
    mut header: impl FnMut(&'b [u8], &'b [u8]) -> Result<(), RequestError>,
) -> Result<Option<RawHead>, RequestError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let parsed = parser().parse_response_with_uninit_headers(&mut resp, buf, &mut slots);
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(malformed(&e.to_string())),
    };
    let status = resp.code.unwrap_or(0);
    let http11 = resp.version == Some(1);
    let mut seen = FramingHeaders {
        length: None,
        chunked: false,
        keep_alive: http11,
    };
    for h in resp.headers.iter() {
        seen.see(h.name.as_bytes(), h.value)?;
        header(h.name.as_bytes(), h.value)?;
    }
    let framing = if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::None
    } else if seen.chunked {
        Framing::Chunked
    } else if let Some(n) = seen.length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    let version = if http11 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    Ok(Some((len, status, version, framing, seen.keep_alive)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> (u16, Version, HeaderMap, Framing, bool, BytesMut) {
        let mut buf = BytesMut::from(raw);
        let (s, v, h, f, k) = parse_head(&mut buf, false, true).unwrap().unwrap();
        (s, v, h.map().clone(), f, k, buf)
    }

    /// The header map as it was built before heads were kept unparsed: at once, failing the
    /// head on the first name or value `http` refuses.
    fn eager_map(raw: &[u8]) -> Result<HeaderMap, RequestError> {
        let mut names = Vec::new();
        parse_raw(raw, false, |name, value| {
            names.push((name.to_vec(), value.to_vec()));
            Ok(())
        })?
        .ok_or_else(|| malformed("partial"))?;
        let mut map = HeaderMap::new();
        for (name, value) in names {
            let name = HeaderName::from_bytes(&name).map_err(|_| malformed("header name"))?;
            let value = HeaderValue::from_bytes(&value).map_err(|_| malformed("header value"))?;
            map.append(name, value);
        }
        Ok(map)
    }

    /// The kept head's map, built when read, or the head's error.
    fn lazy_map(raw: &[u8]) -> Result<HeaderMap, RequestError> {
        let mut buf = BytesMut::from(raw);
        let (_, _, h, _, _) =
            parse_head(&mut buf, false, true)?.ok_or_else(|| malformed("partial"))?;
        Ok(h.map().clone())
    }

    fn same_outcome(raw: &[u8]) {
        match (eager_map(raw), lazy_map(raw)) {
            (Ok(eager), Ok(lazy)) => {
                let pairs = |m: &HeaderMap| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(pairs(&eager), pairs(&lazy), "{:?}", raw.escape_ascii());
            }
            (Err(eager), Err(lazy)) => {
                assert_eq!(eager.message, lazy.message, "{:?}", raw.escape_ascii())
            }
            (eager, lazy) => panic!(
                "{:?}: eager {:?}, lazy {:?}",
                raw.escape_ascii(),
                eager.map(|_| ()).map_err(|e| e.message),
                lazy.map(|_| ()).map_err(|e| e.message)
            ),
        }
    }

    /// The framing a value gives through the fast paths (digits alone, a `keep-alive` alone) is
    /// the one the general parse gives it, errors included.
    #[test]
    fn framing_values_read_alike_on_the_fast_paths() {
        let general_length = |v: &[u8]| {
            std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
        };
        for v in [
            "0",
            "615",
            "007",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999",
            "+5",
            " 5 ",
            "5\t",
            "",
            "5a",
            "-1",
            "\u{a0}7",
            "1 2",
        ] {
            let v = v.as_bytes();
            assert_eq!(
                digits(v).or_else(|| general_length(v)),
                general_length(v),
                "{:?}",
                v.escape_ascii()
            );
        }
        for v in [
            "keep-alive",
            "Keep-Alive",
            "KEEP-ALIVE",
            "close",
            "keep-alive, close",
        ] {
            for http11 in [false, true] {
                let mut seen = FramingHeaders {
                    length: None,
                    chunked: false,
                    keep_alive: http11,
                };
                seen.see(b"Connection", v.as_bytes()).unwrap();
                let tokens: Vec<_> = v.split(',').map(|t| t.trim().to_lowercase()).collect();
                let want = match tokens
                    .iter()
                    .rev()
                    .find(|t| *t == "close" || *t == "keep-alive")
                {
                    Some(t) => t == "keep-alive",
                    None => http11,
                };
                assert_eq!(seen.keep_alive, want, "{v} on HTTP/1.{}", u8::from(http11));
            }
        }
    }

    #[test]
    fn httparse_accepts_what_the_header_map_does() {
        // Every byte in a name and in a value: a head fails when it is read exactly when the
        // map's building would have failed, so that no bad header passes because nobody read it.
        for b in 0..=255u8 {
            let mut name = b"HTTP/1.1 200 OK\r\nx-".to_vec();
            name.extend_from_slice(&[b, b'y', b':', b' ', b'v', b'\r', b'\n', b'\r', b'\n']);
            same_outcome(&name);
            let mut value = b"HTTP/1.1 200 OK\r\nx: a".to_vec();
            value.extend_from_slice(&[b, b'b', b'\r', b'\n', b'\r', b'\n']);
            same_outcome(&value);
        }
        // An empty name, and names at and past the longest `HeaderName` takes; a bad length
        // reported before a long name, as before.
        same_outcome(b"HTTP/1.1 200 OK\r\n: v\r\n\r\n");
        for (len, ok) in [(MAX_NAME, true), (MAX_NAME + 1, false)] {
            let mut raw = b"HTTP/1.1 200 OK\r\n".to_vec();
            raw.extend(std::iter::repeat_n(b'n', len));
            raw.extend_from_slice(b": v\r\ncontent-length: 1\r\n\r\n");
            assert_eq!(lazy_map(&raw).is_ok(), ok);
            same_outcome(&raw);
            raw.truncate(raw.len() - 5);
            raw.extend_from_slice(b"x\r\n\r\n");
            assert_eq!(
                lazy_map(&raw).unwrap_err().message,
                "malformed HTTP response: invalid Content-Length"
            );
            same_outcome(&raw);
        }
    }

    #[test]
    fn kept_heads_give_every_header_in_order_when_read() {
        let raw = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Dup: 1\r\ncontent-length: 0\r\nx-dup: 2\r\nX-Obs: caf\xc3\xa9\tx\r\nx-empty:\r\nSET-COOKIE: b=2\r\n\r\n";
        same_outcome(raw);
        let mut buf = BytesMut::from(&raw[..]);
        let (_, _, h, _, _) = parse_head(&mut buf, false, true).unwrap().unwrap();
        assert!(h.has_set_cookie());
        let map = h.map();
        assert_eq!(map.get_all("x-dup").iter().collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(
            map.get_all("set-cookie").iter().collect::<Vec<_>>(),
            ["a=1", "b=2"]
        );
        assert_eq!(map.get("x-obs").unwrap().as_bytes(), b"caf\xc3\xa9\tx");
        assert_eq!(map.get("x-empty").unwrap(), "");
        assert_eq!(map.len(), 7);
        // A set-cookie look-alike of the same length is not one.
        let mut buf =
            BytesMut::from(&b"HTTP/1.1 200 OK\r\nset_cookie: a\r\nconnection: x\r\n\r\n"[..]);
        let (_, _, h, _, _) = parse_head(&mut buf, false, true).unwrap().unwrap();
        assert!(!h.has_set_cookie());
        assert_eq!(h.map().len(), 2);
    }

    #[test]
    fn heads_are_parsed_and_bodies_framed_as_rfc_9112_says() {
        let (s, v, h, f, k, rest) =
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello");
        assert_eq!((s, v, k), (200, Version::HTTP_11, true));
        assert!(matches!(f, Framing::Length(5)));
        assert_eq!(h.get("x-a").unwrap(), "b");
        assert_eq!(&rest[..], b"hello");

        let (_, _, _, f, k, _) = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n",
        );
        assert!(matches!(f, Framing::Chunked));
        assert!(!k);
        let (_, v, _, f, k, _) = parse(b"HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!(v, Version::HTTP_10);
        assert!(matches!(f, Framing::UntilClose));
        assert!(!k);
        let (_, _, _, f, _, _) = parse(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n");
        assert!(matches!(f, Framing::None));

        let mut partial = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-"[..]);
        assert!(parse_head(&mut partial, false, true).unwrap().is_none());
        let mut bad = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"[..]);
        assert!(parse_head(&mut bad, false, true).is_err());
        let mut conflict = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"[..],
        );
        assert!(parse_head(&mut conflict, false, true).is_err());
    }

    #[test]
    fn discarded_headers_keep_the_location_and_still_frame_the_body() {
        let raw = b"HTTP/1.1 302 Found\r\nServer: x\r\nlocation: /next\r\nCONTENT-LENGTH: 2\r\nConnection: close\r\n\r\nokrest";
        let mut buf = BytesMut::from(&raw[..]);
        let (s, _, h, f, k) = parse_head(&mut buf, false, false).unwrap().unwrap();
        let h = h.map();
        assert_eq!(s, 302);
        assert_eq!(h.len(), 1);
        assert_eq!(h.get("location").unwrap(), "/next");
        assert!(matches!(f, Framing::Length(2)));
        assert!(!k);
        assert_eq!(&buf[..], b"okrest");
        let mut chunked =
            BytesMut::from(&b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"[..]);
        let (_, _, h, f, k) = parse_head(&mut chunked, false, false).unwrap().unwrap();
        assert!(h.map().is_empty() && k);
        assert!(matches!(f, Framing::Chunked));
    }

    #[test]
    fn framing_names_match_in_any_case_and_only_themselves() {
        // Same lengths as the framing headers, one character off (a token character whose
        // 0x20 bit differs from '-': '_' and '^'), and mixed case.
        let (_, _, _, f, k, _) = parse(
            b"HTTP/1.1 200 OK\r\ncontent_length: 7\r\ntransfer^encoding: chunked\r\nconnectiOn: close\r\ncOnTeNt-LeNgTh: 3\r\n\r\nabc",
        );
        assert!(matches!(f, Framing::Length(3)));
        assert!(!k);
        let (_, _, _, f, k, _) = parse(
            b"HTTP/1.1 200 OK\r\nconnectioN: Close\r\nTRANSFER-ENCODING: chunked\r\nconnection: keep-alive\r\n\r\n",
        );
        assert!(matches!(f, Framing::Chunked));
        assert!(k);
        let (_, _, _, f, k, _) =
            parse(b"HTTP/1.1 200 OK\r\nconnexion: close\r\nContent-Lengths: 3\r\n\r\n");
        assert!(matches!(f, Framing::UntilClose));
        assert!(k);
    }
}
