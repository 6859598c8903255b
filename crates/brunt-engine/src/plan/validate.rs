//! Each scenario's options checked and turned into an [`Executor`] with k6's defaults and k6's
//! error messages, every error prefixed with the option's path.

use super::{
    Executor, Scenario, DEFAULT_GRACEFUL_RAMP_DOWN, DEFAULT_GRACEFUL_STOP, DEFAULT_MAX_DURATION,
    DEFAULT_TIME_UNIT, EXECUTORS, MAX_CONCURRENT_VUS, MAX_TEST_DURATION, MIN_DURATION,
};
use crate::arrival::Arrivals;
use crate::duration::format_duration;
use crate::options::{ScenarioOptions, Stage};
use crate::steps::StageSpec;
use std::fmt;
use std::time::Duration;

/// Builds error paths: for shortcut-derived scenarios they name the shortcut the user wrote.
pub(super) struct Ctx<'a> {
    pub(super) scenario: &'a str,
    pub(super) shortcut: bool,
    pub(super) errors: &'a mut Vec<String>,
}

impl Ctx<'_> {
    fn err(&mut self, field: &str, msg: impl fmt::Display) {
        let path = if self.shortcut {
            match field {
                "maxDuration" => "duration".to_string(),
                "startVUs" => "vus".to_string(),
                _ => field.to_string(),
            }
        } else if field.is_empty() {
            format!("scenarios.{}", self.scenario)
        } else {
            format!("scenarios.{}.{}", self.scenario, field)
        };
        self.errors.push(format!("{path}: {msg}"));
    }
}

/// Keys each executor accepts besides the common ones.
fn own_keys(executor: &str) -> &'static [&'static str] {
    match executor {
        "shared-iterations" | "per-vu-iterations" => &["vus", "iterations", "maxDuration"],
        "constant-vus" => &["vus", "duration"],
        "ramping-vus" => &["startVUs", "stages", "gracefulRampDown"],
        "constant-arrival-rate" => &[
            "rate",
            "timeUnit",
            "duration",
            "preAllocatedVUs",
            "maxVUs",
            "arrival",
        ],
        "ramping-arrival-rate" => &[
            "startRate",
            "timeUnit",
            "stages",
            "preAllocatedVUs",
            "maxVUs",
            "arrival",
        ],
        _ => &[],
    }
}

fn set_keys(c: &ScenarioOptions) -> Vec<&'static str> {
    let mut keys = Vec::new();
    let mut add = |set: bool, k: &'static str| {
        if set {
            keys.push(k)
        }
    };
    add(c.vus.is_some(), "vus");
    add(c.iterations.is_some(), "iterations");
    add(c.max_duration.is_some(), "maxDuration");
    add(c.duration.is_some(), "duration");
    add(c.start_vus.is_some(), "startVUs");
    add(c.stages.is_some(), "stages");
    add(c.graceful_ramp_down.is_some(), "gracefulRampDown");
    add(c.rate.is_some(), "rate");
    add(c.time_unit.is_some(), "timeUnit");
    add(c.pre_allocated_vus.is_some(), "preAllocatedVUs");
    add(c.max_vus.is_some(), "maxVUs");
    add(c.start_rate.is_some(), "startRate");
    add(c.arrival.is_some(), "arrival");
    keys
}

