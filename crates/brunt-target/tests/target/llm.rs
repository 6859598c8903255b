//! The mock LLM: OpenAI's shapes, streamed and whole, settings by header, faults, bad input.

use crate::client::{call, get};
use http::{Method, StatusCode};
use serde_json::Value;

fn target() -> brunt_target::Target {
    brunt_target::spawn("127.0.0.1:0".parse().unwrap()).expect("target starts")
}

/// The `data:` payloads of an event stream, in order.
fn events(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: ").map(str::to_string))
        .collect()
}

const FAST: &[(&str, &str)] = &[
    ("x-mock-ttft-ms", "1"),
    ("x-mock-tokens-per-second", "10000"),
];

/// A chat completion with `body`, the mock told to be fast.
async fn chat(t: &brunt_target::Target, body: &str) -> crate::client::Answer {
    call(
        t.local_addr(),
        Method::POST,
        "/v1/chat/completions",
        FAST,
        body,
    )
    .await
}

#[tokio::test]
async fn chat_streams_in_openai_chunks_with_usage_last() {
    let t = target();
    let body = r#"{"model":"m","messages":[{"role":"user","content":"three word prompt"}],
        "max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}"#;
    let a = chat(&t, body).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-type"), "text/event-stream");
    let ev = events(&a.body);
    assert_eq!(ev.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = ev[..ev.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["object"], "chat.completion.chunk");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "The quick brown fox jumps");
    // max_tokens capped the default 32: finish_reason says so.
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    assert!(finish["usage"].is_null());
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], serde_json::json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 3);
    assert_eq!(usage["usage"]["completion_tokens"], 5);
    assert_eq!(usage["usage"]["total_tokens"], 8);
}

#[tokio::test]
async fn metrics_say_how_late_the_streams_tokens_left() {
    let t = target();
    let body = r#"{"model":"m","messages":[],"max_tokens":5,"stream":true}"#;
    for _ in 0..2 {
        let a = chat(&t, body).await;
        assert_eq!(events(&a.body).last().unwrap(), "[DONE]");
    }
    let text = String::from_utf8_lossy(&get(t.local_addr(), "/metrics").await.body).into_owned();
    let first = "brunt_target_llm_first_token_lateness_seconds";
    let chunks = "brunt_target_llm_chunk_lateness_seconds";
    // Two streams: two first tokens, ten content chunks, each late by some (small) amount.
    assert!(text.contains(&format!("\n{first}_count 2\n")), "{text}");
    assert!(text.contains(&format!("\n{chunks}_count 10\n")), "{text}");
    for summary in [first, chunks] {
        assert!(
            text.contains(&format!("# TYPE {summary} summary\n")),
            "{text}"
        );
        let median = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{summary}{{quantile=\"0.5\"}} ")))
            .unwrap_or_else(|| panic!("no median of {summary} in {text}"));
        assert!(median.parse::<f64>().is_ok(), "{median}");
    }
}

#[tokio::test]
async fn completions_whole_and_chunked_with_usage_in_every_chunk() {
    let t = target();
    let body = r#"{"model":"m","prompt":"a b","max_tokens":4}"#;
    let a = call(t.local_addr(), Method::POST, "/v1/completions", FAST, body).await;
    let doc = a.json();
    assert_eq!(doc["object"], "text_completion");
    assert_eq!(doc["choices"][0]["text"], "The quick brown fox");
    assert_eq!(doc["usage"]["completion_tokens"], 4);

    let mut headers = FAST.to_vec();
    headers.extend([("x-mock-tokens-per-chunk", "3"), ("x-mock-usage", "every")]);
    let body = r#"{"model":"m","prompt":"a b","max_tokens":7,"stream":true,"stream_options":{"include_usage":true}}"#;
    let a = call(
        t.local_addr(),
        Method::POST,
        "/v1/completions",
        &headers,
        body,
    )
    .await;
    let ev = events(&a.body);
    let texts: Vec<String> = ev[..ev.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .filter_map(|c| c["choices"][0]["text"].as_str().map(str::to_string))
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(texts, ["The quick brown", " fox jumps over", " the"]);
    let first: Value = serde_json::from_str(&ev[0]).unwrap();
    assert_eq!(first["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn models_faults_and_bad_input() {
    let t = target();
    let models = get(t.local_addr(), "/v1/models").await;
    assert_eq!(models.json()["data"][0]["id"], "mock-model");

    let stream = r#"{"model":"m","messages":[],"stream":true}"#;
    let mut cut = FAST.to_vec();
    cut.push(("x-mock-fault", "no-done"));
    let a = call(
        t.local_addr(),
        Method::POST,
        "/v1/chat/completions",
        &cut,
        stream,
    )
    .await;
    assert!(!events(&a.body).contains(&"[DONE]".to_string()));
    let mut err = FAST.to_vec();
    err.push(("x-mock-fault", "error"));
    let a = call(
        t.local_addr(),
        Method::POST,
        "/v1/chat/completions",
        &err,
        stream,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(events(&a.body)[0].contains("\"error\""));

    let bad = [
        ("{not json", &[][..], "not JSON"),
        (r#"{"messages":[]}"#, &[][..], "'model' is required"),
        (stream, &[("x-mock-ttft-ms", "soon")][..], "x-mock-ttft-ms"),
        (stream, &[("x-mock-fault", "boom")][..], "x-mock-fault"),
    ];
    for (body, headers, says) in bad {
        let a = call(
            t.local_addr(),
            Method::POST,
            "/v1/chat/completions",
            headers,
            body,
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        let message = a.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains(says), "{message}");
    }
}
