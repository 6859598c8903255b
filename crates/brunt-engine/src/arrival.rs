//! Arrival-rate schedules: when each iteration of an open-model scenario should start, computed
//! exactly as k6 does (constant-arrival-rate's ticker, ramping-arrival-rate's `cal`), for this
//! instance's striped share of the iterations. Pure iterators, unit-tested without running.

use crate::segment::ExecutionTuple;
use crate::steps::StageSpec;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Gamma};
use std::any::Any;
use std::fmt;
use std::time::Duration;

/// How a constant-arrival-rate scenario spaces its starts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Arrivals {
    /// k6's ticker: one start every `time_unit / rate`.
    #[default]
    Ticker,
    /// vLLM's `bench serve --burstiness`: the first start at 0, then gaps drawn from a gamma
    /// distribution of shape `burstiness` and scale `1 / (rate * burstiness)` (mean `1 / rate`,
    /// coefficient of variation `1 / sqrt(burstiness)`; 1 is a Poisson process), from `seed`.
    Gamma { burstiness: f64, seed: u64 },
}

impl Arrivals {
    /// A scenario's `arrival`: `constant` (k6's ticker), `poisson` (gamma of shape 1) or
    /// `gamma:SHAPE` (shape under 1 for bursts: the counts' index of dispersion is about
    /// `1 / SHAPE`); the gaps are drawn from a seed made of the scenario's name, so every
    /// instance of a segmented test draws the same schedule.
    pub fn parse(spec: &str, scenario: &str) -> Result<Arrivals, String> {
        // FNV-1a of the name: stable across runs and builds.
        let seed = scenario.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let gamma = |burstiness| Arrivals::Gamma { burstiness, seed };
        match spec {
            "constant" => Ok(Arrivals::Ticker),
            "poisson" => Ok(gamma(1.0)),
            _ => match spec.strip_prefix("gamma:").map(str::parse::<f64>) {
                Some(Ok(k)) if k.is_finite() && k > 0.0 => Ok(gamma(k)),
                _ => Err(format!(
                    "'{spec}' is not 'constant', 'poisson' or 'gamma:SHAPE' with a positive SHAPE, e.g. 'gamma:0.3'"
                )),
            },
        }
    }

    /// The `arrival` text that parses back to this.
    pub fn spec(&self) -> String {
        match self {
            Arrivals::Ticker => "constant".into(),
            Arrivals::Gamma { burstiness, .. } if *burstiness == 1.0 => "poisson".into(),
            Arrivals::Gamma { burstiness, .. } => format!("gamma:{burstiness}"),
        }
    }
}

/// Starts given from outside the plan (`brunt replay`'s log) instead of computed from a rate:
/// each is the next iteration's offset and what that iteration is to do. The workers of a
/// constant-arrival-rate scenario pull from one feed in turn ([`crate::Plan::with_feed`]), so
/// each start goes to exactly one of them, and the feed may read ahead on a thread of its own.
pub trait ArrivalFeed: Send + Sync {
    /// The next start, its offset from the scenario's start not before the previous one's;
    /// None at the end (the scenario then stops without waiting for its `duration`).
    fn next(&self) -> Option<Arrival>;
}

impl fmt::Debug for dyn ArrivalFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ArrivalFeed")
    }
}

/// One start of an [`ArrivalFeed`].
pub struct Arrival {
    pub offset: Duration,
    /// Handed to the iteration as [`crate::IterationCtx::payload`].
    pub payload: Payload,
}

/// What a fed iteration is to do, for its VU to downcast.
pub type Payload = Box<dyn Any + Send>;

/// k6's ticker period for `rate` per `time_unit`: `time_unit / rate`, truncated to nanoseconds.
pub fn ticker_period(rate: u64, time_unit: Duration) -> Duration {
    Duration::from_nanos((time_unit.as_nanos() as f64 / rate as f64) as u64)
}

