//! The `http` provider: one request; its output is `{"status", "headers", "body"}` with a JSON
//! body decoded, as Chaos Toolkit returns it.

use std::time::Duration;

use brunt_http::{Client, ClientConfig, ErrorCode, Request};
use http::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::ActivityFailed;
use crate::runner::Context;
use crate::substitute::python_str;

/// `{"type": "http", ...}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProvider {
    #[serde(rename = "type")]
    _type: String,
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: Option<Map<String, Value>>,
    #[serde(default)]
    arguments: Option<Value>,
    /// Seconds, or `[connect, read]` as Python's requests takes it.
    #[serde(default)]
    timeout: Option<Value>,
    /// brunt's addition: a status (or list of statuses) the response must have, else the
    /// activity fails.
    #[serde(default)]
    expected_status: Option<Value>,
    #[serde(default = "yes")]
    verify_tls: bool,
    #[serde(default)]
    max_retries: Option<u32>,
    #[serde(default, rename = "secrets")]
    _secrets: Option<serde::de::IgnoredAny>,
}

fn yes() -> bool {
    true
}

impl HttpProvider {
    /// The URL as written.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    pub(super) async fn run(
        &self,
        ctx: &Context,
        value: Option<Value>,
    ) -> Result<Value, ActivityFailed> {
        let vars = ctx.vars();
        let url = vars.text(&self.url);
        let method = self.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| ActivityFailed(format!("invalid HTTP method {method:?}")))?;
        let mut arguments = self.arguments.as_ref().map(|a| vars.substitute(a));
        if let Some(v) = value {
            let args = arguments.get_or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = args {
                m.insert("value".into(), v);
            }
        }
        let timeout = match self.timeout.as_ref().map(|t| vars.substitute(t)) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            // requests' (connect, read): the whole request may take both.
            Some(Value::Array(parts)) => Some(parts.iter().filter_map(Value::as_f64).sum()),
            Some(other) => {
                return Err(ActivityFailed(format!(
                    "timeout must be seconds or [connect, read], got {other}"
                )))
            }
        };

        let mut url = url::Url::parse(&url)
            .map_err(|e| ActivityFailed(format!("invalid URL {url:?}: {e}")))?;
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), python_str(&vars.substitute(v))))
            .collect();
        let json_body = headers
            .iter()
            .any(|(k, v)| k == "Content-Type" && v == "application/json");
        let mut body = None;
        let mut form = false;
        match arguments {
            None | Some(Value::Null) => {}
            Some(args) if method == Method::GET => {
                let mut q = url.query_pairs_mut();
                for (k, v) in pairs(&args) {
                    q.append_pair(&k, &v);
                }
            }
            Some(args) if json_body => body = Some(args.to_string()),
            Some(Value::String(s)) => body = Some(s),
            Some(args) => {
                let mut f = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in pairs(&args) {
                    f.append_pair(&k, &v);
                }
                body = Some(f.finish());
                form = true;
            }
        }

        let config = ClientConfig {
            insecure_skip_verify: !self.verify_tls,
            timeout: timeout.map_or(ClientConfig::default().timeout, Duration::from_secs_f64),
            ..ClientConfig::default()
        };
        let client = Client::new(config).map_err(|e| ActivityFailed(e.to_string()))?;
        let mut req = Request::new(method, url.as_str())
            .map_err(|e| ActivityFailed(format!("invalid request to {url}: {e}")))?;
        for (k, v) in &headers {
            req.set_header(k, v)
                .map_err(|e| ActivityFailed(format!("header {k}: {e}")))?;
        }
        if form {
            req.set_header("Content-Type", "application/x-www-form-urlencoded")
                .map_err(|e| ActivityFailed(e.to_string()))?;
        }
        if let Some(b) = body {
            req.set_body(b);
        }
        let mut attempts = self.max_retries.unwrap_or(0) + 1;
        let res = loop {
            let res = client.send(&req).await;
            attempts -= 1;
            if res.status != 0 || attempts == 0 {
                break res;
            }
        };
        if res.status == 0 {
            return Err(ActivityFailed(match res.error_code {
                ErrorCode::REQUEST_TIMEOUT => "activity took too long to complete".to_string(),
                _ => format!(
                    "failed to connect to {url}: {}",
                    res.error.unwrap_or_default()
                ),
            }));
        }
        if let Some(expected) = &self.expected_status {
            let ok = match expected {
                Value::Array(list) => list.iter().any(|s| s.as_u64() == Some(res.status.into())),
                one => one.as_u64() == Some(res.status.into()),
            };
            if !ok {
                return Err(ActivityFailed(format!(
                    "{url} answered {} where {expected} was expected",
                    res.status
                )));
            }
        }
        let mut out_headers = Map::new();
        for name in res.headers().keys() {
            let joined = res
                .headers()
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
                .join(", ");
            out_headers.insert(name.as_str().to_string(), Value::String(joined));
        }
        let text = String::from_utf8_lossy(&res.body).into_owned();
        let is_json = res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == b"application/json");
        let body = if is_json {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        } else {
            Value::String(text)
        };
        let mut out = Map::new();
        out.insert("status".into(), Value::from(res.status));
        out.insert("headers".into(), Value::Object(out_headers));
        out.insert("body".into(), body);
        Ok(Value::Object(out))
    }
}

/// Query or form pairs from arguments, as requests encodes a mapping: lists repeat the key,
/// `null` values are left out.
fn pairs(args: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Value::Object(m) = args {
        for (k, v) in m {
            match v {
                Value::Null => {}
                Value::Array(items) => {
                    out.extend(items.iter().map(|i| (k.clone(), python_str(i))));
                }
                other => out.push((k.clone(), python_str(other))),
            }
        }
    }
    out
}
