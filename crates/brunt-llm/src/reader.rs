//! The stream reader: reads one answer (an OpenAI event stream, or a whole JSON answer) as it
//! arrives, stamps the chunks that carry content, and says what the request measured or why it
//! failed.

use crate::ratelimit::Headroom;
use brunt_http::{BodySink, ErrorCode, Response, SseEvent, SseParser};
use http::HeaderMap;
use serde_json::Value;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;
use tokenizers::Tokenizer;

/// Most bytes of a whole (not streamed) answer kept to read it.
const MAX_WHOLE: usize = 16 << 20;

/// Why a request counts as failed; [`cause`](Failure::cause) is the `outcome` tag.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A status other than 200 and 429, with the error message of its body when it has one.
    Status(u16, String),
    /// 429 Too Many Requests (counted apart from the other failures).
    RateLimited,
    /// The connection closed or broke after the stream had begun.
    StreamCut(String),
    /// The per-request timeout ran out.
    Timeout,
    /// No connection or no response (refused, reset, DNS).
    Connection(String),
    /// A chunk that is not JSON.
    Malformed(String),
    /// Status 200 with an `error` object.
    ErrorObject(String),
    /// A streaming request answered without `text/event-stream`.
    NotAStream,
    /// The stream ended without `data: [DONE]`.
    NoDone,
    /// The answer carried no content.
    NoToken,
}

impl Failure {
    pub fn cause(&self) -> &'static str {
        match self {
            Failure::Status(..) => "http_status",
            Failure::RateLimited => "rate_limited",
            Failure::StreamCut(_) => "stream_cut",
            Failure::Timeout => "timeout",
            Failure::Connection(_) => "connection",
            Failure::Malformed(_) => "malformed_chunk",
            Failure::ErrorObject(_) => "error_object",
            Failure::NotAStream => "not_a_stream",
            Failure::NoDone => "no_done",
            Failure::NoToken => "no_token",
        }
    }

    /// A line for the summary.
    pub fn describe(&self) -> String {
        match self {
            Failure::Status(s, m) if m.is_empty() => format!("HTTP {s}"),
            Failure::Status(s, m) => format!("HTTP {s}: {m}"),
            Failure::RateLimited => "HTTP 429: rate limited".into(),
            Failure::StreamCut(e) => format!("stream cut: {e}"),
            Failure::Timeout => "timeout".into(),
            Failure::Connection(e) => format!("connection: {e}"),
            Failure::Malformed(e) => format!("malformed chunk: {e}"),
            Failure::ErrorObject(m) => format!("200 with an error object: {m}"),
            Failure::NotAStream => "asked for a stream, got a whole answer".into(),
            Failure::NoDone => "stream ended without [DONE]".into(),
            Failure::NoToken => "no token received".into(),
        }
    }
}

/// Where a request's output token count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// The server's `usage` (the last one seen).
    Usage,
    /// The answer's text encoded with `--tokenizer` (no usage was sent).
    Tokenizer,
    /// One token per content chunk (no usage was sent, no tokenizer given).
    Chunks,
}

/// Loads `--tokenizer FILE`, a Hugging Face `tokenizer.json`.
pub fn load_tokenizer(path: &std::path::Path) -> anyhow::Result<Arc<Tokenizer>> {
    Tokenizer::from_file(path)
        .map(Arc::new)
        .map_err(|e| anyhow::anyhow!("--tokenizer {}: cannot load it: {e}", path.display()))
}

/// The tokens of `text` as `tokenizer` encodes it (no special tokens added); none when it fails.
pub fn count_tokens(tokenizer: &Tokenizer, text: &str) -> Option<u64> {
    tokenizer.encode(text, false).ok().map(|e| e.len() as u64)
}

/// What one request measured, in milliseconds.
#[derive(Debug, Clone)]
pub struct Measured {
    pub failure: Option<Failure>,
    /// The response's status (0 when none came).
    pub status: u16,
    /// The answer's text: the content chunks joined, or the whole answer's message.
    pub text: String,
    /// Content chunks received (1 for a whole answer with content).
    pub chunks: u64,
    /// Send to the first chunk carrying content (streams only).
    pub ttft_ms: Option<f64>,
    pub e2e_ms: f64,
    /// Gaps between content chunks, each divided by its chunk's tokens.
    pub itl_ms: Vec<f64>,
    /// Gaps between content chunks as they arrived (not divided), for `--metrics-compat`.
    pub chunk_gaps_ms: Vec<f64>,
    /// Send to the last chunk carrying content (streams only).
    pub last_token_ms: Option<f64>,
    pub output_tokens: u64,
    pub input_tokens: Option<u64>,
    pub source: TokenSource,
    /// What the response's headers said of the rate limits.
    pub headroom: Headroom,
}