/// Offsets from the scenario start of this instance's constant-arrival-rate iterations: global
/// iteration `g` starts at `g * period`; this segment owns the striped `g`s of `tuple` (which k6
/// re-cuts by `maxVUs`). Ends before `duration`.
pub fn constant_arrival_times(
    rate: u64,
    time_unit: Duration,
    duration: Duration,
    tuple: &ExecutionTuple,
) -> impl Iterator<Item = Duration> {
    let period = ticker_period(rate, time_unit).as_nanos() as u64;
    let (start, offsets, _) = tuple.striped_offsets();
    let offsets = offsets.to_vec();
    let mut g = start as u64;
    let mut li = 0usize;
    std::iter::from_fn(move || {
        let at = Duration::from_nanos(period.checked_mul(g)?);
        if at >= duration {
            return None;
        }
        g += offsets[li % offsets.len()] as u64;
        li += 1;
        Some(at)
    })
}

/// Offsets from the scenario start of this instance's constant-arrival-rate iterations with
/// gamma-distributed gaps (see [`Arrivals::Gamma`]): the whole test's sequence is drawn from the
/// seed, so every instance sees the same one and starts its striped share of it. Ends before
/// `duration`. `burstiness` must be positive and finite.
pub fn gamma_arrival_times(
    rate: u64,
    time_unit: Duration,
    duration: Duration,
    burstiness: f64,
    seed: u64,
    tuple: &ExecutionTuple,
) -> impl Iterator<Item = Duration> {
    let mean = time_unit.as_secs_f64() / rate as f64;
    let gaps = Gamma::new(burstiness, mean / burstiness).expect("a positive, finite burstiness");
    let mut rng = SmallRng::seed_from_u64(seed);
    let (start, offsets, _) = tuple.striped_offsets();
    let offsets = offsets.to_vec();
    let mut owned = start as u64;
    let mut li = 0usize;
    let mut g = 0u64;
    let mut at = 0.0f64;
    std::iter::from_fn(move || loop {
        let this = (g, Duration::try_from_secs_f64(at).ok()?);
        at += gaps.sample(&mut rng);
        g += 1;
        if this.1 >= duration {
            return None;
        }
        if this.0 == owned {
            owned += offsets[li % offsets.len()] as u64;
            li += 1;
            return Some(this.1);
        }
    })
}

/// Where the area under a ramping-arrival-rate curve (k6's `cal`: the rate moves linearly
/// within each stage) reaches a given number of iterations; asked for growing areas, it walks
/// the stages once.
struct RampClock {
    stages: Vec<StageSpec>,
    unit: f64,
    total: Duration,
    stage_idx: usize,
    stage_start: Duration,
    done_so_far: f64,
    end_count: f64,
    from: f64,
    stage_open: bool,
}

impl RampClock {
    fn new(start_rate: u64, time_unit: Duration, stages: &[StageSpec]) -> RampClock {
        let unit = time_unit.as_nanos() as f64;
        RampClock {
            stages: stages.to_vec(),
            unit,
            total: stages.iter().map(|s| s.duration).sum(),
            stage_idx: 0,
            stage_start: Duration::ZERO,
            done_so_far: 0.0,
            end_count: 0.0,
            from: start_rate as f64 / unit,
            stage_open: false,
        }
    }

    /// The offset at which the area reaches `i` (not less than any earlier `i`); None past the
    /// stages' end.
    fn at(&mut self, i: f64) -> Option<Duration> {
        loop {
            let stage = self.stages.get(self.stage_idx)?;
            let (from, to) = (self.from, stage.target as f64 / self.unit);
            let dur = stage.duration.as_nanos() as f64;
            if !self.stage_open {
                self.end_count += if from != to {
                    dur * ((to - from) / 2.0 + from)
                } else {
                    dur * to
                };
                self.stage_open = true;
            }
            if i <= self.end_count {
                let x = if from != to {
                    let root =
                        dur * (from * from * dur + 2.0 * (i - self.done_so_far) * (to - from));
                    (from * dur - if root > 0.0 { root.sqrt() } else { 0.0 }) / (from - to)
                } else {
                    (i - self.done_so_far) / to
                };
                let at = self
                    .stage_start
                    .checked_add(Duration::from_nanos(x as u64))?;
                return (at < self.total).then_some(at);
            }
            self.done_so_far = self.end_count;
            self.from = to;
            self.stage_start += stage.duration;
            self.stage_idx += 1;
            self.stage_open = false;
        }
    }
}

