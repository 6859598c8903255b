//! The run plan: options turned into validated scenarios (k6's shortcut mapping, defaults and
//! checks), plus the facts a summary or `brunt inspect` shows about it.

mod shortcuts;
mod validate;

use crate::arrival::{ArrivalFeed, Arrivals};
use crate::duration::format_duration;
use crate::options::{Options, ScenarioOptions, Stage};
use crate::segment::{ExecutionTuple, SegmentError};
use crate::steps::{
    max_planned, max_possible, max_target, merge_requirements, ramping_vus_raw_steps,
    reserve_graceful_ramp_downs, StageSpec, Step,
};
use brunt_metrics::SystemTags;
use shortcuts::derive_scenarios;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use validate::{build_scenario, Ctx};

/// k6's defaults.
const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);
const DEFAULT_GRACEFUL_RAMP_DOWN: Duration = Duration::from_secs(30);
const DEFAULT_TIME_UNIT: Duration = Duration::from_secs(1);
const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(600);
const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(60);
const MIN_DURATION: Duration = Duration::from_secs(1);
/// Longer than any test should run; keeps all schedule arithmetic far from overflow.
const MAX_TEST_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// k6's sanity limit on ramping-vus targets.
const MAX_CONCURRENT_VUS: i64 = 100_000_000;
/// The scenario name k6 gives to shortcut options.
pub const DEFAULT_SCENARIO: &str = "default";
/// The function a scenario runs unless `exec` says otherwise.
pub const DEFAULT_EXEC: &str = "default";

const EXECUTORS: &str = "shared-iterations, per-vu-iterations, constant-vus, ramping-vus, \
                         constant-arrival-rate, ramping-arrival-rate";

/// Everything wrong with the options, one line per problem, each naming the option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError(pub Vec<String>);

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.join("\n"))
    }
}

impl std::error::Error for PlanError {}

/// An executor with its validated, unscaled parameters (as configured for the whole test).
#[derive(Clone, Debug, PartialEq)]
pub enum Executor {
    SharedIterations {
        vus: u64,
        iterations: u64,
        max_duration: Duration,
    },
    PerVuIterations {
        vus: u64,
        iterations: u64,
        max_duration: Duration,
    },
    ConstantVus {
        vus: u64,
        duration: Duration,
    },
    RampingVus {
        start_vus: u64,
        stages: Vec<StageSpec>,
        graceful_ramp_down: Duration,
    },
    ConstantArrivalRate {
        rate: u64,
        time_unit: Duration,
        duration: Duration,
        pre_allocated_vus: u64,
        max_vus: u64,
    },
    RampingArrivalRate {
        start_rate: u64,
        time_unit: Duration,
        stages: Vec<StageSpec>,
        pre_allocated_vus: u64,
        max_vus: u64,
    },
}

impl Executor {
    /// k6's executor name, e.g. `constant-vus`.
    pub fn name(&self) -> &'static str {
        match self {
            Executor::SharedIterations { .. } => "shared-iterations",
            Executor::PerVuIterations { .. } => "per-vu-iterations",
            Executor::ConstantVus { .. } => "constant-vus",
            Executor::RampingVus { .. } => "ramping-vus",
            Executor::ConstantArrivalRate { .. } => "constant-arrival-rate",
            Executor::RampingArrivalRate { .. } => "ramping-arrival-rate",
        }
    }

    /// Open-model executors start iterations on a schedule; the others loop VUs.
    pub fn is_arrival_rate(&self) -> bool {
        matches!(
            self,
            Executor::ConstantArrivalRate { .. } | Executor::RampingArrivalRate { .. }
        )
    }

    /// An arrival-rate executor's VU pool on this instance: its pre-allocated VUs and its
    /// `maxVUs`, each scaled by the tuple (None for the closed-model executors).
    pub fn arrival_pool(&self, tuple: &ExecutionTuple) -> Option<(u64, u64)> {
        match self {
            Executor::ConstantArrivalRate {
                pre_allocated_vus,
                max_vus,
                ..
            }
            | Executor::RampingArrivalRate {
                pre_allocated_vus,
                max_vus,
                ..
            } => Some((tuple.scale(*pre_allocated_vus), tuple.scale(*max_vus))),
            _ => None,
        }
    }
}

