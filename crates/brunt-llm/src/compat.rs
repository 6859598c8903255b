//! `--metrics-compat vllm|guidellm|aiperf`: the run's figures as another tool defines and names
//! them, computed from the same successful requests as the `llm_*` metrics, so that a brunt run can
//! be set beside that tool's results. The definitions, and where they differ from brunt's:
//! docs/llm.md.

use crate::reader::Measured;
use serde::Serialize;
use serde_json::{Map, Value};

/// The tool whose definitions to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// vLLM's `bench serve` (`benchmark_serving.py`).
    Vllm,
    /// GuideLLM.
    Guidellm,
    /// NVIDIA AIPerf.
    Aiperf,
}

/// What one successful request leaves for the report, in milliseconds from its send.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub ttft_ms: Option<f64>,
    pub last_token_ms: Option<f64>,
    pub e2e_ms: f64,
    /// Gaps between content chunks as they arrived.
    pub gaps_ms: Vec<f64>,
    pub output_tokens: u64,
    pub input_tokens: Option<u64>,
}

impl Record {
    /// The record of a successful request; none for a failed one, which no tool counts.
    pub fn of(m: &Measured) -> Option<Record> {
        m.failure.is_none().then(|| Record {
            ttft_ms: m.ttft_ms,
            last_token_ms: m.last_token_ms,
            e2e_ms: m.e2e_ms,
            gaps_ms: m.chunk_gaps_ms.clone(),
            output_tokens: m.output_tokens,
            input_tokens: m.input_tokens,
        })
    }

    /// (e2e - ttft) / (output tokens - 1): vLLM's TPOT and AIPerf's inter-token latency.
    fn decode_ms(&self) -> Option<f64> {
        let ttft = self.ttft_ms?;
        (self.output_tokens > 1).then(|| (self.e2e_ms - ttft) / (self.output_tokens - 1) as f64)
    }
}

