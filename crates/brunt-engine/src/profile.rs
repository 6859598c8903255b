//! Load profiles (`--profile NAME --peak N`): the usual test shapes (smoke, load, stress, soak,
//! spike, breakpoint) as one scenario that replaces a script's or `quick`'s own, so that one
//! script answers every question without being edited. Each profile is a list of phases with
//! default lengths; `--duration` scales every phase by the same factor (docs/profiles.md).
//! Soak and spike also name the windows whose latency (and monitored memory) the end-of-run
//! checks compare.

use crate::options::{ScenarioOptions, Stage};
use crate::parse_duration;
use brunt_metrics::{Registry, ThresholdError, Thresholds};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

/// One of the load profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Smoke,
    Load,
    Stress,
    Soak,
    Spike,
    Breakpoint,
}

/// Every profile, in the order the docs list them.
pub const ALL: [Profile; 6] = [
    Profile::Smoke,
    Profile::Load,
    Profile::Stress,
    Profile::Soak,
    Profile::Spike,
    Profile::Breakpoint,
];

/// How many of what a phase ends at: VUs, or iterations a second for `breakpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Zero,
    /// The spike's baseline: a fiftieth of the peak, at least 1.
    Base,
    /// A multiple of the peak.
    Peak(u64),
}

/// One phase of a profile: what it does, how long it lasts by default, where it ends.
struct PhaseDef {
    what: &'static str,
    secs: u64,
    level: Level,
}

const fn phase(what: &'static str, secs: u64, level: Level) -> PhaseDef {
    PhaseDef { what, secs, level }
}

const MIN: u64 = 60;
const HOUR: u64 = 3600;

const SMOKE: &[PhaseDef] = &[phase("1 VU", MIN, Level::Peak(1))];
const LOAD: &[PhaseDef] = &[
    phase("ramp up to the peak", 5 * MIN, Level::Peak(1)),
    phase("hold the peak", 30 * MIN, Level::Peak(1)),
    phase("ramp down", 5 * MIN, Level::Zero),
];
const STRESS: &[PhaseDef] = &[
    phase("ramp up to the peak", 2 * MIN, Level::Peak(1)),
    phase("hold 1x", 5 * MIN, Level::Peak(1)),
    phase("ramp up to 2x", 2 * MIN, Level::Peak(2)),
    phase("hold 2x", 5 * MIN, Level::Peak(2)),
    phase("ramp up to 3x", 2 * MIN, Level::Peak(3)),
    phase("hold 3x", 5 * MIN, Level::Peak(3)),
    phase("ramp down", 2 * MIN, Level::Zero),
];
const SOAK: &[PhaseDef] = &[
    phase("ramp up to the peak", 5 * MIN, Level::Peak(1)),
    phase("hold the peak", 3 * HOUR + 50 * MIN, Level::Peak(1)),
    phase("ramp down", 5 * MIN, Level::Zero),
];
const SPIKE: &[PhaseDef] = &[
    phase("baseline (a fiftieth of the peak)", MIN, Level::Base),
    phase("jump to the peak", 10, Level::Peak(1)),
    phase("hold the peak", MIN, Level::Peak(1)),
    phase("drop to the baseline", 10, Level::Base),
    phase("recovery at the baseline", 2 * MIN, Level::Base),
];
const BREAKPOINT: &[PhaseDef] = &[phase(
    "ramp the arrival rate up to the peak",
    2 * HOUR,
    Level::Peak(1),
)];

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Smoke => "smoke",
            Profile::Load => "load",
            Profile::Stress => "stress",
            Profile::Soak => "soak",
            Profile::Spike => "spike",
            Profile::Breakpoint => "breakpoint",
        }
    }

    /// One sentence on what the profile answers, for the docs and `brunt new`'s header.
    pub fn purpose(self) -> &'static str {
        match self {
            Profile::Smoke => "checks that the script and the system work at all, with one user",
            Profile::Load => "checks the system at its expected peak: ramps up, holds, ramps down",
            Profile::Stress => {
                "checks the system beyond its expected peak: steps to 1x, 2x and 3x with holds"
            }
            Profile::Soak => "holds the expected peak for hours to find leaks and slow degradation",
            Profile::Spike => {
                "jumps from a trickle to the peak in seconds and checks that the system recovers"
            }
            Profile::Breakpoint => {
                "raises the arrival rate until a threshold aborts the run: where the system breaks"
            }
        }
    }

    /// The phases at their default lengths (whose sum is the default `--duration`).
    fn phases(self) -> &'static [PhaseDef] {
        match self {
            Profile::Smoke => SMOKE,
            Profile::Load => LOAD,
            Profile::Stress => STRESS,
            Profile::Soak => SOAK,
            Profile::Spike => SPIKE,
            Profile::Breakpoint => BREAKPOINT,
        }
    }

    /// The default length of the whole profile.
    pub fn default_duration(self) -> Duration {
        Duration::from_secs(self.phases().iter().map(|p| p.secs).sum())
    }

    /// Whether `--peak` is needed: every profile but smoke (one VU) scales with it.
    pub fn needs_peak(self) -> bool {
        self != Profile::Smoke
    }

    /// The shape for `--peak` and `--duration` (None: the default length); an error names the
    /// flag.
    pub fn shape(self, peak: Option<u64>, duration: Option<&str>) -> Result<Shape, String> {
        let peak = match (self.needs_peak(), peak) {
            (false, Some(_)) => {
                return Err("--peak: the smoke profile always runs 1 VU; leave --peak out".into())
            }
            (false, None) => 1,
            (true, None) => {
                return Err(format!(
                    "--peak: the {} profile needs the peak ({}), e.g. --peak 50",
                    self.name(),
                    self.peak_unit()
                ))
            }
            (true, Some(0)) => return Err("--peak: must be at least 1".into()),
            (true, Some(n)) => n,
        };
        let length = match duration {
            None => self.default_duration(),
            Some(d) => match parse_duration(d) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) => return Err(format!("--duration '{d}': must be longer than 0s")),
                Err(e) => return Err(format!("--duration '{d}': {e}")),
            },
        };
        Ok(Shape {
            profile: self,
            peak,
            length,
        })
    }

    /// What `--peak` counts.
    pub fn peak_unit(self) -> &'static str {
        match self {
            Profile::Breakpoint => "iterations a second",
            _ => "VUs",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| {
            let names: Vec<&str> = ALL.iter().map(|p| p.name()).collect();
            format!("unknown profile '{s}': use one of {}", names.join(", "))
        })
    }
}

