//! Tolerances, as Chaos Toolkit's `hypothesis.py` judges a probe's output against them.

use std::cmp::Ordering;
use std::path::Path;

use serde_json::Value;

use crate::activity::{Activity, Location};
use crate::runner::Context;
use crate::substitute::Vars;

/// How a steady-state probe's output is judged.
#[derive(Clone, Debug)]
pub enum Tolerance {
    /// Equal to this boolean.
    Bool(bool),
    /// Equal to this integer, or an output's `status` (HTTP status, exit code) equal to it.
    Int(i64),
    /// Equal to this string (substituted first).
    Str(String),
    /// An output's `status` among the values; otherwise two values are an inclusive range and
    /// any other length a set of allowed values.
    List(Vec<Value>),
    /// A regular expression found in the output (or its `target` field, e.g. `body`).
    Regex {
        /// The pattern, substituted when checked.
        pattern: String,
        /// The output's field to match.
        target: Option<String>,
    },
    /// A JSONPath over the output: matches exist, `count` of them, or equal `expect`.
    JsonPath {
        /// The path, substituted when checked.
        path: String,
        /// The values the matches must equal.
        expect: Option<Value>,
        /// How many matches there must be.
        count: Option<u64>,
        /// The output's field to search.
        target: Option<String>,
    },
    /// A number (or numeric string) within `[min, max]`.
    Range {
        /// Lower bound, inclusive.
        min: f64,
        /// Upper bound, inclusive.
        max: f64,
        /// The output's field to read.
        target: Option<String>,
    },
    /// Another probe, called with the output as its `value` argument; met when it returns a
    /// truthy value.
    Probe(Box<Activity>),
}

