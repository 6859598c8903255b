//! permessage-deflate (RFC 7692) for the WebSocket modules' `compression: 'deflate'`.
//! tungstenite has no extensions and fails a connection on any frame with RSV1 set, so the
//! extension lives beneath it, on the byte stream: [`Deflate`] sits between tungstenite and the
//! connection, watches the handshake's response go by and reads the server's answer to the
//! offer in it, and from there on rewrites frames. A compressed message coming in is inflated
//! into plain frames before tungstenite reads them (in pieces of [`CHUNK`] bytes, so a small
//! frame that inflates to a huge message is stopped by tungstenite's message limit, not by
//! memory); each whole data message tungstenite writes is deflated on its way out (RSV1 set,
//! the `00 00 ff ff` tail dropped, the frame masked again with its own key). Control frames and
//! uncompressed messages pass as they are. Without an offer the stream only passes bytes.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::cell::RefCell;
use std::io::{self, Cursor};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

/// The offer, k6's (gorilla/websocket's): no context takeover either way, so every message is
/// compressed on its own and one compressor per thread serves every socket. Leaving out
/// `client_max_window_bits` keeps a server from asking for a window under 32 KiB, which
/// flate2's Rust backend cannot compress with; a server's own smaller window inflates fine.
pub(crate) const OFFER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// gorilla/websocket's default level (k6's): the fastest.
const LEVEL: u32 = 1;

/// The most bytes of inflated payload handed to tungstenite in one frame.
const CHUNK: usize = 64 << 10;

/// The longest handshake response head read before the connection fails.
const MAX_HEAD: usize = 64 << 10;

/// tungstenite's frame limit (`max_frame_size`), which a compressed frame meets here, before
/// it is buffered whole to be inflated.
const MAX_FRAME: u64 = 16 << 20;

/// What RFC 7692 drops from the end of each compressed message.
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

thread_local! {
    /// The compressor of this thread's sockets: each message is compressed in one call and the
    /// compressor reset after it (no client context takeover), so its ~300 KiB are paid once
    /// per thread, not per socket.
    static DEFLATER: RefCell<Compress> = RefCell::new(Compress::new(Compression::new(LEVEL), false));
    /// An inflater no message holds, for the next compressed message of any socket.
    static SPARE_INFLATER: RefCell<Option<Box<Decompress>>> = const { RefCell::new(None) };
}

/// A connection with permessage-deflate offered, or one that only passes bytes.
pub(crate) struct Deflate<S> {
    inner: S,
    /// None when nothing was offered: no cost but a branch.
    codec: Option<Box<Codec>>,
}

/// Where the extension stands.
enum State {
    /// The handshake's response head is still coming.
    Head,
    /// The server took the offer; true when it keeps its compression context between messages
    /// (it did not answer with `server_no_context_takeover`).
    On(bool),
    /// Bytes pass as they are: the server declined, or a frame could not be parsed (tungstenite
    /// reads it and says what is wrong).
    Off,
    /// The server's answer is not one this client can speak (why); the handshake fails with it.
    Refused(String),
}

/// The compressed message coming in.
struct Inflating {
    z: Box<Decompress>,
    /// Its opcode until its first plain frame is out, then None (the rest are continuations).
    opcode: Option<OpCode>,
    /// The current frame's compressed payload, and how much of it was inflated.
    input: Vec<u8>,
    at: usize,
    /// How much of [`TAIL`] was inflated after the last frame's payload.
    tail_at: usize,
    /// The current frame ends the message.
    fin: bool,
    /// The current frame's input is all inflated: the next continuation frame is awaited.
    spent: bool,
}

struct Codec {
    /// Where the extension stands, for what is read.
    state: State,
    /// The server took the offer: data messages written are compressed.
    compress: bool,
    /// Bytes read from the connection, not yet handed on.
    raw: Vec<u8>,
    /// Bytes for tungstenite, from `plain_at`.
    plain: Vec<u8>,
    plain_at: usize,
    inflating: Option<Inflating>,
    /// The inflater kept between messages when the server keeps its context.
    kept: Option<Box<Decompress>>,
    /// Frames tungstenite wrote, not yet whole.
    written: Vec<u8>,
    /// Frames for the connection, from `wire_at`.
    wire: Vec<u8>,
    wire_at: usize,
}

