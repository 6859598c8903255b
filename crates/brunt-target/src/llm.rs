//! The mock LLM server: OpenAI-compatible `/v1/chat/completions`, `/v1/completions` and
//! `/v1/models`, streaming (server-sent events in OpenAI's chunk shapes, `[DONE]` last) and
//! not, with a known time to first token, token rate, output length, jitter, chunking and usage
//! placement, so that load tests can be checked against the truth they measure. Each setting
//! has a `brunt target` flag (the server's default) and a request header that overrides it;
//! `x-mock-fault` makes a request misbehave in one of the ways clients must survive. Per-key
//! rate limits (`ratelimit.rs`) send OpenAI's headers and 429s; a cold request (the first, or one
//! after an idle period) waits an extra delay before its first token.
//!
//! Timing: the role chunk (no content) leaves at once; token `i` is due `ttft + i / rate` after
//! the request was read (each gap, and the TTFT, moved by a uniform draw within ±jitter); a chunk
//! of `k` tokens leaves when its last token is due, as a server flushes what it has generated
//! (so with `k > 1` the first content arrives `(k - 1) / rate` after the TTFT setting). Output length is
//! `min(output tokens, max_tokens)`, or `max_tokens` with `ignore_eos`. A prompt's tokens are its
//! whitespace-separated words. Events leave on the server's token clock (`brunt-clock`, tens of
//! microseconds late), and how late they left is in `/metrics` (`lateness.rs`).

mod lateness;

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::{Args, ValueEnum};
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Method, Response, StatusCode};
use hyper::body::{Body, Frame};
use rand::Rng;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::ratelimit::{self, Budgets, Limits};
use crate::response;
use crate::routes::Received;
use brunt_clock::{Alarm, Clock};
use lateness::Lateness;

/// The words the mock generates, one token each, in turn.
const VOCABULARY: [&str; 10] = [
    "The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".",
];

/// Where usage goes in a stream that asked for it (`stream_options.include_usage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UsagePlacement {
    /// As OpenAI: a last chunk with empty `choices` and the usage; `usage: null` before it.
    Last,
    /// As servers with continuous usage stats: the running usage in every chunk, and the last.
    Every,
    /// As servers that ignore `include_usage`: no usage in the stream at all.
    None,
}

/// The mock's behaviour; [`MockLlm::default`] unless `brunt target`'s flags say otherwise.
#[derive(Debug, Clone, Args)]
pub struct MockLlm {
    /// Mock LLM: time to first token in milliseconds (header x-mock-ttft-ms).
    /// Example: --llm-ttft-ms 200
    #[arg(long, default_value_t = 50, value_name = "MS")]
    pub llm_ttft_ms: u64,

    /// Mock LLM: output tokens per second after the first (header x-mock-tokens-per-second).
    /// Example: --llm-tokens-per-second 40
    #[arg(long, default_value_t = 100.0, value_name = "N", value_parser = positive_rate)]
    pub llm_tokens_per_second: f64,

    /// Mock LLM: output tokens per answer, capped by the request's max_tokens
    /// (header x-mock-output-tokens). Example: --llm-output-tokens 256
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub llm_output_tokens: u32,

    /// Mock LLM: each gap and the TTFT move by up to this many milliseconds either way
    /// (header x-mock-jitter-ms). Example: --llm-jitter-ms 5
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub llm_jitter_ms: u64,

    /// Mock LLM: tokens per streamed chunk (header x-mock-tokens-per-chunk). Example: 4
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub llm_tokens_per_chunk: u32,

    /// Mock LLM: where usage goes in a stream that asks for it (header x-mock-usage)
    #[arg(long, value_enum, default_value_t = UsagePlacement::Last, value_name = "WHERE")]
    pub llm_usage: UsagePlacement,

    /// Mock LLM: requests per minute per API key, with OpenAI's x-ratelimit-* headers and 429
    /// with retry-after beyond it (header x-mock-ratelimit-requests). Example: 60
    #[arg(long, value_name = "N")]
    pub llm_ratelimit_requests: Option<u32>,

    /// Mock LLM: tokens (prompt and output) per minute per API key, as above
    /// (header x-mock-ratelimit-tokens). Example: 10000
    #[arg(long, value_name = "N")]
    pub llm_ratelimit_tokens: Option<u32>,

    /// Mock LLM: extra time to first token of a cold request: the first one, or one after
    /// --llm-cold-after-ms with no answer in flight (header x-mock-cold-start-ms). Example: 2000
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub llm_cold_start_ms: u64,

