//! Server-sent events, parsed as the HTML standard's event-stream interpretation says: lines end
//! in CRLF, LF or CR; a blank line dispatches the event; lines starting with `:` are comments;
//! `data:` lines are joined with `\n`; one space after the colon is dropped; a leading BOM is
//! skipped; an event left incomplete when the stream ends is discarded.

use std::ops::ControlFlow;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, `message` when none was given.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last event ID seen on the stream (the `id:` field persists across events).
    pub id: Option<String>,
    /// The `retry:` field of this event, in milliseconds, when it was a number.
    pub retry: Option<u64>,
}

/// An incremental parser: feed it the body as it arrives, in pieces split anywhere.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: String,
    event: String,
    id: Option<String>,
    retry: Option<u64>,
    /// The last byte fed was a CR, so a LF starting the next piece ends no second line.
    after_cr: bool,
    /// Past the stream's first bytes (where a BOM may be).
    started: bool,
    /// A field line has been seen since the last dispatch.
    pending: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `bytes`, calling `on_event` for each event completed; stops when it breaks.
    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        mut on_event: impl FnMut(SseEvent) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if !self.started {
            let bom = b"\xEF\xBB\xBF";
            let seen = self.line.len() + bytes.len();
            if seen < bom.len() && bom.starts_with(&[&self.line[..], bytes].concat()) {
                self.line.extend_from_slice(bytes);
                return ControlFlow::Continue(());
            }
            self.started = true;
            let mut head = std::mem::take(&mut self.line);
            head.extend_from_slice(bytes);
            let rest = head.strip_prefix(bom).unwrap_or(&head).to_vec();
            return self.feed(&rest, on_event);
        }
        if self.after_cr && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        self.after_cr = false;
        while let Some(end) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            let line = if self.line.is_empty() {
                &bytes[..end]
            } else {
                self.line.extend_from_slice(&bytes[..end]);
                &self.line[..]
            };
            let line = String::from_utf8_lossy(line).into_owned();
            self.line.clear();
            if bytes[end] == b'\r' {
                match bytes.get(end + 1) {
                    Some(b'\n') => bytes = &bytes[end + 2..],
                    Some(_) => bytes = &bytes[end + 1..],
                    None => {
                        self.after_cr = true;
                        bytes = &[];
                    }
                }
            } else {
                bytes = &bytes[end + 1..];
            }
            if let Some(event) = self.line_done(&line) {
                on_event(event)?;
            }
        }
        self.line.extend_from_slice(bytes);
        ControlFlow::Continue(())
    }

    /// True when the stream so far ends inside an event (fields or a line not yet dispatched):
    /// a stream cut there lost that event.
    pub fn has_partial(&self) -> bool {
        self.pending || !self.line.is_empty()
    }

    fn line_done(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            self.pending = false;
            let retry = self.retry.take();
            if self.data.is_empty() {
                self.event.clear();
                return None;
            }
            let mut data = std::mem::take(&mut self.data);
            if data.ends_with('\n') {
                data.pop();
            }
            let event = std::mem::take(&mut self.event);
            return Some(SseEvent {
                event: if event.is_empty() {
                    "message".into()
                } else {
                    event
                },
                data,
                id: self.id.clone(),
                retry,
            });
        }
        if line.starts_with(':') {
            return None;
        }
        self.pending = true;
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(stream: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for part in stream.chunks(piece) {
            let _ = p.feed(part, |e| {
                out.push(e);
                ControlFlow::Continue(())
            });
        }
        out
    }

    #[test]
    fn events_split_on_blank_lines_with_data_lines_joined() {
        let stream =
            b"\xEF\xBB\xBF: a comment\r\nevent: add\r\ndata: one\r\ndata:two\r\nid: 7\r\n\r\n\
data: x\rdata\r\r: only a comment\n\ndata: cut";
        for piece in [1, 2, 3, 7, stream.len()] {
            let events = parse_in_pieces(stream, piece);
            assert_eq!(events.len(), 2, "piece {piece}: {events:?}");
            assert_eq!(events[0].event, "add");
            assert_eq!(events[0].data, "one\ntwo");
            assert_eq!(events[0].id.as_deref(), Some("7"));
            // A bare `data` field appends an empty line; the id persists.
            assert_eq!(events[1].event, "message");
            assert_eq!(events[1].data, "x\n");
            assert_eq!(events[1].id.as_deref(), Some("7"));
        }
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_and_a_cut_is_seen() {
        let mut p = SseParser::new();
        let mut n = 0;
        let _ = p.feed(b"event: ping\n\nretry: 10\n\n", |_| {
            n += 1;
            ControlFlow::Continue(())
        });
        assert_eq!(n, 0);
        assert!(!p.has_partial());
        let _ = p.feed(b"data: {\"a\"", |_| ControlFlow::Continue(()));
        assert!(p.has_partial());
    }

    #[test]
    fn breaking_stops_at_that_event() {
        let mut p = SseParser::new();
        let mut seen = Vec::new();
        let flow = p.feed(b"data: 1\n\ndata: [DONE]\n\ndata: 3\n\n", |e| {
            seen.push(e.data.clone());
            if e.data == "[DONE]" {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert!(flow.is_break());
        assert_eq!(seen, ["1", "[DONE]"]);
    }
}