impl<S> Deflate<S> {
    /// `inner`, with permessage-deflate offered (the handshake must carry [`OFFER`]) or not.
    pub(crate) fn new(inner: S, offered: bool) -> Self {
        let codec = offered.then(|| {
            Box::new(Codec {
                state: State::Head,
                compress: false,
                raw: Vec::new(),
                plain: Vec::new(),
                plain_at: 0,
                inflating: None,
                kept: None,
                written: Vec::new(),
                wire: Vec::new(),
                wire_at: 0,
            })
        });
        Deflate { inner, codec }
    }

    /// Why the server's answer to the offer cannot be spoken, once the handshake is over.
    pub(crate) fn refused(&self) -> Option<&str> {
        match self.codec.as_deref().map(|c| &c.state) {
            Some(State::Refused(why)) => Some(why),
            _ => None,
        }
    }
}

/// The server's answer to the offer, from the handshake response's head.
fn negotiate(head: &[u8]) -> State {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let switching = lines
        .next()
        .and_then(|status| status.split_whitespace().nth(1))
        .is_some_and(|code| code == "101");
    if !switching {
        return State::Off;
    }
    let answers: Vec<&str> = lines
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-extensions"))
        .flat_map(|(_, value)| value.split(','))
        .collect();
    // As gorilla/websocket: the first permessage-deflate answer counts, other extensions are
    // not looked at.
    let Some(params) = answers.iter().find_map(|ext| {
        let mut parts = ext.split(';').map(str::trim);
        (parts.next() == Some("permessage-deflate")).then_some(parts)
    }) else {
        return State::Off;
    };
    let mut server_context = true;
    for param in params {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (param, None),
        };
        match (name, value) {
            ("server_no_context_takeover", None) => server_context = false,
            ("client_no_context_takeover", None) => {}
            // A smaller window of the server's inflates with the full one.
            ("server_max_window_bits", Some(v))
                if v.parse::<u8>().is_ok_and(|b| (8..=15).contains(&b)) => {}
            // Not offered, so only the window this client compresses with anyway.
            ("client_max_window_bits", Some("15")) => {}
            _ => {
                return State::Refused(format!(
                    "websocket: invalid compression negotiation: the server answered '{param}'"
                ))
            }
        }
    }
    State::On(server_context)
}