/// A profile at a peak and a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub profile: Profile,
    pub peak: u64,
    /// The whole run's length (`--duration`, or the profile's default).
    pub length: Duration,
}

/// One phase of a shape, scaled to its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    pub what: &'static str,
    pub duration: Duration,
    /// VUs (iterations a second for breakpoint) at the phase's end.
    pub target: u64,
}

/// The windows the end-of-run checks compare (offsets from the run's start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckWindows {
    /// Soak: latency (and each monitored target's memory) in the first and the last tenth of
    /// the hold.
    Drift {
        first: Range<Duration>,
        last: Range<Duration>,
    },
    /// Spike: latency in the baseline phase against the second half of the recovery phase.
    Recovery {
        baseline: Range<Duration>,
        recovery: Range<Duration>,
    },
}

/// The shortest check window: a second, so that it holds at least one of the engine's
/// once-a-second intervals however short the run.
const MIN_WINDOW: Duration = Duration::from_secs(1);

impl Shape {
    /// The phases, each scaled by `length` over the profile's default length, in whole
    /// milliseconds (as k6 writes durations); the last takes the rounding, so that they add up
    /// to `length`.
    pub fn phases(&self) -> Vec<Phase> {
        let defs = self.profile.phases();
        let total: u64 = defs.iter().map(|p| p.secs).sum();
        let scale = self.length.as_secs_f64() / total as f64;
        let mut left = Duration::from_millis(self.length.as_millis() as u64);
        let mut phases: Vec<Phase> = defs
            .iter()
            .map(|p| {
                let ms = (p.secs as f64 * scale * 1000.0).round() as u64;
                let duration = Duration::from_millis(ms).min(left);
                left -= duration;
                Phase {
                    what: p.what,
                    duration,
                    target: self.level(p.level),
                }
            })
            .collect();
        if let Some(last) = phases.last_mut() {
            last.duration += left;
        }
        phases
    }

    fn level(&self, level: Level) -> u64 {
        match level {
            Level::Zero => 0,
            Level::Base => (self.peak / 50).max(1),
            Level::Peak(m) => self.peak * m,
        }
    }

