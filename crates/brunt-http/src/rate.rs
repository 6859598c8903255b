//! k6's `rps` option: at most N requests a second across every VU of the run. k6 waits on a
//! Go `rate.Limiter` with a burst of one before each request; this is the same limit as a
//! generic cell rate algorithm on one atomic, so the workers share it without a lock and a
//! limiter left idle does not save up a burst.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimiter {
    start: Instant,
    /// Nanoseconds between two requests.
    interval: u64,
    /// The earliest time (ns since `start`) the next request may start.
    next: AtomicU64,
}

impl RateLimiter {
    /// A limit of `per_second` requests a second; None for a rate that does not limit (0).
    pub fn new(per_second: f64) -> Option<Self> {
        (per_second > 0.0 && per_second.is_finite()).then(|| RateLimiter {
            start: Instant::now(),
            interval: (1e9 / per_second).max(1.0) as u64,
            next: AtomicU64::new(0),
        })
    }

    /// Claims the next slot and how long from now it starts.
    fn claim(&self) -> Duration {
        let now = self.start.elapsed().as_nanos() as u64;
        let prev = self
            .next
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.max(now) + self.interval)
            })
            .unwrap_or_else(|n| n);
        Duration::from_nanos(prev.max(now) - now)
    }

    /// Waits for this request's turn.
    pub async fn wait(&self) {
        let d = self.claim();
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_spaced_by_the_interval_and_idle_time_is_not_saved() {
        let l = RateLimiter::new(10.0).unwrap();
        assert!(l.claim().is_zero());
        let second = l.claim();
        let third = l.claim();
        assert!(second > Duration::from_millis(90) && second <= Duration::from_millis(100));
        assert!(third > Duration::from_millis(190) && third <= Duration::from_millis(200));
        assert!(RateLimiter::new(0.0).is_none());
    }
}
