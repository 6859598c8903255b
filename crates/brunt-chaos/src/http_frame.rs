//! Finds HTTP/1.1 request boundaries in a client-to-server byte stream, for the
//! HTTP-aware toxics. Only framing is tracked (head, then a body sized by
//! `Content-Length` or chunked encoding); bytes are never rewritten.
//!
//! A framer attached to a live connection may start in the middle of a request.
//! Whatever does not parse as a request head is passed on as [`Segment::Opaque`]
//! and the framer tries again at the start of the next chunk, which in
//! request/response traffic is where the next request begins.

use bytes::{Bytes, BytesMut};

/// Longest request head the framer buffers before giving up on it.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) enum Segment {
    /// A complete request head (request line and headers).
    Head { bytes: Bytes, path: String },
    /// Part of the current request's body.
    Body(Bytes),
    /// The current request is complete.
    End,
    /// Bytes that are not (or not known to be) part of a parsed request.
    Opaque(Bytes),
}

#[derive(Debug)]
enum State {
    Head,
    Body(u64),
    Chunked(Chunked),
}

#[derive(Debug, Clone, Copy)]
enum Chunked {
    Size { value: u64, in_ext: bool },
    Data(u64),
    DataEnd(u8),
    LineStart,
    LineCr,
    Line,
}

#[derive(Debug)]
pub(crate) struct RequestFramer {
    head: BytesMut,
    state: State,
}

impl Default for RequestFramer {
    fn default() -> Self {
        Self {
            head: BytesMut::new(),
            state: State::Head,
        }
    }
}

impl RequestFramer {
    /// Splits `data` into segments.
    pub fn feed(&mut self, mut data: Bytes, out: &mut Vec<Segment>) {
        while !data.is_empty() {
            match self.state {
                State::Head => {
                    if !self.feed_head(&mut data, out) {
                        return;
                    }
                }
                State::Body(left) => {
                    let take = left.min(data.len() as u64) as usize;
                    out.push(Segment::Body(data.split_to(take)));
                    self.state = if left == take as u64 {
                        out.push(Segment::End);
                        State::Head
                    } else {
                        State::Body(left - take as u64)
                    };
                }
                State::Chunked(c) => self.feed_chunked(c, &mut data, out),
            }
        }
    }

    /// Returns a partly buffered head, as opaque bytes, when the stream ends.
    pub fn flush(&mut self, out: &mut Vec<Segment>) {
        if !self.head.is_empty() {
            out.push(Segment::Opaque(self.head.split().freeze()));
        }
    }

    /// Buffers head bytes; returns false when all of `data` was consumed.
    fn feed_head(&mut self, data: &mut Bytes, out: &mut Vec<Segment>) -> bool {
        let searched = self.head.len().saturating_sub(3);
        self.head.extend_from_slice(data);
        let Some(end) = find_head_end(&self.head[searched..]).map(|e| e + searched) else {
            data.clear();
            if self.head.len() > MAX_HEAD || !plausible_start(&self.head) {
                out.push(Segment::Opaque(self.head.split().freeze()));
            }
            return false;
        };
        // Give back what follows the head.
        let extra = self.head.len() - end;
        *data = data.split_off(data.len() - extra);
        let head = self.head.split_to(end).freeze();
        self.head.clear();
        match parse_head(&head) {
            Some((path, framing)) => {
                out.push(Segment::Head { bytes: head, path });
                self.state = match framing {
                    Framing::None => {
                        out.push(Segment::End);
                        State::Head
                    }
                    Framing::Length(n) => State::Body(n),
                    Framing::Chunked => State::Chunked(Chunked::Size {
                        value: 0,
                        in_ext: false,
                    }),
                };
                true
            }
            None => {
                // Not a request: pass it and the rest of this chunk on untouched.
                out.push(Segment::Opaque(head));
                out.push(Segment::Opaque(std::mem::take(data)));
                false
            }
        }
    }