impl Measured {
    /// (e2e - ttft) / (output tokens - 1); none for a single token or a whole answer.
    pub fn tpot_ms(&self) -> Option<f64> {
        let ttft = self.ttft_ms?;
        (self.output_tokens > 1).then(|| (self.e2e_ms - ttft) / (self.output_tokens - 1) as f64)
    }
}

/// Reads one answer; give it to `Client::send_streaming`, then call [`finish`](Self::finish).
pub struct StreamReader {
    sent: Instant,
    stream: bool,
    status: u16,
    is_sse: bool,
    parser: SseParser,
    whole: Vec<u8>,
    /// Arrival of each content chunk, with the running completion tokens when usage said.
    content: Vec<(Instant, Option<u64>)>,
    text: String,
    usage: Option<(Option<u64>, u64)>,
    done: Option<Instant>,
    failure: Option<Failure>,
    headroom: Headroom,
    tokenizer: Option<Arc<Tokenizer>>,
}

impl StreamReader {
    /// `sent`: when the request began; `stream`: whether it asked for a stream.
    pub fn new(sent: Instant, stream: bool) -> Self {
        StreamReader {
            sent,
            stream,
            status: 0,
            is_sse: false,
            parser: SseParser::new(),
            whole: Vec::new(),
            content: Vec::new(),
            text: String::new(),
            usage: None,
            done: None,
            failure: None,
            headroom: Headroom::default(),
            tokenizer: None,
        }
    }

    /// Counts the output tokens with `tokenizer` when the server sends no usage.
    pub fn counting_with(mut self, tokenizer: Option<Arc<Tokenizer>>) -> Self {
        self.tokenizer = tokenizer;
        self
    }

    fn on_event(&mut self, at: Instant, e: SseEvent) -> ControlFlow<()> {
        if e.data == "[DONE]" {
            self.done = Some(at);
            return ControlFlow::Break(());
        }
        let chunk: Value = match serde_json::from_str(&e.data) {
            Ok(v) => v,
            Err(err) => {
                self.failure = Some(Failure::Malformed(format!("{err} in {:?}", clip(&e.data))));
                return ControlFlow::Break(());
            }
        };
        if let Some(error) = chunk.get("error") {
            self.failure = Some(Failure::ErrorObject(error_message(error)));
            return ControlFlow::Break(());
        }
        self.read_usage(&chunk);
        let choice = chunk.pointer("/choices/0");
        let text = choice
            .and_then(|c| c.pointer("/delta/content").or_else(|| c.get("text")))
            .and_then(Value::as_str);
        if let Some(t) = text.filter(|t| !t.is_empty()) {
            self.text.push_str(t);
            let running = self
                .usage
                .map(|(_, c)| c)
                .filter(|_| chunk["usage"].is_object());
            self.content.push((at, running));
        }
        ControlFlow::Continue(())
    }

    fn read_usage(&mut self, doc: &Value) {
        if let Some(u) = doc.get("usage").filter(|u| u.is_object()) {
            if let Some(c) = u.get("completion_tokens").and_then(Value::as_u64) {
                let p = u.get("prompt_tokens").and_then(Value::as_u64);
                self.usage = Some((p, c));
            }
        }
    }

