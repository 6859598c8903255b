//! The experiment file: Chaos Toolkit's format, read from JSON or YAML and checked before
//! anything runs, with errors that name the file, the activity and the field.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::activity::{Activity, Location};
use crate::substitute::Vars;

/// Why an experiment cannot run.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file could not be read.
    #[error("cannot read {file}: {source}")]
    Read {
        /// The experiment file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON or YAML.
    #[error("{file}: {detail}")]
    Syntax {
        /// The experiment file.
        file: String,
        /// The parser's message, with the line.
        detail: String,
    },
    /// The experiment is well-formed but not valid.
    #[error("{file}: {detail}")]
    Invalid {
        /// The experiment file.
        file: String,
        /// What is wrong and where.
        detail: String,
    },
}

/// The top level of an experiment. Unknown keys are refused so that a typo does not silently
/// drop a part of the experiment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    title: String,
    description: String,
    #[serde(default, rename = "version")]
    _version: Option<IgnoredAny>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, rename = "contributions")]
    _contributions: Option<IgnoredAny>,
    #[serde(default, rename = "extensions")]
    _extensions: Option<IgnoredAny>,
    #[serde(default)]
    controls: Option<Value>,
    #[serde(default)]
    configuration: Map<String, Value>,
    #[serde(default)]
    secrets: Map<String, Value>,
    #[serde(default, rename = "steady-state-hypothesis")]
    steady_state_hypothesis: Option<HypothesisDoc>,
    method: Vec<Value>,
    #[serde(default)]
    rollbacks: Vec<Value>,
    #[serde(default)]
    runtime: Option<Runtime>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HypothesisDoc {
    title: String,
    #[serde(default)]
    probes: Vec<Value>,
    #[serde(default)]
    controls: Option<Value>,
}

/// `runtime` settings an experiment may carry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Runtime {
    #[serde(default)]
    rollbacks: Option<RuntimeRollbacks>,
    #[serde(default)]
    hypothesis: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuntimeRollbacks {
    strategy: crate::runner::RollbackStrategy,
}

/// A validated experiment, ready to run.
#[derive(Debug)]
pub struct Experiment {
    /// The experiment as written, for the journal.
    pub raw: Value,
    /// Its title.
    pub title: String,
    /// The steady-state hypothesis, if any: its title and probes (each with a tolerance).
    pub hypothesis: Option<(String, Vec<Activity>)>,
    /// The method's activities, in order.
    pub method: Vec<Activity>,
    /// The rollbacks, in order.
    pub rollbacks: Vec<Activity>,
    /// Configuration and secrets, resolved.
    pub vars: Vars,
    /// The rollback strategy the experiment asks for (`runtime.rollbacks.strategy`).
    pub rollback_strategy: Option<crate::runner::RollbackStrategy>,
    /// What the experiment declares and brunt ignores (controls), to warn about.
    pub ignored: Vec<String>,
}

/// Reads and validates an experiment file (JSON, or YAML for `.yaml`/`.yml`).
pub fn load(path: &Path) -> Result<Experiment, FormatError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| FormatError::Read {
        file: file.clone(),
        source,
    })?;
    let yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let raw: Value = if yaml {
        serde_yaml_ng::from_str(&text).map_err(|e| FormatError::Syntax {
            file: file.clone(),
            detail: e.to_string(),
        })?
    } else {
        serde_json::from_str(&text).map_err(|e| FormatError::Syntax {
            file: file.clone(),
            detail: e.to_string(),
        })?
    };
    let base = path.parent().unwrap_or(Path::new(""));
    parse(raw, base).map_err(|detail| FormatError::Invalid { file, detail })
}

/// Deserializes `v`; an error names the field that does not fit, under `under` when it is not
/// empty: `provider.url: invalid type: ...`.
pub(crate) fn from_value<T: serde::de::DeserializeOwned>(
    v: &Value,
    under: &str,
) -> Result<T, String> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        match (under.is_empty(), path == ".") {
            (true, true) => e.inner().to_string(),
            (true, false) => format!("{path}: {}", e.inner()),
            (false, true) => format!("{under}: {}", e.inner()),
            (false, false) => format!("{under}.{path}: {}", e.inner()),
        }
    })
}

