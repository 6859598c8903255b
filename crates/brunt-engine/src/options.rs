//! k6's execution options as a script exports them (`export const options = {...}`) or as JSON:
//! the shortcuts (`vus`, `duration`, `iterations`, `stages`), `scenarios`, execution segments and
//! the few other keys the engine reads. Other keys (thresholds, ...) are ignored here.

use crate::duration::serde_opt;
use crate::segment::{ExecutionSegment, SegmentSequence};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::time::Duration;

/// Options JSON that does not parse; names the option path, e.g. `scenarios.foo.rate: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct OptionsError {
    pub path: String,
    pub message: String,
}

/// The options the engine reads. `None` means "not set", which matters for k6's shortcut rules
/// and for layering (CLI flags over environment over the script).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<i64>,
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<Stage>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenarios: Option<BTreeMap<String, ScenarioOptions>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_segment: Option<ExecutionSegment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_segment_sequence: Option<SegmentSequence>,
    /// Tags added to every sample of the run (k6's `tags` option and `--tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// k6's `systemTags`: which system tags samples carry (k6's default set when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_tags: Option<Vec<String>>,
    /// k6's `minIterationDuration`: a VU whose iteration was shorter sleeps for the rest.
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    pub min_iteration_duration: Option<Duration>,
    /// How long `setup()` may run (k6 default 60s).
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    pub setup_timeout: Option<Duration>,
    /// How long `teardown()` may run (k6 default 60s).
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    pub teardown_timeout: Option<Duration>,
}

/// One stage of `stages` (VU target for ramping-vus, iteration rate for ramping-arrival-rate).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<i64>,
}

/// One entry of `scenarios`: the common keys and every executor's own keys. Which keys an
/// executor accepts is checked when the plan is built (an unknown key is an error, as in k6).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Duration>,
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    pub graceful_stop: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// k6's per-scenario `options` (browser settings); accepted and passed through untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<i64>,
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<Duration>,
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    #[serde(default, rename = "startVUs", skip_serializing_if = "Option::is_none")]
    pub start_vus: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<Stage>>,
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    pub graceful_ramp_down: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<i64>,
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    pub time_unit: Option<Duration>,
    #[serde(
        default,
        rename = "preAllocatedVUs",
        skip_serializing_if = "Option::is_none"
    )]
    pub pre_allocated_vus: Option<i64>,
    #[serde(default, rename = "maxVUs", skip_serializing_if = "Option::is_none")]
    pub max_vus: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_rate: Option<i64>,
    /// brunt's own, on arrival-rate scenarios: how starts are spaced, `constant` (k6's ticker),
    /// `poisson` or `gamma:SHAPE` (bursts; k6 refuses the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival: Option<String>,
}

impl Options {
    /// Parses options JSON (what `JSON.stringify(options)` gives); errors name the option path.
    pub fn from_json(json: &str) -> Result<Options, OptionsError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(de).map_err(|e| {
            // The JSON is brunt's own (the script's options serialised, layered): a line and
            // column in it would send the user to the wrong place, so only the path is kept.
            let inner = e.inner();
            let message = inner.to_string();
            let position = format!(" at line {} column {}", inner.line(), inner.column());
            OptionsError {
                path: e.path().to_string(),
                message: message
                    .strip_suffix(&position)
                    .unwrap_or(&message)
                    .to_string(),
            }
        })
    }

    /// Layers `higher` (e.g. CLI flags) over these options, as k6 does: setting any of
    /// `duration`, `iterations`, `stages` or `scenarios` in a higher layer discards all four from
    /// the lower one; every other option set in `higher` replaces this one's.
    pub fn apply(mut self, higher: Options) -> Options {
        if higher.duration.is_some()
            || higher.iterations.is_some()
            || higher.stages.is_some()
            || higher.scenarios.is_some()
        {
            self.duration = None;
            self.iterations = None;
            self.stages = None;
            self.scenarios = None;
        }
        Options {
            vus: higher.vus.or(self.vus),
            duration: higher.duration.or(self.duration),
            iterations: higher.iterations.or(self.iterations),
            stages: higher.stages.or(self.stages),
            scenarios: higher.scenarios.or(self.scenarios),
            execution_segment: higher.execution_segment.or(self.execution_segment),
            execution_segment_sequence: higher
                .execution_segment_sequence
                .or(self.execution_segment_sequence),
            tags: higher.tags.or(self.tags),
            system_tags: higher.system_tags.or(self.system_tags),
            min_iteration_duration: higher
                .min_iteration_duration
                .or(self.min_iteration_duration),
            setup_timeout: higher.setup_timeout.or(self.setup_timeout),
            teardown_timeout: higher.teardown_timeout.or(self.teardown_timeout),
        }
    }
}