/// One figure: a run-wide number, or a distribution over requests (or gaps) with the tool's
/// statistics.
#[derive(Debug, Clone, PartialEq)]
enum Figure {
    Number(f64),
    Stats(Vec<(&'static str, Option<f64>)>),
}

/// The report: the tool's figures in its order, each with its JSON name and its console label.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    tool: Tool,
    figures: Vec<(&'static str, &'static str, Figure)>,
}

/// A statistic of a distribution, as numpy computes it (percentiles interpolated linearly
/// between the closest ranks, std over the population), which all three tools use.
#[derive(Debug, Clone, Copy)]
enum Stat {
    Mean,
    Min,
    Max,
    Std,
    P(f64),
}

fn stat(sorted: &[f64], s: Stat) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let mean = sorted.iter().sum::<f64>() / n as f64;
    Some(match s {
        Stat::Mean => mean,
        Stat::Min => sorted[0],
        Stat::Max => sorted[n - 1],
        Stat::Std => (sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt(),
        Stat::P(p) => {
            let rank = p / 100.0 * (n - 1) as f64;
            let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
        }
    })
}

fn stats(mut values: Vec<f64>, which: &[(&'static str, Stat)]) -> Figure {
    values.sort_by(f64::total_cmp);
    Figure::Stats(which.iter().map(|&(n, s)| (n, stat(&values, s))).collect())
}

const VLLM: [(&str, Stat); 4] = [
    ("mean", Stat::Mean),
    ("median", Stat::P(50.0)),
    ("std", Stat::Std),
    ("p99", Stat::P(99.0)),
];
const GUIDELLM: [(&str, Stat); 4] = [
    ("mean", Stat::Mean),
    ("median", Stat::P(50.0)),
    ("p95", Stat::P(95.0)),
    ("p99", Stat::P(99.0)),
];
const AIPERF: [(&str, Stat); 7] = [
    ("avg", Stat::Mean),
    ("min", Stat::Min),
    ("max", Stat::Max),
    ("p50", Stat::P(50.0)),
    ("p90", Stat::P(90.0)),
    ("p99", Stat::P(99.0)),
    ("std", Stat::Std),
];

impl Report {
    /// The report of `records` from a run of `seconds`.
    pub fn new(tool: Tool, records: &[Record], seconds: f64) -> Report {
        let seconds = seconds.max(1e-9);
        let done = records.len() as f64;
        let output: u64 = records.iter().map(|r| r.output_tokens).sum();
        let input: u64 = records.iter().filter_map(|r| r.input_tokens).sum();
        let all = |f: &dyn Fn(&Record) -> Option<f64>| records.iter().filter_map(f).collect();
        let gaps = || {
            records
                .iter()
                .flat_map(|r| r.gaps_ms.iter().copied())
                .collect()
        };
        let n = Figure::Number;
        let figures = match tool {
            Tool::Vllm => vec![
                ("completed", "Successful requests", n(done)),
                ("duration", "Benchmark duration (s)", n(seconds)),
                ("total_input_tokens", "Total input tokens", n(input as f64)),
                (
                    "total_output_tokens",
                    "Total generated tokens",
                    n(output as f64),
                ),
                (
                    "request_throughput",
                    "Request throughput (req/s)",
                    n(done / seconds),
                ),
                (
                    "output_throughput",
                    "Output token throughput (tok/s)",
                    n(output as f64 / seconds),
                ),
                (
                    "total_token_throughput",
                    "Total Token throughput (tok/s)",
                    n((input + output) as f64 / seconds),
                ),
                ("ttft_ms", "TTFT (ms)", stats(all(&|r| r.ttft_ms), &VLLM)),
                (
                    "tpot_ms",
                    "TPOT (ms)",
                    stats(all(&Record::decode_ms), &VLLM),
                ),
                ("itl_ms", "ITL (ms)", stats(gaps(), &VLLM)),
                (
                    "e2el_ms",
                    "E2EL (ms)",
                    stats(all(&|r| Some(r.e2e_ms)), &VLLM),
                ),
            ],
            Tool::Guidellm => vec![
                ("requests_per_second", "Requests/s", n(done / seconds)),
                (
                    "output_tokens_per_second",
                    "Output tokens/s",
                    n(output as f64 / seconds),
                ),
                (
                    "tokens_per_second",
                    "Total tokens/s",
                    n((input + output) as f64 / seconds),
                ),
                (
                    "request_latency",
                    "Request latency (s)",
                    stats(all(&|r| Some(r.e2e_ms / 1000.0)), &GUIDELLM),
                ),
                (
                    "time_to_first_token_ms",
                    "TTFT (ms)",
                    stats(all(&|r| r.ttft_ms), &GUIDELLM),
                ),
                (
                    "inter_token_latency_ms",
                    "ITL (ms)",
                    stats(
                        all(&|r| {
                            let (first, last) = (r.ttft_ms?, r.last_token_ms?);
                            (r.output_tokens > 1)
                                .then(|| (last - first) / (r.output_tokens - 1) as f64)
                        }),
                        &GUIDELLM,
                    ),
                ),
                (
                    "time_per_output_token_ms",
                    "TPOT (ms)",
                    stats(
                        all(&|r| {
                            let last = r.last_token_ms?;
                            (r.output_tokens > 0).then(|| last / r.output_tokens as f64)
                        }),
                        &GUIDELLM,
                    ),
                ),
            ],
            Tool::Aiperf => vec![
                (
                    "time_to_first_token",
                    "Time to First Token (ms)",
                    stats(all(&|r| r.ttft_ms), &AIPERF),
                ),
                (
                    "time_to_second_token",
                    "Time to Second Token (ms)",
                    stats(all(&|r| r.gaps_ms.first().copied()), &AIPERF),
                ),
                (
                    "request_latency",
                    "Request Latency (ms)",
                    stats(all(&|r| Some(r.e2e_ms)), &AIPERF),
                ),
                (
                    "inter_token_latency",
                    "Inter Token Latency (ms)",
                    stats(all(&Record::decode_ms), &AIPERF),
                ),
                (
                    "inter_chunk_latency",
                    "Inter Chunk Latency (ms)",
                    stats(gaps(), &AIPERF),
                ),
                (
                    "output_token_throughput_per_user",
                    "Output Token Throughput Per User (tokens/sec/user)",
                    stats(
                        all(&|r| r.decode_ms().filter(|&d| d > 0.0).map(|d| 1000.0 / d)),
                        &AIPERF,
                    ),
                ),
                (
                    "output_sequence_length",
                    "Output Sequence Length (tokens)",
                    stats(all(&|r| Some(r.output_tokens as f64)), &AIPERF),
                ),
                (
                    "input_sequence_length",
                    "Input Sequence Length (tokens)",
                    stats(all(&|r| r.input_tokens.map(|n| n as f64)), &AIPERF),
                ),
                (
                    "output_token_throughput",
                    "Output Token Throughput (tokens/sec)",
                    n(output as f64 / seconds),
                ),
                (
                    "request_throughput",
                    "Request Throughput (requests/sec)",
                    n(done / seconds),
                ),
                ("request_count", "Request Count (requests)", n(done)),
            ],
        };
        Report { tool, figures }
    }

    /// The summary's section.
    pub fn text(&self) -> String {
        let name = match self.tool {
            Tool::Vllm => "vLLM bench serve",
            Tool::Guidellm => "GuideLLM",
            Tool::Aiperf => "AIPerf",
        };
        let mut out = format!("\n  LLM metrics as {name} defines them (--metrics-compat)\n");
        let width = self.figures.iter().map(|f| f.1.len()).max().unwrap_or(0) + 1;
        for (_, label, figure) in &self.figures {
            let value = match figure {
                Figure::Number(v) => number(*v),
                Figure::Stats(s) => s
                    .iter()
                    .map(|(n, v)| format!("{n}={}", v.map_or("-".into(), number)))
                    .collect::<Vec<_>>()
                    .join("  "),
            };
            out.push_str(&format!("    {:<width$} {value}\n", format!("{label}:")));
        }
        out
    }

    /// The JSON of `--export`: `{"tool", "metrics": {name: number | {stat: number | null}}}`.
    pub fn json(&self) -> Value {
        let mut metrics = Map::new();
        for (key, _, figure) in &self.figures {
            let value = match figure {
                Figure::Number(v) => Value::from(*v),
                Figure::Stats(s) => Value::Object(
                    s.iter()
                        .map(|(n, v)| (n.to_string(), v.map_or(Value::Null, Value::from)))
                        .collect(),
                ),
            };
            metrics.insert(key.to_string(), value);
        }
        serde_json::json!({"tool": self.tool, "metrics": metrics})
    }
}

/// Whole numbers (counts) as integers, small ones (seconds, short gaps) with three decimals, the
/// rest with two.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v}")
    } else if v.abs() < 10.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two streamed requests with known timings: 4 tokens in 4 chunks, first at 100 ms, last at
    /// 160 ms, done at 170 ms; and 3 tokens in 2 chunks (the second carries two), first at 200 ms,
    /// last at 240 ms, done at 250 ms.
    fn records() -> Vec<Record> {
        vec![
            Record {
                ttft_ms: Some(100.0),
                last_token_ms: Some(160.0),
                e2e_ms: 170.0,
                gaps_ms: vec![10.0, 20.0, 30.0],
                output_tokens: 4,
                input_tokens: Some(10),
            },
            Record {
                ttft_ms: Some(200.0),
                last_token_ms: Some(240.0),
                e2e_ms: 250.0,
                gaps_ms: vec![40.0],
                output_tokens: 3,
                input_tokens: Some(20),
            },
        ]
    }

    fn figure(r: &Report, key: &str) -> Value {
        r.json()["metrics"][key].clone()
    }

    fn close(v: &Value, want: f64) {
        let got = v.as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{got} != {want}");
    }

    #[test]
    fn vllm_tpot_excludes_the_first_token_and_itl_takes_every_chunk_gap_undivided() {
        let r = Report::new(Tool::Vllm, &records(), 2.0);
        // TPOT: (170 - 100) / 3 and (250 - 200) / 2.
        let tpot = figure(&r, "tpot_ms");
        close(&tpot["mean"], (70.0 / 3.0 + 25.0) / 2.0);
        close(&tpot["median"], (70.0 / 3.0 + 25.0) / 2.0);
        // ITL: the four gaps as they came, the two-token one not divided.
        let itl = figure(&r, "itl_ms");
        close(&itl["mean"], 25.0);
        close(&itl["median"], 25.0);
        close(&itl["p99"], 30.0 + 10.0 * 0.97);
        close(&itl["std"], 125f64.sqrt());
        close(&figure(&r, "e2el_ms")["mean"], 210.0);
        close(&figure(&r, "ttft_ms")["p99"], 199.0);
        close(&figure(&r, "request_throughput"), 1.0);
        close(&figure(&r, "output_throughput"), 3.5);
        close(&figure(&r, "total_token_throughput"), 18.5);
        close(&figure(&r, "completed"), 2.0);
    }

    #[test]
    fn guidellm_measures_to_the_last_token_and_divides_the_whole_time_for_tpot() {
        let r = Report::new(Tool::Guidellm, &records(), 2.0);
        // ITL: (160 - 100) / 3 = 20 and (240 - 200) / 2 = 20.
        close(&figure(&r, "inter_token_latency_ms")["mean"], 20.0);
        // TPOT: 160 / 4 = 40 and 240 / 3 = 80.
        let tpot = figure(&r, "time_per_output_token_ms");
        close(&tpot["mean"], 60.0);
        close(&tpot["p95"], 40.0 + 40.0 * 0.95);
        close(&figure(&r, "request_latency")["median"], 0.21);
        close(&figure(&r, "tokens_per_second"), 18.5);
    }

    #[test]
    fn aiperf_itl_is_per_request_and_its_chunk_gaps_are_apart() {
        let r = Report::new(Tool::Aiperf, &records(), 2.0);
        let itl = figure(&r, "inter_token_latency");
        close(&itl["min"], 70.0 / 3.0);
        close(&itl["max"], 25.0);
        close(&figure(&r, "inter_chunk_latency")["avg"], 25.0);
        close(&figure(&r, "time_to_second_token")["avg"], 25.0);
        close(
            &figure(&r, "output_token_throughput_per_user")["max"],
            3000.0 / 70.0,
        );
        close(&figure(&r, "output_sequence_length")["avg"], 3.5);
        close(&figure(&r, "input_sequence_length")["max"], 20.0);
        close(&figure(&r, "request_count"), 2.0);
    }

    #[test]
    fn a_run_without_successes_reports_no_statistics_rather_than_zeros() {
        let r = Report::new(Tool::Vllm, &[], 1.0);
        assert_eq!(figure(&r, "ttft_ms")["mean"], Value::Null);
        assert!(r.text().contains("mean=-"));
    }
}
