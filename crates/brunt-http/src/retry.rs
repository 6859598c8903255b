//! Client-side retries, for retry-storm experiments: a failed request is sent again at once,
//! after a fixed delay, or after an exponentially growing one (with or without full jitter, as
//! AWS's "Exponential Backoff And Jitter" describes), up to a number of attempts; with a budget,
//! only while the retries of a sliding window stay under a share of its first attempts (the
//! retry budgets of Finagle and gRPC). Every attempt is a real request with its own `http_*`
//! samples; each logical request adds its attempts to `retry_amplification` (so its mean is
//! requests sent per logical request), and `http_req_retries` and `retry_budget_exhausted`
//! count the retries sent and those the budget withheld.
//!
//! The callers (`brunt quick`'s VU, `k6/http`'s native side) loop over [`Attempts`], which
//! makes every decision; they only send and wait.

use brunt_metrics::{Aggregator, MetricId, MetricType, Registry, RegistryError, TagSet, ValueType};
use rand::Rng;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long to wait before each retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// No wait.
    Immediate,
    /// `base` every time.
    Fixed,
    /// `base`, then twice that, four times..., never over `cap`.
    Exponential,
}

impl std::str::FromStr for Backoff {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "immediate" => Ok(Backoff::Immediate),
            "fixed" => Ok(Backoff::Fixed),
            "exponential" => Ok(Backoff::Exponential),
            _ => Err(format!(
                "'{s}' is not a retry policy: use immediate, fixed or exponential"
            )),
        }
    }
}

/// A retry policy as the user wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySpec {
    pub backoff: Backoff,
    /// The fixed delay, or the first exponential one.
    pub base: Duration,
    /// The longest exponential delay.
    pub cap: Duration,
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Full jitter: each delay drawn uniformly between 0 and the computed one.
    pub jitter: bool,
    /// Retries allowed per first attempt over the window (0.1: 10% more requests at most).
    pub budget: Option<f64>,
    pub window: Duration,
    /// Statuses that are retried; 0 is a request that got no response. Empty: 0 and 5xx.
    pub on: Vec<u16>,
}