    /// Mock LLM: idle time (no answer in flight) after which the next request is cold
    /// (header x-mock-cold-after-ms)
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    pub llm_cold_after_ms: u64,
}

impl Default for MockLlm {
    fn default() -> Self {
        MockLlm {
            llm_ttft_ms: 50,
            llm_tokens_per_second: 100.0,
            llm_output_tokens: 32,
            llm_jitter_ms: 0,
            llm_tokens_per_chunk: 1,
            llm_usage: UsagePlacement::Last,
            llm_ratelimit_requests: None,
            llm_ratelimit_tokens: None,
            llm_cold_start_ms: 0,
            llm_cold_after_ms: 60_000,
        }
    }
}

/// The mock with what it keeps between requests: the rate-limit budgets, when the last
/// answer ends (to tell a cold request), the token clock and how late its tokens left.
#[derive(Debug)]
pub(crate) struct Mock {
    config: MockLlm,
    budgets: Budgets,
    /// When the last answer given so far ends (streamed or not).
    last_request: std::sync::Mutex<Option<Instant>>,
    clock: Arc<Clock>,
    lateness: Arc<Lateness>,
}

impl Mock {
    pub(crate) fn new(config: MockLlm) -> Self {
        Mock {
            config,
            budgets: Budgets::default(),
            last_request: std::sync::Mutex::new(None),
            clock: Arc::new(Clock::new("brunt-mock-clock")),
            lateness: Arc::new(Lateness::new()),
        }
    }

    /// The Prometheus text of how late the streams' tokens left (`/metrics`).
    pub(crate) fn lateness(&self) -> String {
        self.lateness.render()
    }

    /// Notes a request arriving at `now` that will stream for `answer_time`, and returns its
    /// extra delay: `cold_start` when the server was idle (no request in flight) for
    /// `cold_after` or has had none yet, else zero.
    fn arrive(
        &self,
        now: Instant,
        cold_after: Duration,
        cold_start: Duration,
        answer_time: Duration,
    ) -> Duration {
        let mut last = self.last_request.lock().unwrap_or_else(|e| e.into_inner());
        let cold = last.is_none_or(|l| now.saturating_duration_since(l) >= cold_after);
        let extra = if cold { cold_start } else { Duration::ZERO };
        let end = now + extra + answer_time;
        *last = Some(last.map_or(end, |l| l.max(end)));
        extra
    }
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "'{s}' is not a positive number of tokens per second"
        )),
    }
}

/// A way for one request to misbehave (`x-mock-fault`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The connection is cut after half the content chunks, mid-body.
    Cut,
    /// The stream ends without `data: [DONE]`.
    NoDone,
    /// The middle content chunk is not JSON.
    Malformed,
    /// Status 200 with an OpenAI error object as the body (or the only event).
    Error,
    /// A whole JSON answer although the request asked for a stream.
    NoStream,
    /// The role chunk and the first token, then nothing: the stream never ends.
    Hang,
    /// No content at all: the role chunk, then `finish_reason`.
    Empty,
}

impl Fault {
    fn parse(s: &str) -> Option<Fault> {
        Some(match s {
            "cut" => Fault::Cut,
            "no-done" => Fault::NoDone,
            "malformed" => Fault::Malformed,
            "error" => Fault::Error,
            "no-stream" => Fault::NoStream,
            "hang" => Fault::Hang,
            "empty" => Fault::Empty,
            _ => return None,
        })
    }
}

/// The body of an answer: held in memory, or a token stream on its schedule.
pub(crate) type AnswerBody = http_body_util::Either<http_body_util::Full<Bytes>, TokenStream>;

/// Which API a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Chat,
    Completions,
}

/// One request's settings, the server's overridden by its headers.
struct Plan {
    ttft: Duration,
    gap: Duration,
    jitter: Duration,
    per_chunk: u32,
    usage: UsagePlacement,
    output: u32,
    fault: Option<Fault>,
}

/// Answers `/v1/...`; `None` for paths that are not the mock's.
pub(crate) async fn handle(req: &Received, mock: &Mock) -> Option<Response<AnswerBody>> {
    let api = match req.parts.uri.path() {
        "/v1/models" => return Some(full(models(req))),
        "/v1/chat/completions" => Api::Chat,
        "/v1/completions" => Api::Completions,
        _ => return None,
    };
    if req.parts.method != Method::POST {
        return Some(full(response::method_not_allowed("POST")));
    }
    let start = Instant::now();
    Some(match answer(req, mock, api, start).await {
        Ok(reply) => reply,
        Err(message) => full(openai_error(StatusCode::BAD_REQUEST, &message)),
    })
}

