//! The seconds of a coordinated run as they come in: each instance's report of second `k` is
//! added to that second's bucket (VU gauges summed, histograms added, so percentiles of the whole
//! are exact); a bucket goes to the reporter when every instance still running has reported it,
//! or when it has waited [`GRACE`] for a late one. A report that comes after its second went
//! out is added to the next second, so nothing received is lost.

use brunt_engine::{Progress, ScenarioProgress};
use brunt_metrics::{SeriesMap, Snapshot};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a second waits for instances that have not reported it yet.
pub const GRACE: Duration = Duration::from_millis(1500);

/// One second of the whole run, filling.
struct Bucket {
    series: Snapshot,
    first_arrival: Instant,
}

/// The seconds not yet handed to the reporter.
pub struct Seconds {
    pending: BTreeMap<u64, Bucket>,
    /// Seconds up to (not including) this one have gone out.
    next: u64,
}

impl Default for Seconds {
    fn default() -> Self {
        Seconds {
            pending: BTreeMap::new(),
            next: 1,
        }
    }
}

impl Seconds {
    /// Adds an instance's report of `second` (1 for its first tick); returns how late it came
    /// beside the first report of the second it filled.
    pub fn add(&mut self, second: u64, series: &SeriesMap, now: Instant) -> Duration {
        let second = second.max(self.next);
        let bucket = self.pending.entry(second).or_insert_with(|| Bucket {
            series: Snapshot::default(),
            first_arrival: now,
        });
        bucket.series.merge_instance(series);
        now.saturating_duration_since(bucket.first_arrival)
    }

    /// The oldest second, when it is ready: every instance still running has reported it or a
    /// later one (`reported_up_to`), or it waited long enough. `force` hands it out regardless.
    pub fn pop_ready(
        &mut self,
        reported_up_to: impl Iterator<Item = u64>,
        now: Instant,
        force: bool,
    ) -> Option<(u64, SeriesMap)> {
        let (&second, bucket) = self.pending.iter().next()?;
        let mut all = true;
        for r in reported_up_to {
            all &= r >= second;
        }
        let waited = now.saturating_duration_since(bucket.first_arrival) >= GRACE;
        if !(all || waited || force) {
            return None;
        }
        let bucket = self.pending.remove(&second)?;
        self.next = second + 1;
        Some((second, bucket.series.series))
    }
}

/// The whole run's progress: each instance's latest, added up scenario by scenario.
pub fn progress(latest: impl Iterator<Item = Progress>) -> Progress {
    let mut out = Progress::default();
    let mut planned: Vec<u64> = Vec::new();
    for p in latest {
        out.active_vus += p.active_vus;
        out.initialized_vus += p.initialized_vus;
        out.max_vus += p.max_vus;
        out.iterations += p.iterations;
        for (i, s) in p.scenarios.into_iter().enumerate() {
            if out.scenarios.len() <= i {
                out.scenarios.push(ScenarioProgress {
                    done: true,
                    ..s.clone()
                });
                out.scenarios[i].iterations = 0;
                out.scenarios[i].dropped_iterations = 0;
                out.scenarios[i].active_vus = 0;
                out.scenarios[i].max_vus = 0;
                out.scenarios[i].planned_iterations = s.planned_iterations.map(|_| 0);
                out.scenarios[i].rate = s.rate.map(|_| 0.0);
                planned.push(0);
            }
            let o = &mut out.scenarios[i];
            o.iterations += s.iterations;
            o.dropped_iterations += s.dropped_iterations;
            o.active_vus += s.active_vus;
            o.max_vus += s.max_vus;
            o.done &= s.done;
            o.fraction = o.fraction.min(s.fraction);
            if let (Some(t), Some(n)) = (&mut o.planned_iterations, s.planned_iterations) {
                *t += n;
            }
            if let (Some(t), Some(r)) = (&mut o.rate, s.rate) {
                *t += r;
            }
        }
    }
    for s in &mut out.scenarios {
        if let Some(total) = s.planned_iterations.filter(|t| *t > 0) {
            s.fraction = ((s.iterations + s.dropped_iterations) as f64 / total as f64).min(1.0);
        }
        if s.done {
            s.fraction = 1.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use brunt_metrics::{builtin, Aggregator, Registry, TagSet};
    use std::sync::Arc;

    fn second(reg: &Arc<Registry>, reqs: f64) -> SeriesMap {
        let mut a = Aggregator::new(reg.clone(), false);
        a.add(builtin::HTTP_REQS, &TagSet::empty(), reqs);
        a.take().series
    }

    #[test]
    fn a_second_goes_out_when_every_instance_reported_it_and_late_reports_are_kept() {
        let reg = Arc::new(Registry::new());
        let t0 = Instant::now();
        let mut s = Seconds::default();
        s.add(1, &second(&reg, 2.0), t0);
        assert!(
            s.pop_ready([1, 0].into_iter(), t0, false).is_none(),
            "one instance missing"
        );
        s.add(1, &second(&reg, 3.0), t0);
        let (n, merged) = s.pop_ready([1, 1].into_iter(), t0, false).unwrap();
        assert_eq!(n, 1);
        let total = Snapshot { series: merged };
        assert_eq!(
            total.metric(builtin::HTTP_REQS).unwrap().stat("count", 1.0),
            Some(5.0)
        );
        // A late report of second 1 fills second 2.
        s.add(1, &second(&reg, 7.0), t0);
        let (n, merged) = s.pop_ready([2, 2].into_iter(), t0 + GRACE, false).unwrap();
        assert_eq!(n, 2);
        let total = Snapshot { series: merged };
        assert_eq!(
            total.metric(builtin::HTTP_REQS).unwrap().stat("count", 1.0),
            Some(7.0)
        );
    }

    #[test]
    fn a_second_waits_no_longer_than_its_grace() {
        let reg = Arc::new(Registry::new());
        let t0 = Instant::now();
        let mut s = Seconds::default();
        s.add(1, &second(&reg, 1.0), t0);
        assert!(s.pop_ready([1, 0].into_iter(), t0, false).is_none());
        assert!(s.pop_ready([1, 0].into_iter(), t0 + GRACE, false).is_some());
    }

    #[test]
    fn progress_adds_up_the_instances() {
        let one = |iters, planned| Progress {
            active_vus: 2,
            iterations: iters,
            scenarios: vec![ScenarioProgress {
                name: "default".into(),
                iterations: iters,
                planned_iterations: Some(planned),
                ..Default::default()
            }],
            ..Default::default()
        };
        let p = progress([one(10, 50), one(30, 50)].into_iter());
        assert_eq!(p.active_vus, 4);
        assert_eq!(p.iterations, 40);
        assert_eq!(p.scenarios[0].planned_iterations, Some(100));
        assert_eq!(p.scenarios[0].fraction, 0.4);
    }
}