    /// The scenario that runs the shape (named after the profile); `exec` is the function the
    /// VUs run (None: the default export).
    pub fn scenario(&self, exec: Option<String>) -> ScenarioOptions {
        let phases = self.phases();
        let stages = || {
            Some(
                phases
                    .iter()
                    .map(|p| Stage {
                        duration: Some(p.duration),
                        target: Some(p.target as i64),
                    })
                    .collect(),
            )
        };
        let base = match self.profile {
            Profile::Smoke => ScenarioOptions {
                executor: Some("constant-vus".into()),
                vus: Some(1),
                duration: Some(self.length),
                ..ScenarioOptions::default()
            },
            Profile::Breakpoint => ScenarioOptions {
                executor: Some("ramping-arrival-rate".into()),
                start_rate: Some(0),
                time_unit: Some(Duration::from_secs(1)),
                // An iteration of up to a second keeps the peak rate with `peak` VUs.
                pre_allocated_vus: Some((self.peak / 10).max(1) as i64),
                max_vus: Some(self.peak as i64),
                stages: stages(),
                ..ScenarioOptions::default()
            },
            Profile::Spike => ScenarioOptions {
                executor: Some("ramping-vus".into()),
                start_vus: Some(self.level(Level::Base) as i64),
                stages: stages(),
                ..ScenarioOptions::default()
            },
            Profile::Load | Profile::Stress | Profile::Soak => ScenarioOptions {
                executor: Some("ramping-vus".into()),
                start_vus: Some(0),
                stages: stages(),
                ..ScenarioOptions::default()
            },
        };
        ScenarioOptions { exec, ..base }
    }

    /// The thresholds the profile needs beyond the user's: smoke's error rate below 1%, and for
    /// breakpoint an error rate that aborts the run, unless a threshold already aborts it.
    pub fn add_thresholds(
        &self,
        thresholds: &mut Thresholds,
        registry: &Registry,
    ) -> Result<(), ThresholdError> {
        match self.profile {
            Profile::Smoke => thresholds.add_cli("http_req_failed: rate<0.01", registry),
            Profile::Breakpoint if !thresholds.any_abort_on_fail() => thresholds.add_options(
                &serde_json::json!({
                    "http_req_failed": [{ "threshold": "rate<0.01", "abortOnFail": true }]
                }),
                registry,
            ),
            _ => Ok(()),
        }
    }

