//! How late the mock sent its tokens against the schedule it was told (`/metrics`), so that a
//! load test can tell the mock's own error from the client's: a client's TTFT error is the
//! mock's lateness plus the network and the client. Two Prometheus summaries since the server
//! started, in seconds (negative: early): each stream's first content chunk, and every content
//! chunk.

use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Earliest lateness kept apart (the clock never sends that early): earlier counts as this.
const EARLIEST_US: i64 = 1_000;
/// Latest lateness kept apart: a minute, later counts as this.
const LATEST_US: i64 = 60_000_000;
/// Quantiles of each summary.
const QUANTILES: [f64; 5] = [0.0, 0.5, 0.9, 0.99, 1.0];

/// The two summaries of one server.
#[derive(Debug)]
pub(crate) struct Lateness {
    first: Summary,
    chunks: Summary,
}

/// Lateness in microseconds shifted by [`EARLIEST_US`] (a histogram holds no negative values;
/// the shift costs no precision in the microseconds that matter), and the exact sum.
#[derive(Debug)]
struct Summary(Mutex<(Histogram<u64>, i64)>);

impl Summary {
    fn new() -> Self {
        let histogram = Histogram::new_with_max((LATEST_US + EARLIEST_US) as u64, 3)
            .expect("3 significant figures up to a minute is a valid histogram");
        Summary(Mutex::new((histogram, 0)))
    }

    fn record(&self, late: i64) {
        let late = late.clamp(-EARLIEST_US, LATEST_US);
        let mut summary = self.0.lock().unwrap_or_else(|e| e.into_inner());
        summary.0.saturating_record((late + EARLIEST_US) as u64);
        summary.1 += late;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let summary = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (h, sum) = (&summary.0, summary.1);
        let seconds =
            |shifted: u64| (h.lowest_equivalent(shifted) as i64 - EARLIEST_US) as f64 / 1e6;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} summary");
        if !h.is_empty() {
            for q in QUANTILES {
                let _ = writeln!(
                    out,
                    "{name}{{quantile=\"{q}\"}} {}",
                    seconds(h.value_at_quantile(q))
                );
            }
        }
        let _ = writeln!(
            out,
            "{name}_sum {}\n{name}_count {}",
            sum as f64 / 1e6,
            h.len()
        );
    }
}

impl Lateness {
    pub(crate) fn new() -> Self {
        Lateness {
            first: Summary::new(),
            chunks: Summary::new(),
        }
    }

    /// A content chunk due at `due` went out at `sent`; `first` when it was its stream's first.
    pub(crate) fn record(&self, due: Instant, sent: Instant, first: bool) {
        let late = match sent.checked_duration_since(due) {
            Some(d) => micros(d),
            None => -micros(due - sent),
        };
        if first {
            self.first.record(late);
        }
        self.chunks.record(late);
    }

    /// The Prometheus text of both summaries.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.first.render(
            &mut out,
            "brunt_target_llm_first_token_lateness_seconds",
            "How late the mock LLM sent each stream's first content chunk against its TTFT setting (negative: early).",
        );
        self.chunks.render(
            &mut out,
            "brunt_target_llm_chunk_lateness_seconds",
            "How late the mock LLM sent each content chunk against its schedule (negative: early).",
        );
        out
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_keep_early_and_late_chunks_apart_from_first_ones() {
        let l = Lateness::new();
        let due = Instant::now() + Duration::from_secs(1);
        l.record(due, due + Duration::from_micros(300), true);
        l.record(due, due - Duration::from_micros(200), false);
        l.record(due, due + Duration::from_micros(900), false);
        let text = l.render();
        let first = "brunt_target_llm_first_token_lateness_seconds";
        assert!(
            text.contains(&format!("{first}{{quantile=\"0.5\"}} 0.0003\n")),
            "{text}"
        );
        assert!(text.contains(&format!("{first}_count 1\n")), "{text}");
        let chunks = "brunt_target_llm_chunk_lateness_seconds";
        assert!(
            text.contains(&format!("{chunks}{{quantile=\"0\"}} -0.0002\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{chunks}{{quantile=\"0.5\"}} 0.0003\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{chunks}{{quantile=\"1\"}} 0.0009\n")),
            "{text}"
        );
        assert!(text.contains(&format!("{chunks}_count 3\n")), "{text}");
        assert!(text.contains(&format!("{chunks}_sum 0.001\n")), "{text}");
        assert!(text.contains("# TYPE brunt_target_llm_chunk_lateness_seconds summary\n"));
    }

    #[test]
    fn an_empty_summary_has_no_quantiles() {
        let text = Lateness::new().render();
        assert!(!text.contains("quantile"), "{text}");
        assert!(text.contains("brunt_target_llm_chunk_lateness_seconds_count 0\n"));
    }
}