/// Validates an experiment already parsed into JSON values; the files it names are relative to
/// `base`.
pub fn parse(raw: Value, base: &Path) -> Result<Experiment, String> {
    let doc: Document = from_value(&raw, "")?;
    if doc.title.is_empty() {
        return Err("title: an experiment requires a title".into());
    }
    if doc.description.is_empty() {
        return Err("description: an experiment requires a description".into());
    }
    if let Some(i) = doc.tags.iter().position(String::is_empty) {
        return Err(format!("tags[{i}]: tags must be non-empty strings"));
    }
    let configuration = load_configuration(&doc.configuration)?;
    let secrets = load_secrets(&doc.secrets)?;
    let vars = Vars {
        configuration,
        secrets,
        env: BTreeMap::new(),
    };

    let mut ignored = Vec::new();
    if doc.controls.is_some() {
        ignored.push("controls".to_string());
    }
    // Activities by name, for `ref` entries (Chaos Toolkit looks them up in the whole experiment).
    let mut named: BTreeMap<String, Value> = BTreeMap::new();
    let hypo_probes = doc
        .steady_state_hypothesis
        .as_ref()
        .map(|h| h.probes.as_slice())
        .unwrap_or_default();
    for a in hypo_probes.iter().chain(&doc.method).chain(&doc.rollbacks) {
        if let Some(name) = a.get("name").and_then(Value::as_str) {
            named.entry(name.to_string()).or_insert_with(|| a.clone());
        }
    }
    let parse_list = |section: &str, list: &[Value], hypothesis: bool| {
        list.iter()
            .enumerate()
            .map(|(i, v)| {
                let at = Location {
                    section: section.to_string(),
                    index: i,
                };
                let v = match v.get("ref") {
                    Some(r) => {
                        let name = r.as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
                            format!("{at}: ref: a reference must be a non-empty string")
                        })?;
                        named.get(name).cloned().ok_or_else(|| {
                            format!("{at}: ref: no activity named {name:?} in the experiment")
                        })?
                    }
                    None => v.clone(),
                };
                Activity::parse(v, at, hypothesis, base)
            })
            .collect::<Result<Vec<_>, String>>()
    };
    let hypothesis = match &doc.steady_state_hypothesis {
        Some(h) => {
            if h.title.is_empty() {
                return Err("steady-state-hypothesis.title: a hypothesis requires a title".into());
            }
            if h.controls.is_some() {
                ignored.push("steady-state-hypothesis.controls".to_string());
            }
            Some((
                h.title.clone(),
                parse_list("steady-state-hypothesis.probes", &h.probes, true)?,
            ))
        }
        None => None,
    };
    let method = parse_list("method", &doc.method, false)?;
    let rollbacks = parse_list("rollbacks", &doc.rollbacks, false)?;
    for a in hypothesis
        .iter()
        .flat_map(|(_, p)| p)
        .chain(&method)
        .chain(&rollbacks)
    {
        if a.controls {
            ignored.push(format!("{}.controls", a.location));
        }
    }
    if let Some(h) = doc.runtime.as_ref().and_then(|r| r.hypothesis.as_ref()) {
        return Err(format!(
            "runtime.hypothesis: hypothesis strategies are not supported (got {h})"
        ));
    }
    Ok(Experiment {
        title: vars.text(&doc.title),
        raw,
        hypothesis,
        method,
        rollbacks,
        vars,
        rollback_strategy: doc.runtime.and_then(|r| r.rollbacks).map(|r| r.strategy),
        ignored,
    })
}

/// Resolves `configuration`: plain values as written, `{"type": "env", "key", "default",
/// "env_var_type"}` from the environment.
fn load_configuration(entries: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (name, value) in entries {
        let resolved = match value.get("type").and_then(Value::as_str) {
            Some("env") => {
                let key = value.get("key").and_then(Value::as_str).ok_or_else(|| {
                    format!("configuration.{name}.key: an env entry needs the variable's name")
                })?;
                let raw = match std::env::var(key) {
                    Ok(v) => Value::String(v),
                    Err(_) => value.get("default").cloned().ok_or_else(|| {
                        format!(
                            "configuration.{name}: environment variable {key} is not set and the entry has no default"
                        )
                    })?,
                };
                match value.get("env_var_type").and_then(Value::as_str) {
                    None | Some("str") => raw,
                    Some(ty) => convert(&raw, ty)
                        .map_err(|e| format!("configuration.{name}.env_var_type: {e}"))?,
                }
            }
            Some("probe") => {
                return Err(format!(
                    "configuration.{name}: dynamic configuration (a probe) is not supported"
                ))
            }
            _ => value.clone(),
        };
        out.insert(name.clone(), resolved);
    }
    Ok(out)
}

/// Converts an environment value as Chaos Toolkit's `env_var_type` does.
fn convert(raw: &Value, ty: &str) -> Result<Value, String> {
    let s = crate::substitute::python_str(raw);
    match ty {
        "int" => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("{s:?} is not an int")),
        "float" => s
            .trim()
            .parse::<f64>()
            .map(Value::from)
            .map_err(|_| format!("{s:?} is not a float")),
        "bool" => Ok(Value::Bool(matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "y" | "on"
        ))),
        "bytes" => Ok(Value::String(s)),
        other => Err(format!(
            "unknown type {other:?} (expected str, int, float, bytes or bool)"
        )),
    }
}

/// Resolves `secrets`: scopes of values, each inline or `{"type": "env", "key"}`.
fn load_secrets(
    scopes: &Map<String, Value>,
) -> Result<BTreeMap<String, Map<String, Value>>, String> {
    let mut out = BTreeMap::new();
    for (scope, entries) in scopes {
        let entries = entries
            .as_object()
            .ok_or_else(|| format!("secrets.{scope}: a secrets scope must be a mapping"))?;
        let mut resolved = Map::new();
        for (name, value) in entries {
            let v = match value.get("type").and_then(Value::as_str) {
                Some("env") => {
                    let key = value.get("key").and_then(Value::as_str).ok_or_else(|| {
                        format!("secrets.{scope}.{name}.key: an env secret needs the variable's name")
                    })?;
                    Value::String(std::env::var(key).map_err(|_| {
                        format!("secrets.{scope}.{name}: environment variable {key} is not set")
                    })?)
                }
                Some(other) if value.is_object() => {
                    return Err(format!(
                        "secrets.{scope}.{name}.type: {other:?} secrets are not supported (env and inline values are)"
                    ))
                }
                _ => value.clone(),
            };
            resolved.insert(name.clone(), v);
        }
        out.insert(scope.clone(), resolved);
    }
    Ok(out)
}