/// One scenario of the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub executor: Executor,
    pub start_time: Duration,
    pub graceful_stop: Duration,
    /// The exported function to run, when set explicitly; see [`Scenario::exec`].
    pub exec_option: Option<String>,
    pub env: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Arrival-rate scenarios' `arrival` (brunt's own): how starts are spaced; None for k6's
    /// ticker (or the plan's [`Plan::with_arrivals`]).
    pub arrival: Option<Arrivals>,
}

/// The validated plan of a run, for this instance's execution segment.
#[derive(Clone, Debug)]
pub struct Plan {
    scenarios: Vec<Scenario>,
    tuple: ExecutionTuple,
    tags: BTreeMap<String, String>,
    system_tags: SystemTags,
    setup_timeout: Duration,
    teardown_timeout: Duration,
    min_iteration_duration: Duration,
    warnings: Vec<String>,
    arrivals: Arrivals,
    feed: Option<Arc<dyn ArrivalFeed>>,
}
impl Plan {
    /// Maps k6's shortcuts to scenarios exactly as k6 does, applies the defaults and validates
    /// everything, reporting every problem at once.
    pub fn from_options(options: &Options) -> Result<Plan, PlanError> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let (configs, shortcut) =
            derive_scenarios(options, &mut warnings).map_err(|e| PlanError(vec![e]))?;
        let mut scenarios = Vec::new();
        for (name, cfg) in &configs {
            let mut ctx = Ctx {
                scenario: name,
                shortcut,
                errors: &mut errors,
            };
            if let Some(s) = build_scenario(name, cfg, &mut ctx) {
                scenarios.push(s);
            }
        }
        let tuple = match ExecutionTuple::new(
            options.execution_segment,
            options.execution_segment_sequence.as_ref(),
        ) {
            Ok(t) => Some(t),
            Err(e) => {
                let key = match e {
                    SegmentError::NotInSequence(..) => "executionSegmentSequence",
                    _ => "executionSegment",
                };
                errors.push(format!("{key}: {e}"));
                None
            }
        };
        for (k, _) in options.tags.iter().flatten() {
            if k.is_empty() {
                errors.push("tags: tag names can't be empty".to_string());
            }
        }
        let system_tags = match &options.system_tags {
            Some(names) => {
                SystemTags::parse(names.iter().map(String::as_str)).unwrap_or_else(|e| {
                    errors.push(format!("systemTags: {e}"));
                    SystemTags::default()
                })
            }
            None => SystemTags::default(),
        };
        if !errors.is_empty() {
            return Err(PlanError(errors));
        }
        // k6 orders scenarios by start time, then name.
        scenarios.sort_by(|a, b| (a.start_time, &a.name).cmp(&(b.start_time, &b.name)));
        Ok(Plan {
            scenarios,
            tuple: tuple.expect("no errors means the tuple was built"),
            tags: options.tags.clone().unwrap_or_default(),
            system_tags,
            setup_timeout: options.setup_timeout.unwrap_or(DEFAULT_HOOK_TIMEOUT),
            teardown_timeout: options.teardown_timeout.unwrap_or(DEFAULT_HOOK_TIMEOUT),
            min_iteration_duration: options.min_iteration_duration.unwrap_or_default(),
            warnings,
            arrivals: Arrivals::Ticker,
            feed: None,
        })
    }

    /// Spaces the constant-arrival-rate starts by `arrivals` instead of k6's ticker (k6 options
    /// have no such setting: `brunt llm --burstiness` sets it).
    pub fn with_arrivals(mut self, arrivals: Arrivals) -> Plan {
        self.arrivals = arrivals;
        self
    }

    /// How constant-arrival-rate scenarios space their starts.
    pub fn arrivals(&self) -> Arrivals {
        self.arrivals
    }

    /// Starts the constant-arrival-rate iterations when `feed` says (each with its payload)
    /// instead of by their rate, still no later than their `duration` (`brunt replay`).
    pub fn with_feed(mut self, feed: Arc<dyn ArrivalFeed>) -> Plan {
        self.feed = Some(feed);
        self
    }

    /// The feed of [`Plan::with_feed`], if any.
    pub fn feed(&self) -> Option<&Arc<dyn ArrivalFeed>> {
        self.feed.as_ref()
    }

    /// What k6 would warn about while deriving the scenarios (e.g. `vus` overriding them).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// k6's check that every scenario's `exec` names an exported function; the script runtime
    /// calls it once it knows the exports.
    pub fn check_exec(&self, is_exported: impl Fn(&str) -> bool) -> Result<(), PlanError> {
        let errors: Vec<String> = self
            .scenarios
            .iter()
            .filter(|s| !is_exported(s.exec()))
            .map(|s| {
                let key = if s.exec_option.is_some() { ".exec" } else { "" };
                format!(
                    "scenarios.{}{key}: function '{}' not found in exports",
                    s.name,
                    s.exec()
                )
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PlanError(errors))
        }
    }

    /// Scenarios in k6's order (start time, then name).
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// This instance's execution segment within its sequence.
    pub fn tuple(&self) -> &ExecutionTuple {
        &self.tuple
    }

    /// Tags for every sample (the `tags` option).
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    /// The system tags samples carry (k6's `systemTags`).
    pub fn system_tags(&self) -> SystemTags {
        self.system_tags
    }

    pub fn setup_timeout(&self) -> Duration {
        self.setup_timeout
    }

    pub fn teardown_timeout(&self) -> Duration {
        self.teardown_timeout
    }

    /// k6's `minIterationDuration` (zero when unset).
    pub fn min_iteration_duration(&self) -> Duration {
        self.min_iteration_duration
    }

    /// The VUs needed over time by the whole test on this instance.
    pub fn requirements(&self) -> Vec<Step> {
        let per: Vec<(Duration, Vec<Step>)> = self
            .scenarios
            .iter()
            .map(|s| (s.start_time, s.requirements(&self.tuple)))
            .collect();
        merge_requirements(&per)
    }

    /// How long the test can last, graceful stops included (k6's "max duration").
    pub fn max_duration(&self) -> Duration {
        self.scenarios
            .iter()
            .map(|s| s.start_time + s.max_duration())
            .max()
            .unwrap_or_default()
    }

    /// One line per scenario as k6's summary shows them, e.g.
    /// `default: 50 looping VUs for 10s (gracefulStop: 30s)`.
    pub fn scenario_lines(&self) -> Vec<String> {
        self.scenarios()
            .iter()
            .map(|s| format!("{}: {}", s.name, s.description(self.tuple())))
            .collect()
    }

    /// The most VUs that can exist at once on this instance, on-demand ones included (k6's
    /// "max VUs").
    pub fn max_vus(&self) -> u64 {
        max_possible(&self.requirements())
    }

    /// VUs k6 initialises before the test starts: the most planned at any one time.
    pub fn planned_vus(&self) -> u64 {
        max_planned(&self.requirements())
    }
}