    fn feed_chunked(&mut self, mut c: Chunked, data: &mut Bytes, out: &mut Vec<Segment>) {
        let mut i = 0;
        let bytes = &data[..];
        while i < bytes.len() {
            if let Chunked::Data(left) = c {
                let take = left.min((bytes.len() - i) as u64) as usize;
                i += take;
                c = if left == take as u64 {
                    Chunked::DataEnd(2)
                } else {
                    Chunked::Data(left - take as u64)
                };
                continue;
            }
            let b = bytes[i];
            i += 1;
            c = match c {
                Chunked::Size { value, in_ext } => match b {
                    b'\n' if value == 0 => Chunked::LineStart,
                    b'\n' => Chunked::Data(value),
                    b';' => Chunked::Size {
                        value,
                        in_ext: true,
                    },
                    _ if in_ext => c,
                    _ => match (b as char).to_digit(16) {
                        Some(d) => Chunked::Size {
                            value: value.saturating_mul(16).saturating_add(d as u64),
                            in_ext,
                        },
                        None => c,
                    },
                },
                Chunked::DataEnd(1) => Chunked::Size {
                    value: 0,
                    in_ext: false,
                },
                Chunked::DataEnd(n) => Chunked::DataEnd(n - 1),
                Chunked::LineStart => match b {
                    b'\r' => Chunked::LineCr,
                    b'\n' => {
                        self.end_chunked(data, i, out);
                        return;
                    }
                    _ => Chunked::Line,
                },
                Chunked::LineCr => {
                    if b == b'\n' {
                        self.end_chunked(data, i, out);
                        return;
                    }
                    Chunked::Line
                }
                Chunked::Line => {
                    if b == b'\n' {
                        Chunked::LineStart
                    } else {
                        c
                    }
                }
                Chunked::Data(_) => unreachable!("handled above"),
            };
        }
        out.push(Segment::Body(std::mem::take(data)));
        self.state = State::Chunked(c);
    }

    fn end_chunked(&mut self, data: &mut Bytes, consumed: usize, out: &mut Vec<Segment>) {
        out.push(Segment::Body(data.split_to(consumed)));
        out.push(Segment::End);
        self.state = State::Head;
    }
}

enum Framing {
    None,
    Length(u64),
    Chunked,
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Whether a partly received head can still become a request: anything that
/// already fails to parse (say `SET k v\r\n` on a Redis connection) is not one.
fn plausible_start(buf: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    buf.first().is_some_and(|b| b.is_ascii_uppercase()) && req.parse(buf).is_ok()
}

fn parse_head(head: &[u8]) -> Option<(String, Framing)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return None,
    }
    let path = req.path?.to_string();
    let mut framing = Framing::None;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let v = String::from_utf8_lossy(h.value);
            if v.to_ascii_lowercase().contains("chunked") {
                framing = Framing::Chunked;
                break;
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value).ok()?.trim().parse().ok()?;
            if n > 0 {
                framing = Framing::Length(n);
            }
        }
    }
    Some((path, framing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(segs: &[Segment]) -> Vec<String> {
        segs.iter()
            .map(|s| match s {
                Segment::Head { path, .. } => format!("head {path}"),
                Segment::Body(b) => format!("body {}", b.len()),
                Segment::End => "end".into(),
                Segment::Opaque(b) => format!("opaque {}", b.len()),
            })
            .collect()
    }

    #[test]
    fn requests_split_across_and_within_chunks() {
        let mut f = RequestFramer::default();
        let mut out = Vec::new();
        f.feed(
            Bytes::from_static(b"GET /a HTTP/1.1\r\nHost: x\r"),
            &mut out,
        );
        assert!(out.is_empty());
        f.feed(
            Bytes::from_static(b"\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel"),
            &mut out,
        );
        f.feed(Bytes::from_static(b"lo"), &mut out);
        assert_eq!(
            kinds(&out),
            ["head /a", "end", "head /b", "body 3", "body 2", "end"]
        );
    }

    #[test]
    fn chunked_bodies_end_after_the_last_chunk_and_trailers() {
        let mut f = RequestFramer::default();
        let mut out = Vec::new();
        let req = b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\nGET /d HTTP/1.1\r\n\r\n";
        for part in req.chunks(7) {
            f.feed(Bytes::copy_from_slice(part), &mut out);
        }
        let total_body: usize = out
            .iter()
            .map(|s| if let Segment::Body(b) = s { b.len() } else { 0 })
            .sum();
        assert_eq!(total_body, "5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n".len());
        let k = kinds(&out);
        assert_eq!(k.first().unwrap(), "head /c");
        assert_eq!(&k[k.len() - 3..], ["end", "head /d", "end"]);
    }

    #[test]
    fn a_line_protocol_is_not_held_back() {
        let mut f = RequestFramer::default();
        let mut out = Vec::new();
        f.feed(Bytes::from_static(b"SET k v\r\n"), &mut out);
        assert_eq!(kinds(&out), ["opaque 9"]);
    }

    #[test]
    fn non_http_bytes_pass_as_opaque_and_resync_at_next_chunk() {
        let mut f = RequestFramer::default();
        let mut out = Vec::new();
        f.feed(Bytes::from_static(b"lo world, rest of a body"), &mut out);
        f.feed(Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"), &mut out);
        assert_eq!(kinds(&out), ["opaque 24", "head /", "end"]);
    }
}
