//! The mock LLM's per-key rate limits, as OpenAI sends them: a requests and a tokens budget per
//! minute for each API key (the `Authorization` header), each a bucket that refills continuously
//! (`limit / 60` per second, up to `limit`). Every answer carries `x-ratelimit-limit-*`,
//! `x-ratelimit-remaining-*` and `x-ratelimit-reset-*` (the time until the bucket is full again);
//! a request the buckets cannot pay for gets 429 with `retry-after` (whole seconds until it could).

use http::HeaderMap;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The budgets a request is held to (`None`: no limit of that kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Limits {
    pub requests: Option<u32>,
    pub tokens: Option<u32>,
}

/// One budget: how much is left as of `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: f64,
    left: f64,
    at: Instant,
}

impl Bucket {
    fn new(limit: u32, now: Instant) -> Self {
        Bucket {
            limit: limit as f64,
            left: limit as f64,
            at: now,
        }
    }

    /// Refills to `now`: `limit` per minute.
    fn refill(&mut self, now: Instant) {
        let per_second = self.limit / 60.0;
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.left = (self.left + elapsed * per_second).min(self.limit);
        self.at = now;
    }

    /// Seconds until `cost` is left.
    fn wait_for(&self, cost: f64) -> f64 {
        ((cost - self.left) / (self.limit / 60.0)).max(0.0)
    }
}

/// What the buckets said about one request: its headers, and whether it must be refused.
pub(crate) struct Verdict {
    pub headers: Vec<(&'static str, String)>,
    /// Whole seconds until the request could be paid for, when it cannot now.
    pub retry_after: Option<u64>,
}

/// The headers of each budget, requests then tokens: limit, remaining, reset.
const HEADERS: [[&str; 3]; 2] = [
    [
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    ],
    [
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
    ],
];

/// A key's requests and tokens buckets.
type Buckets = [Option<Bucket>; 2];

/// Every key's buckets, by key and limits.
#[derive(Debug, Default)]
pub(crate) struct Budgets {
    buckets: Mutex<HashMap<(String, Limits), Buckets>>,
}

impl Budgets {
    /// Charges one request of `tokens` (prompt and output) to `key`'s buckets, if both can pay.
    pub(crate) fn charge(&self, key: &str, limits: Limits, tokens: u32, now: Instant) -> Verdict {
        let mut all = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let buckets = all.entry((key.to_string(), limits)).or_insert_with(|| {
            [limits.requests, limits.tokens].map(|l| l.map(|l| Bucket::new(l, now)))
        });
        let costs = [1.0, tokens as f64];
        for b in buckets.iter_mut().flatten() {
            b.refill(now);
        }
        let wait = buckets
            .iter()
            .zip(costs)
            .filter_map(|(b, cost)| b.map(|b| b.wait_for(cost)))
            .fold(0.0, f64::max);
        let refused = wait > 0.0;
        let mut headers = Vec::new();
        for ((bucket, cost), [limit, remaining, reset]) in
            buckets.iter_mut().zip(costs).zip(HEADERS)
        {
            let Some(b) = bucket else { continue };
            if !refused {
                b.left -= cost;
            }
            headers.push((limit, format!("{}", b.limit)));
            headers.push((remaining, format!("{}", b.left.floor().max(0.0))));
            headers.push((
                reset,
                go_duration(Duration::from_secs_f64(b.wait_for(b.limit))),
            ));
        }
        Verdict {
            headers,
            retry_after: refused.then(|| wait.ceil() as u64),
        }
    }
}

/// A duration as OpenAI writes its resets: `20ms`, `1.5s`, `6m0s`.
fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{}s", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
    }
}

/// The key a request is charged to: its `Authorization` header, or one shared anonymous key.
pub(crate) fn key(headers: &HeaderMap) -> String {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refuses_what_it_cannot_pay_and_refills_per_minute() {
        let budgets = Budgets::default();
        let limits = Limits {
            requests: Some(3),
            tokens: Some(100),
        };
        let t0 = Instant::now();
        let header = |v: &Verdict, name: &str| {
            v.headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let v = budgets.charge("k", limits, 30, t0);
        assert_eq!(v.retry_after, None);
        assert_eq!(header(&v, "x-ratelimit-remaining-requests"), "2");
        assert_eq!(header(&v, "x-ratelimit-remaining-tokens"), "70");
        assert_eq!(header(&v, "x-ratelimit-limit-tokens"), "100");
        // One request refills in 20 s (3 per minute); 30 tokens in 18 s (100 per minute).
        assert_eq!(header(&v, "x-ratelimit-reset-requests"), "20s");
        assert_eq!(header(&v, "x-ratelimit-reset-tokens"), "18s");
        budgets.charge("k", limits, 30, t0);
        let v = budgets.charge("k", limits, 50, t0);
        // 40 tokens left; 50 needs 10 more: 6 s.
        assert_eq!(v.retry_after, Some(6));
        assert_eq!(header(&v, "x-ratelimit-remaining-requests"), "1");
        // Another key has its own budget; time refills this one.
        assert_eq!(budgets.charge("other", limits, 50, t0).retry_after, None);
        let later = t0 + Duration::from_secs(6);
        assert_eq!(budgets.charge("k", limits, 50, later).retry_after, None);
        assert_eq!(go_duration(Duration::from_millis(361_500)), "6m1.5s");
    }
}