impl Scenario {
    /// The function to run: `exec`, or `default`.
    pub fn exec(&self) -> &str {
        self.exec_option.as_deref().unwrap_or(DEFAULT_EXEC)
    }

    /// The executor's own end (stages, duration or maxDuration), before the graceful stop.
    pub fn regular_duration(&self) -> Duration {
        self.checked_regular_duration()
            .expect("the stages' durations overflow (validation rejects that)")
    }

    /// [`Scenario::regular_duration`], or None when the stages' durations overflow.
    fn checked_regular_duration(&self) -> Option<Duration> {
        match &self.executor {
            Executor::SharedIterations { max_duration, .. }
            | Executor::PerVuIterations { max_duration, .. } => Some(*max_duration),
            Executor::ConstantVus { duration, .. }
            | Executor::ConstantArrivalRate { duration, .. } => Some(*duration),
            Executor::RampingVus { stages, .. } | Executor::RampingArrivalRate { stages, .. } => {
                stages
                    .iter()
                    .try_fold(Duration::ZERO, |acc, s| acc.checked_add(s.duration))
            }
        }
    }

    /// The longest this scenario can run: its regular duration plus its graceful stop.
    pub fn max_duration(&self) -> Duration {
        self.regular_duration() + self.graceful_stop
    }

    /// k6's `GetExecutionRequirements` for this instance's segment.
    pub fn requirements(&self, tuple: &ExecutionTuple) -> Vec<Step> {
        let end = self.max_duration();
        let with_end = |first: Step| {
            if first.planned == 0 && first.unplanned == 0 {
                vec![first]
            } else {
                vec![first, Step::new(end, 0)]
            }
        };
        match &self.executor {
            Executor::SharedIterations { vus, .. }
            | Executor::PerVuIterations { vus, .. }
            | Executor::ConstantVus { vus, .. } => {
                with_end(Step::new(Duration::ZERO, tuple.scale(*vus)))
            }
            Executor::RampingVus {
                start_vus,
                stages,
                graceful_ramp_down,
            } => {
                let mut steps = ramping_vus_raw_steps(*start_vus, stages, tuple, false);
                if !graceful_ramp_down.is_zero() {
                    steps = reserve_graceful_ramp_downs(&steps, *graceful_ramp_down, end);
                }
                if steps.last().is_some_and(|s| s.planned != 0) {
                    steps.push(Step::new(end, 0));
                }
                steps
            }
            Executor::ConstantArrivalRate { .. } | Executor::RampingArrivalRate { .. } => {
                let (pre, max) = self.executor.arrival_pool(tuple).unwrap_or_default();
                with_end(Step {
                    offset: Duration::ZERO,
                    planned: pre,
                    unplanned: max - pre,
                })
            }
        }
    }

