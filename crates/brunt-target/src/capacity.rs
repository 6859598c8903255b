//! `--capacity N`: a server with a known throughput ceiling, so that a capacity search can be
//! checked against the truth. Requests start at most N per second; the rest wait in a queue (as
//! requests wait for a saturated server's workers), so latency grows without bound above N and
//! stays flat below it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket in its GCRA form: each request takes the next start slot, one every `1/N`
/// seconds, and waits for it; a burst of up to `BURST` of capacity starts at once.
#[derive(Debug)]
pub(crate) struct Capacity {
    interval: Duration,
    tolerance: Duration,
    /// The theoretical start of the next request (GCRA's TAT).
    next: Mutex<Instant>,
}

/// How much of a second's capacity may start at once: the jitter of an open-model client at the
/// rate must not queue, a sustained excess must.
const BURST: Duration = Duration::from_millis(10);

impl Capacity {
    /// Serves at most `per_second` requests per second.
    pub(crate) fn new(per_second: u32) -> Self {
        let interval = Duration::from_secs(1) / per_second.max(1);
        Capacity {
            interval,
            tolerance: BURST.max(interval),
            next: Mutex::new(Instant::now()),
        }
    }

    /// How long a request arriving at `now` waits for its slot (zero when there is capacity).
    pub(crate) fn reserve(&self, now: Instant) -> Duration {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (*next).max(now);
        *next = slot + self.interval;
        slot.saturating_duration_since(now + self.tolerance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_at_the_rate_never_wait() {
        let c = Capacity::new(100);
        let start = Instant::now();
        for i in 0..50 {
            assert_eq!(
                c.reserve(start + Duration::from_millis(10 * i)),
                Duration::ZERO
            );
        }
    }

    #[test]
    fn an_excess_queues_one_interval_per_request() {
        let c = Capacity::new(100);
        let now = Instant::now();
        let waits: Vec<_> = (0..5).map(|_| c.reserve(now)).collect();
        // Two fit in the 10 ms burst; each later one waits 10 ms more than the one before.
        assert_eq!(waits[..2], [Duration::ZERO, Duration::ZERO]);
        assert_eq!(waits[2], Duration::from_millis(10));
        assert_eq!(waits[4], Duration::from_millis(30));
    }
}