impl RetrySpec {
    pub const DEFAULT_BASE: Duration = Duration::from_millis(100);
    pub const DEFAULT_CAP: Duration = Duration::from_secs(10);
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);

    /// A policy with the defaults: 3 attempts, 100 ms base, 10 s cap, no jitter, no budget.
    pub fn new(backoff: Backoff) -> RetrySpec {
        RetrySpec {
            backoff,
            base: Self::DEFAULT_BASE,
            cap: Self::DEFAULT_CAP,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            jitter: false,
            budget: None,
            window: Self::DEFAULT_WINDOW,
            on: Vec::new(),
        }
    }

    /// `k6/http`'s `retry` param (durations already in milliseconds):
    /// `{ policy, base, cap, max, jitter, budget, window, on }`; the error names the key.
    pub fn from_json(v: &Value) -> Result<RetrySpec, String> {
        let Value::Object(o) = v else {
            return Err(format!(
                "retry: must be an object such as {{ policy: 'exponential', max: 4 }}, not {v}"
            ));
        };
        if let Some(k) = o.keys().find(|k| {
            !matches!(
                k.as_str(),
                "policy" | "base" | "cap" | "max" | "jitter" | "budget" | "window" | "on"
            )
        }) {
            return Err(format!(
                "retry.{k}: not a retry option (policy, base, cap, max, jitter, budget, window, on)"
            ));
        }
        let policy = match o.get("policy") {
            Some(Value::String(s)) => s.parse().map_err(|e| format!("retry.policy: {e}"))?,
            None => return Err("retry.policy: missing (immediate, fixed or exponential)".into()),
            Some(v) => return Err(format!("retry.policy: must be a string, not {v}")),
        };
        let mut spec = RetrySpec::new(policy);
        let ms = |key: &str| -> Result<Option<Duration>, String> {
            match o.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => match v.as_f64() {
                    Some(n) if n >= 0.0 && n.is_finite() => {
                        Ok(Some(Duration::from_secs_f64(n / 1000.0)))
                    }
                    _ => Err(format!(
                        "retry.{key}: must be a duration such as '100ms', not {v}"
                    )),
                },
            }
        };
        spec.base = ms("base")?.unwrap_or(spec.base);
        spec.cap = ms("cap")?.unwrap_or(spec.cap);
        spec.window = ms("window")?.unwrap_or(spec.window);
        if let Some(v) = o.get("max") {
            spec.max_attempts = v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("retry.max: must be a whole number of attempts, not {v}"))?;
        }
        if let Some(v) = o.get("jitter") {
            spec.jitter = v
                .as_bool()
                .ok_or_else(|| format!("retry.jitter: must be true or false, not {v}"))?;
        }
        if let Some(v) = o.get("budget").filter(|v| !v.is_null()) {
            spec.budget =
                Some(v.as_f64().ok_or_else(|| {
                    format!("retry.budget: must be a share such as 0.1, not {v}")
                })?);
        }
        if let Some(v) = o.get("on") {
            let list = v.as_array().ok_or_else(|| {
                format!("retry.on: must be a list of statuses such as [502, 503], not {v}")
            })?;
            spec.on = list
                .iter()
                .map(|s| {
                    s.as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .filter(|n| *n < 600)
                        .ok_or_else(|| format!("retry.on: {s} is not an HTTP status (or 0)"))
                })
                .collect::<Result<_, _>>()?;
        }
        spec.check().map_err(|e| format!("retry.{e}"))?;
        Ok(spec)
    }

    /// The limits every way of writing a policy shares; the error starts with the key
    /// (`max: ...`), to be prefixed with where it was written.
    pub fn check(&self) -> Result<(), String> {
        if self.max_attempts == 0 {
            return Err("max: must be at least 1 attempt".into());
        }
        if let Some(b) = self.budget {
            if !(b >= 0.0 && b.is_finite()) {
                return Err(format!(
                    "budget: must be a share of 0 or more, such as 0.1, not {b}"
                ));
            }
        }
        if self.budget.is_some() && self.window < Duration::from_secs(1) {
            return Err("window: must be at least 1s".into());
        }
        Ok(())
    }

    /// Whether a response with this status is retried.
    fn retries(&self, status: u16) -> bool {
        if self.on.is_empty() {
            status == 0 || status >= 500
        } else {
            self.on.contains(&status)
        }
    }

    /// The wait before retry number `n` (1 for the first retry).
    fn delay(&self, n: u32) -> Duration {
        let d = match self.backoff {
            Backoff::Immediate => return Duration::ZERO,
            Backoff::Fixed => self.base,
            Backoff::Exponential => self
                .base
                .saturating_mul(1u32.checked_shl(n - 1).unwrap_or(u32::MAX))
                .min(self.cap),
        };
        if self.jitter {
            d.mul_f64(rand::rng().random::<f64>())
        } else {
            d
        }
    }
}

/// The retries of a sliding window may be at most `ratio` times its first attempts. Shared by
/// every VU of the run that uses the same budget (a fleet of clients behind one budget).
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    window: Duration,
    /// Per-second buckets of (first attempts, retries), oldest first.
    seconds: Mutex<VecDeque<(Instant, u64, u64)>>,
}

impl RetryBudget {
    pub fn new(ratio: f64, window: Duration) -> RetryBudget {
        RetryBudget {
            ratio,
            window,
            seconds: Mutex::new(VecDeque::new()),
        }
    }

    /// Counts a first attempt (`retry` false) or takes a retry (`retry` true); a retry the
    /// window's share does not allow is refused (false) and not counted.
    fn note(&self, now: Instant, retry: bool) -> bool {
        let mut s = self.seconds.lock().unwrap_or_else(|e| e.into_inner());
        while s
            .front()
            .is_some_and(|(t, ..)| now.duration_since(*t) >= self.window)
        {
            s.pop_front();
        }
        if retry {
            let (firsts, retries) = s
                .iter()
                .fold((0, 0), |(f, r), (_, bf, br)| (f + bf, r + br));
            if (retries + 1) as f64 > self.ratio * firsts as f64 {
                return false;
            }
        }
        match s.back_mut() {
            Some((t, f, r)) if now.duration_since(*t) < Duration::from_secs(1) => {
                if retry {
                    *r += 1
                } else {
                    *f += 1
                }
            }
            _ => s.push_back((now, u64::from(!retry), u64::from(retry))),
        }
        true
    }
}