fn full(reply: response::Reply) -> Response<AnswerBody> {
    reply.map(http_body_util::Either::Left)
}

fn models(req: &Received) -> response::Reply {
    if req.parts.method != Method::GET {
        return response::method_not_allowed("GET");
    }
    response::json(
        StatusCode::OK,
        &json!({"object": "list", "data": [{"id": "mock-model", "object": "model", "created": 0, "owned_by": "brunt"}]}),
    )
}

/// OpenAI's error shape.
fn openai_error(status: StatusCode, message: &str) -> response::Reply {
    response::json(
        status,
        &json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

async fn answer(
    req: &Received,
    mock: &Mock,
    api: Api,
    start: Instant,
) -> Result<Response<AnswerBody>, String> {
    let config = &mock.config;
    let headers = &req.parts.headers;
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| format!("the request body is not JSON: {e}"))?;
    let mut plan = plan(headers, config, &body)?;
    let cold_after = Duration::from_millis(
        header(headers, "x-mock-cold-after-ms")?.unwrap_or(config.llm_cold_after_ms),
    );
    let cold_start: u64 =
        header(headers, "x-mock-cold-start-ms")?.unwrap_or(config.llm_cold_start_ms);
    plan.ttft += mock.arrive(
        start,
        cold_after,
        Duration::from_millis(cold_start),
        plan.ttft + plan.gap * plan.output,
    );
    body.get("model")
        .and_then(Value::as_str)
        .ok_or("'model' is required")?;
    let prompt_tokens = match api {
        Api::Chat => chat_prompt_words(&body)?,
        Api::Completions => match body.get("prompt") {
            Some(Value::String(p)) => words(p),
            _ => return Err("'prompt' is required and must be a string".into()),
        },
    };
    let limits = Limits {
        requests: header(headers, "x-mock-ratelimit-requests")?.or(config.llm_ratelimit_requests),
        tokens: header(headers, "x-mock-ratelimit-tokens")?.or(config.llm_ratelimit_tokens),
    };
    let verdict = (limits.requests.is_some() || limits.tokens.is_some()).then(|| {
        mock.budgets.charge(
            &ratelimit::key(headers),
            limits,
            prompt_tokens + plan.output,
            start.into_std(),
        )
    });
    let limit_headers = verdict.as_ref().map_or(&[][..], |v| &v.headers[..]);
    if let Some(secs) = verdict.as_ref().and_then(|v| v.retry_after) {
        let mut reply = full(response::json(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"error": {"message": format!("Rate limit reached for the mock's budget; try again in {secs}s."), "type": "requests", "param": null, "code": "rate_limit_exceeded"}}),
        ));
        add_headers(&mut reply, limit_headers);
        add_headers(&mut reply, &[("retry-after", secs.to_string())]);
        return Ok(reply);
    }
    let mut reply = respond(headers, mock, &body, api, plan, prompt_tokens, start).await?;
    add_headers(&mut reply, limit_headers);
    Ok(reply)
}

fn add_headers(reply: &mut Response<AnswerBody>, headers: &[(&'static str, String)]) {
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            reply.headers_mut().insert(*name, v);
        }
    }
}

/// The answer to a request that got past the rate limits.
async fn respond(
    headers: &HeaderMap,
    mock: &Mock,
    body: &Value,
    api: Api,
    plan: Plan,
    prompt_tokens: u32,
    start: Instant,
) -> Result<Response<AnswerBody>, String> {
    let config = &mock.config;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .ok_or("'model' is required")?
        .to_string();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let capped = plan.output < requested_output(config, headers, body)?;
    let answer = Answer {
        api,
        id: format!(
            "{}-mock{}",
            if api == Api::Chat { "chatcmpl" } else { "cmpl" },
            start.elapsed().subsec_nanos()
        ),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        model,
        prompt_tokens,
        finish: if capped { "length" } else { "stop" },
    };
    let schedule = token_times(&plan, start);
    if plan.fault == Some(Fault::Error) {
        let error = json!({"error": {"message": "the mock was told to fail (x-mock-fault: error)", "type": "server_error", "param": null, "code": "mock_error"}});
        return Ok(if stream {
            sse(TokenStream::new(
                VecDeque::from([(start + plan.ttft, event(&error), Kind::Other)]),
                End::Finish,
                mock,
            ))
        } else {
            full(response::json(StatusCode::OK, &error))
        });
    }
    if !stream || plan.fault == Some(Fault::NoStream) {
        if let Some(last) = schedule.last() {
            tokio::time::sleep_until(*last).await;
        }
        return Ok(full(response::json(
            StatusCode::OK,
            &answer.whole(plan.output),
        )));
    }
    Ok(sse(answer.stream(
        &plan,
        &schedule,
        include_usage,
        start,
        mock,
    )))
}

