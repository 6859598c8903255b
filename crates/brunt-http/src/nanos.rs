//! A request's phase stamps as integer nanoseconds on the monotonic clock. Each request turns
//! about ten stamps into k6's timings and elapsed time; as `Instant`s each difference is a
//! checked timespec subtraction (and the connection's stamps, kept as nanoseconds in atomics,
//! were turned back into `Instant`s first), where integers subtract in one instruction.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A moment on `CLOCK_MONOTONIC`, the clock `Instant` reads on Linux, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Nanos(u64);

impl Nanos {
    pub fn now() -> Nanos {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec for the call to write, and CLOCK_MONOTONIC is a
        // clock every Linux has, so the call cannot fail (it is the clock `Instant::now` reads).
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        Nanos(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }

    /// Nanoseconds as stored in an atomic, where 0 means "not yet".
    pub fn from_raw(n: u64) -> Nanos {
        Nanos(n)
    }

    pub fn raw(self) -> u64 {
        self.0
    }

    /// The time from `earlier` to this moment; zero if `earlier` is later.
    pub fn since(self, earlier: Nanos) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// [`since`](Self::since) in milliseconds, as k6's timings are. Below a second (a phase of
    /// almost every request) `Duration::as_secs_f64` is `0.0 + n / 1e9`, which is `n / 1e9`:
    /// computed so, the same number without splitting `n` into seconds and nanoseconds.
    pub fn ms_since(self, earlier: Nanos) -> f64 {
        let n = self.0.saturating_sub(earlier.0);
        if n < 1_000_000_000 {
            n as f64 / 1e9 * 1000.0
        } else {
            self.since(earlier).as_secs_f64() * 1000.0
        }
    }

    /// The same moment as an `Instant` (for the request's deadline on tokio's timer), through
    /// one pair of readings of both clocks taken when first asked.
    pub fn to_instant(self) -> Instant {
        static ANCHOR: OnceLock<(Instant, Nanos)> = OnceLock::new();
        let &(instant, at) = ANCHOR.get_or_init(|| (Instant::now(), Nanos::now()));
        if self >= at {
            instant + self.since(at)
        } else {
            instant - at.since(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_are_those_of_the_duration() {
        let t0 = Nanos::from_raw(5_000_000_000);
        let mut n = 1u64;
        while n < 5_000_000_000 {
            for d in [
                n - 1,
                n,
                n + 1,
                n * 7 / 3,
                999_999_999,
                1_000_000_000,
                1_000_000_001,
            ] {
                let later = Nanos::from_raw(t0.raw() + d);
                let want = Duration::from_nanos(d).as_secs_f64() * 1000.0;
                assert_eq!(later.ms_since(t0).to_bits(), want.to_bits(), "{d} ns");
            }
            n = n * 3 + 17;
        }
        assert_eq!(t0.ms_since(Nanos::from_raw(t0.raw() + 1)), 0.0);
    }

    #[test]
    fn reads_the_clock_instant_reads() {
        let before = Instant::now();
        let now = Nanos::now();
        let after = Instant::now();
        // Converted through the anchor, which was read at another moment: within its spread.
        let i = now.to_instant();
        let slack = Duration::from_millis(50);
        assert!(
            i + slack >= before && i <= after + slack,
            "{i:?} {before:?} {after:?}"
        );
        let later = Nanos::from_raw(now.raw() + 1_500_000);
        assert_eq!(later.since(now), Duration::from_micros(1500));
        assert_eq!(later.ms_since(now), 1.5);
        assert_eq!(now.since(later), Duration::ZERO);
        assert_eq!(
            later.to_instant() - now.to_instant(),
            Duration::from_micros(1500)
        );
    }
}