pub(super) fn build_scenario(
    name: &str,
    c: &ScenarioOptions,
    ctx: &mut Ctx<'_>,
) -> Option<Scenario> {
    let before = ctx.errors.len();
    if name.is_empty()
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
    {
        ctx.err(
            "",
            "the scenario name should contain only numbers, latin letters, underscores, and dashes",
        );
    }
    if c.exec.as_deref() == Some("") {
        ctx.err("exec", "exec value cannot be empty");
    }
    let Some(kind) = c.executor.as_deref() else {
        ctx.err("executor", format!("missing; use one of {EXECUTORS}"));
        return None;
    };
    if kind == "externally-controlled" {
        ctx.err(
            "executor",
            "the externally-controlled executor is not supported by brunt",
        );
        return None;
    }
    let own = own_keys(kind);
    if own.is_empty() {
        ctx.err(
            "executor",
            format!("unknown executor '{kind}'; use one of {EXECUTORS}"),
        );
        return None;
    }
    for key in set_keys(c) {
        if !own.contains(&key) {
            ctx.err(key, format!("not an option of the {kind} executor"));
        }
    }
    let executor = match kind {
        "shared-iterations" | "per-vu-iterations" => {
            let vus = check_vus(ctx, c.vus);
            let iterations = c.iterations.unwrap_or(1);
            let max_duration = c.max_duration.unwrap_or(DEFAULT_MAX_DURATION);
            if kind == "shared-iterations" {
                if iterations < vus {
                    ctx.err(
                        "iterations",
                        format!(
                            "the number of iterations ({iterations}) can't be less than the number of VUs ({vus})"
                        ),
                    );
                }
            } else if iterations <= 0 {
                ctx.err("iterations", "the number of iterations must be more than 0");
            }
            check_min_duration(ctx, "maxDuration", max_duration);
            let (vus, iterations) = (vus.max(0) as u64, iterations.max(0) as u64);
            if kind == "shared-iterations" {
                Executor::SharedIterations {
                    vus,
                    iterations,
                    max_duration,
                }
            } else {
                Executor::PerVuIterations {
                    vus,
                    iterations,
                    max_duration,
                }
            }
        }
        "constant-vus" => {
            let vus = check_vus(ctx, c.vus);
            let duration = required_duration(ctx, "duration", c.duration);
            Executor::ConstantVus {
                vus: vus.max(0) as u64,
                duration,
            }
        }
        "ramping-vus" => {
            let start_vus = c.start_vus.unwrap_or(1);
            if start_vus < 0 {
                ctx.err("startVUs", "the number of start VUs can't be negative");
            }
            if start_vus > MAX_CONCURRENT_VUS {
                ctx.err(
                    "startVUs",
                    format!("the startVUs exceed max limit of {MAX_CONCURRENT_VUS}"),
                );
            }
            let stages = check_stages(ctx, c.stages.as_deref(), Some(MAX_CONCURRENT_VUS));
            let max_target = c
                .stages
                .iter()
                .flatten()
                .filter_map(|s| s.target)
                .fold(start_vus, i64::max);
            if max_target <= 0 {
                ctx.err(
                    "stages",
                    "either startVUs or one of the stages' target values must be greater than 0",
                );
            }
            Executor::RampingVus {
                start_vus: start_vus.max(0) as u64,
                stages,
                graceful_ramp_down: c.graceful_ramp_down.unwrap_or(DEFAULT_GRACEFUL_RAMP_DOWN),
            }
        }
        "constant-arrival-rate" => {
            let rate = match c.rate {
                None => {
                    ctx.err("rate", "the iteration rate isn't specified");
                    0
                }
                Some(r) if r <= 0 => {
                    ctx.err("rate", "the iteration rate must be more than 0");
                    0
                }
                Some(r) => r as u64,
            };
            let time_unit = check_time_unit(ctx, c.time_unit);
            let duration = required_duration(ctx, "duration", c.duration);
            let (pre_allocated_vus, max_vus) = check_vu_pool(ctx, c);
            Executor::ConstantArrivalRate {
                rate,
                time_unit,
                duration,
                pre_allocated_vus,
                max_vus,
            }
        }
        _ => {
            let start_rate = c.start_rate.unwrap_or(0);
            if start_rate < 0 {
                ctx.err("startRate", "the startRate value can't be negative");
            }
            let time_unit = check_time_unit(ctx, c.time_unit);
            let stages = check_stages(ctx, c.stages.as_deref(), None);
            let (pre_allocated_vus, max_vus) = check_vu_pool(ctx, c);
            Executor::RampingArrivalRate {
                start_rate: start_rate.max(0) as u64,
                time_unit,
                stages,
                pre_allocated_vus,
                max_vus,
            }
        }
    };
    if ctx.errors.len() > before {
        return None;
    }
    let scenario = Scenario {
        name: name.to_string(),
        executor,
        start_time: c.start_time.unwrap_or_default(),
        graceful_stop: c.graceful_stop.unwrap_or(DEFAULT_GRACEFUL_STOP),
        exec_option: c.exec.clone(),
        env: c.env.clone().unwrap_or_default(),
        tags: c.tags.clone().unwrap_or_default(),
        arrival: match c.arrival.as_deref().map(|a| Arrivals::parse(a, name)) {
            Some(Err(e)) => {
                ctx.err("arrival", e);
                return None;
            }
            Some(Ok(a)) => Some(a),
            None => None,
        },
    };
    // Absurd values must be errors here, not overflows or endless schedules later.
    let end = scenario
        .checked_regular_duration()
        .and_then(|d| d.checked_add(scenario.start_time))
        .and_then(|d| d.checked_add(scenario.graceful_stop));
    if end.is_none_or(|d| d > MAX_TEST_DURATION) {
        ctx.err(
            "",
            "startTime, durations and gracefulStop add up to more than 100 years",
        );
        return None;
    }
    if let Executor::ConstantArrivalRate {
        rate, time_unit, ..
    } = &scenario.executor
    {
        if time_unit.as_nanos() < u128::from(*rate) {
            ctx.err(
                "rate",
                "more than one iteration per nanosecond is not possible",
            );
            return None;
        }
    }
    Some(scenario)
}