    /// What the request measured, given the response `send_streaming` returned.
    pub fn finish(mut self, resp: &Response) -> Measured {
        let end = self.done.unwrap_or_else(Instant::now);
        let e2e_ms = ms(self.sent, end);
        if self.failure.is_none() {
            self.failure = self.judge(resp);
        }
        let chunks = self.content.len() as u64;
        let encoded = match (&self.usage, &self.tokenizer) {
            (None, Some(t)) if chunks > 0 => count_tokens(t, &self.text),
            _ => None,
        };
        let (source, output_tokens) = match (self.usage, encoded) {
            (Some((_, c)), _) => (TokenSource::Usage, c),
            (None, Some(n)) => (TokenSource::Tokenizer, n),
            (None, None) => (TokenSource::Chunks, chunks),
        };
        // Tokens per chunk: the running usage where the server sent it with each chunk, else the
        // total spread evenly over the chunks.
        let even = if chunks > 0 {
            output_tokens as f64 / chunks as f64
        } else {
            1.0
        };
        let itl_ms = self
            .content
            .windows(2)
            .map(|w| {
                let tokens = match (w[0].1, w[1].1) {
                    (Some(a), Some(b)) if b > a => (b - a) as f64,
                    _ => even.max(1.0),
                };
                ms(w[0].0, w[1].0) / tokens
            })
            .collect();
        let stamps = || self.content.iter().filter(|_| self.stream);
        Measured {
            failure: self.failure,
            status: resp.status,
            text: self.text,
            chunks,
            // A whole answer's one "chunk" is the answer's end: no TTFT.
            ttft_ms: stamps().next().map(|(at, _)| ms(self.sent, *at)),
            last_token_ms: stamps().next_back().map(|(at, _)| ms(self.sent, *at)),
            chunk_gaps_ms: self
                .content
                .windows(2)
                .map(|w| ms(w[0].0, w[1].0))
                .collect(),
            e2e_ms,
            itl_ms,
            output_tokens,
            input_tokens: self.usage.and_then(|(p, _)| p),
            source,
            headroom: self.headroom,
        }
    }

    fn judge(&mut self, resp: &Response) -> Option<Failure> {
        if resp.status == 0 {
            let error = resp.error.clone().unwrap_or_default();
            return Some(if resp.error_code == ErrorCode::REQUEST_TIMEOUT {
                Failure::Timeout
            } else if self.status != 0 {
                Failure::StreamCut(error)
            } else {
                Failure::Connection(error)
            });
        }
        if resp.status == 429 {
            return Some(Failure::RateLimited);
        }
        let whole: Option<Value> = (!self.is_sse)
            .then(|| serde_json::from_slice(&self.whole).ok())
            .flatten();
        if let Some(error) = whole.as_ref().and_then(|w| w.get("error")) {
            let message = error_message(error);
            return Some(if resp.status == 200 {
                Failure::ErrorObject(message)
            } else {
                Failure::Status(resp.status, message)
            });
        }
        if resp.status != 200 {
            return Some(Failure::Status(resp.status, String::new()));
        }
        if self.stream {
            if !self.is_sse {
                return Some(Failure::NotAStream);
            }
            if self.done.is_none() {
                return Some(if self.parser.has_partial() {
                    Failure::StreamCut("the stream ended inside an event".into())
                } else {
                    Failure::NoDone
                });
            }
        } else {
            let Some(doc) = whole else {
                return Some(Failure::Malformed(format!(
                    "the answer is not JSON: {:?}",
                    clip(&String::from_utf8_lossy(&self.whole))
                )));
            };
            self.read_usage(&doc);
            let text = doc
                .pointer("/choices/0/message/content")
                .or_else(|| doc.pointer("/choices/0/text"))
                .and_then(Value::as_str);
            if let Some(t) = text.filter(|t| !t.is_empty()) {
                self.text.push_str(t);
                self.content.push((Instant::now(), None));
            }
        }
        if self.content.is_empty() {
            return Some(Failure::NoToken);
        }
        None
    }
}

impl BodySink for StreamReader {
    fn head(&mut self, status: u16, headers: &HeaderMap) {
        self.status = status;
        self.headroom = Headroom::read(headers);
        self.is_sse = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
    }

    fn data(&mut self, at: Instant, bytes: &[u8]) -> ControlFlow<()> {
        if !self.is_sse {
            if self.whole.len() + bytes.len() > MAX_WHOLE {
                return ControlFlow::Break(());
            }
            self.whole.extend_from_slice(bytes);
            return ControlFlow::Continue(());
        }
        let mut parser = std::mem::take(&mut self.parser);
        let flow = parser.feed(bytes, |e| self.on_event(at, e));
        self.parser = parser;
        flow
    }
}

fn error_message(error: &Value) -> String {
    error
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| error.to_string(), str::to_string)
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

fn ms(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1000.0
}