/// The output length the request would get without the cap of `max_tokens`.
fn requested_output(config: &MockLlm, headers: &HeaderMap, body: &Value) -> Result<u32, String> {
    let output = header(headers, "x-mock-output-tokens")?.unwrap_or(config.llm_output_tokens);
    Ok(if ignore_eos(body) {
        max_tokens(body).unwrap_or(output)
    } else {
        output
    })
}

fn ignore_eos(body: &Value) -> bool {
    body.get("ignore_eos")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn max_tokens(body: &Value) -> Option<u32> {
    body.get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .and_then(Value::as_u64)
        .map(|n| n.min(u32::MAX as u64) as u32)
}

fn plan(headers: &HeaderMap, config: &MockLlm, body: &Value) -> Result<Plan, String> {
    let ms = |name: &str, default: u64| -> Result<Duration, String> {
        Ok(Duration::from_millis(
            header(headers, name)?.unwrap_or(default),
        ))
    };
    let rate: f64 =
        header(headers, "x-mock-tokens-per-second")?.unwrap_or(config.llm_tokens_per_second);
    if !(rate > 0.0 && rate.is_finite()) {
        return Err("header x-mock-tokens-per-second: must be a positive number".into());
    }
    let per_chunk: u32 =
        header(headers, "x-mock-tokens-per-chunk")?.unwrap_or(config.llm_tokens_per_chunk);
    if per_chunk == 0 {
        return Err("header x-mock-tokens-per-chunk: must be at least 1".into());
    }
    let usage = match headers
        .get("x-mock-usage")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => config.llm_usage,
        Some("last") => UsagePlacement::Last,
        Some("every") => UsagePlacement::Every,
        Some("none") => UsagePlacement::None,
        Some(other) => {
            return Err(format!(
                "header x-mock-usage: '{other}' is not last, every or none"
            ))
        }
    };
    let fault = match headers.get("x-mock-fault").map(|v| v.to_str().unwrap_or("")) {
        None => None,
        Some(name) => Some(Fault::parse(name).ok_or_else(|| {
            format!("header x-mock-fault: '{name}' is not one of cut, no-done, malformed, error, no-stream, hang, empty")
        })?),
    };
    let mut output = requested_output(config, headers, body)?;
    if let Some(max) = max_tokens(body) {
        output = output.min(max);
    }
    if fault == Some(Fault::Empty) {
        output = 0;
    }
    Ok(Plan {
        ttft: ms("x-mock-ttft-ms", config.llm_ttft_ms)?,
        gap: Duration::from_secs_f64(1.0 / rate),
        jitter: ms("x-mock-jitter-ms", config.llm_jitter_ms)?,
        per_chunk,
        usage,
        output,
        fault,
    })
}

/// A header parsed as `T`, or an error naming it.
fn header<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Result<Option<T>, String> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| format!("header {name}: {:?} is not a valid number", v))
        })
        .transpose()
}

fn words(text: &str) -> u32 {
    text.split_whitespace().count() as u32
}

/// Words of every message's text (a string, or an array of `{"type": "text", "text": ...}`).
fn chat_prompt_words(body: &Value) -> Result<u32, String> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("'messages' is required and must be an array")?;
    let mut n = 0;
    for m in messages {
        match m.get("content") {
            Some(Value::String(s)) => n += words(s),
            Some(Value::Array(parts)) => {
                for p in parts {
                    n += p.get("text").and_then(Value::as_str).map_or(0, words);
                }
            }
            _ => {}
        }
    }
    Ok(n)
}

/// When each output token is due.
fn token_times(plan: &Plan, start: Instant) -> Vec<Instant> {
    let mut rng = rand::rng();
    let mut jitter = |d: Duration| -> Duration {
        if plan.jitter.is_zero() {
            return d;
        }
        let j = plan.jitter.as_secs_f64();
        Duration::from_secs_f64((d.as_secs_f64() + rng.random_range(-j..=j)).max(0.0))
    };
    let mut at = start + jitter(plan.ttft);
    let mut times = Vec::with_capacity(plan.output as usize);
    for i in 0..plan.output {
        if i > 0 {
            at += jitter(plan.gap);
        }
        times.push(at);
    }
    times
}