impl Codec {
    /// Turns read bytes into bytes for tungstenite, until some are ready or more must be read.
    fn fill(&mut self) -> io::Result<()> {
        if self.plain_at == self.plain.len() {
            self.plain.clear();
            self.plain_at = 0;
            release(&mut self.plain);
            release(&mut self.raw);
        }
        while self.plain.is_empty() {
            match &self.state {
                State::Head => {
                    let Some(end) = self.raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                        if self.raw.len() > MAX_HEAD {
                            return Err(io::Error::other("websocket: handshake response too long"));
                        }
                        return Ok(());
                    };
                    let head: Vec<u8> = self.raw.drain(..end + 4).collect();
                    self.state = negotiate(&head);
                    self.compress = matches!(self.state, State::On(_));
                    self.plain = head;
                }
                State::Off if self.raw.is_empty() => return Ok(()),
                State::Off => std::mem::swap(&mut self.plain, &mut self.raw),
                // No frame of a refused negotiation reaches tungstenite: the handshake fails.
                State::Refused(_) => return Ok(()),
                State::On(context) => {
                    let context = *context;
                    if self.inflating.as_ref().is_some_and(|m| !m.spent) {
                        self.inflate(context)?;
                    } else if !self.next_frame()? {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// Takes the next whole frame off `raw`: a compressed one to inflate, any other to hand on
    /// as it is. False when it has not all come yet.
    fn next_frame(&mut self) -> io::Result<bool> {
        let mut cursor = Cursor::new(&self.raw);
        let (header, len) = match FrameHeader::parse(&mut cursor) {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(false),
            // tungstenite reads it and fails with its own words.
            Err(_) => {
                self.state = State::Off;
                return Ok(true);
            }
        };
        let start = cursor.position() as usize;
        let continues = self.inflating.is_some() && header.opcode == OpCode::Data(Data::Continue);
        let starts = header.rsv1
            && header.mask.is_none()
            && matches!(header.opcode, OpCode::Data(Data::Text | Data::Binary));
        // Not buffered whole: tungstenite reads the header and refuses the frame itself.
        if len > MAX_FRAME {
            self.state = State::Off;
            return Ok(true);
        }
        let end = start + len as usize;
        if self.raw.len() < end {
            return Ok(false);
        }
        if !starts && !continues {
            self.plain.extend(self.raw.drain(..end));
            return Ok(true);
        }
        let input: Vec<u8> = self.raw.drain(..end).skip(start).collect();
        match &mut self.inflating {
            Some(m) if continues => {
                m.input = input;
                m.at = 0;
                m.fin = header.is_final;
                m.spent = false;
            }
            _ => {
                let z = self
                    .kept
                    .take()
                    .or_else(|| SPARE_INFLATER.with_borrow_mut(Option::take))
                    .unwrap_or_else(|| Box::new(Decompress::new(false)));
                self.inflating = Some(Inflating {
                    z,
                    opcode: Some(header.opcode),
                    input,
                    at: 0,
                    tail_at: 0,
                    fin: header.is_final,
                    spent: false,
                });
            }
        }
        Ok(true)
    }

    /// Inflates up to [`CHUNK`] bytes of the message coming in into one plain frame.
    fn inflate(&mut self, context: bool) -> io::Result<()> {
        let m = self.inflating.as_mut().expect("a message being inflated");
        let mut out = Vec::with_capacity(CHUNK);
        loop {
            let (input, from_tail) = if m.at < m.input.len() {
                (&m.input[m.at..], false)
            } else if m.fin && m.tail_at < TAIL.len() {
                (&TAIL[m.tail_at..], true)
            } else {
                break;
            };
            let (before_in, before_out) = (m.z.total_in(), out.len());
            let status = m
                .z
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("flate: {e}")))?;
            let used = (m.z.total_in() - before_in) as usize;
            if from_tail {
                m.tail_at += used;
            } else {
                m.at += used;
            }
            if status == Status::StreamEnd {
                // A final block (which RFC 7692 leaves to the sender): what follows it is not
                // deflate data, as zlib's decoders take it.
                m.at = m.input.len();
                m.tail_at = TAIL.len();
                m.z.reset(false);
                break;
            }
            if out.len() == out.capacity() {
                break;
            }
            if used == 0 && out.len() == before_out {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "flate: the compressed data stops short",
                ));
            }
        }
        let input_done = m.at == m.input.len() && (!m.fin || m.tail_at == TAIL.len());
        let frame_done = input_done && out.len() < out.capacity();
        let header = FrameHeader {
            is_final: m.fin && frame_done,
            opcode: m.opcode.take().unwrap_or(OpCode::Data(Data::Continue)),
            mask: None,
            ..FrameHeader::default()
        };
        header
            .format(out.len() as u64, &mut self.plain)
            .map_err(io::Error::other)?;
        self.plain.extend_from_slice(&out);
        if frame_done {
            m.spent = true;
            m.input = Vec::new();
            if m.fin {
                let mut z = self.inflating.take().expect("the message").z;
                if context {
                    self.kept = Some(z);
                } else {
                    z.reset(false);
                    SPARE_INFLATER.with_borrow_mut(|spare| *spare = Some(z));
                }
            }
        }
        Ok(())
    }

    /// Rewrites every whole frame tungstenite wrote onto `wire`.
    fn encode(&mut self) -> io::Result<()> {
        loop {
            let mut cursor = Cursor::new(&self.written);
            let Some((mut header, len)) =
                FrameHeader::parse(&mut cursor).map_err(io::Error::other)?
            else {
                return Ok(());
            };
            let start = cursor.position() as usize;
            let end = start + len as usize;
            if self.written.len() < end {
                return Ok(());
            }
            // tungstenite writes each message as one frame; only whole data messages are
            // compressed (an uncompressed message is allowed as well).
            let whole = header.is_final
                && !header.rsv1
                && matches!(header.opcode, OpCode::Data(Data::Text | Data::Binary));
            if !whole {
                self.wire.extend(self.written.drain(..end));
                continue;
            }
            let mut payload: Vec<u8> = self.written.drain(..end).skip(start).collect();
            if let Some(key) = header.mask {
                mask(&mut payload, key);
            }
            let mut packed = deflate(&payload)?;
            if let Some(key) = header.mask {
                mask(&mut packed, key);
            }
            header.rsv1 = true;
            header
                .format(packed.len() as u64, &mut self.wire)
                .map_err(io::Error::other)?;
            self.wire.extend_from_slice(&packed);
        }
    }
}