    /// The scenario as k6 options with the defaults filled in (for `brunt inspect`); `exec`
    /// stays unset unless it was set.
    pub fn to_options(&self) -> ScenarioOptions {
        let i = |v: u64| Some(v as i64);
        let stages = |st: &[StageSpec]| {
            Some(
                st.iter()
                    .map(|s| Stage {
                        duration: Some(s.duration),
                        target: i(s.target),
                    })
                    .collect(),
            )
        };
        let base = ScenarioOptions {
            executor: Some(self.executor.name().to_string()),
            start_time: Some(self.start_time),
            graceful_stop: Some(self.graceful_stop),
            exec: self.exec_option.clone(),
            env: Some(self.env.clone()),
            tags: Some(self.tags.clone()),
            arrival: self.arrival.map(|a| a.spec()),
            ..ScenarioOptions::default()
        };
        match &self.executor {
            Executor::SharedIterations {
                vus,
                iterations,
                max_duration,
            }
            | Executor::PerVuIterations {
                vus,
                iterations,
                max_duration,
            } => ScenarioOptions {
                vus: i(*vus),
                iterations: i(*iterations),
                max_duration: Some(*max_duration),
                ..base
            },
            Executor::ConstantVus { vus, duration } => ScenarioOptions {
                vus: i(*vus),
                duration: Some(*duration),
                ..base
            },
            Executor::RampingVus {
                start_vus,
                stages: st,
                graceful_ramp_down,
            } => ScenarioOptions {
                start_vus: i(*start_vus),
                stages: stages(st),
                graceful_ramp_down: Some(*graceful_ramp_down),
                ..base
            },
            Executor::ConstantArrivalRate {
                rate,
                time_unit,
                duration,
                pre_allocated_vus,
                max_vus,
            } => ScenarioOptions {
                rate: i(*rate),
                time_unit: Some(*time_unit),
                duration: Some(*duration),
                pre_allocated_vus: i(*pre_allocated_vus),
                max_vus: i(*max_vus),
                ..base
            },
            Executor::RampingArrivalRate {
                start_rate,
                time_unit,
                stages: st,
                pre_allocated_vus,
                max_vus,
            } => ScenarioOptions {
                start_rate: i(*start_rate),
                time_unit: Some(*time_unit),
                stages: stages(st),
                pre_allocated_vus: i(*pre_allocated_vus),
                max_vus: i(*max_vus),
                ..base
            },
        }
    }

    /// The iterations an iteration-based executor runs on this instance (None for the others).
    pub fn total_iterations(&self, tuple: &ExecutionTuple) -> Option<u64> {
        match &self.executor {
            Executor::SharedIterations {
                vus, iterations, ..
            } => Some(tuple.for_value(*vus).map_or(0, |t| t.scale(*iterations))),
            Executor::PerVuIterations {
                vus, iterations, ..
            } => Some(tuple.scale(*vus).saturating_mul(*iterations)),
            _ => None,
        }
    }

    /// An arrival-rate scenario's target rate on this instance, in iterations per second, `t`
    /// after its start: ramping stages change it linearly, as k6 ramps. None for the
    /// closed-model executors.
    pub fn rate_at(&self, tuple: &ExecutionTuple, t: Duration) -> Option<f64> {
        match &self.executor {
            Executor::ConstantArrivalRate {
                rate,
                time_unit,
                max_vus,
                ..
            } => Some(if *max_vus == 0 {
                0.0
            } else {
                *rate as f64 / time_unit.as_secs_f64() * tuple.scale(*max_vus) as f64
                    / *max_vus as f64
            }),
            Executor::RampingArrivalRate {
                start_rate,
                time_unit,
                stages,
                ..
            } => {
                let (mut from, mut begin) = (*start_rate as f64, Duration::ZERO);
                let mut now = from;
                for stage in stages {
                    let end = begin + stage.duration;
                    let to = stage.target as f64;
                    if t < end {
                        let into = (t - begin).as_secs_f64() / stage.duration.as_secs_f64();
                        now = from + (to - from) * into;
                        break;
                    }
                    (from, begin, now) = (to, end, to);
                }
                Some(now / time_unit.as_secs_f64() * tuple.segment().length().to_f64())
            }
            _ => None,
        }
    }