/// What every chunk of one answer shares.
struct Answer {
    api: Api,
    id: String,
    created: u64,
    model: String,
    prompt_tokens: u32,
    finish: &'static str,
}

fn text(from: u32, to: u32) -> String {
    (from..to)
        .map(|i| VOCABULARY[i as usize % VOCABULARY.len()])
        .collect()
}

impl Answer {
    fn usage(&self, completion: u32) -> Value {
        json!({"prompt_tokens": self.prompt_tokens, "completion_tokens": completion, "total_tokens": self.prompt_tokens + completion})
    }

    fn whole(&self, output: u32) -> Value {
        let choice = match self.api {
            Api::Chat => {
                json!({"index": 0, "message": {"role": "assistant", "content": text(0, output)}, "logprobs": null, "finish_reason": self.finish})
            }
            Api::Completions => {
                json!({"index": 0, "text": text(0, output), "logprobs": null, "finish_reason": self.finish})
            }
        };
        json!({"id": self.id, "object": if self.api == Api::Chat { "chat.completion" } else { "text_completion" },
            "created": self.created, "model": self.model, "choices": [choice], "usage": self.usage(output)})
    }

    /// What every chunk of the stream begins with, up to its `choices`.
    fn chunk_head(&self) -> String {
        let object = if self.api == Api::Chat {
            "chat.completion.chunk"
        } else {
            "text_completion"
        };
        format!(
            r#"{{"id":{},"object":"{object}","created":{},"model":{},"choices":["#,
            quoted(&self.id),
            self.created,
            quoted(&self.model)
        )
    }