impl Tolerance {
    /// Parses a tolerance as written in a probe; `base` is the experiment file's directory.
    pub fn parse(v: &Value, base: &Path) -> Result<Self, String> {
        Ok(match v {
            Value::Bool(b) => Tolerance::Bool(*b),
            Value::Number(n) => Tolerance::Int(
                n.as_i64()
                    .ok_or_else(|| format!("{n} is not an integer (a tolerance is a bool, an int, a string, a list or a mapping)"))?,
            ),
            Value::String(s) => Tolerance::Str(s.clone()),
            Value::Array(items) => Tolerance::List(items.clone()),
            Value::Object(map) => {
                let kind = map.get("type").and_then(Value::as_str).unwrap_or_default();
                let target = match map.get("target") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(_) => return Err("target: must be a string".into()),
                };
                let known: &[&str] = match kind {
                    "regex" => &["type", "pattern", "target"],
                    "jsonpath" => &["type", "path", "expect", "count", "target"],
                    "range" => &["type", "range", "target"],
                    "probe" => {
                        let at = Location {
                            section: "tolerance".into(),
                            index: 0,
                        };
                        return Ok(Tolerance::Probe(Box::new(Activity::parse(
                            v.clone(),
                            at,
                            false,
                            base,
                        )?)));
                    }
                    other => {
                        return Err(format!(
                            "type: unsupported tolerance type {other:?} (expected regex, jsonpath, range or probe)"
                        ))
                    }
                };
                if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
                    return Err(format!("{k}: unknown field of a {kind} tolerance"));
                }
                match kind {
                    "regex" => {
                        let pattern = map
                            .get("pattern")
                            .and_then(Value::as_str)
                            .ok_or("pattern: a regex tolerance needs a pattern string")?;
                        if !pattern.contains('$') {
                            regex::Regex::new(pattern)
                                .map_err(|e| format!("pattern: invalid regular expression: {e}"))?;
                        }
                        Tolerance::Regex {
                            pattern: pattern.to_string(),
                            target,
                        }
                    }
                    "jsonpath" => {
                        let path = map
                            .get("path")
                            .and_then(Value::as_str)
                            .map(str::trim)
                            .filter(|p| !p.is_empty())
                            .ok_or("path: a jsonpath tolerance needs a non-empty path")?;
                        if !path.contains("${") {
                            serde_json_path::JsonPath::parse(path)
                                .map_err(|e| format!("path: invalid JSONPath: {e}"))?;
                        }
                        let count = match map.get("count") {
                            None | Some(Value::Null) => None,
                            Some(c) => Some(c.as_u64().ok_or("count: must be a non-negative integer")?),
                        };
                        Tolerance::JsonPath {
                            path: path.to_string(),
                            expect: map.get("expect").cloned(),
                            count,
                            target,
                        }
                    }
                    _ => {
                        let range = map
                            .get("range")
                            .and_then(Value::as_array)
                            .ok_or("range: a range tolerance needs a list of two numbers")?;
                        match range.as_slice() {
                            [Value::Number(lo), Value::Number(hi)] => Tolerance::Range {
                                min: lo.as_f64().unwrap_or(f64::NAN),
                                max: hi.as_f64().unwrap_or(f64::NAN),
                                target,
                            },
                            _ => return Err("range: must be a list of two numbers".into()),
                        }
                    }
                }
            }
            Value::Null => return Err("must be a bool, an int, a string, a list or a mapping".into()),
        })
    }

    /// Whether `value` (a probe's output) is within this tolerance.
    pub async fn check(&self, value: &Value, ctx: &Context) -> bool {
        let vars = ctx.vars();
        match self {
            Tolerance::Bool(b) => py_eq(value, &Value::Bool(*b)),
            Tolerance::Int(i) => py_eq(status_or(value), &Value::from(*i)),
            Tolerance::Str(s) => py_eq(value, &vars.substitute_str(s)),
            Tolerance::List(items) => {
                if let Some(status) = value.get("status") {
                    items.iter().any(|i| py_eq(status, i))
                } else if let [lo, hi] = items.as_slice() {
                    matches!(py_cmp(lo, value), Some(Ordering::Less | Ordering::Equal))
                        && matches!(py_cmp(value, hi), Some(Ordering::Less | Ordering::Equal))
                } else {
                    items.iter().any(|i| py_eq(value, i))
                }
            }
            Tolerance::Regex { pattern, target } => {
                let pattern = vars.text(pattern);
                let Ok(rx) = regex::Regex::new(&pattern) else {
                    return false;
                };
                targeted(value, target)
                    .as_str()
                    .is_some_and(|s| rx.is_match(s))
            }
            Tolerance::JsonPath {
                path,
                expect,
                count,
                target,
            } => jsonpath_met(
                &vars,
                path,
                expect.as_ref(),
                *count,
                targeted(value, target),
            ),
            Tolerance::Range { min, max, target } => {
                let v = targeted(value, target);
                let n = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    Value::Bool(b) => Some(f64::from(u8::from(*b))),
                    _ => None,
                };
                n.is_some_and(|n| *min <= n && n <= *max)
            }
            Tolerance::Probe(probe) => match probe.provider.run(ctx, Some(value.clone())).await {
                Ok(out) => truthy(&out),
                Err(_) => false,
            },
        }
    }
}

/// An HTTP or process output is judged by its `status`.
fn status_or(value: &Value) -> &Value {
    value.get("status").unwrap_or(value)
}

/// The `target` field of an output when it has one, else the output itself.
fn targeted<'a>(value: &'a Value, target: &Option<String>) -> &'a Value {
    match target {
        Some(t) => value.get(t).unwrap_or(value),
        None => value,
    }
}