    /// The windows of the end-of-run checks: soak's drift and spike's recovery.
    pub fn check_windows(&self) -> Option<CheckWindows> {
        let phases = self.phases();
        let starts: Vec<Duration> = phases
            .iter()
            .scan(Duration::ZERO, |at, p| {
                let start = *at;
                *at += p.duration;
                Some(start)
            })
            .collect();
        let span = |i: usize| starts[i]..starts[i] + phases[i].duration;
        match self.profile {
            Profile::Soak => {
                let hold = span(1);
                let tenth = (phases[1].duration / 10).max(MIN_WINDOW);
                Some(CheckWindows::Drift {
                    first: hold.start..hold.start + tenth,
                    last: hold.end.saturating_sub(tenth)..hold.end,
                })
            }
            Profile::Spike => {
                let recovery = span(4);
                let half = (phases[4].duration / 2).max(MIN_WINDOW);
                Some(CheckWindows::Recovery {
                    baseline: span(0),
                    recovery: recovery.end.saturating_sub(half)..recovery.end,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(p: Profile, peak: u64, d: Option<&str>) -> Shape {
        p.shape(if p.needs_peak() { Some(peak) } else { None }, d)
            .unwrap()
    }

    fn stages(s: &ScenarioOptions) -> Vec<(u64, i64)> {
        s.stages
            .iter()
            .flatten()
            .map(|st| (st.duration.unwrap().as_secs(), st.target.unwrap()))
            .collect()
    }

    #[test]
    fn each_profile_has_its_documented_shape() {
        let load = shape(Profile::Load, 100, None).scenario(None);
        assert_eq!(load.executor.as_deref(), Some("ramping-vus"));
        assert_eq!(stages(&load), [(300, 100), (1800, 100), (300, 0)]);
        let stress = shape(Profile::Stress, 10, None).scenario(None);
        assert_eq!(
            stages(&stress),
            [
                (120, 10),
                (300, 10),
                (120, 20),
                (300, 20),
                (120, 30),
                (300, 30),
                (120, 0)
            ]
        );
        let soak = shape(Profile::Soak, 40, None);
        assert_eq!(soak.length, Duration::from_secs(4 * 3600));
        assert_eq!(
            stages(&soak.scenario(None)),
            [(300, 40), (13800, 40), (300, 0)]
        );
        let spike = shape(Profile::Spike, 500, None).scenario(None);
        assert_eq!(spike.start_vus, Some(10));
        assert_eq!(
            stages(&spike),
            [(60, 10), (10, 500), (60, 500), (10, 10), (120, 10)]
        );
        let smoke = shape(Profile::Smoke, 0, None).scenario(None);
        assert_eq!(smoke.executor.as_deref(), Some("constant-vus"));
        assert_eq!(
            (smoke.vus, smoke.duration),
            (Some(1), Some(Duration::from_secs(60)))
        );
        let bp = shape(Profile::Breakpoint, 1000, None).scenario(Some("api".into()));
        assert_eq!(bp.executor.as_deref(), Some("ramping-arrival-rate"));
        assert_eq!(
            (bp.start_rate, bp.pre_allocated_vus, bp.max_vus),
            (Some(0), Some(100), Some(1000))
        );
        assert_eq!(stages(&bp), [(7200, 1000)]);
        assert_eq!(bp.exec.as_deref(), Some("api"));
    }

    /// Each phase's length in milliseconds.
    fn millis(s: &Shape) -> Vec<u128> {
        s.phases().iter().map(|p| p.duration.as_millis()).collect()
    }

    #[test]
    fn duration_scales_every_phase_alike() {
        // Load's default is 40m: 4m is a tenth of each phase.
        let load = shape(Profile::Load, 10, Some("4m"));
        assert_eq!(millis(&load), [30_000, 180_000, 30_000]);
        // Spike's 4m20s in 13s: the 10s jump becomes 0.5s.
        let spike = shape(Profile::Spike, 100, Some("13s"));
        assert_eq!(millis(&spike), [3000, 500, 3000, 500, 6000]);
        // 6s: 1385 + 231 + 1385 + 231 rounded, and the last phase takes what is left.
        let odd = shape(Profile::Spike, 100, Some("6s"));
        assert_eq!(millis(&odd), [1385, 231, 1385, 231, 2768]);
        assert_eq!(spike.scenario(None).start_vus, Some(2));
    }

    #[test]
    fn soak_and_spike_name_their_check_windows() {
        let soak = shape(Profile::Soak, 10, Some("4h"));
        let s = Duration::from_secs;
        assert_eq!(
            soak.check_windows(),
            Some(CheckWindows::Drift {
                first: s(300)..s(300 + 1380),
                last: s(14100 - 1380)..s(14100),
            })
        );
        let spike = shape(Profile::Spike, 100, Some("13s"));
        assert_eq!(
            spike.check_windows(),
            Some(CheckWindows::Recovery {
                baseline: s(0)..s(3),
                recovery: s(10)..s(13),
            })
        );
        // A tiny soak still judges a second at each end.
        let tiny = shape(Profile::Soak, 1, Some("2s"));
        let Some(CheckWindows::Drift { first, last }) = tiny.check_windows() else {
            panic!()
        };
        assert_eq!(
            (first.end - first.start, last.end - last.start),
            (s(1), s(1))
        );
        assert_eq!(shape(Profile::Load, 5, None).check_windows(), None);
    }

    #[test]
    fn bad_flags_are_refused_by_name() {
        let e = "flood".parse::<Profile>().unwrap_err();
        assert!(
            e.contains("unknown profile 'flood'") && e.contains("smoke, load"),
            "{e}"
        );
        let e = Profile::Load.shape(None, None).unwrap_err();
        assert!(
            e.starts_with("--peak: the load profile needs the peak (VUs)"),
            "{e}"
        );
        let e = Profile::Breakpoint.shape(Some(0), None).unwrap_err();
        assert_eq!(e, "--peak: must be at least 1");
        let e = Profile::Smoke.shape(Some(5), None).unwrap_err();
        assert!(e.contains("--peak"), "{e}");
        let e = Profile::Soak.shape(Some(5), Some("soon")).unwrap_err();
        assert!(e.starts_with("--duration 'soon'"), "{e}");
        let e = Profile::Soak.shape(Some(5), Some("0s")).unwrap_err();
        assert!(e.starts_with("--duration '0s'"), "{e}");
    }

    #[test]
    fn profiles_add_only_the_thresholds_they_need() {
        let registry = Registry::new();
        let mut t = Thresholds::default();
        shape(Profile::Smoke, 1, None)
            .add_thresholds(&mut t, &registry)
            .unwrap();
        assert_eq!(t.metrics()[0].thresholds[0].source, "rate<0.01");
        let bp = shape(Profile::Breakpoint, 10, None);
        let mut none = Thresholds::default();
        bp.add_thresholds(&mut none, &registry).unwrap();
        assert!(none.any_abort_on_fail());
        let mut own = Thresholds::default();
        own.add_options(
            &serde_json::json!({"http_req_duration": [{"threshold": "p(95)<300", "abortOnFail": true}]}),
            &registry,
        )
        .unwrap();
        bp.add_thresholds(&mut own, &registry).unwrap();
        assert_eq!(
            own.metrics().len(),
            1,
            "the script's own abort is kept alone"
        );
        let mut load = Thresholds::default();
        shape(Profile::Load, 3, None)
            .add_thresholds(&mut load, &registry)
            .unwrap();
        assert!(load.is_empty());
    }
}
