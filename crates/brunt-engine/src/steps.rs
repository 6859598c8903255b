//! Execution requirements: how many VUs each scenario needs over time (k6's `ExecutionStep`s),
//! and the pure schedules behind ramping-vus. Everything here is computed before the run and
//! unit-tested without running anything.

use crate::segment::ExecutionTuple;
use std::time::Duration;

/// From `offset` on, `planned` VUs are needed, and up to `unplanned` more may be initialised on
/// demand (arrival-rate executors' `maxVUs - preAllocatedVUs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub offset: Duration,
    pub planned: u64,
    pub unplanned: u64,
}

impl Step {
    pub(crate) fn new(offset: Duration, planned: u64) -> Step {
        Step {
            offset,
            planned,
            unplanned: 0,
        }
    }
}

/// A ramping stage with its values already validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageSpec {
    pub duration: Duration,
    pub target: u64,
}

/// The highest of a ramp's start value and its stages' targets (VUs or iterations per unit).
pub(crate) fn max_target(start: u64, stages: &[StageSpec]) -> u64 {
    stages.iter().map(|s| s.target).fold(start, u64::max)
}

/// k6's `getRawExecutionSteps`: the VUs a ramping-vus scenario should have running, ignoring
/// graceful ramp-down. Within a linear ramp, the n-th VU starts (or stops) at the moment the
/// line crosses n; segments take their striped share of the VUs. With `zero_end` a final step
/// drops to 0 VUs at the end of the stages.
pub fn ramping_vus_raw_steps(
    start_vus: u64,
    stages: &[StageSpec],
    tuple: &ExecutionTuple,
    zero_end: bool,
) -> Vec<Step> {
    let mut index = tuple.index();
    let mut from = start_vus as i64;
    let (mut scaled, mut unscaled) = index.go_to(from);
    let mut steps = vec![Step::new(Duration::ZERO, scaled as u64)];
    let add = |steps: &mut Vec<Step>, offset: Duration, planned: i64| {
        if steps[steps.len() - 1].planned != planned as u64 {
            steps.push(Step::new(offset, planned as u64));
        }
    };
    let mut till_end = Duration::ZERO;
    for stage in stages {
        let end = stage.target as i64;
        let dur = stage.duration.as_nanos() as i128;
        till_end += stage.duration;
        let diff = end - from;
        if diff == 0 {
            continue;
        }
        if dur == 0 {
            (scaled, unscaled) = index.go_to(end);
            add(&mut steps, till_end, scaled);
            from = end;
            continue;
        }
        let at = |n: i64| {
            let back = dur * i128::from(n) / i128::from(diff);
            till_end - Duration::from_nanos(back as u64)
        };
        if unscaled > end {
            while unscaled > end {
                add(&mut steps, at(end - unscaled + 1), scaled - 1);
                (scaled, unscaled) = index.retreat();
            }
        } else {
            while unscaled <= end {
                add(&mut steps, at(end - unscaled), scaled);
                (scaled, unscaled) = index.advance();
            }
        }
        from = end;
    }
    if zero_end && steps[steps.len() - 1].planned != 0 {
        steps.push(Step::new(till_end, 0));
    }
    steps
}

/// k6's `reserveVUsForGracefulRampDowns`: when the VU count drops, the stopped VUs may finish
/// their iteration for up to `graceful_ramp_down`, so they stay reserved (and are hard-stopped)
/// only after that; no step is added at or after `end`.
pub fn reserve_graceful_ramp_downs(
    raw: &[Step],
    graceful_ramp_down: Duration,
    end: Duration,
) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut last_planned = 0u64;
    let mut last_down_slope = 0usize;
    let mut n = 0usize;
    while n < raw.len() {
        let step = raw[n];
        if n == 0 || step.planned > last_planned {
            out.push(step);
            last_planned = step.planned;
            n += 1;
            continue;
        }
        if step.planned == last_planned {
            n += 1;
            continue;
        }
        let with_timeout = step.offset + graceful_ramp_down;
        let mut skipped = false;
        let mut ramping_down = true;
        let mut adv = last_down_slope.max(n + 1);
        while adv < raw.len() {
            let a = raw[adv];
            if a.offset > with_timeout {
                break;
            }
            if a.planned >= last_planned {
                n = adv - 1;
                skipped = true;
                break;
            }
            if ramping_down {
                if raw[adv - 1].planned > a.planned {
                    last_down_slope = adv;
                } else {
                    ramping_down = false;
                }
            }
            adv += 1;
        }
        if skipped {
            n += 1;
            continue;
        }
        if with_timeout >= end {
            break;
        }
        out.push(Step::new(with_timeout, step.planned));
        last_planned = step.planned;
        n += 1;
    }
    out
}

/// The number of VUs planned at `t` (the last step at or before it).
pub fn planned_at(steps: &[Step], t: Duration) -> u64 {
    steps
        .iter()
        .take_while(|s| s.offset <= t)
        .last()
        .map_or(0, |s| s.planned)
}

