//! Where an experiment stands with its faults, so that a background load can judge its
//! thresholds per phase: before the first fault, while a fault is active, after it is undone.
//! brunt's timed faults are active while their activity runs; any other action of the method
//! (a toxiproxy toxic, a kill) lasts until the rollbacks have run.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;

/// A phase of the experiment as a load sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultPhase {
    /// No fault has started yet.
    Before,
    /// A fault is active.
    During,
    /// Every fault has been undone.
    After,
}

/// The run's faults, updated by the runner, read by loads once a second.
#[derive(Debug, Default)]
pub struct FaultClock {
    started: AtomicBool,
    lasting: AtomicBool,
    timed: AtomicUsize,
    rolled_back: AtomicBool,
    hypothesis_failed: AtomicBool,
}

impl FaultClock {
    /// The phase now.
    pub fn phase(&self) -> FaultPhase {
        if !self.started.load(Ordering::Acquire) {
            FaultPhase::Before
        } else if self.timed.load(Ordering::Acquire) > 0
            || (self.lasting.load(Ordering::Acquire) && !self.rolled_back.load(Ordering::Acquire))
        {
            FaultPhase::During
        } else {
            FaultPhase::After
        }
    }

    /// A fault starts; a timed one ends when the returned guard drops.
    pub fn start(&self, timed: bool) -> Option<TimedFault<'_>> {
        self.started.store(true, Ordering::Release);
        if timed {
            self.timed.fetch_add(1, Ordering::AcqRel);
            Some(TimedFault(self))
        } else {
            self.lasting.store(true, Ordering::Release);
            None
        }
    }

    /// The rollbacks have run: lasting faults are over.
    pub fn rolled_back(&self) {
        self.rolled_back.store(true, Ordering::Release);
    }

    /// A load's thresholds failed in some phase, or a probe with a mode had a sample out of
    /// tolerance: the hypothesis during the fault did not hold.
    pub fn hypothesis_failed(&self) {
        self.hypothesis_failed.store(true, Ordering::Release);
    }

    /// Whether the hypothesis during the fault failed.
    pub fn has_hypothesis_failed(&self) -> bool {
        self.hypothesis_failed.load(Ordering::Acquire)
    }
}

/// A timed fault in progress; dropping it (the activity ended or was abandoned) ends it.
pub struct TimedFault<'a>(&'a FaultClock);

impl Drop for TimedFault<'_> {
    fn drop(&mut self) {
        self.0.timed.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_timed_and_lasting_faults() {
        let clock = FaultClock::default();
        assert_eq!(clock.phase(), FaultPhase::Before);
        let timed = clock.start(true);
        assert_eq!(clock.phase(), FaultPhase::During);
        drop(timed);
        assert_eq!(clock.phase(), FaultPhase::After);
        assert!(clock.start(false).is_none());
        assert_eq!(clock.phase(), FaultPhase::During);
        clock.rolled_back();
        assert_eq!(clock.phase(), FaultPhase::After);
    }
}