    /// The most VUs this scenario can use at once on this instance.
    pub fn max_vus(&self, tuple: &ExecutionTuple) -> u64 {
        max_possible(&self.requirements(tuple))
    }

    /// k6's one-line description, e.g. `50 looping VUs for 10s (gracefulStop: 30s)`.
    pub fn description(&self, tuple: &ExecutionTuple) -> String {
        let d = format_duration;
        match &self.executor {
            Executor::SharedIterations {
                vus, max_duration, ..
            } => {
                let iters = self.total_iterations(tuple).unwrap_or(0);
                format!(
                    "{iters} iterations shared among {} VUs{}",
                    tuple.scale(*vus),
                    self.base_info(vec![format!("maxDuration: {}", d(*max_duration))])
                )
            }
            Executor::PerVuIterations {
                vus,
                iterations,
                max_duration,
            } => format!(
                "{iterations} iterations for each of {} VUs{}",
                tuple.scale(*vus),
                self.base_info(vec![format!("maxDuration: {}", d(*max_duration))])
            ),
            Executor::ConstantVus { vus, duration } => format!(
                "{} looping VUs for {}{}",
                tuple.scale(*vus),
                d(*duration),
                self.base_info(Vec::new())
            ),
            Executor::RampingVus {
                start_vus,
                stages,
                graceful_ramp_down,
            } => {
                let max = max_target(*start_vus, stages);
                format!(
                    "Up to {} looping VUs for {} over {} stages{}",
                    tuple.scale(max),
                    d(self.regular_duration()),
                    stages.len(),
                    self.base_info(vec![format!(
                        "gracefulRampDown: {}",
                        d(*graceful_ramp_down)
                    )])
                )
            }
            Executor::ConstantArrivalRate {
                duration,
                pre_allocated_vus,
                max_vus,
                ..
            } => {
                let (pre, max) = (tuple.scale(*pre_allocated_vus), tuple.scale(*max_vus));
                let per_sec = self.rate_at(tuple, Duration::ZERO).unwrap_or(0.0);
                format!(
                    "{per_sec:.2} iterations/s for {}{}",
                    d(*duration),
                    self.base_info(vec![vus_range(pre, max)])
                )
            }
            Executor::RampingArrivalRate {
                start_rate,
                time_unit,
                stages,
                pre_allocated_vus,
                max_vus,
            } => {
                let max_rate = max_target(*start_rate, stages);
                let per_sec =
                    max_rate as f64 / time_unit.as_secs_f64() * tuple.segment().length().to_f64();
                let range = if max_vus > pre_allocated_vus {
                    vus_range(tuple.scale(*pre_allocated_vus), tuple.scale(*max_vus))
                } else {
                    format!("maxVUs: {}", tuple.scale(*pre_allocated_vus))
                };
                format!(
                    "Up to {per_sec:.2} iterations/s for {} over {} stages{}",
                    d(self.regular_duration()),
                    stages.len(),
                    self.base_info(vec![range])
                )
            }
        }
    }

    /// k6's `getBaseInfo`: the executor's facts, then exec, startTime and gracefulStop when set.
    fn base_info(&self, mut facts: Vec<String>) -> String {
        if let Some(exec) = &self.exec_option {
            facts.push(format!("exec: {exec}"));
        }
        if !self.start_time.is_zero() {
            facts.push(format!("startTime: {}", format_duration(self.start_time)));
        }
        if !self.graceful_stop.is_zero() {
            facts.push(format!(
                "gracefulStop: {}",
                format_duration(self.graceful_stop)
            ));
        }
        if facts.is_empty() {
            String::new()
        } else {
            format!(" ({})", facts.join(", "))
        }
    }
}