/// Offsets of this instance's ramping-arrival-rate iterations (k6's `cal`): global iteration
/// `i` (1-based) starts when the area under the rate curve reaches `i`. Ends before the
/// stages' total duration.
pub fn ramping_arrival_times(
    start_rate: u64,
    time_unit: Duration,
    stages: &[StageSpec],
    tuple: &ExecutionTuple,
) -> impl Iterator<Item = Duration> {
    let (start, offsets, _) = tuple.striped_offsets();
    let offsets = offsets.to_vec();
    let mut clock = RampClock::new(start_rate, time_unit, stages);
    let mut li = 0usize;
    let mut i = (start + 1) as f64;
    std::iter::from_fn(move || {
        let at = clock.at(i)?;
        i += offsets[li % offsets.len()] as f64;
        li += 1;
        Some(at)
    })
}

/// Offsets of this instance's ramping-arrival-rate iterations with bursts: the area under the
/// rate curve advances by gamma-distributed steps of mean 1 (shape `burstiness`) instead of 1
/// at a time, so the curve is followed on average while the starts cluster as a gamma process
/// does. The whole test's sequence comes from `seed`; this instance starts its striped share.
pub fn ramping_gamma_arrival_times(
    start_rate: u64,
    time_unit: Duration,
    stages: &[StageSpec],
    burstiness: f64,
    seed: u64,
    tuple: &ExecutionTuple,
) -> impl Iterator<Item = Duration> {
    let steps = Gamma::new(burstiness, 1.0 / burstiness).expect("a positive, finite burstiness");
    let mut rng = SmallRng::seed_from_u64(seed);
    let (start, offsets, _) = tuple.striped_offsets();
    let offsets = offsets.to_vec();
    let mut clock = RampClock::new(start_rate, time_unit, stages);
    let mut owned = start as u64;
    let (mut li, mut g, mut area) = (0usize, 0u64, 0.0f64);
    std::iter::from_fn(move || loop {
        area += steps.sample(&mut rng);
        let at = clock.at(area)?;
        let this = g;
        g += 1;
        if this == owned {
            owned += offsets[li % offsets.len()] as u64;
            li += 1;
            return Some(at);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::SegmentSequence;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn stage(d_ms: u64, t: u64) -> StageSpec {
        StageSpec {
            duration: ms(d_ms),
            target: t,
        }
    }

    #[test]
    fn constant_rate_starts_on_the_ticker() {
        let full = ExecutionTuple::full();
        let times: Vec<_> = constant_arrival_times(1000, ms(1000), ms(2000), &full).collect();
        assert_eq!(times.len(), 2000);
        assert_eq!(times[0], Duration::ZERO);
        assert_eq!(times[1], ms(1));
        assert_eq!(times[1999], ms(1999));
        // 3 per 2s: k6 truncates the period to whole nanoseconds, so a 7th start lands
        // just before the 4s end.
        let times: Vec<_> = constant_arrival_times(3, ms(2000), ms(4000), &full).collect();
        assert_eq!(times.len(), 7);
        assert_eq!(times[1], Duration::from_nanos(666_666_666));
        assert_eq!(times[6], Duration::from_nanos(3_999_999_996));
    }

    /// The instances of `sequence`, each re-cut by `max_vus` as the executors do, start
    /// exactly the iterations of the whole test between them.
    fn assert_segments_cover_once(
        sequence: &str,
        max_vus: u64,
        times: impl Fn(&ExecutionTuple) -> Vec<Duration>,
    ) {
        let seq = SegmentSequence::parse(sequence).unwrap();
        let full = times(&ExecutionTuple::full());
        let mut parts: Vec<Duration> = seq
            .0
            .iter()
            .flat_map(|s| {
                let t = ExecutionTuple::new(Some(*s), Some(&seq))
                    .unwrap()
                    .for_value(max_vus)
                    .unwrap();
                times(&t)
            })
            .collect();
        parts.sort();
        assert_eq!(parts, full);
    }

    #[test]
    fn constant_rate_segments_cover_the_schedule_once() {
        assert_segments_cover_once("0,1/4,1/2,1", 8, |t| {
            constant_arrival_times(50, ms(1000), ms(3000), t).collect()
        });
    }

    /// Mean and coefficient of variation of the gaps of a seeded gamma schedule.
    fn gap_stats(burstiness: f64, seed: u64) -> (f64, f64, usize) {
        let full = ExecutionTuple::full();
        let t: Vec<f64> = gamma_arrival_times(20, ms(1000), ms(1_000_000), burstiness, seed, &full)
            .map(|d| d.as_secs_f64())
            .collect();
        let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        (mean, var.sqrt() / mean, t.len())
    }

    #[test]
    fn gamma_gaps_keep_the_rate_and_spread_by_burstiness() {
        // 20/s for 1000s: about 20,000 starts, mean gap 50 ms whatever the shape; the
        // coefficient of variation is 1/sqrt(burstiness): 1 for Poisson.
        for (burstiness, cv) in [(1.0, 1.0), (0.25, 2.0), (4.0, 0.5)] {
            let (mean, got_cv, n) = gap_stats(burstiness, 42);
            assert!(
                (mean - 0.05).abs() < 0.05 * 0.05,
                "{burstiness}: mean {mean}"
            );
            assert!((got_cv - cv).abs() < cv * 0.05, "{burstiness}: cv {got_cv}");
            assert!((19_000..21_000).contains(&n), "{burstiness}: {n}");
        }
        let full = ExecutionTuple::full();
        let a: Vec<_> = gamma_arrival_times(5, ms(1000), ms(10_000), 1.0, 7, &full).collect();
        let b: Vec<_> = gamma_arrival_times(5, ms(1000), ms(10_000), 1.0, 7, &full).collect();
        let c: Vec<_> = gamma_arrival_times(5, ms(1000), ms(10_000), 1.0, 8, &full).collect();
        assert_eq!(a, b, "the same seed gives the same schedule");
        assert_ne!(a, c);
        assert_eq!(a[0], Duration::ZERO);
    }

    #[test]
    fn gamma_segments_cover_the_schedule_once() {
        assert_segments_cover_once("0,1/4,1/2,1", 8, |t| {
            gamma_arrival_times(50, ms(1000), ms(3000), 0.5, 3, t).collect()
        });
    }

    #[test]
    fn ramping_rate_follows_the_area_under_the_curve() {
        let full = ExecutionTuple::full();
        // Constant 2/s for 5s: events at 0.5s, 1s, ... (the area reaches 1 at 0.5s).
        let t: Vec<_> = ramping_arrival_times(2, ms(1000), &[stage(5000, 2)], &full).collect();
        assert_eq!(t.len(), 9, "the 10th would start exactly at the end");
        // Float math truncated to nanoseconds, as in k6.
        let near = |a: Duration, b: Duration| a.abs_diff(b) <= Duration::from_nanos(1);
        assert!(near(t[0], ms(500)), "{:?}", t[0]);
        assert!(near(t[8], ms(4500)), "{:?}", t[8]);
        // Ramp 0 -> 10/s over 10s: 50 iterations; the n-th at sqrt(2n) seconds.
        let t: Vec<_> = ramping_arrival_times(0, ms(1000), &[stage(10_000, 10)], &full).collect();
        assert_eq!(t.len(), 49);
        for (n, at) in t.iter().enumerate() {
            let want = (2.0 * (n as f64 + 1.0)).sqrt();
            assert!(
                (at.as_secs_f64() - want).abs() < 1e-6,
                "{n}: {at:?} vs {want}"
            );
        }
        // Two stages: 10/s for 1s then ramp down to 0 over 2s: 10 + 10 iterations.
        let t: Vec<_> =
            ramping_arrival_times(10, ms(1000), &[stage(1000, 10), stage(2000, 0)], &full)
                .collect();
        // The last start falls on the end; float rounding decides which side (as in k6).
        assert!((19..=20).contains(&t.len()), "{}", t.len());
        assert!(t.iter().all(|&at| at < ms(3000)));
        assert!(t.windows(2).all(|w| w[0] < w[1]));
    }

    /// Index of dispersion (variance over mean) of the per-second counts of `times`.
    fn dispersion(times: &[Duration], seconds: usize) -> f64 {
        let mut counts = vec![0f64; seconds];
        for t in times {
            counts[t.as_secs() as usize] += 1.0;
        }
        let mean = counts.iter().sum::<f64>() / seconds as f64;
        let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (seconds - 1) as f64;
        var / mean
    }

    #[test]
    fn ramping_gamma_follows_the_curve_with_bursts() {
        let full = ExecutionTuple::full();
        // 0 -> 100/s over 200 s, then 100/s for 200 s: 30,000 starts on average.
        let stages = [stage(200_000, 100), stage(200_000, 100)];
        for (k, want) in [(1.0, 1.0), (0.25, 4.0)] {
            let t: Vec<_> =
                ramping_gamma_arrival_times(0, ms(1000), &stages, k, 9, &full).collect();
            assert!((28_500..31_500).contains(&t.len()), "{k}: {}", t.len());
            assert!(t.windows(2).all(|w| w[0] <= w[1]));
            // The ramp's first half holds a quarter of the starts.
            let first = t.iter().filter(|d| d.as_secs() < 200).count() as f64;
            assert!(
                (first / t.len() as f64 - 1.0 / 3.0).abs() < 0.02,
                "{k}: {first}"
            );
            // The flat part's counts: dispersion about 1/k, within 20%.
            let flat: Vec<Duration> = t
                .iter()
                .filter(|d| d.as_secs() >= 200)
                .map(|d| *d - Duration::from_secs(200))
                .collect();
            let d = dispersion(&flat, 200);
            assert!((d - want).abs() < want * 0.2, "{k}: dispersion {d}");
        }
        let ticker: Vec<_> = ramping_arrival_times(0, ms(1000), &stages, &full).collect();
        let flat: Vec<Duration> = ticker
            .iter()
            .filter(|d| d.as_secs() >= 200)
            .map(|d| *d - Duration::from_secs(200))
            .collect();
        assert!(dispersion(&flat, 200) < 0.1, "k6's schedule is paced");
    }

    #[test]
    fn ramping_gamma_segments_cover_the_schedule_once() {
        let stages = [stage(2000, 30), stage(2000, 5)];
        assert_segments_cover_once("0,1/3,2/3,1", 6, |t| {
            ramping_gamma_arrival_times(0, ms(1000), &stages, 0.3, 4, t).collect()
        });
    }

    #[test]
    fn arrival_specs_parse_and_print_back() {
        assert_eq!(Arrivals::parse("constant", "s"), Ok(Arrivals::Ticker));
        for spec in ["poisson", "gamma:0.3"] {
            assert_eq!(Arrivals::parse(spec, "s").unwrap().spec(), spec);
        }
        assert_eq!(
            Arrivals::parse("poisson", "a"),
            Arrivals::parse("poisson", "a")
        );
        assert_ne!(
            Arrivals::parse("poisson", "a"),
            Arrivals::parse("poisson", "b")
        );
        for bad in ["gamma", "gamma:0", "gamma:-1", "gamma:x", "bursty"] {
            let e = Arrivals::parse(bad, "s").unwrap_err();
            assert!(e.starts_with(&format!("'{bad}' is not")), "{e}");
        }
    }

    #[test]
    fn ramping_rate_segments_cover_the_schedule_once() {
        let stages = [stage(2000, 30), stage(2000, 5)];
        assert_segments_cover_once("0,1/3,2/3,1", 6, |t| {
            ramping_arrival_times(0, ms(1000), &stages, t).collect()
        });
    }
}