/// Segments and sequences travel as k6 writes them, e.g. `"1/4:2/4"` and `"0,1/4,1/2,1"`.
macro_rules! serde_as_string {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_string!(ExecutionSegment, SegmentSequence);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_k6_options_export_and_ignores_foreign_keys() {
        let o = Options::from_json(
            r#"{"vus": 10, "duration": "30s", "thresholds": {"http_req_duration": ["p(95)<500"]},
                "scenarios": {"s": {"executor": "constant-arrival-rate", "rate": 100,
                "timeUnit": "1s", "duration": 60000, "preAllocatedVUs": 5,
                "tags": {"a": "b"}, "env": {"X": "1"}}},
                "executionSegment": "1/4:2/4", "executionSegmentSequence": "0,1/4,1/2,1"}"#,
        )
        .unwrap();
        assert_eq!(o.vus, Some(10));
        assert_eq!(o.duration, Some(Duration::from_secs(30)));
        let s = &o.scenarios.as_ref().unwrap()["s"];
        assert_eq!(s.duration, Some(Duration::from_secs(60)));
        assert_eq!(s.rate, Some(100));
        assert_eq!(o.execution_segment.unwrap().to_string(), "1/4:1/2");
    }

    #[test]
    fn errors_name_the_option() {
        let e = Options::from_json(r#"{"scenarios": {"foo": {"executor": "x", "rate": "fast"}}}"#)
            .unwrap_err();
        assert_eq!(e.path, "scenarios.foo.rate");
        // No line and column: they would point into brunt's own JSON, not the user's script.
        assert!(!e.to_string().contains(" at line "), "{e}");
        let e = Options::from_json(r#"{"scenarios": {"foo": {"executor": "x", "rat": 1}}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("rat"), "{e}");
        let e = Options::from_json(r#"{"duration": "10 parsecs"}"#).unwrap_err();
        assert_eq!(e.path, "duration");
        let e = Options::from_json(r#"{"executionSegment": "3:4"}"#).unwrap_err();
        assert_eq!(e.path, "executionSegment");
    }

    #[test]
    fn higher_layer_shortcut_replaces_lower_execution_settings() {
        let script = Options::from_json(
            r#"{"vus": 5, "scenarios": {"a": {"executor": "constant-vus", "duration": "1m"}}}"#,
        )
        .unwrap();
        let cli = Options {
            duration: Some(Duration::from_secs(10)),
            ..Options::default()
        };
        let merged = script.clone().apply(cli);
        assert!(merged.scenarios.is_none());
        assert_eq!(merged.vus, Some(5));
        assert_eq!(merged.duration, Some(Duration::from_secs(10)));
        let vus_only = Options {
            vus: Some(3),
            ..Options::default()
        };
        let merged = script.apply(vus_only);
        assert!(merged.scenarios.is_some());
        assert_eq!(merged.vus, Some(3));
    }

    #[test]
    fn serializes_back_to_k6_shapes() {
        let o = Options::from_json(
            r#"{"duration": "90s", "stages": [{"duration": "1m", "target": 5}]}"#,
        )
        .unwrap();
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["duration"], "1m30s");
        assert_eq!(v["stages"][0]["duration"], "1m0s");
    }
}
