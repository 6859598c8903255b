//! The native side of `brunt/llm`: one OpenAI-compatible request (chat or completions), read as
//! it streams by brunt-llm's reader, its `llm_*` metrics recorded with the script's tags exactly
//! as `brunt llm` records them (docs/llm.md), and the answer with its measures returned.

use super::sse::{build_request, stream_op, tag_pairs, SharedSink, StreamOp, StreamReply};
use super::{def, throw};
use crate::host::Host;
use brunt_llm::{Api, LlmMetrics, Measured, Prompt, RequestSpec, StreamReader, TokenSource};
use rquickjs::function::Opt;
use rquickjs::{Ctx, Object, Result, Value};
use serde_json::{json, Value as Json};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A stream's timeout unless the call gives one (as `brunt llm --timeout`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let metrics = LlmMetrics::register(&host.shared.registry)
        .map_err(|e| throw(ctx, &format!("brunt/llm: {e}")))?;
    let h = host.clone();
    def(
        ctx,
        native,
        "request",
        move |ctx: Ctx<'js>,
              api: String,
              spec: String,
              headers: Option<Object<'js>>,
              timeout: Option<Value<'js>>,
              tags: Opt<Option<Object<'js>>>|
              -> Result<Object<'js>> {
            let (api, what) = match api.as_str() {
                "chat" => (Api::Chat, "llm.chat"),
                _ => (Api::Completions, "llm.complete"),
            };
            let err = |m: String| throw(&ctx, &format!("{what}: {m}"));
            let spec: Json = serde_json::from_str(&spec).map_err(|e| err(e.to_string()))?;
            let field = |name: &str| spec.get(name).filter(|v| !v.is_null());
            let url = field("url")
                .and_then(Json::as_str)
                .ok_or_else(|| err("'url' is required".into()))?;
            let model = field("model")
                .and_then(Json::as_str)
                .ok_or_else(|| err("'model' is required".into()))?;
            let prompt = match api {
                Api::Chat => match field("messages") {
                    Some(m @ Json::Array(_)) => Prompt::Messages(m.clone()),
                    _ => return Err(err("'messages' must be an array".into())),
                },
                Api::Completions => match field("prompt") {
                    Some(Json::String(p)) => Prompt::Text(p.clone()),
                    _ => return Err(err("'prompt' must be a string".into())),
                },
            };
            let max_tokens = match field("max_tokens") {
                None => None,
                Some(n) => Some(
                    n.as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| err(format!("'max_tokens' {n} is not a whole number")))?,
                ),
            };
            // The header and timeout checks of sse.open, on a request built only to check them.
            let probe = build_request(&ctx, what, "POST", url, None, headers, timeout)?;
            let request_spec = RequestSpec {
                url: RequestSpec::endpoint(url, api),
                api,
                model: model.to_string(),
                stream: field("stream").and_then(Json::as_bool).unwrap_or(true),
                max_tokens,
                ignore_eos: field("ignore_eos").and_then(Json::as_bool).unwrap_or(false),
                headers: probe
                    .headers()
                    .iter()
                    .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
                    .collect(),
                timeout: probe.timeout.unwrap_or(DEFAULT_TIMEOUT),
            };
            let req = request_spec
                .request(&prompt)
                .map_err(|e| err(e.to_string()))?;
            let reader = Rc::new(RefCell::new(StreamReader::new(
                Instant::now(),
                request_spec.stream,
            )));
            let sink = Box::new(SharedSink(reader.clone()));
            let StreamReply::Whole(resp) =
                stream_op(&ctx, &h, StreamOp::Whole(Rc::new(req), sink))?
            else {
                return Err(err("the stream driver answered another request".into()));
            };
            let reader = reader.replace(StreamReader::new(Instant::now(), false));
            let measured = reader.finish(&resp);
            let tags = h.base_tags().with(tag_pairs(tags.0.flatten())?);
            metrics.record(&mut h.metrics.borrow_mut(), &tags, &measured, false);
            ctx.json_parse(result(&measured).to_string())?
                .into_object()
                .ok_or_else(|| err("no result".into()))
        },
    )
}

/// What the script gets back: `{status, text, usage, ttft, tpot, itl, e2e, chunks, error}`.
fn result(m: &Measured) -> Json {
    let usage = (m.source == TokenSource::Usage)
        .then(|| json!({"prompt_tokens": m.input_tokens, "completion_tokens": m.output_tokens}));
    json!({
        "status": m.status,
        "text": m.text,
        "usage": usage,
        "ttft": m.ttft_ms,
        "tpot": m.tpot_ms(),
        "itl": m.itl_ms,
        "e2e": m.e2e_ms,
        "chunks": m.chunks,
        "output_tokens": m.output_tokens,
        "error": m.failure.as_ref().map(|f| f.describe()),
        "error_cause": m.failure.as_ref().map(|f| f.cause()),
    })
}