/// `vus`, 1 unless set, which must be more than 0.
fn check_vus(ctx: &mut Ctx<'_>, vus: Option<i64>) -> i64 {
    let vus = vus.unwrap_or(1);
    if vus <= 0 {
        ctx.err("vus", "the number of VUs must be more than 0");
    }
    vus
}

fn check_min_duration(ctx: &mut Ctx<'_>, key: &str, d: Duration) {
    if d < MIN_DURATION {
        ctx.err(
            key,
            format!(
                "the {key} must be at least 1s, but is {}",
                format_duration(d)
            ),
        );
    }
}

fn required_duration(ctx: &mut Ctx<'_>, key: &str, d: Option<Duration>) -> Duration {
    match d {
        None => {
            ctx.err(key, "the duration is unspecified");
            Duration::ZERO
        }
        Some(d) => {
            check_min_duration(ctx, key, d);
            d
        }
    }
}

fn check_time_unit(ctx: &mut Ctx<'_>, t: Option<Duration>) -> Duration {
    let t = t.unwrap_or(DEFAULT_TIME_UNIT);
    if t.is_zero() {
        ctx.err("timeUnit", "the timeUnit must be more than 0");
    }
    t
}

fn check_vu_pool(ctx: &mut Ctx<'_>, c: &ScenarioOptions) -> (u64, u64) {
    let pre = match c.pre_allocated_vus {
        None => {
            ctx.err(
                "preAllocatedVUs",
                "the number of preAllocatedVUs isn't specified",
            );
            0
        }
        Some(p) if p < 0 => {
            ctx.err(
                "preAllocatedVUs",
                "the number of preAllocatedVUs can't be negative",
            );
            0
        }
        Some(p) => p,
    };
    let max = match c.max_vus {
        None => pre,
        Some(m) if m < pre => {
            ctx.err("maxVUs", "maxVUs can't be less than preAllocatedVUs");
            pre
        }
        Some(m) => m,
    };
    (pre as u64, max as u64)
}

fn check_stages(ctx: &mut Ctx<'_>, stages: Option<&[Stage]>, limit: Option<i64>) -> Vec<StageSpec> {
    let stages = stages.unwrap_or_default();
    if stages.is_empty() {
        ctx.err("stages", "at least one stage has to be specified");
    }
    let mut out = Vec::new();
    for (i, s) in stages.iter().enumerate() {
        let n = i + 1;
        let key = format!("stages[{i}]");
        if s.duration.is_none() {
            ctx.err(&key, format!("stage {n} doesn't have a duration"));
        }
        match s.target {
            None => ctx.err(&key, format!("stage {n} doesn't have a target")),
            Some(t) if t < 0 => {
                ctx.err(&key, format!("the target for stage {n} can't be negative"))
            }
            Some(t) if limit.is_some_and(|l| t > l) => ctx.err(
                &key,
                format!(
                    "target for stage {n} exceeds max limit of {}",
                    limit.unwrap_or_default()
                ),
            ),
            Some(_) => {}
        }
        out.push(StageSpec {
            duration: s.duration.unwrap_or_default(),
            target: s.target.unwrap_or(0).max(0) as u64,
        });
    }
    out
}
