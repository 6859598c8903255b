//! Server-wide stall: models a whole-server pause (a GC or a failover) so that
//! load generators' coordinated-omission correction can be tested.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The end of the current stall, if any, shared by every connection of one server.
#[derive(Debug)]
pub(crate) struct Stall {
    /// Reference point for `until_nanos`.
    epoch: Instant,
    /// Nanoseconds after `epoch` at which the stall ends; 0 when none was ever started.
    until_nanos: AtomicU64,
}

impl Stall {
    pub(crate) fn new() -> Self {
        Stall {
            epoch: Instant::now(),
            until_nanos: AtomicU64::new(0),
        }
    }

    /// Starts a stall lasting `length` from now, or extends a running one to end no earlier.
    pub(crate) fn begin(&self, length: Duration) {
        let end = (self.epoch.elapsed() + length).as_nanos();
        let end = u64::try_from(end).unwrap_or(u64::MAX).max(1);
        self.until_nanos.fetch_max(end, Ordering::AcqRel);
    }

    /// The instant the running stall ends, or `None` when requests may proceed.
    /// One atomic load on the common path, so every request can afford the check.
    pub(crate) fn active_until(&self) -> Option<Instant> {
        let until = self.until_nanos.load(Ordering::Acquire);
        if until == 0 {
            return None;
        }
        let end = self.epoch + Duration::from_nanos(until);
        (end > Instant::now()).then_some(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_stall_until_begun() {
        assert!(Stall::new().active_until().is_none());
    }

    #[test]
    fn a_shorter_stall_never_shortens_a_running_one() {
        let stall = Stall::new();
        stall.begin(Duration::from_secs(60));
        let long_end = stall.active_until().expect("stall is running");
        stall.begin(Duration::from_millis(1));
        assert_eq!(stall.active_until(), Some(long_end));
    }
}