fn vus_range(pre: u64, max: u64) -> String {
    if max > pre {
        format!("maxVUs: {pre}-{max}")
    } else {
        format!("maxVUs: {pre}")
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: &str) -> Result<Plan, PlanError> {
        Plan::from_options(&Options::from_json(json).unwrap())
    }

    fn only(json: &str) -> Scenario {
        let p = plan(json).unwrap();
        assert_eq!(p.scenarios().len(), 1);
        p.scenarios()[0].clone()
    }

    #[test]
    fn shortcuts_map_like_k6() {
        let s = only("{}");
        assert_eq!(s.name, "default");
        assert_eq!(
            s.executor,
            Executor::PerVuIterations {
                vus: 1,
                iterations: 1,
                max_duration: DEFAULT_MAX_DURATION
            }
        );
        let s = only(r#"{"iterations": 10}"#);
        assert!(matches!(
            s.executor,
            Executor::SharedIterations {
                vus: 1,
                iterations: 10,
                ..
            }
        ));
        let s = only(r#"{"vus": 5, "iterations": 20, "duration": "30s"}"#);
        assert_eq!(
            s.executor,
            Executor::SharedIterations {
                vus: 5,
                iterations: 20,
                max_duration: Duration::from_secs(30)
            }
        );
        let s = only(r#"{"vus": 50, "duration": "10s"}"#);
        assert_eq!(
            s.executor,
            Executor::ConstantVus {
                vus: 50,
                duration: Duration::from_secs(10)
            }
        );
        assert_eq!(
            s.description(&ExecutionTuple::full()),
            "50 looping VUs for 10s (gracefulStop: 30s)"
        );
        let s = only(r#"{"duration": "10s"}"#);
        assert!(matches!(s.executor, Executor::ConstantVus { vus: 1, .. }));
        let s = only(r#"{"vus": 2, "stages": [{"duration": "10s", "target": 10}, {"target": 3}]}"#);
        match s.executor {
            Executor::RampingVus {
                start_vus, stages, ..
            } => {
                assert_eq!(start_vus, 2);
                assert_eq!(
                    stages.len(),
                    1,
                    "stages without duration are dropped, as in k6"
                );
            }
            other => panic!("{other:?}"),
        }
        let s = only(
            r#"{"vus": 3, "scenarios": {"x": {"executor": "constant-vus", "duration": "5s"}}}"#,
        );
        assert_eq!(
            s.executor,
            Executor::SharedIterations {
                vus: 3,
                iterations: 3,
                max_duration: DEFAULT_MAX_DURATION
            }
        );
    }

    #[test]
    fn k6_warnings_and_exec_check() {
        let p = plan(
            r#"{"vus": 3, "scenarios": {"x": {"executor": "constant-vus", "duration": "5s"}}}"#,
        )
        .unwrap();
        assert_eq!(p.warnings(), ["`vus=3` overrides scenarios configuration"]);
        let p = plan(r#"{"stages": []}"#).unwrap();
        assert!(p.warnings()[0].starts_with("`stages` was explicitly set to an empty value"));
        let p = plan(
            r#"{"scenarios": {"a": {"executor": "per-vu-iterations", "exec": "login"},
                              "b": {"executor": "per-vu-iterations"}}}"#,
        )
        .unwrap();
        assert!(p.warnings().is_empty());
        assert!(p.check_exec(|f| f == "login" || f == "default").is_ok());
        let e = p.check_exec(|f| f == "default").unwrap_err();
        assert_eq!(
            e.0,
            ["scenarios.a.exec: function 'login' not found in exports"]
        );
    }

    #[test]
    fn shortcut_conflicts_are_errors() {
        let e = plan(r#"{"duration": "10s", "scenarios": {"x": {"executor": "constant-vus", "duration": "5s"}}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("`duration` and `scenarios`"), "{e}");
        let e =
            plan(r#"{"iterations": 5, "stages": [{"duration": "1s", "target": 1}]}"#).unwrap_err();
        assert!(e.to_string().contains("`iterations` and `stages`"), "{e}");
        let e = plan(r#"{"duration": "0s"}"#).unwrap_err();
        assert!(e.to_string().starts_with("duration:"), "{e}");
        let e = plan(r#"{"vus": 0, "duration": "10s"}"#).unwrap_err();
        assert_eq!(e.0, ["vus: the number of VUs must be more than 0"]);
    }

    #[test]
    fn scenario_defaults_follow_k6() {
        let p = plan(
            r#"{"scenarios": {
                "b": {"executor": "constant-arrival-rate", "rate": 10, "duration": "1m", "preAllocatedVUs": 4},
                "a": {"executor": "ramping-vus", "startTime": "30s", "stages": [{"duration": "10s", "target": 5}]}
            }}"#,
        )
        .unwrap();
        let names: Vec<&str> = p.scenarios().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["b", "a"], "sorted by start time");
        let b = &p.scenarios()[0];
        assert_eq!(b.graceful_stop, Duration::from_secs(30));
        assert_eq!(b.exec(), "default");
        assert_eq!(
            b.executor,
            Executor::ConstantArrivalRate {
                rate: 10,
                time_unit: Duration::from_secs(1),
                duration: Duration::from_secs(60),
                pre_allocated_vus: 4,
                max_vus: 4
            }
        );
        let a = &p.scenarios()[1];
        assert!(matches!(
            a.executor,
            Executor::RampingVus {
                start_vus: 1,
                graceful_ramp_down,
                ..
            } if graceful_ramp_down == Duration::from_secs(30)
        ));
        assert_eq!(p.max_duration(), Duration::from_secs(90));
        assert_eq!(p.max_vus(), 9);
    }

    /// brunt's `arrival` on arrival-rate scenarios: parsed, kept for inspect, refused
    /// elsewhere and with a value it does not know, naming the option.
    #[test]
    fn arrival_is_an_arrival_rate_option() {
        let p = plan(
            r#"{"scenarios": {"s": {"executor": "ramping-arrival-rate", "stages": [{"duration": "10s", "target": 5}], "preAllocatedVUs": 2, "arrival": "gamma:0.3"}}}"#,
        )
        .unwrap();
        let s = &p.scenarios()[0];
        assert_eq!(s.arrival, Some(Arrivals::parse("gamma:0.3", "s").unwrap()));
        assert_eq!(s.to_options().arrival.as_deref(), Some("gamma:0.3"));
        let e = plan(
            r#"{"scenarios": {
                "a": {"executor": "constant-vus", "duration": "10s", "arrival": "poisson"},
                "b": {"executor": "constant-arrival-rate", "rate": 5, "duration": "10s", "preAllocatedVUs": 2, "arrival": "bursty"}
            }}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("scenarios.a.arrival: not an option of the constant-vus executor"),
            "{e}"
        );
        assert!(
            e.contains(
                "scenarios.b.arrival: 'bursty' is not 'constant', 'poisson' or 'gamma:SHAPE'"
            ),
            "{e}"
        );
    }

    #[test]
    fn validation_names_scenario_and_option() {
        let e = plan(
            r#"{"scenarios": {
                "foo": {"executor": "constant-arrival-rate", "rate": 0, "duration": "500ms", "preAllocatedVUs": 5, "maxVUs": 2, "vus": 3},
                "bar baz": {"executor": "constant-vus", "duration": "10s"},
                "nope": {"executor": "warp-speed"},
                "none": {"duration": "1s"},
                "st": {"executor": "ramping-vus", "stages": [{"duration": "1s"}]}
            }}"#,
        )
        .unwrap_err();
        let want = [
            "scenarios.bar baz: the scenario name should contain only numbers, latin letters, underscores, and dashes",
            "scenarios.foo.vus: not an option of the constant-arrival-rate executor",
            "scenarios.foo.rate: the iteration rate must be more than 0",
            "scenarios.foo.duration: the duration must be at least 1s, but is 500ms",
            "scenarios.foo.maxVUs: maxVUs can't be less than preAllocatedVUs",
            "scenarios.none.executor: missing; use one of",
            "scenarios.nope.executor: unknown executor 'warp-speed'",
            "scenarios.st.stages[0]: stage 1 doesn't have a target",
        ];
        for w in want {
            assert!(e.0.iter().any(|l| l.starts_with(w)), "missing {w:?} in {e}");
        }
        let e = plan(r#"{"scenarios": {"s": {"executor": "shared-iterations", "vus": 10, "iterations": 5}}}"#)
            .unwrap_err();
        assert_eq!(
            e.0,
            ["scenarios.s.iterations: the number of iterations (5) can't be less than the number of VUs (10)"]
        );
        let e = plan(r#"{"executionSegment": "1/2:1", "executionSegmentSequence": "0,1/3,1"}"#)
            .unwrap_err();
        assert!(e.0[0].starts_with("executionSegmentSequence:"), "{e}");
    }

    #[test]
    fn resolved_scenarios_round_trip_through_options() {
        let p = plan(r#"{"stages": [{"duration": "10s", "target": 5}]}"#).unwrap();
        let s = &p.scenarios()[0];
        let o = s.to_options();
        assert_eq!(o.graceful_ramp_down, Some(Duration::from_secs(30)));
        assert_eq!(o.start_vus, Some(1));
        let mut scenarios = BTreeMap::new();
        scenarios.insert(s.name.clone(), o);
        let again = Plan::from_options(&Options {
            scenarios: Some(scenarios),
            ..Options::default()
        })
        .unwrap();
        assert_eq!(again.scenarios()[0], *s);
    }

    #[test]
    fn absurd_values_are_errors_not_overflows() {
        let e = plan(r#"{"scenarios": {"x": {"executor": "ramping-vus", "stages": [{"duration": "100000d", "target": 1}, {"duration": "100000d", "target": 1}]}}}"#)
            .unwrap_err();
        assert!(
            e.0[0].starts_with("scenarios.x: startTime, durations"),
            "{e}"
        );
        let e = plan(r#"{"scenarios": {"x": {"executor": "constant-arrival-rate", "rate": 2000000000, "duration": "1s", "preAllocatedVUs": 1}}}"#)
            .unwrap_err();
        assert!(e.0[0].starts_with("scenarios.x.rate:"), "{e}");
    }

    #[test]
    fn descriptions_match_k6() {
        let p = plan(
            r#"{"scenarios": {
                "a": {"executor": "shared-iterations", "vus": 10, "iterations": 100},
                "b": {"executor": "per-vu-iterations", "vus": 2, "iterations": 3, "exec": "other", "gracefulStop": "0s"},
                "c": {"executor": "ramping-vus", "startVUs": 0, "stages": [{"duration": "1m", "target": 20}, {"duration": "30s", "target": 0}]},
                "d": {"executor": "constant-arrival-rate", "rate": 200, "timeUnit": "2s", "duration": "1m", "preAllocatedVUs": 5, "maxVUs": 50, "startTime": "5s"},
                "e": {"executor": "ramping-arrival-rate", "startRate": 5, "stages": [{"duration": "10s", "target": 50}], "preAllocatedVUs": 10}
            }}"#,
        )
        .unwrap();
        let t = ExecutionTuple::full();
        let by = |n: &str| {
            p.scenarios()
                .iter()
                .find(|s| s.name == n)
                .unwrap()
                .description(&t)
        };
        assert_eq!(
            by("a"),
            "100 iterations shared among 10 VUs (maxDuration: 10m0s, gracefulStop: 30s)"
        );
        assert_eq!(
            by("b"),
            "3 iterations for each of 2 VUs (maxDuration: 10m0s, exec: other)"
        );
        assert_eq!(
            by("c"),
            "Up to 20 looping VUs for 1m30s over 2 stages (gracefulRampDown: 30s, gracefulStop: 30s)"
        );
        assert_eq!(
            by("d"),
            "100.00 iterations/s for 1m0s (maxVUs: 5-50, startTime: 5s, gracefulStop: 30s)"
        );
        assert_eq!(
            by("e"),
            "Up to 50.00 iterations/s for 10s over 1 stages (maxVUs: 10, gracefulStop: 30s)"
        );
        // The progress lines' current rate: constant, or linear within a ramping stage.
        let rate = |n: &str, secs: u64| {
            p.scenarios()
                .iter()
                .find(|s| s.name == n)
                .unwrap()
                .rate_at(&t, Duration::from_secs(secs))
        };
        assert_eq!(rate("d", 30), Some(100.0));
        assert_eq!(rate("e", 0), Some(5.0));
        assert_eq!(rate("e", 5), Some(27.5));
        assert_eq!(rate("e", 60), Some(50.0));
        assert_eq!(rate("c", 5), None);
    }

    #[test]
    fn segment_scales_plan_facts() {
        let p = plan(
            r#"{"vus": 10, "duration": "10s", "executionSegment": "1/4:2/4", "executionSegmentSequence": "0,1/4,2/4,3/4,1"}"#,
        )
        .unwrap();
        let total: u64 = ["0:1/4", "1/4:2/4", "2/4:3/4", "3/4:1"]
            .iter()
            .map(|seg| {
                let p = plan(&format!(
                    r#"{{"vus": 10, "duration": "10s", "executionSegment": "{seg}", "executionSegmentSequence": "0,1/4,2/4,3/4,1"}}"#
                ))
                .unwrap();
                p.max_vus()
            })
            .sum();
        assert_eq!(total, 10);
        assert_eq!(p.max_duration(), Duration::from_secs(40));
    }
}
