//! JSON lines (one object a line): each record field is read from the first key present of a
//! list of usual names (nginx's variable names among them, so `nginx-json` needs no flags), or
//! from the key `--field NAME=KEY` gives.

use super::{cut, err, request_line, ParseError, Record};
use crate::time;
use serde_json::{Map, Value};

/// Keys that mark nginx's own variable names, for telling nginx-json from plain JSON.
pub(crate) const NGINX_KEYS: &[&str] = &[
    "request_method",
    "request_uri",
    "time_local",
    "time_iso8601",
];

/// The record fields `--field` may map, each with the keys tried when it does not.
const FIELDS: &[(&str, &[&str])] = &[
    (
        "time",
        &[
            "time",
            "timestamp",
            "@timestamp",
            "ts",
            "time_iso8601",
            "time_local",
            "msec",
            "start_time",
        ],
    ),
    ("method", &["method", "request_method", "verb"]),
    ("path", &["path", "url", "uri", "request_uri", "target"]),
    ("request", &["request"]),
    ("status", &["status", "status_code", "code"]),
    (
        "bytes",
        &[
            "bytes",
            "size",
            "body_bytes_sent",
            "bytes_sent",
            "response_size",
        ],
    ),
    (
        "latency",
        &[
            "duration_ms",
            "latency_ms",
            "request_time",
            "duration",
            "latency",
        ],
    ),
    (
        "client",
        &["ip", "client_ip", "client", "remote_addr", "remote_ip"],
    ),
    (
        "user_agent",
        &["user_agent", "http_user_agent", "agent", "ua"],
    ),
    // For `brunt replay`: an object of request header names to values (or lists of them),
    // and the request body (a string as it is, other JSON as its text).
    ("headers", &["request_headers"]),
    ("body", &["request_body"]),
];

/// The unit of a latency key: `_ms` names are milliseconds, the others (nginx's
/// `$request_time`, `duration`) seconds.
fn default_unit(key: &str) -> f64 {
    if key.ends_with("_ms") {
        1e3
    } else if key.ends_with("_us") {
        1.0
    } else {
        1e6
    }
}

/// Which key holds each record field: `--field NAME=KEY` (repeatable), `--latency-unit`, and
/// the session key's field.
#[derive(Debug, Clone, Default)]
pub struct JsonFields {
    keys: Vec<(usize, String)>,
    /// Microseconds per unit of an overridden latency key.
    latency_unit: Option<f64>,
    session: Option<String>,
}

impl JsonFields {
    /// Reads `NAME=KEY`; the error lists the names.
    pub fn set(&mut self, spec: &str) -> Result<(), String> {
        let (name, key) = spec
            .split_once('=')
            .filter(|(n, k)| !n.is_empty() && !k.is_empty())
            .ok_or_else(|| format!("--field '{spec}': expected NAME=KEY, e.g. time=@timestamp"))?;
        let Some(i) = FIELDS.iter().position(|(n, _)| *n == name) else {
            let names: Vec<_> = FIELDS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "--field '{spec}': no field '{name}'; the fields are {}",
                names.join(", ")
            ));
        };
        self.keys.push((i, key.to_string()));
        Ok(())
    }

    /// `--latency-unit s|ms|us` for a latency key named by `--field latency=KEY`.
    pub fn set_latency_unit(&mut self, unit: &str) -> Result<(), String> {
        self.latency_unit = Some(match unit {
            "s" => 1e6,
            "ms" => 1e3,
            "us" => 1.0,
            _ => return Err(format!("--latency-unit '{unit}': expected s, ms or us")),
        });
        Ok(())
    }

    /// The key that holds the session identity (`--session-key field:NAME`).
    pub fn set_session(&mut self, key: &str) {
        self.session = Some(key.to_string());
    }

    /// The value of field `i` in `map` and the key it came from.
    fn get<'m>(&self, map: &'m Map<String, Value>, i: usize) -> Option<(&'m Value, &'m str)> {
        if let Some((_, key)) = self.keys.iter().rev().find(|(f, _)| *f == i) {
            return map
                .get_key_value(key.as_str())
                .map(|(k, v)| (v, k.as_str()));
        }
        FIELDS[i]
            .1
            .iter()
            .find_map(|k| map.get_key_value(*k))
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (v, k.as_str()))
    }
}

