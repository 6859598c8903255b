//! `brunt llm` flags.

use crate::request::Api;
use brunt_output::{OutKind, OutSpec};
use clap::Args;
use std::path::PathBuf;

/// Load-test an OpenAI-compatible LLM endpoint: streamed completions measured per token (time to
/// first token, time per output token, inter-token latency), with goodput against an SLO.
#[derive(Debug, Clone, Args)]
#[group(id = "open_model", multiple = true, args = ["rate", "sweep"])]
#[command(after_help = "Examples:
  brunt target --llm-ttft-ms 200 --llm-tokens-per-second 50 &
  brunt llm http://127.0.0.1:8080 --model mock-model --concurrency 8 --requests 100
  brunt llm https://api.example.com/v1 --model m --api-key-env OPENAI_API_KEY --rate 2 --duration 1m \\
    --slo 'ttft:p(95)<500ms,tpot:p(95)<50ms' --threshold 'llm_ttft: p(95)<500'
  brunt llm http://127.0.0.1:8080 --model mock-model --sweep rate=2,4,8 --duration 20s \
    --slo 'ttft:p(95)<300ms' --export sweep.json")]
pub struct LlmArgs {
    /// The server's base URL (e.g. http://127.0.0.1:8000 or .../v1), or the endpoint itself
    pub url: String,

    /// The model to ask for, e.g. --model meta-llama/Llama-3.1-8B-Instruct
    #[arg(long)]
    pub model: String,

    /// The API: chat (/v1/chat/completions) or completions (/v1/completions)
    #[arg(long, value_enum, default_value_t = Api::Chat)]
    pub api: Api,

    /// Ask for whole answers instead of streams (no TTFT, TPOT or ITL then)
    #[arg(long)]
    pub no_stream: bool,

    /// A request header, repeatable: -H 'X-Team: search'
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,

    /// Send `Authorization: Bearer $VAR` with the key in this environment variable,
    /// e.g. --api-key-env OPENAI_API_KEY
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,

    /// Prompts from a file: JSONL ({"prompt": ...} or {"messages": [...]} per line) or
    /// ShareGPT JSON; used in turn
    #[arg(long, value_name = "FILE", conflicts_with_all = ["input_tokens", "input_tokens_stddev"])]
    pub dataset: Option<PathBuf>,

    /// Made-up prompts of this many words (the mock counts a word as a token)
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub input_tokens: u32,

    /// Spread of the made-up prompts' lengths (normal distribution), e.g. 50
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub input_tokens_stddev: u32,

    /// Seed of the made-up prompts and of the --rate arrivals: the same seed gives the same
    /// prompt sequence and schedule
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Count tokens with this Hugging Face tokenizer.json when the server sends no usage (the
    /// answer's text and the prompt's), instead of one per content chunk
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,

    /// max_tokens of each request
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,

    /// Send ignore_eos: true (vLLM and others then generate exactly max_tokens)
    #[arg(long, requires = "max_tokens")]
    pub ignore_eos: bool,

    /// Closed model: this many streams at once, each starting the next request when its
    /// answer ends
    #[arg(short = 'c', long, default_value_t = 1, value_name = "N")]
    pub concurrency: u64,

    /// Open model: start this many requests per second on average (e.g. 0.5 or 20), whatever
    /// the server does; gaps as --burstiness says (Poisson arrivals by default)
    #[arg(short = 'r', long, value_name = "R", conflicts_with = "requests")]
    pub rate: Option<f64>,

    /// Open model: the shape of the gamma-distributed gaps between starts, as vLLM's
    /// --burstiness: 1 = Poisson, under 1 burstier, over 1 more even, inf = a fixed schedule.
    /// The same --seed gives the same schedule
    #[arg(long, default_value_t = 1.0, requires = "open_model", value_name = "B")]
    pub burstiness: f64,

    /// Open model: most requests in flight
    #[arg(
        long,
        default_value_t = 1000,
        requires = "open_model",
        value_name = "N"
    )]
    pub max_concurrency: u64,

    /// Run one step per value, each for --duration (or --requests with concurrency), and print
    /// one table of TTFT/TPOT/ITL percentiles, output tokens/s, goodput and whether each step met
    /// --slo: --sweep rate=1,2,4,8 or --sweep concurrency=1,8,32; with --report, a page of
    /// TTFT p50/p99 against each step's value
    #[arg(long, group = "exportable", value_name = "rate=R,... | concurrency=N,...", conflicts_with_all = ["rate", "concurrency", "summary_export", "outs", "thresholds", "monitors", "dashboard"])]
    pub sweep: Option<String>,

    /// Measure cold starts instead of load: one request to prime the server, --requests (default
    /// 5) warm ones, then one request after each idle period, e.g. --cold-start 1m,5m; prints
    /// each first request's TTFT and e2e against the warm median
    #[arg(long, group = "exportable", value_name = "IDLE,...", conflicts_with_all = ["rate", "concurrency", "sweep", "duration", "graceful_stop", "summary_export", "outs", "thresholds", "monitors", "dashboard", "report"])]
    pub cold_start: Option<String>,

    /// Add a section reporting the run's figures as another tool defines and names them:
    /// vllm (bench serve), guidellm or aiperf; with --export, also as JSON
    #[arg(long, group = "exportable", value_enum, value_name = "TOOL", conflicts_with_all = ["sweep", "cold_start"])]
    pub metrics_compat: Option<crate::compat::Tool>,

    /// Write the sweep's steps, the cold-start figures or the --metrics-compat figures as JSON
    /// to FILE
    #[arg(long, value_name = "FILE", requires = "exportable")]
    pub export: Option<PathBuf>,

    /// How long to run, in k6's duration format: 30s, 5m (default 10s when --requests is not given)
    #[arg(short = 'd', long)]
    pub duration: Option<String>,

    /// Send exactly N requests in total (with --cold-start: the warm ones)
    #[arg(short = 'n', long, value_name = "N")]
    pub requests: Option<u64>,

    /// Per-request timeout, the whole stream included
    #[arg(long, default_value = "10m")]
    pub timeout: String,

    /// How long requests still streaming when the time is up may take to finish
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub graceful_stop: String,

    /// The bounds a request must meet to count in llm_goodput, e.g.
    /// 'ttft:p(95)<500ms,tpot:p(95)<50ms,e2e:p(99)<10s' (a request meets one when its own value
    /// is under the bound)
    #[arg(long, value_name = "BOUNDS")]
    pub slo: Option<String>,

    /// A pass/fail criterion in k6's grammar, repeatable: --threshold 'llm_ttft: p(95)<500'
    #[arg(long = "threshold", value_name = "'METRIC: EXPR'")]
    pub thresholds: Vec<String>,

    /// Watch a process, cgroup or Prometheus endpoint beside the load (the model server), e.g.
    /// --monitor vllm:cmd=vllm; its signals are metrics usable in thresholds (docs/monitors.md)
    #[arg(long = "monitor", value_name = "[NAME:]KIND=VALUE")]
    pub monitors: Vec<brunt_monitor::MonitorSpec>,

    /// Write k6's end-of-test summary export (JSON) to FILE
    #[arg(long, value_name = "FILE")]
    pub summary_export: Option<PathBuf>,

    #[arg(short = 'o', long = "out", value_name = "KIND=TARGET", help = OutKind::help())]
    pub outs: Vec<OutSpec>,

    /// No progress line
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// No colours in the summary
    #[arg(long)]
    pub no_color: bool,

    #[command(flatten)]
    pub web: brunt_web::WebArgs,
}
