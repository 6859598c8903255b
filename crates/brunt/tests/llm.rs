//! `brunt llm` against the mock LLM of `brunt target`: the measured TTFT, TPOT and token counts
//! agree with what the mock was told, and every kind of bad answer is a failure with its cause.

mod common;

use common::{
    brunt, brunt_cmd, chaos, fails_with, fault_proxy, http_exchange, stderr, target_process,
};
use serde_json::Value;

fn mock() -> brunt_target::Target {
    brunt_target::spawn_with(
        "127.0.0.1:0".parse().unwrap(),
        brunt_target::MockLlm {
            llm_ttft_ms: 40,
            llm_tokens_per_second: 200.0,
            llm_output_tokens: 10,
            ..brunt_target::MockLlm::default()
        },
    )
    .unwrap()
}

/// Runs `brunt llm` with `extra` flags and returns its summary export.
fn run(target: &brunt_target::Target, extra: &[&str]) -> (Value, String) {
    let dir = std::env::temp_dir().join(format!(
        "brunt-llm-{}-{}",
        std::process::id(),
        extra.join("").len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let export = dir.join(format!(
        "{}.json",
        extra.join("_").replace(['/', ' ', ':'], "")
    ));
    let url = target.url("");
    let mut args = vec![
        "llm",
        &url,
        "--model",
        "mock-model",
        "-q",
        "--summary-export",
    ];
    let export_s = export.to_str().unwrap().to_string();
    args.push(&export_s);
    args.extend_from_slice(extra);
    let out = brunt(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}\n{stdout}", stderr(&out));
    let doc = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    (doc, stdout)
}

fn stat(doc: &Value, metric: &str, stat: &str) -> f64 {
    doc["metrics"][metric][stat]
        .as_f64()
        .unwrap_or_else(|| panic!("{metric} {stat} in {}", doc["metrics"][metric]))
}

/// The median of how late the mock sent its streams' first tokens so far, in ms (its `/metrics`).
fn mock_first_token_lateness_ms(target: &brunt_target::Target) -> f64 {
    let (_, text) = http_exchange(target.local_addr().port(), "GET", "/metrics", "").unwrap();
    text.lines()
        .find_map(|l| {
            l.strip_prefix("brunt_target_llm_first_token_lateness_seconds{quantile=\"0.5\"} ")
        })
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no first-token lateness in {text}"))
        * 1000.0
}

#[test]
fn ttft_and_tpot_match_the_mock_at_1_and_100_streams() {
    let target = mock();
    for (concurrency, requests) in [("1", "11"), ("100", "300")] {
        let (doc, stdout) = run(
            &target,
            &["--concurrency", concurrency, "--requests", requests],
        );
        let ttft = stat(&doc, "llm_ttft", "med");
        let tpot = stat(&doc, "llm_tpot", "med");
        let itl = stat(&doc, "llm_itl", "med");
        // One stream: TTFT within 2 ms of what the mock did, its setting and how late its clock
        // sent the first token (1 ms asked; a debug build on a busy shared machine). The median of
        // 11 leaves a few requests to the machine's scheduling hiccups. A hundred streams starting
        // at once queue for the CPU before the first token (45-69 ms measured here): only the
        // per-token gaps are held to 1 ms there.
        if concurrency == "1" {
            let late = mock_first_token_lateness_ms(&target);
            assert!(
                (ttft - 40.0 - late).abs() <= 2.0,
                "ttft p50 {ttft}, the mock {late} ms late"
            );
        }
        assert!(
            (tpot - 5.0).abs() <= 1.0,
            "{concurrency} streams: tpot p50 {tpot}"
        );
        assert!(
            (itl - 5.0).abs() <= 1.0,
            "{concurrency} streams: itl p50 {itl}"
        );
        let n: f64 = requests.parse().unwrap();
        assert_eq!(stat(&doc, "llm_output_tokens", "count"), 10.0 * n);
        assert_eq!(stat(&doc, "llm_input_tokens", "count"), 128.0 * n);
        assert_eq!(stat(&doc, "llm_requests", "count"), n);
        assert!(
            stdout.contains("output tokens counted: from the server's usage"),
            "{stdout}"
        );
    }
}

#[test]
fn max_tokens_chunks_and_usage_in_every_chunk_count_exactly() {
    let target = mock();
    let (doc, _) = run(
        &target,
        &[
            "--requests",
            "3",
            "--max-tokens",
            "7",
            "--api",
            "completions",
            "-H",
            "x-mock-tokens-per-chunk: 3",
            "-H",
            "x-mock-usage: every",
        ],
    );
    assert_eq!(stat(&doc, "llm_output_tokens", "count"), 21.0);
    // Three chunks of 3, 3 and 1 tokens: the gaps are per token (5 ms), whatever the chunk.
    let itl = stat(&doc, "llm_itl", "med");
    assert!((itl - 5.0).abs() <= 1.0, "itl p50 {itl}");
    let (doc, stdout) = run(
        &target,
        &["--requests", "2", "--no-stream", "--max-tokens", "4"],
    );
    assert_eq!(stat(&doc, "llm_output_tokens", "count"), 8.0);
    assert!(stat(&doc, "llm_e2e", "med") >= 40.0, "{stdout}");
}

#[test]
fn every_bad_answer_is_a_failure_with_its_cause() {
    let target = mock();
    for (fault, says) in [
        ("cut", "stream cut"),
        ("no-done", "stream ended without [DONE]"),
        ("malformed", "malformed chunk"),
        ("error", "200 with an error object"),
        ("no-stream", "asked for a stream, got a whole answer"),
        ("empty", "no token received"),
        ("hang", "timeout"),
    ] {
        let header = format!("x-mock-fault: {fault}");
        let (doc, stdout) = run(
            &target,
            &["--requests", "2", "--timeout", "1s", "-H", &header],
        );
        assert_eq!(stat(&doc, "llm_requests", "count"), 2.0, "{fault}");
        assert!(stdout.contains(&format!("2 x {says}")), "{fault}: {stdout}");
        assert!(stdout.contains("0 ok, 2 failed"), "{fault}: {stdout}");
    }
    let (_, stdout) = run(&target, &["--requests", "1", "-H", "x-mock-ttft-ms: soon"]);
    assert!(
        stdout.contains("1 x HTTP 400: header x-mock-ttft-ms"),
        "{stdout}"
    );
}

#[test]
fn sse_toxics_in_the_fault_proxy_slow_and_cut_token_streams() {
    let target = mock();
    let dir = tempfile::tempdir().unwrap();
    let (_proxy, api, listen) = fault_proxy("llm", target.local_addr(), dir.path());
    let through_proxy = |extra: &[&str]| {
        let url = format!("http://127.0.0.1:{listen}");
        let export = dir.path().join("summary.json");
        let mut args = vec!["llm", &url, "--model", "m", "-q", "--requests", "3"];
        let export_s = export.to_str().unwrap().to_string();
        args.extend_from_slice(&["--summary-export", &export_s]);
        args.extend_from_slice(extra);
        let out = brunt(&args);
        let doc: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
        (doc, String::from_utf8_lossy(&out.stdout).into_owned())
    };

    // The mock sends a token every 5 ms; held 20 ms an event, the gaps become the toxic's.
    chaos(
        api,
        &[
            "toxic",
            "add",
            "llm",
            "-t",
            "sse_delay",
            "-n",
            "slow",
            "-a",
            "delay=20",
        ],
    );
    let (doc, stdout) = through_proxy(&[]);
    assert!(stdout.contains("3 ok, 0 failed"), "{stdout}");
    let itl = stat(&doc, "llm_itl", "med");
    assert!(itl >= 19.0, "ITL p50 {itl} ms under a 20 ms sse_delay");
    assert!(
        stat(&doc, "llm_ttft", "med") >= 40.0 + 19.0,
        "{}",
        doc["metrics"]["llm_ttft"]
    );
    chaos(api, &["toxic", "remove", "llm", "-n", "slow"]);

    // Cut after the 4th event: every stream fails as cut, none hangs.
    chaos(
        api,
        &[
            "toxic", "add", "llm", "-t", "sse_cut", "-n", "cut", "-a", "events=4",
        ],
    );
    let (doc, stdout) = through_proxy(&["--timeout", "10s"]);
    assert_eq!(stat(&doc, "llm_requests", "count"), 3.0);
    assert!(stdout.contains("0 ok, 3 failed"), "{stdout}");
    assert!(stdout.contains("3 x stream cut"), "{stdout}");
}

#[test]
fn a_sweep_runs_one_step_per_value_into_one_table_and_json() {
    let target = mock();
    let url = target.url("");
    let dir = std::env::temp_dir().join(format!("brunt-llm-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let export = dir.join("sweep.json");
    let export_s = export.to_str().unwrap();
    let report = dir.join("sweep.html");
    let report_s = report.to_str().unwrap();
    let out = brunt(&[
        "llm",
        &url,
        "--model",
        "m",
        "-q",
        "--report",
        report_s,
        "--sweep",
        "concurrency=1,4",
        "--requests",
        "8",
        "--slo",
        "ttft:p(95)<1ms",
        "--export",
        export_s,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout.contains("streams"), "{stdout}");
    assert!(
        stdout.contains("no step met --slo 'ttft:p(95)<1ms'"),
        "{stdout}"
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    for (step, value) in steps.iter().zip([1.0, 4.0]) {
        assert_eq!(step["value"], value);
        assert_eq!(step["requests"], 8);
        assert_eq!(step["failed"], 0);
        let tpot = step["tpot_ms"]["p50"].as_f64().unwrap();
        assert!((tpot - 5.0).abs() <= 1.0, "tpot p50 {tpot}");
        assert_eq!(step["slo_met"], false);
        let missed = step["slo_missed"][0].as_str().unwrap();
        assert!(missed.starts_with("llm_ttft p(95)="), "{missed}");
        assert!(step["output_tokens_per_second"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(doc["best"], Value::Null);
    // The report draws the exported JSON, and `brunt report` rebuilds it from the file.
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains(r#""kind":"brunt-llm-sweep""#),
        "the sweep's report"
    );
    let rebuilt = dir.join("rebuilt.html");
    let out = brunt(&["report", export_s, "-o", rebuilt.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let html = std::fs::read_to_string(&rebuilt).unwrap();
    assert!(html.contains("--sweep concurrency"), "the sweep's title");
    // A rate sweep with Poisson arrivals: every step met a loose SLO, and the best is the top.
    let out = brunt(&[
        "llm",
        &url,
        "--model",
        "m",
        "-q",
        "--sweep",
        "rate=5,10",
        "--burstiness",
        "0.5",
        "--duration",
        "1s",
        "--slo",
        "e2e:p(99)<5s",
        "--export",
        export_s,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    assert_eq!(doc["varied"], "rate");
    assert_eq!(doc["best"], 10.0);
    assert!(doc["steps"][1]["goodput"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_rate_auto_sweep_finds_the_highest_rate_meeting_the_slo() {
    // The mock starts at most 30 requests a second and queues the rest: above ~30/s TTFT grows
    // without bound, below it stays at 40 ms.
    let (child, url) = target_process(
        brunt_cmd(),
        &[
            "--capacity",
            "30",
            "--llm-ttft-ms",
            "40",
            "--llm-tokens-per-second",
            "200",
            "--llm-output-tokens",
            "10",
        ],
    );
    let dir = std::env::temp_dir().join(format!("brunt-llm-auto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let export = dir.join("auto.json");
    let out = brunt(&[
        "llm",
        &url,
        "--model",
        "m",
        "-q",
        "--sweep",
        "rate=auto",
        "--max-concurrency",
        "20",
        "--duration",
        "1s",
        "--slo",
        "ttft:p(95)<100ms",
        "--export",
        export.to_str().unwrap(),
    ]);
    drop(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps[0]["phase"], "baseline", "{stdout}");
    assert_eq!(steps[1]["phase"], "saturation", "{stdout}");
    assert!(steps.len() <= 10, "{stdout}");
    assert!(
        steps[2..].iter().all(|s| s["phase"] == "search"),
        "{stdout}"
    );
    // The baseline's one stream gets ~11 answers/s; 20 streams get the capacity, ~30/s.
    let (low, high) = (
        steps[0]["throughput"].as_f64().unwrap(),
        steps[1]["throughput"].as_f64().unwrap(),
    );
    assert!(low > 5.0 && high > low, "{stdout}");
    let best = doc["best"].as_f64().unwrap_or_else(|| panic!("{stdout}"));
    assert!(best >= low && best < high, "best {best}: {stdout}");
    assert!(stdout.contains("highest rate/s meeting --slo"), "{stdout}");
}

#[test]
fn rate_limit_headroom_and_429s_are_reported_apart_from_errors() {
    let target = mock();
    // 5 requests per minute for this key: the first 5 pass (remaining 4..0), the rest get 429
    // with retry-after 12 s (one request refills in 60/5 s).
    let (doc, stdout) = run(
        &target,
        &[
            "--requests",
            "8",
            "-H",
            "x-mock-ratelimit-requests: 5",
            "-H",
            "x-mock-ratelimit-tokens: 100000",
            "-H",
            "authorization: Bearer headroom-test",
        ],
    );
    assert!(
        stdout.contains("requests: 5 ok, 0 failed, 3 rate limited (429)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rate limit: lowest remaining requests 0 of 5 (0.0%)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("429s: 3, retry-after 12s; the first was answer 6"),
        "{stdout}"
    );
    assert_eq!(stat(&doc, "llm_ratelimit_remaining_requests", "max"), 4.0);
    assert_eq!(stat(&doc, "llm_ratelimit_headroom", "min"), 0.0);
    assert_eq!(stat(&doc, "llm_requests", "count"), 8.0);
    assert_eq!(stat(&doc, "llm_output_tokens", "count"), 50.0);
}

#[test]
fn cold_start_sets_the_first_request_after_idle_against_the_warm_median() {
    let target = mock();
    let url = target.url("");
    let dir = std::env::temp_dir().join(format!("brunt-llm-cold-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let export = dir.join("cold.json");
    // The mock adds 300 ms to the first token after 400 ms with nothing in flight: 100 ms of
    // idle stays warm, 700 ms goes cold.
    let out = brunt(&[
        "llm",
        &url,
        "--model",
        "m",
        "--cold-start",
        "100ms,700ms",
        "-n",
        "3",
        "-H",
        "x-mock-cold-start-ms: 300",
        "-H",
        "x-mock-cold-after-ms: 400",
        "--export",
        export.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout.contains("warm (p50 of 3)"), "{stdout}");
    assert!(stdout.contains("after 700ms"), "{stdout}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let warm = doc["warm_ttft_ms"].as_f64().unwrap();
    assert!((warm - 40.0).abs() < 20.0, "warm ttft {warm}");
    let cold = |i: usize| doc["cold"][i]["ttft_ms"].as_f64().unwrap() - warm;
    assert!(cold(0) < 100.0, "after 100ms: +{}", cold(0));
    assert!(
        cold(1) >= 290.0 && cold(1) < 500.0,
        "after 700ms: +{}",
        cold(1)
    );
    assert_eq!(doc["cold"][1]["idle_seconds"], 0.7);
}

/// Runs `script` with `brunt run` against the mock and returns its summary export and output.
#[test]
fn metrics_compat_reports_vllms_figures_beside_brunts() {
    let target = mock();
    let dir = std::env::temp_dir().join(format!("brunt-llm-compat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let export = dir.join("vllm.json");
    let export_s = export.to_str().unwrap();
    // Two tokens per chunk: vLLM's ITL is the chunk gap (10 ms), brunt's the gap per token (5 ms).
    let (doc, stdout) = run(
        &target,
        &[
            "-n",
            "4",
            "-H",
            "x-mock-tokens-per-chunk: 2",
            "--metrics-compat",
            "vllm",
            "--export",
            export_s,
        ],
    );
    assert!(
        stdout.contains("LLM metrics as vLLM bench serve defines them"),
        "{stdout}"
    );
    assert!(stdout.contains("TPOT (ms):"), "{stdout}");
    let compat: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let m = &compat["metrics_compat"]["metrics"];
    assert_eq!(compat["metrics_compat"]["tool"], "vllm");
    assert_eq!(m["completed"], 4.0);
    assert_eq!(m["total_output_tokens"], 40.0);
    let itl = m["itl_ms"]["median"].as_f64().unwrap();
    let tpot = m["tpot_ms"]["median"].as_f64().unwrap();
    assert!((itl - 10.0).abs() <= 1.5, "vLLM ITL p50 {itl}");
    assert!(
        (tpot - stat(&doc, "llm_tpot", "med")).abs() < 1e-6,
        "TPOT {tpot}"
    );
    assert!((stat(&doc, "llm_itl", "med") - 5.0).abs() <= 1.0);
    fails_with(
        &[
            "llm",
            &target.url(""),
            "--model",
            "m",
            "--metrics-compat",
            "llmperf",
        ],
        2,
        "--metrics-compat",
    );
}

#[test]
fn the_html_report_has_the_llm_section_data() {
    let target = mock();
    let dir = std::env::temp_dir().join(format!("brunt-llm-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("llm.html");
    let report_s = report.to_str().unwrap();
    run(&target, &["-n", "3", "--report", report_s]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("<section id=\"llm\" hidden>"),
        "the section's place"
    );
    assert!(
        html.contains(r#""llm_outcomes":[{"value":"ok","count":3.0}]"#),
        "requests by outcome"
    );
    assert!(
        html.contains(r#""llm_tokens":"#),
        "tokens per second per point"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tokenizer_counts_the_tokens_when_the_server_sends_no_usage() {
    let target = mock();
    let dir = std::env::temp_dir().join(format!("brunt-llm-tok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A word-level tokenizer: a word or a run of punctuation is one token.
    let tok = dir.join("tokenizer.json");
    std::fs::write(
        &tok,
        r#"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
            "decoder": null,
            "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "The": 1, "quick": 2},
                      "unk_token": "[UNK]"}}"#,
    )
    .unwrap();
    let tok_s = tok.to_str().unwrap();
    // Ten tokens in five chunks of two, no usage: the tokenizer finds the ten words of the text.
    let flags = [
        "-n",
        "2",
        "-H",
        "x-mock-usage: none",
        "-H",
        "x-mock-tokens-per-chunk: 2",
    ];
    let with: Vec<&str> = flags
        .iter()
        .copied()
        .chain(["--tokenizer", tok_s])
        .collect();
    let (doc, stdout) = run(&target, &with);
    assert!(
        stdout.contains("output tokens counted: with --tokenizer"),
        "{stdout}"
    );
    assert_eq!(stat(&doc, "llm_output_tokens", "count"), 20.0);
    // The made-up prompts' 128 words each.
    assert_eq!(stat(&doc, "llm_input_tokens", "count"), 256.0);
    let (doc, stdout) = run(&target, &flags);
    assert!(
        stdout.contains("output tokens counted: one per content chunk"),
        "{stdout}"
    );
    assert_eq!(stat(&doc, "llm_output_tokens", "count"), 10.0);
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"model\": 1}").unwrap();
    fails_with(
        &[
            "llm",
            &target.url(""),
            "--model",
            "m",
            "--tokenizer",
            bad.to_str().unwrap(),
        ],
        1,
        "--tokenizer",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_script(target: &brunt_target::Target, name: &str, script: &str) -> (Value, String) {
    let dir = std::env::temp_dir().join(format!("brunt-llm-js-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    let export = dir.join(format!("{name}.json"));
    let env = format!("U={}", target.url(""));
    let out = brunt(&[
        "run",
        "-q",
        "-e",
        &env,
        "--summary-export",
        export.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}");
    let doc = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    (doc, text)
}

#[test]
fn xk6_sse_scripts_run_unchanged_on_k6_x_sse() {
    let target = mock();
    // xk6-sse's README example, against the mock's stream: a role chunk, 10 tokens, the finish
    // chunk, [DONE] (no usage asked): 13 events per stream, the handler closing after the 5th
    // in the second iteration.
    let (doc, text) = run_script(
        &target,
        "sse.js",
        r#"
import sse from 'k6/x/sse';
import { check } from 'k6';
export const options = { iterations: 2, thresholds: { sse_event: ['count==18'] } };
export default function () {
  let events = 0;
  let opened = false;
  const res = sse.open(`${__ENV.U}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    headers: { 'content-type': 'application/json' },
    tags: { my_k6s_tag: 'hello sse' },
  }, function (client) {
    client.on('open', () => { opened = true; });
    client.on('event', (event) => {
      events++;
      if (__ITER === 1 && events === 5) client.close();
      if (event.data !== '[DONE]') JSON.parse(event.data);
    });
    client.on('error', (e) => { throw new Error(e.error()); });
  });
  check(res, {
    'status is 200': (r) => r && r.status === 200,
    'sse content type': (r) => r.headers['Content-Type'] === 'text/event-stream',
    'opened': () => opened,
    'all events': () => events === (__ITER === 0 ? 13 : 5),
  });
}
"#,
    );
    assert_eq!(stat(&doc, "checks", "fails"), 0.0, "{text}");
    assert_eq!(stat(&doc, "sse_event", "count"), 18.0);
    assert_eq!(stat(&doc, "http_reqs", "count"), 2.0);
    // A connection that fails gives the response's error and no handler call.
    let (_, text) = run_script(
        &target,
        "sse_refused.js",
        r#"
import sse from 'k6/x/sse';
export default function () {
  const res = sse.open('http://127.0.0.1:1/x', (client) => { throw new Error('not called'); });
  console.log(`refused: status=${res.status} error=${res.error !== ''}`);
}
"#,
    );
    assert!(text.contains("refused: status=0 error=true"), "{text}");
}

#[test]
fn brunt_llm_in_scripts_records_the_llm_metrics_with_thresholds() {
    let target = mock();
    let (doc, text) = run_script(
        &target,
        "llm.js",
        r#"
import llm from 'brunt/llm';
import { check } from 'k6';
export const options = {
  iterations: 4,
  thresholds: { llm_ttft: ['p(50)<1000'], 'llm_requests{outcome:stream_cut}': ['count==1'] },
};
export default function () {
  const cut = __ITER === 3;
  const r = llm.chat({
    url: __ENV.U, model: 'm', max_tokens: 7,
    messages: [{ role: 'user', content: 'one two three' }],
    headers: cut ? { 'x-mock-fault': 'cut' } : {}, tags: { feature: 'chat' },
  });
  if (cut) {
    check(r, { 'cut is a failure': (x) => x.error_cause === 'stream_cut' && x.error.startsWith('stream cut') });
    return;
  }
  check(r, {
    'status 200': (x) => x.status === 200 && x.error === null,
    'usage': (x) => x.usage.completion_tokens === 7 && x.usage.prompt_tokens === 3,
    'text': (x) => x.text === 'The quick brown fox jumps over the',
    'timings': (x) => x.ttft >= 40 && x.tpot > 0 && x.itl.length === 6 && x.chunks === 7,
  });
  const c = llm.complete({ url: __ENV.U, model: 'm', prompt: 'a b', max_tokens: 2, stream: false });
  check(c, { 'whole answer': (x) => x.status === 200 && x.text === 'The quick' && x.ttft === null });
}
"#,
    );
    assert_eq!(stat(&doc, "checks", "fails"), 0.0, "{text}");
    // 3 chats of 7 tokens and 3 completions of 2.
    assert_eq!(stat(&doc, "llm_output_tokens", "count"), 27.0);
    assert_eq!(stat(&doc, "llm_requests", "count"), 7.0);
    let tpot = stat(&doc, "llm_tpot", "med");
    assert!((tpot - 5.0).abs() <= 1.0, "tpot p50 {tpot}");
}

#[test]
fn bad_flags_and_files_name_themselves() {
    let target = mock();
    let url = target.url("");
    let dir = std::env::temp_dir().join(format!("brunt-llm-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("prompts.jsonl");
    std::fs::write(&bad, "{\"prompt\": \"hi\"}\n{\"prompt\": \n").unwrap();
    let bad_s = bad.to_str().unwrap();
    fails_with(
        &["llm", &url, "--model", "m", "--dataset", bad_s],
        1,
        "prompts.jsonl, line 2",
    );
    fails_with(
        &["llm", &url, "--model", "m", "--slo", "ttfb:p(95)<1s"],
        1,
        "--slo",
    );
    fails_with(&["llm", &url, "--model", "m", "--rate", "0"], 1, "--rate");
    fails_with(
        &[
            "llm",
            &url,
            "--model",
            "m",
            "--rate",
            "1",
            "--burstiness",
            "0",
        ],
        1,
        "--burstiness 0",
    );
    fails_with(
        &["llm", &url, "--model", "m", "--burstiness", "2"],
        2,
        "--rate",
    );
    fails_with(
        &["llm", &url, "--model", "m", "--sweep", "rate=1", "-n", "3"],
        1,
        "--duration",
    );
    fails_with(
        &[
            "llm",
            &url,
            "--model",
            "m",
            "--sweep",
            "rate=auto",
            "-d",
            "1s",
        ],
        1,
        "--slo",
    );
    fails_with(
        &["llm", &url, "--model", "m", "--cold-start", "soon"],
        1,
        "--cold-start 'soon'",
    );
    fails_with(
        &["llm", &url, "--model", "m", "--export", "x.json"],
        2,
        "--sweep",
    );
    fails_with(
        &["llm", &url, "--model", "m", "--sweep", "speed=1"],
        1,
        "--sweep 'speed=1'",
    );
    fails_with(
        &[
            "llm",
            &url,
            "--model",
            "m",
            "--api-key-env",
            "BRUNT_NO_SUCH_VAR",
        ],
        1,
        "BRUNT_NO_SUCH_VAR",
    );
    fails_with(
        &["llm", "http://127.0.0.1:1", "--model", "m"],
        1,
        "cannot reach",
    );
    // The flags are checked before the server is tried: their mistakes are named while it is down.
    for (flag, value) in [
        ("--threshold", "llm_ttft: p(95)<<5"),
        ("--slo", "ttft:p(95)"),
        ("--sweep", "rate=x"),
    ] {
        fails_with(
            &["llm", "http://127.0.0.1:1", "--model", "m", flag, value],
            1,
            flag,
        );
    }
}