/// One message compressed alone, its tail dropped.
fn deflate(data: &[u8]) -> io::Result<Vec<u8>> {
    DEFLATER.with_borrow_mut(|z| {
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let mut at = 0;
        loop {
            let before = z.total_in();
            z.compress_vec(&data[at..], &mut out, FlushCompress::Sync)
                .map_err(io::Error::other)?;
            at += (z.total_in() - before) as usize;
            if at == data.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        z.reset();
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        Ok(out)
    })
}

/// Frees an empty buffer that a large message grew, so an idle socket holds little.
fn release(buf: &mut Vec<u8>) {
    if buf.is_empty() && buf.capacity() > CHUNK {
        *buf = Vec::new();
    }
}

/// RFC 6455's masking, which undoes itself.
fn mask(data: &mut [u8], key: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Deflate<S> {
    /// Writes what waits on `wire` to the connection.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(c) = self.codec.as_deref_mut() else {
            return Poll::Ready(Ok(()));
        };
        while c.wire_at < c.wire.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &c.wire[c.wire_at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            c.wire_at += n;
        }
        c.wire.clear();
        c.wire_at = 0;
        release(&mut c.wire);
        release(&mut c.written);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Deflate<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(c) = this.codec.as_deref_mut() else {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        };
        loop {
            c.fill()?;
            if c.plain_at < c.plain.len() {
                let n = buf.remaining().min(c.plain.len() - c.plain_at);
                buf.put_slice(&c.plain[c.plain_at..c.plain_at + n]);
                c.plain_at += n;
                return Poll::Ready(Ok(()));
            }
            if matches!(c.state, State::Refused(_)) {
                return Poll::Ready(Err(io::Error::other(
                    "websocket: invalid compression negotiation",
                )));
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                // The end: what is left unparsed goes to tungstenite, which tells the error.
                c.plain.append(&mut c.raw);
                if c.plain_at == c.plain.len() {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            c.raw.extend_from_slice(read.filled());
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Deflate<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.codec.as_deref().is_some_and(|c| c.compress) {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        // What waits for the connection is bounded: past a chunk, the writer waits too.
        if this.drain(cx).is_pending() {
            let c = this.codec.as_deref().expect("a codec");
            if c.wire.len() - c.wire_at >= CHUNK {
                return Poll::Pending;
            }
        }
        let c = this.codec.as_deref_mut().expect("a codec");
        c.written.extend_from_slice(buf);
        c.encode()?;
        let _ = this.drain(cx)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio_tungstenite::tungstenite::protocol::frame::coding::Control;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::WebSocketStream;

    const HEAD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n\r\n";

    /// A server frame (unmasked).
    fn frame(out: &mut Vec<u8>, opcode: OpCode, rsv1: bool, fin: bool, payload: &[u8]) {
        let header = FrameHeader {
            is_final: fin,
            rsv1,
            opcode,
            mask: None,
            ..FrameHeader::default()
        };
        header.format(payload.len() as u64, out).unwrap();
        out.extend_from_slice(payload);
    }

    /// `data` deflated by `z` as a server keeping its context does, the tail dropped.
    fn pack(z: &mut Compress, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 64);
        z.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
        assert!(out.ends_with(&TAIL));
        out.truncate(out.len() - 4);
        out
    }

    /// The client end after the head, and the server's end.
    async fn connected() -> (WebSocketStream<Deflate<DuplexStream>>, DuplexStream) {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        let mut wire = Deflate::new(client, true);
        server.write_all(HEAD).await.unwrap();
        let mut head = vec![0; HEAD.len()];
        wire.read_exact(&mut head).await.unwrap();
        assert_eq!(head, HEAD, "the head passes as it came");
        assert!(wire.refused().is_none());
        (
            WebSocketStream::from_raw_socket(wire, Role::Client, None).await,
            server,
        )
    }

    /// The next whole frame the client wrote: its header and unmasked payload.
    async fn read_frame(server: &mut DuplexStream, buf: &mut Vec<u8>) -> (FrameHeader, Vec<u8>) {
        loop {
            let mut cursor = Cursor::new(&*buf);
            if let Some((header, len)) = FrameHeader::parse(&mut cursor).unwrap() {
                let start = cursor.position() as usize;
                if buf.len() >= start + len as usize {
                    let mut payload: Vec<u8> =
                        buf.drain(..start + len as usize).skip(start).collect();
                    mask(&mut payload, header.mask.expect("a client frame is masked"));
                    return (header, payload);
                }
            }
            let mut chunk = [0; 4096];
            let n = server.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the client closed");
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    #[tokio::test]
    async fn compressed_messages_come_in_whole_fragmented_or_not_with_the_servers_context() {
        let (mut ws, mut server) = connected().await;
        let mut z = Compress::new(Compression::default(), false);
        let first = "hello hello hello".repeat(10);
        // Larger than a chunk: it reaches tungstenite in several frames.
        let second: String = (0..40_000)
            .map(|i| char::from(b'a' + (i % 7) as u8))
            .collect();
        let packed = pack(&mut z, second.as_bytes());
        let (a, b) = packed.split_at(packed.len() / 2);
        let first_packed = pack(&mut z, first.as_bytes());
        let frames: [(OpCode, bool, bool, &[u8]); 5] = [
            (OpCode::Data(Data::Text), true, true, &first_packed),
            (OpCode::Data(Data::Text), true, false, a),
            (OpCode::Control(Control::Ping), false, true, b"p"),
            (OpCode::Data(Data::Continue), false, true, b),
            (OpCode::Data(Data::Binary), false, true, b"plain"),
        ];
        let mut bytes = Vec::new();
        for (opcode, rsv1, fin, payload) in frames {
            frame(&mut bytes, opcode, rsv1, fin, payload);
        }
        server.write_all(&bytes).await.unwrap();

        let next = |m: Option<Result<Message, _>>| m.expect("a message").expect("no error");
        assert_eq!(next(ws.next().await), Message::Text(first.into()));
        assert_eq!(next(ws.next().await), Message::Ping(b"p".to_vec().into()));
        assert_eq!(next(ws.next().await), Message::Text(second.into()));
        assert_eq!(
            next(ws.next().await),
            Message::Binary(b"plain".to_vec().into())
        );
    }

    #[tokio::test]
    async fn data_messages_go_out_compressed_alone_and_control_frames_as_they_are() {
        let (mut ws, mut server) = connected().await;
        let text = "compress me ".repeat(1000);
        let mut buf = Vec::new();
        for _ in 0..2 {
            ws.send(Message::Text(text.clone().into())).await.unwrap();
            let (header, payload) = read_frame(&mut server, &mut buf).await;
            assert!(header.rsv1 && header.is_final);
            assert_eq!(header.opcode, OpCode::Data(Data::Text));
            assert!(payload.len() < text.len() / 10, "{} bytes", payload.len());
            // No context taken over: each message inflates alone.
            let mut z = Decompress::new(false);
            let mut out = Vec::with_capacity(text.len() + 16);
            let input = [payload.as_slice(), &TAIL].concat();
            z.decompress_vec(&input, &mut out, FlushDecompress::Sync)
                .unwrap();
            assert_eq!(out, text.as_bytes());
        }
        ws.send(Message::Ping(b"x".to_vec().into())).await.unwrap();
        let (header, payload) = read_frame(&mut server, &mut buf).await;
        assert!(!header.rsv1);
        assert_eq!(
            (header.opcode, payload),
            (OpCode::Control(Control::Ping), b"x".to_vec())
        );
    }

    #[tokio::test]
    async fn corrupt_compressed_data_is_an_error() {
        let (mut ws, mut server) = connected().await;
        let mut bytes = Vec::new();
        // A block of the reserved type 11.
        frame(
            &mut bytes,
            OpCode::Data(Data::Text),
            true,
            true,
            &[0xff; 16],
        );
        server.write_all(&bytes).await.unwrap();
        let e = ws.next().await.expect("an item").expect_err("an error");
        assert!(e.to_string().contains("flate"), "{e}");
    }

    #[test]
    fn the_servers_answer_decides() {
        let head = |ext: &str| format!("HTTP/1.1 101 Switching Protocols\r\n{ext}\r\n\r\n");
        let state = |ext: &str| negotiate(head(ext).as_bytes());
        assert!(matches!(state("Upgrade: websocket"), State::Off));
        assert!(matches!(
            negotiate(
                b"HTTP/1.1 403 Forbidden\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
            ),
            State::Off
        ));
        assert!(matches!(
            state("sec-websocket-extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            State::On(false)
        ));
        assert!(matches!(
            state(
                "Sec-WebSocket-Extensions: x-other, permessage-deflate; server_max_window_bits=9"
            ),
            State::On(true)
        ));
        for bad in [
            "client_max_window_bits=10",
            "server_max_window_bits=20",
            "mystery",
        ] {
            let answer = format!("Sec-WebSocket-Extensions: permessage-deflate; {bad}");
            match state(&answer) {
                State::Refused(why) => assert!(why.contains(bad), "{why}"),
                _ => panic!("{bad} accepted"),
            }
        }
    }
}