    /// One streamed chunk as an event: `content` (none for the role chunk and the finish
    /// chunk), or no choice at all (`choices: []`, the usage chunk). Written out directly, not
    /// through a `Value`: a stream's events are all built when its request arrives, and a burst
    /// of requests waits for that.
    fn chunk(&self, head: &str, choice: Choice, usage: UsageField) -> Bytes {
        let finish = |f: Option<&str>| f.map_or_else(|| "null".to_string(), quoted);
        let choice = match (self.api, choice) {
            (_, Choice::None) => String::new(),
            (Api::Chat, Choice::Role) => r#"{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}"#.to_string(),
            (Api::Chat, Choice::Content(c)) => format!(
                r#"{{"index":0,"delta":{{"content":{}}},"logprobs":null,"finish_reason":null}}"#,
                quoted(c)
            ),
            (Api::Chat, Choice::Finish(f)) => format!(
                r#"{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":{}}}"#,
                finish(Some(f))
            ),
            (Api::Completions, c) => {
                let (text, f) = match c {
                    Choice::Content(t) => (t, None),
                    Choice::Finish(f) => ("", Some(f)),
                    _ => ("", None),
                };
                format!(
                    r#"{{"index":0,"text":{},"logprobs":null,"finish_reason":{}}}"#,
                    quoted(text),
                    finish(f)
                )
            }
        };
        let usage = match usage {
            UsageField::Absent => String::new(),
            UsageField::Null => r#","usage":null"#.to_string(),
            UsageField::Counts(done) => format!(r#","usage":{}"#, self.usage(done)),
        };
        Bytes::from(format!("data: {head}{choice}]{usage}}}\n\n"))
    }

    fn stream(
        &self,
        plan: &Plan,
        times: &[Instant],
        include_usage: bool,
        start: Instant,
        mock: &Mock,
    ) -> TokenStream {
        let usage_at = |done: u32| match (include_usage, plan.usage) {
            (true, UsagePlacement::Every) => UsageField::Counts(done),
            (true, UsagePlacement::Last) => UsageField::Null,
            (false, _) | (_, UsagePlacement::None) => UsageField::Absent,
        };
        let head = self.chunk_head();
        let mut events = VecDeque::new();
        if self.api == Api::Chat {
            events.push_back((
                start,
                self.chunk(&head, Choice::Role, usage_at(0)),
                Kind::Other,
            ));
        }
        let chunks: Vec<(u32, u32)> = (0..plan.output)
            .step_by(plan.per_chunk as usize)
            .map(|from| (from, (from + plan.per_chunk).min(plan.output)))
            .collect();
        let cut_after = chunks.len() / 2;
        let malformed_at = chunks.len() / 2;
        let mut last = start;
        for (n, &(from, to)) in chunks.iter().enumerate() {
            last = times[to as usize - 1];
            if plan.fault == Some(Fault::Cut) && n == cut_after {
                return TokenStream::new(events, End::Cut, mock);
            }
            if plan.fault == Some(Fault::Malformed) && n == malformed_at {
                events.push_back((
                    last,
                    Bytes::from_static(b"data: {\"id\": broken\n\n"),
                    Kind::Other,
                ));
                continue;
            }
            events.push_back((
                last,
                self.chunk(&head, Choice::Content(&text(from, to)), usage_at(to)),
                if n == 0 { Kind::First } else { Kind::Content },
            ));
            if plan.fault == Some(Fault::Hang) {
                return TokenStream::new(events, End::Never, mock);
            }
        }
        let last = times.last().copied().unwrap_or(start + plan.ttft).max(last);
        events.push_back((
            last,
            self.chunk(&head, Choice::Finish(self.finish), usage_at(plan.output)),
            Kind::Other,
        ));
        if include_usage && plan.usage != UsagePlacement::None {
            let tail = self.chunk(&head, Choice::None, UsageField::Counts(plan.output));
            events.push_back((last, tail, Kind::Other));
        }
        if plan.fault != Some(Fault::NoDone) {
            events.push_back((last, Bytes::from_static(b"data: [DONE]\n\n"), Kind::Other));
        }
        TokenStream::new(events, End::Finish, mock)
    }
}

/// The choice a streamed chunk carries.
#[derive(Debug, Clone, Copy)]
enum Choice<'a> {
    /// The assistant's role, no content (chat's first chunk).
    Role,
    Content(&'a str),
    /// The finish reason, no content.
    Finish(&'a str),
    /// `choices: []` (the usage chunk).
    None,
}

/// A chunk's `usage` field.
#[derive(Debug, Clone, Copy)]
enum UsageField {
    Absent,
    Null,
    /// The usage after this many output tokens.
    Counts(u32),
}

/// `s` as a JSON string.
fn quoted(s: &str) -> String {
    Value::from(s).to_string()
}

/// A JSON value as one server-sent event.
fn event(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

fn sse(stream: TokenStream) -> Response<AnswerBody> {
    let mut reply = Response::new(http_body_util::Either::Right(stream));
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    reply
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-cache"));
    reply
}

/// How a token stream ends once its events are out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Finish,
    /// The body fails, so the server aborts the connection mid-body.
    Cut,
    /// The body never ends.
    Never,
}

/// What an event carries, for the lateness report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The stream's first content chunk.
    First,
    /// A later content chunk.
    Content,
    /// No content: the role, the finish, usage, `[DONE]`, an error or a broken chunk.
    Other,
}

/// A streamed answer: events due at set instants, each sent when due (no task per stream; the
/// server's clock wakes it for its next event).
pub(crate) struct TokenStream {
    events: VecDeque<(Instant, Bytes, Kind)>,
    end: End,
    clock: Arc<Clock>,
    lateness: Arc<Lateness>,
    /// The alarm set on the clock for the next event.
    alarm: Option<Alarm>,
}

impl TokenStream {
    fn new(events: VecDeque<(Instant, Bytes, Kind)>, end: End, mock: &Mock) -> Self {
        TokenStream {
            events,
            end,
            clock: mock.clock.clone(),
            lateness: mock.lateness.clone(),
            alarm: None,
        }
    }
}

/// The error a cut stream ends with.
#[derive(Debug)]
pub(crate) struct StreamCut;

impl fmt::Display for StreamCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the mock cut the stream (x-mock-fault: cut)")
    }
}

impl std::error::Error for StreamCut {}

impl Body for TokenStream {
    type Data = Bytes;
    type Error = StreamCut;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamCut>>> {
        let Some(&(due, _, _)) = self.events.front() else {
            return match self.end {
                End::Finish => Poll::Ready(None),
                End::Cut => Poll::Ready(Some(Err(StreamCut))),
                End::Never => Poll::Pending,
            };
        };
        let this = &mut *self;
        if this
            .clock
            .poll_until(due.into_std(), &mut this.alarm, cx)
            .is_pending()
        {
            return Poll::Pending;
        }
        let now = Instant::now();
        let (_, bytes, kind) = self.events.pop_front().expect("an event is due");
        if kind != Kind::Other {
            self.lateness
                .record(due.into_std(), now.into_std(), kind == Kind::First);
        }
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }
}