/// A policy ready to use: the spec and its budget.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    spec: RetrySpec,
    budget: Option<Arc<RetryBudget>>,
}

/// The retry metrics' names: `retry_amplification` (a trend of each logical request's attempts),
/// `http_req_retries` (retries sent), `retry_budget_exhausted` (retries a budget withheld).
pub const METRIC_NAMES: [&str; 3] = [
    "retry_amplification",
    "http_req_retries",
    "retry_budget_exhausted",
];

/// The retry metrics' ids in one run's registry.
#[derive(Debug, Clone, Copy)]
pub struct RetryMetrics {
    amplification: MetricId,
    retries: MetricId,
    exhausted: MetricId,
}

impl RetryMetrics {
    /// Registers them; fails when a script's own metric took one of the names with another type.
    pub fn register(registry: &Registry) -> Result<RetryMetrics, RegistryError> {
        Ok(RetryMetrics {
            amplification: registry.register(
                METRIC_NAMES[0],
                MetricType::Trend,
                ValueType::Default,
            )?,
            retries: registry.register(METRIC_NAMES[1], MetricType::Counter, ValueType::Default)?,
            exhausted: registry.register(
                METRIC_NAMES[2],
                MetricType::Counter,
                ValueType::Default,
            )?,
        })
    }
}

/// The run's retry state: its metrics and one budget per (share, window), shared by every VU
/// and worker.
#[derive(Debug)]
pub struct Retries {
    metrics: RetryMetrics,
    budgets: Mutex<Vec<Arc<RetryBudget>>>,
}

impl Retries {
    /// Registers the retry metrics in the run's registry.
    pub fn new(registry: &Registry) -> Result<Retries, RegistryError> {
        Ok(Retries {
            metrics: RetryMetrics::register(registry)?,
            budgets: Mutex::new(Vec::new()),
        })
    }

    /// The policy for `spec`, with the run's budget of its share and window.
    pub fn policy(&self, spec: RetrySpec) -> RetryPolicy {
        let budget = spec.budget.map(|ratio| {
            let mut all = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
            match all
                .iter()
                .find(|b| b.ratio == ratio && b.window == spec.window)
            {
                Some(b) => b.clone(),
                None => {
                    let b = Arc::new(RetryBudget::new(ratio, spec.window));
                    all.push(b.clone());
                    b
                }
            }
        });
        RetryPolicy { spec, budget }
    }

    pub fn metrics(&self) -> RetryMetrics {
        self.metrics
    }
}

/// One logical request's attempts: call [`after`](Self::after) with each response, wait what it
/// says and send again, or stop; then [`record`](Self::record).
pub struct Attempts<'a> {
    policy: &'a RetryPolicy,
    sent: u32,
    withheld: bool,
}

