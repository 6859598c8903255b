//! One activity (probe or action): its provider, tolerance, pauses and where it sits in the file.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::provider::Provider;
use crate::tolerance::Tolerance;

/// Where an activity is written: `method[2]`, `rollbacks[0]`, `steady-state-hypothesis.probes[1]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The list it is in.
    pub section: String,
    /// Its index there.
    pub index: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.section, self.index)
    }
}

/// Probe (observes) or action (changes the system).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Observes the system.
    Probe,
    /// Changes the system.
    Action,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivityDoc {
    #[serde(rename = "type")]
    kind: Kind,
    name: String,
    provider: Value,
    #[serde(default)]
    tolerance: Option<Value>,
    #[serde(default)]
    pauses: Option<PausesDoc>,
    #[serde(default)]
    background: bool,
    #[serde(default)]
    controls: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    timeout: Option<f64>,
    #[serde(default)]
    mode: Option<ProbeMode>,
    #[serde(default)]
    interval: Option<f64>,
}

/// When a probe of the method is sampled, as Litmus's probe modes (brunt's addition to Chaos
/// Toolkit's format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeMode {
    /// At every `interval` while the method runs.
    Continuous,
    /// At every `interval` while a fault is active.
    OnFault,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PausesDoc {
    #[serde(default)]
    before: Option<Value>,
    #[serde(default)]
    after: Option<Value>,
}

/// A pause in seconds, or a `${name}` resolved when the activity runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Pause {
    /// Seconds.
    Seconds(f64),
    /// A placeholder for a configuration or secret value.
    Placeholder(String),
}

/// A validated activity.
#[derive(Clone, Debug)]
pub struct Activity {
    /// Probe or action.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// What runs.
    pub provider: Provider,
    /// How its output is judged (hypothesis probes).
    pub tolerance: Option<Tolerance>,
    /// Pause before it runs.
    pub pause_before: Option<Pause>,
    /// Pause after it ran.
    pub pause_after: Option<Pause>,
    /// Runs without holding up the next activity.
    pub background: bool,
    /// Declares controls, which brunt ignores.
    pub controls: bool,
    /// A probe sampled at an interval through the method, and the interval.
    pub mode: Option<(ProbeMode, std::time::Duration)>,
    /// Where it is in the file.
    pub location: Location,
    /// The activity as written, for the journal.
    pub raw: Value,
}

impl Activity {
    /// Parses and validates one activity; `hypothesis` requires a tolerance; files it names
    /// are relative to `base`, the experiment file's directory.
    pub fn parse(
        raw: Value,
        location: Location,
        hypothesis: bool,
        base: &Path,
    ) -> Result<Self, String> {
        let label = match raw.get("name").and_then(Value::as_str) {
            Some(name) => format!("{location} {name:?}"),
            None => location.to_string(),
        };
        let doc: ActivityDoc =
            crate::format::from_value(&raw, "").map_err(|e| format!("{label}: {e}"))?;
        if doc.name.is_empty() {
            return Err(format!("{label}: name: an activity must have a name"));
        }
        let provider = Provider::parse(&doc.provider, base).map_err(|e| format!("{label}: {e}"))?;
        let tolerance = match doc.tolerance {
            Some(t) => {
                Some(Tolerance::parse(&t, base).map_err(|e| format!("{label}: tolerance: {e}"))?)
            }
            None if hypothesis => {
                return Err(format!(
                    "{label}: tolerance: a steady-state probe must have a tolerance"
                ))
            }
            None => None,
        };
        if let Some(t) = doc.timeout {
            if !t.is_finite() || t < 0.0 {
                return Err(format!("{label}: timeout: must be a number of seconds"));
            }
        }
        let pause = |v: Option<Value>, which: &str| -> Result<Option<Pause>, String> {
            match v {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => match n.as_f64() {
                    Some(s) if s >= 0.0 => Ok(Some(Pause::Seconds(s))),
                    _ => Err(format!("{label}: pauses.{which}: must be a number of seconds")),
                },
                Some(Value::String(s)) if s.starts_with("${") && s.ends_with('}') => {
                    Ok(Some(Pause::Placeholder(s)))
                }
                Some(_) => Err(format!(
                    "{label}: pauses.{which}: must be a number of seconds or a ${{name}} from the configuration or secrets"
                )),
            }
        };
        let mode = match (doc.mode, doc.interval) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(format!(
                    "{label}: interval: only a probe with a mode has an interval"
                ))
            }
            (Some(mode), interval) => {
                if doc.kind != Kind::Probe || location.section != "method" {
                    return Err(format!(
                        "{label}: mode: only probes of the method can have a mode"
                    ));
                }
                if tolerance.is_none() {
                    return Err(format!(
                        "{label}: tolerance: a probe with a mode needs a tolerance to judge each sample"
                    ));
                }
                let every = interval.unwrap_or(1.0);
                if !every.is_finite() || every <= 0.0 {
                    return Err(format!(
                        "{label}: interval: must be a positive number of seconds"
                    ));
                }
                Some((mode, std::time::Duration::from_secs_f64(every)))
            }
        };
        let (pause_before, pause_after) = match doc.pauses {
            Some(p) => (pause(p.before, "before")?, pause(p.after, "after")?),
            None => (None, None),
        };
        Ok(Activity {
            kind: doc.kind,
            name: doc.name,
            provider,
            tolerance,
            pause_before,
            pause_after,
            background: doc.background,
            controls: doc.controls.is_some(),
            mode,
            location,
            raw,
        })
    }
}