pub(super) struct JsonParser {
    fields: JsonFields,
    map: Map<String, Value>,
    session: String,
    body: String,
}

fn as_str(v: &Value) -> Option<&str> {
    v.as_str()
}

/// A number, or a string holding one (nginx writes every variable as a string).
fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl JsonParser {
    pub(super) fn new(fields: JsonFields) -> JsonParser {
        JsonParser {
            fields,
            map: Map::new(),
            session: String::new(),
            body: String::new(),
        }
    }

    pub(super) fn parse<'a>(&'a mut self, line: &'a str) -> Result<Record<'a>, ParseError> {
        self.map = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return err("not a JSON object"),
            Err(e) => return err(format!("not JSON: {e}")),
        };
        let (map, fields) = (&self.map, &self.fields);
        let field = |name: &str| {
            FIELDS
                .iter()
                .position(|(n, _)| *n == name)
                .and_then(|i| fields.get(map, i))
        };
        let time_us = match field("time") {
            None => None,
            Some((v, key)) => Some(
                match v {
                    Value::String(s) => time::parse_any(s),
                    v => as_f64(v).and_then(time::from_epoch),
                }
                .ok_or_else(|| {
                    ParseError(format!("{key} '{}' is not a time", cut(&v.to_string())))
                })?,
            ),
        };
        let (method, target) = match (field("method"), field("path")) {
            (Some((m, _)), Some((p, _))) => match (as_str(m), as_str(p)) {
                (Some(m), Some(p)) if !m.is_empty() && !p.is_empty() => (m, p),
                _ => return err("method and path must be non-empty strings"),
            },
            _ => match field("request").and_then(|(v, _)| as_str(v)) {
                Some(r) => request_line(r)?,
                None => return err("no method and path (nor request) field"),
            },
        };
        let status = match field("status") {
            Some((v, key)) => match as_f64(v) {
                Some(s) if (100.0..=999.0).contains(&s) => s as u16,
                _ => {
                    return err(format!(
                        "{key} '{}' is not a status code",
                        cut(&v.to_string())
                    ))
                }
            },
            None => return err("no status field"),
        };
        let bytes = field("bytes")
            .and_then(|(v, _)| as_f64(v))
            .filter(|b| *b >= 0.0)
            .map(|b| b as u64);
        let latency_us = field("latency").and_then(|(v, key)| {
            let unit = match fields
                .keys
                .iter()
                .any(|(f, k)| FIELDS[*f].0 == "latency" && k == key)
            {
                true => fields.latency_unit.unwrap_or(1e3),
                false => default_unit(key),
            };
            as_f64(v)
                .filter(|l| l.is_finite() && *l >= 0.0)
                .map(|l| (l * unit).round() as u64)
        });
        let text = |name| field(name).and_then(|(v, _)| as_str(v)).unwrap_or_default();
        let (client, user_agent) = (text("client"), text("user_agent"));
        self.session.clear();
        let mut session = None;
        if let Some(key) = &fields.session {
            session = map.get(key.as_str()).map(|v| match v {
                Value::String(s) => s.as_str(),
                _ => {
                    self.session = v.to_string();
                    ""
                }
            });
        }
        let session = match session {
            Some("") if !self.session.is_empty() => Some(self.session.as_str()),
            s => s,
        };
        let mut headers = Vec::new();
        if let Some((Value::Object(h), _)) = field("headers") {
            for (name, v) in h {
                match v {
                    Value::String(s) => headers.push((name.as_str(), s.as_str())),
                    Value::Array(list) => {
                        headers.extend(list.iter().filter_map(as_str).map(|s| (name.as_str(), s)))
                    }
                    _ => {}
                }
            }
        }
        self.body.clear();
        let body = match field("body") {
            Some((Value::String(s), _)) if s.is_empty() || s == "-" => None,
            Some((Value::String(s), _)) => Some(s.as_str()),
            Some((v, _)) => {
                self.body = v.to_string();
                Some(self.body.as_str())
            }
            None => None,
        };
        Ok(Record {
            time_us,
            method,
            target,
            status,
            bytes,
            latency_us,
            client,
            user_agent,
            session,
            headers,
            body,
        })
    }
}