fn jsonpath_met(
    vars: &Vars,
    path: &str,
    expect: Option<&Value>,
    count: Option<u64>,
    value: &Value,
) -> bool {
    let Ok(px) = serde_json_path::JsonPath::parse(&vars.text(path)) else {
        return false;
    };
    // A body that is JSON text is searched as JSON, as Chaos Toolkit does.
    let parsed;
    let value = match value {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(v) => {
                parsed = v;
                &parsed
            }
            Err(_) => value,
        },
        other => other,
    };
    let found: Vec<&Value> = px.query(value).all();
    let mut met = match count {
        Some(c) => found.len() as u64 == c,
        None => !found.is_empty(),
    };
    if let Some(expect) = expect {
        let expect = vars.substitute(expect);
        let wanted: Vec<&Value> = match &expect {
            Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        met = found.len() == wanted.len() && found.iter().zip(&wanted).all(|(a, b)| py_eq(a, b));
    }
    met
}

/// Python's `==` between JSON values: numbers by value, `True == 1`.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| py_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

/// Python's ordering where it is defined (numbers with numbers, strings with strings).
fn py_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => number(a)?.partial_cmp(&number(b)?),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// Python's truthiness.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn met(tolerance: Value, value: Value) -> bool {
        let t = Tolerance::parse(&tolerance, Path::new(".")).unwrap();
        t.check(&value, &Context::new(Vars::default(), Default::default()))
            .await
    }

    #[tokio::test]
    async fn scalars_compare_with_the_output_or_its_status() {
        assert!(met(json!(true), json!(true)).await);
        assert!(!met(json!(true), json!(false)).await);
        assert!(met(json!(200), json!({"status": 200, "body": ""})).await);
        assert!(!met(json!(200), json!({"status": 503})).await);
        assert!(met(json!(0), json!({"status": 0, "stdout": "ok"})).await);
        assert!(met(json!("up"), json!("up")).await);
    }

    #[tokio::test]
    async fn lists_are_status_sets_ranges_or_value_sets() {
        // With a status, membership (not a range): 200 and 204 only.
        assert!(met(json!([200, 204]), json!({"status": 204})).await);
        assert!(!met(json!([200, 204]), json!({"status": 201})).await);
        // Two values over a plain number: an inclusive range.
        assert!(met(json!([1, 10]), json!(10)).await);
        assert!(!met(json!([1, 10]), json!(11)).await);
        assert!(met(json!([1, 2, 3]), json!(2)).await);
    }

    #[tokio::test]
    async fn regex_jsonpath_and_range_read_the_target() {
        let out = json!({"status": 200, "body": "{\"items\": [{\"ok\": true}, {\"ok\": true}]}"});
        assert!(
            met(
                json!({"type": "regex", "pattern": "ok\"?: true", "target": "body"}),
                out.clone()
            )
            .await
        );
        assert!(
            met(
                json!({"type": "jsonpath", "path": "$.items[*].ok", "count": 2, "target": "body"}),
                out.clone()
            )
            .await
        );
        assert!(met(json!({"type": "jsonpath", "path": "$.items[*].ok", "expect": [true, true], "target": "body"}), out.clone()).await);
        assert!(!met(json!({"type": "jsonpath", "path": "$.items[*].ok", "expect": false, "target": "body"}), out).await);
        assert!(met(json!({"type": "range", "range": [0, 1.5]}), json!("1.2")).await);
        assert!(
            !met(
                json!({"type": "range", "range": [0, 1.5], "target": "status"}),
                json!({"status": 2})
            )
            .await
        );
    }

    #[test]
    fn bad_tolerances_name_the_field() {
        let err = |v: Value| Tolerance::parse(&v, Path::new(".")).unwrap_err();
        assert!(err(json!({"type": "regex"})).starts_with("pattern:"));
        assert!(
            err(json!({"type": "regex", "pattern": "("})).contains("invalid regular expression")
        );
        assert!(err(json!({"type": "jsonpath", "path": "$[?"})).starts_with("path:"));
        assert!(err(json!({"type": "range", "range": [1]})).starts_with("range:"));
        assert!(err(json!({"type": "nope"})).starts_with("type:"));
        assert!(
            err(json!({"type": "regex", "pattern": "x", "targte": "body"})).starts_with("targte:")
        );
        assert!(err(json!(1.5)).contains("not an integer"));
    }
}