/// Several scenarios' steps, each shifted by its start time, merged into the test's: at every
/// moment the sums of planned and unplanned VUs (k6's `GetFullExecutionRequirements`).
pub fn merge_requirements(per_scenario: &[(Duration, Vec<Step>)]) -> Vec<Step> {
    let mut events: Vec<(Duration, usize, Step)> = Vec::new();
    for (i, (start, steps)) in per_scenario.iter().enumerate() {
        for s in steps {
            events.push((*start + s.offset, i, *s));
        }
    }
    events.sort_by_key(|(t, i, _)| (*t, *i));
    let mut planned = vec![0u64; per_scenario.len()];
    let mut unplanned = vec![0u64; per_scenario.len()];
    let mut out: Vec<Step> = Vec::new();
    let mut k = 0;
    while k < events.len() {
        let t = events[k].0;
        while k < events.len() && events[k].0 == t {
            let (_, i, s) = events[k];
            planned[i] = s.planned;
            unplanned[i] = s.unplanned;
            k += 1;
        }
        let step = Step {
            offset: t,
            planned: planned.iter().sum(),
            unplanned: unplanned.iter().sum(),
        };
        match out.last() {
            Some(l) if l.planned == step.planned && l.unplanned == step.unplanned => {}
            _ => out.push(step),
        }
    }
    out
}

/// The most VUs planned at any moment.
pub fn max_planned(steps: &[Step]) -> u64 {
    steps.iter().map(|s| s.planned).max().unwrap_or(0)
}

/// The most VUs that may exist at any moment, counting on-demand ones.
pub fn max_possible(steps: &[Step]) -> u64 {
    steps
        .iter()
        .map(|s| s.planned + s.unplanned)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{ExecutionSegment, SegmentSequence};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn stage(d: u64, t: u64) -> StageSpec {
        StageSpec {
            duration: secs(d),
            target: t,
        }
    }

    fn plan(steps: &[Step]) -> Vec<(u64, u64)> {
        steps
            .iter()
            .map(|s| (s.offset.as_secs(), s.planned))
            .collect()
    }

    #[test]
    fn ramp_up_starts_one_vu_each_time_the_line_crosses_it() {
        let steps = ramping_vus_raw_steps(0, &[stage(10, 10)], &ExecutionTuple::full(), true);
        let want: Vec<(u64, u64)> = (0..=10).map(|i| (i, i)).chain([(10, 0)]).collect();
        assert_eq!(plan(&steps), want);
        assert_eq!(planned_at(&steps, Duration::from_millis(4_500)), 4);
    }

    #[test]
    fn ramp_down_stops_vus_one_step_later() {
        let steps = ramping_vus_raw_steps(5, &[stage(5, 0)], &ExecutionTuple::full(), true);
        assert_eq!(
            plan(&steps),
            [(0, 5), (1, 4), (2, 3), (3, 2), (4, 1), (5, 0)]
        );
    }

    /// k6's TestRampingVUsConfigExecutionPlanExample.
    #[test]
    fn graceful_ramp_down_reservation_matches_k6_example() {
        let stages = [
            stage(2, 6),
            stage(5, 1),
            stage(4, 5),
            stage(4, 1),
            stage(3, 4),
            stage(2, 4),
            stage(0, 1),
            stage(3, 1),
        ];
        let raw = ramping_vus_raw_steps(4, &stages, &ExecutionTuple::full(), false);
        let vus = [4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4];
        let mut want: Vec<(u64, u64)> = vus
            .iter()
            .enumerate()
            .map(|(t, &v)| (t as u64, v))
            .collect();
        want.push((20, 1));
        assert_eq!(plan(&raw), want);
        let zero_end = ramping_vus_raw_steps(4, &stages, &ExecutionTuple::full(), true);
        assert_eq!(plan(&zero_end).last(), Some(&(23, 0)));

        let requirements = |graceful_stop: u64| {
            let end = secs(23 + graceful_stop);
            let mut r = reserve_graceful_ramp_downs(&raw, secs(30), end);
            r.push(Step::new(end, 0));
            plan(&r)
        };
        assert_eq!(
            requirements(30),
            [(0, 4), (1, 5), (2, 6), (33, 5), (42, 4), (50, 1), (53, 0)]
        );
        assert_eq!(
            requirements(80),
            [(0, 4), (1, 5), (2, 6), (33, 5), (42, 4), (50, 1), (103, 0)]
        );
    }

    #[test]
    fn segments_split_a_ramp_exactly() {
        let seq = SegmentSequence::parse("0,1/3,2/3,1").unwrap();
        let stages = [stage(10, 10), stage(10, 0)];
        let full = ramping_vus_raw_steps(0, &stages, &ExecutionTuple::full(), true);
        let parts: Vec<Vec<Step>> = seq
            .0
            .iter()
            .map(|s| {
                let t = ExecutionTuple::new(Some(*s), Some(&seq)).unwrap();
                ramping_vus_raw_steps(0, &stages, &t, true)
            })
            .collect();
        for ms in (0..20_000).step_by(250) {
            let t = Duration::from_millis(ms);
            let sum: u64 = parts.iter().map(|p| planned_at(p, t)).sum();
            assert_eq!(sum, planned_at(&full, t), "at {ms}ms");
        }
        let _ = ExecutionSegment::FULL;
    }

    #[test]
    fn merged_requirements_add_overlapping_scenarios() {
        let a = vec![Step::new(secs(0), 10), Step::new(secs(40), 0)];
        let b = vec![
            Step {
                offset: secs(0),
                planned: 5,
                unplanned: 20,
            },
            Step::new(secs(40), 0),
        ];
        let merged = merge_requirements(&[(secs(0), a), (secs(30), b)]);
        assert_eq!(max_planned(&merged), 15);
        assert_eq!(max_possible(&merged), 35);
        assert_eq!(merged.last().unwrap().offset, secs(70));
    }
}