impl<'a> Attempts<'a> {
    /// Before the first attempt (it counts towards the budget).
    pub fn start(policy: &'a RetryPolicy) -> Attempts<'a> {
        if let Some(b) = &policy.budget {
            b.note(Instant::now(), false);
        }
        Attempts {
            policy,
            sent: 1,
            withheld: false,
        }
    }

    /// After an attempt's response (its status; 0 when none came): the wait before the next
    /// attempt, or None when this response is the last (it passed, or the attempts or the
    /// budget ran out).
    pub fn after(&mut self, status: u16) -> Option<Duration> {
        let spec = &self.policy.spec;
        if !spec.retries(status) || self.sent >= spec.max_attempts {
            return None;
        }
        if let Some(b) = &self.policy.budget {
            if !b.note(Instant::now(), true) {
                self.withheld = true;
                return None;
            }
        }
        self.sent += 1;
        Some(spec.delay(self.sent - 1))
    }

    /// Attempts sent so far.
    pub fn sent(&self) -> u32 {
        self.sent
    }

    /// Adds the logical request's samples: its attempts, its retries, and a withheld retry.
    pub fn record(&self, metrics: RetryMetrics, agg: &mut Aggregator, tags: &TagSet) {
        agg.add(metrics.amplification, tags, f64::from(self.sent));
        if self.sent > 1 {
            agg.add(metrics.retries, tags, f64::from(self.sent - 1));
        }
        if self.withheld {
            agg.add(metrics.exhausted, tags, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(spec: RetrySpec) -> RetryPolicy {
        Retries::new(&Registry::new()).unwrap().policy(spec)
    }

    #[test]
    fn delays_follow_the_policy() {
        let mut s = RetrySpec::new(Backoff::Exponential);
        s.base = Duration::from_millis(100);
        s.cap = Duration::from_millis(500);
        let d: Vec<u128> = (1..=5).map(|n| s.delay(n).as_millis()).collect();
        assert_eq!(d, [100, 200, 400, 500, 500]);
        s.jitter = true;
        for n in 1..=5 {
            assert!(s.delay(n) <= Duration::from_millis(500));
        }
        assert_eq!(
            RetrySpec::new(Backoff::Fixed).delay(4),
            RetrySpec::DEFAULT_BASE
        );
        assert_eq!(RetrySpec::new(Backoff::Immediate).delay(3), Duration::ZERO);
    }

    #[test]
    fn attempts_stop_at_the_maximum_or_on_success() {
        let mut s = RetrySpec::new(Backoff::Immediate);
        s.max_attempts = 4;
        let p = policy(s);
        let mut a = Attempts::start(&p);
        while a.after(503).is_some() {}
        assert_eq!(a.sent(), 4);
        let mut a = Attempts::start(&p);
        assert!(a.after(0).is_some(), "no response is retried");
        assert_eq!(a.after(200), None);
        assert_eq!(a.after(404), None, "4xx is not retried by default");
        assert_eq!(a.sent(), 2);
    }

    #[test]
    fn a_budget_holds_retries_to_its_share_of_first_attempts() {
        let mut s = RetrySpec::new(Backoff::Immediate);
        s.max_attempts = 4;
        s.budget = Some(0.1);
        let p = policy(s);
        let (mut firsts, mut sent) = (0, 0);
        for _ in 0..1000 {
            let mut a = Attempts::start(&p);
            while a.after(503).is_some() {}
            firsts += 1;
            sent += a.sent();
        }
        let amplification = f64::from(sent) / f64::from(firsts);
        assert!((1.09..=1.1).contains(&amplification), "{amplification}");
    }

    #[test]
    fn bad_options_name_their_key() {
        let spec = RetrySpec::from_json(&json!({
            "policy": "exponential", "base": 50, "max": 5, "jitter": true, "budget": 0.2,
            "on": [502, 503]
        }))
        .unwrap();
        assert_eq!(spec.base, Duration::from_millis(50));
        assert_eq!((spec.max_attempts, spec.jitter), (5, true));
        assert_eq!((spec.budget, spec.on.clone()), (Some(0.2), vec![502, 503]));
        for (bad, says) in [
            (json!({ "max": 3 }), "retry.policy: missing"),
            (
                json!({ "policy": "linear" }),
                "retry.policy: 'linear' is not",
            ),
            (
                json!({ "policy": "fixed", "max": 0 }),
                "retry.max: must be at least 1",
            ),
            (
                json!({ "policy": "fixed", "max": "3" }),
                "retry.max: must be a whole number",
            ),
            (json!({ "policy": "fixed", "budget": -1 }), "retry.budget:"),
            (json!({ "policy": "fixed", "on": [700] }), "retry.on: 700"),
            (
                json!({ "policy": "fixed", "tries": 3 }),
                "retry.tries: not a retry option",
            ),
            (json!(true), "retry: must be an object"),
        ] {
            let e = RetrySpec::from_json(&bad).unwrap_err();
            assert!(e.starts_with(says), "{bad}: {e}");
        }
    }
}
