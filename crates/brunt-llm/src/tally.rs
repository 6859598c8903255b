//! What the summary's LLM section says beyond the metrics: failures grouped by cause, with the
//! first message of each, where the token counts came from, and the rate-limit report (lowest
//! headroom seen, the time it would last at the run's rate, the 429s and when they began).

use crate::compat::Record;
use crate::ratelimit::Budget;
use crate::reader::{Failure, Measured, TokenSource};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub(crate) struct Tally {
    started: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    ok: u64,
    by_usage: u64,
    by_tokenizer: u64,
    failures: BTreeMap<String, u64>,
    /// Input and output tokens of the successful requests.
    tokens: u64,
    /// The lowest remaining requests and tokens any response reported.
    lowest: [Option<Budget>; 2],
    rate_limited: u64,
    /// Lowest and highest `retry-after` of the 429s, in seconds.
    retry_after: Option<(f64, f64)>,
    /// Seconds into the run and requests answered by then, at the first 429.
    first_429: Option<(f64, u64)>,
    /// The successful requests' records, kept for `--metrics-compat` only.
    records: Option<Vec<Record>>,
}

impl Tally {
    /// A tally for a run starting now; `keep_records` keeps each success's timings for
    /// `--metrics-compat`.
    pub fn new(keep_records: bool) -> Self {
        Tally {
            started: Instant::now(),
            inner: Mutex::new(Inner {
                records: keep_records.then(Vec::new),
                ..Inner::default()
            }),
        }
    }

    /// The successful requests' records (none unless kept).
    pub fn records(&self) -> Vec<Record> {
        let t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        t.records.clone().unwrap_or_default()
    }

    /// One request.
    pub fn add(&self, m: &Measured) {
        let mut t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for (lowest, seen) in t
            .lowest
            .iter_mut()
            .zip([m.headroom.requests, m.headroom.tokens])
        {
            if let Some(seen) = seen {
                if lowest.is_none_or(|l| seen.remaining < l.remaining) {
                    *lowest = Some(seen);
                }
            }
        }
        match &m.failure {
            Some(Failure::RateLimited) => {
                t.rate_limited += 1;
                if let Some(s) = m.headroom.retry_after {
                    t.retry_after =
                        Some(t.retry_after.map_or((s, s), |(a, b)| (a.min(s), b.max(s))));
                }
                if t.first_429.is_none() {
                    let answered = t.ok + t.failures.values().sum::<u64>() + t.rate_limited;
                    t.first_429 = Some((self.started.elapsed().as_secs_f64(), answered));
                }
            }
            Some(f) => *t.failures.entry(f.describe()).or_default() += 1,
            None => {
                t.ok += 1;
                t.by_usage += u64::from(m.source == TokenSource::Usage);
                t.by_tokenizer += u64::from(m.source == TokenSource::Tokenizer);
                t.tokens += m.output_tokens + m.input_tokens.unwrap_or(0);
                if let (Some(records), Some(r)) = (&mut t.records, Record::of(m)) {
                    records.push(r);
                }
            }
        }
    }

    /// Requests that succeeded and failed (429s included).
    pub fn counts(&self) -> (u64, u64) {
        let t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (t.ok, t.failures.values().sum::<u64>() + t.rate_limited)
    }

    /// The section's text.
    pub fn text(&self) -> String {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        let t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::from("\n  LLM\n");
        let (u, k, ok) = (t.by_usage, t.by_tokenizer, t.ok);
        let counted = match (u, k, ok - u - k) {
            _ if ok == 0 => "no request succeeded".to_string(),
            (_, 0, 0) => "from the server's usage".to_string(),
            (0, _, 0) => "with --tokenizer (the server sent no usage)".to_string(),
            (0, 0, _) => "one per content chunk (the server sent no usage)".to_string(),
            (u, k, c) => format!(
                "of {ok} requests, {u} from usage, {k} with --tokenizer, {c} one per content chunk"
            ),
        };
        out.push_str(&format!("    output tokens counted: {counted}\n"));
        let failed: u64 = t.failures.values().sum();
        out.push_str(&format!(
            "    requests: {} ok, {failed} failed, {} rate limited (429)\n",
            t.ok, t.rate_limited
        ));
        for (what, n) in &t.failures {
            out.push_str(&format!("      {n} x {what}\n"));
        }
        let answered = t.ok + failed + t.rate_limited;
        let rates = [answered as f64 / seconds, t.tokens as f64 / seconds];
        for ((lowest, kind), rate) in t.lowest.iter().zip(["requests", "tokens"]).zip(rates) {
            let Some(b) = lowest else { continue };
            let of = match (b.limit, b.share()) {
                (Some(l), Some(s)) => format!(" of {l} ({:.1}%)", s * 100.0),
                _ => String::new(),
            };
            let lasts = if rate > 0.0 {
                format!(
                    "; at the run's {rate:.1} {kind}/s it lasts {:.1}s",
                    b.remaining / rate
                )
            } else {
                String::new()
            };
            out.push_str(&format!(
                "    rate limit: lowest remaining {kind} {}{of}{lasts}\n",
                b.remaining
            ));
        }
        if t.rate_limited > 0 {
            let retry = match t.retry_after {
                Some((a, b)) if a == b => format!(", retry-after {a}s"),
                Some((a, b)) => format!(", retry-after {a}s to {b}s"),
                None => ", no retry-after".to_string(),
            };
            let began = t.first_429.map_or(String::new(), |(at, n)| {
                format!(
                    "; the first was answer {n}, {at:.1}s in ({:.1} requests/s until then)",
                    n as f64 / at.max(1e-3)
                )
            });
            out.push_str(&format!("    429s: {}{retry}{began}\n", t.rate_limited));
        }
        out
    }
}
