//! Chaos Toolkit's toxiproxy extension (`chaostoolkit-toxiproxy`), run natively through
//! brunt-chaos's client: the same functions, arguments, return values and failures, against
//! `brunt proxy` or Toxiproxy at `toxiproxy_url`, or `toxiproxy_host`/`toxiproxy_port`.

use brunt_chaos::client::{Client, ClientError, NewProxy, NewToxic, ProxyChanges};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{lookup, ActivityFailed};
use crate::runner::Context;
use crate::substitute::python_str;

/// A function's parameters, `true` when required.
type Params = &'static [(&'static str, bool)];

/// The extension's functions by module, each with its parameters.
const MODULES: &[(&str, &[(&str, Params)])] = &[
    (
        "chaostoxi.proxy.actions",
        &[
            (
                "create_proxy",
                &[
                    ("proxy_name", true),
                    ("upstream_host", true),
                    ("upstream_port", true),
                    ("listen_host", false),
                    ("listen_port", false),
                    ("enabled", false),
                ],
            ),
            ("disable_proxy", &[("proxy_name", true)]),
            ("enable_proxy", &[("proxy_name", true)]),
            (
                "modify_proxy",
                &[
                    ("proxy_name", true),
                    ("listen_address", false),
                    ("upstream_address", false),
                    ("enabled", false),
                ],
            ),
            ("delete_proxy", &[("proxy_name", true)]),
            ("reset", &[]),
        ],
    ),
    (
        "chaostoxi.toxic.actions",
        &[
            ("delete_toxic", &[("for_proxy", true), ("toxic_name", true)]),
            (
                "create_toxic",
                &[
                    ("for_proxy", true),
                    ("toxic_name", true),
                    ("toxic_type", true),
                    ("stream", false),
                    ("toxicity", false),
                    ("attributes", false),
                ],
            ),
            (
                "create_latency_toxic",
                &[
                    ("for_proxy", true),
                    ("toxic_name", true),
                    ("latency", true),
                    ("jitter", false),
                ],
            ),
            (
                "create_bandwith_degradation_toxic",
                &[("for_proxy", true), ("toxic_name", true), ("rate", true)],
            ),
            (
                "create_slow_connection_close_toxic",
                &[("for_proxy", true), ("toxic_name", true), ("delay", true)],
            ),
            (
                "create_timeout_toxic",
                &[("for_proxy", true), ("toxic_name", true), ("timeout", true)],
            ),
            (
                "create_slicer_toxic",
                &[
                    ("for_proxy", true),
                    ("toxic_name", true),
                    ("average_size", true),
                    ("size_variation", true),
                    ("delay", true),
                ],
            ),
            (
                "create_limiter_toxic",
                &[
                    ("for_proxy", true),
                    ("toxic_name", true),
                    ("bytes_limit", true),
                ],
            ),
        ],
    ),
    (
        "chaostoxi.proxy.probes",
        &[
            ("proxy_exist", &[("proxy_name", true)]),
            (
                "get_proxy_attribute",
                &[("proxy_name", true), ("attribute", true)],
            ),
        ],
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PythonDoc {
    #[serde(rename = "type")]
    _type: String,
    module: String,
    func: String,
    #[serde(default)]
    arguments: Map<String, Value>,
    #[serde(default, rename = "secrets")]
    _secrets: Option<serde::de::IgnoredAny>,
}

/// A call to one of the extension's functions.
#[derive(Clone, Debug)]
pub struct Call {
    func: &'static str,
    arguments: Map<String, Value>,
}

impl Call {
    /// Accepts only the extension's modules and functions, with their parameters.
    pub(super) fn parse(v: &Value) -> Result<Self, String> {
        let doc: PythonDoc = crate::format::from_value(v, "")?;
        let &(_, funcs) = lookup(MODULES, &doc.module).map_err(|have| {
            format!(
                "module: python module {:?} is not supported; brunt runs the toxiproxy extension's modules natively ({have})",
                doc.module
            )
        })?;
        let &(func, params) = lookup(funcs, &doc.func).map_err(|have| {
            format!(
                "func: {} has no function {:?} (it has {have})",
                doc.module, doc.func
            )
        })?;
        if let Some(k) = doc
            .arguments
            .keys()
            .find(|k| !params.iter().any(|(p, _)| p == k))
        {
            return Err(format!(
                "arguments.{k}: {func} takes no argument {k:?} (it takes {})",
                params
                    .iter()
                    .map(|(p, _)| *p)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some((missing, _)) = params
            .iter()
            .find(|(p, required)| *required && !doc.arguments.contains_key(*p))
        {
            return Err(format!("arguments.{missing}: {func} requires it"));
        }
        Ok(Call {
            func,
            arguments: doc.arguments,
        })
    }

    pub(super) async fn run(
        &self,
        ctx: &Context,
        value: Option<Value>,
    ) -> Result<Value, ActivityFailed> {
        if value.is_some() {
            return Err(ActivityFailed(format!(
                "{}() got an unexpected keyword argument 'value'",
                self.func
            )));
        }
        let vars = ctx.vars();
        let args = vars.substitute_map(&self.arguments);
        let client = client(&vars.configuration)?;
        let arg = |name: &str| args.get(name).cloned().unwrap_or(Value::Null);
        let text = |name: &str| python_str(&arg(name));
        let failed = |e: ClientError| ActivityFailed(e.to_string());
        let toxic = |kind: &str, attributes: Value| NewToxic {
            name: Some(text("toxic_name")),
            kind: kind.to_string(),
            stream: Some("downstream".into()),
            toxicity: Some(1.0),
            attributes,
        };
        let new_toxic = match self.func {
            "create_toxic" => Some(NewToxic {
                stream: Some(args.get("stream").map_or("downstream".into(), python_str)),
                toxicity: Some(args.get("toxicity").and_then(Value::as_f64).unwrap_or(1.0) as f32),
                ..toxic(&text("toxic_type"), arg("attributes"))
            }),
            "create_latency_toxic" => Some(toxic(
                "latency",
                serde_json::json!({"latency": arg("latency"), "jitter": args.get("jitter").cloned().unwrap_or(Value::from(0))}),
            )),
            "create_bandwith_degradation_toxic" => {
                Some(toxic("bandwidth", serde_json::json!({"rate": arg("rate")})))
            }
            "create_slow_connection_close_toxic" => Some(toxic(
                "slow_close",
                serde_json::json!({"delay": arg("delay")}),
            )),
            "create_timeout_toxic" => Some(toxic(
                "timeout",
                serde_json::json!({"timeout": arg("timeout")}),
            )),
            "create_slicer_toxic" => Some(toxic(
                "slicer",
                serde_json::json!({"average_size": arg("average_size"), "size_variation": arg("size_variation"), "delay": arg("delay")}),
            )),
            "create_limiter_toxic" => Some(toxic(
                "limit_data",
                serde_json::json!({"bytes": arg("bytes_limit")}),
            )),
            _ => None,
        };
        if let Some(new) = new_toxic {
            let proxy = text("for_proxy");
            return match client.add_toxic(&proxy, &new).await {
                Ok(t) => Ok(Value::Bool(Some(t.name) == new.name)),
                Err(ClientError::Api { message, .. }) => Err(ActivityFailed(format!(
                    "unable to create toxic {} for proxy {proxy}: {message}",
                    text("toxic_name")
                ))),
                Err(e) => Err(failed(e)),
            };
        }
        let proxy = text("proxy_name");
        match self.func {
            "create_proxy" => {
                let from_env = |name: &str| match arg(name) {
                    Value::String(s) if s.starts_with("env:") => {
                        let key = &s[4..];
                        vars.env
                            .get(key)
                            .cloned()
                            .or_else(|| std::env::var(key).ok())
                            .ok_or_else(|| {
                                ActivityFailed(format!("environment variable {key} is not set"))
                            })
                    }
                    v => Ok(python_str(&v)),
                };
                let listen_host = args.get("listen_host").map_or("0.0.0.0".into(), python_str);
                let listen_port = args.get("listen_port").map_or("0".into(), python_str);
                let new = NewProxy {
                    name: proxy.clone(),
                    listen: format!("{listen_host}:{listen_port}"),
                    upstream: format!(
                        "{}:{}",
                        from_env("upstream_host")?,
                        from_env("upstream_port")?
                    ),
                    enabled: Some(args.get("enabled").and_then(Value::as_bool).unwrap_or(true)),
                };
                let info = client
                    .create_proxy(&new)
                    .await
                    .map_err(|e| ActivityFailed(format!("unable to create proxy {proxy}: {e}")))?;
                ctx.set_proxy_port(&proxy, &info.listen);
                Ok(Value::Bool(true))
            }
            "modify_proxy" | "enable_proxy" | "disable_proxy" => {
                let changes = ProxyChanges {
                    listen: args
                        .get("listen_address")
                        .filter(|v| !v.is_null())
                        .map(python_str),
                    upstream: args
                        .get("upstream_address")
                        .filter(|v| !v.is_null())
                        .map(python_str),
                    enabled: match self.func {
                        "enable_proxy" => Some(true),
                        "disable_proxy" => Some(false),
                        _ => args.get("enabled").and_then(Value::as_bool),
                    },
                };
                let info = client
                    .update_proxy(&proxy, &changes)
                    .await
                    .map_err(|e| ActivityFailed(format!("unable to modify proxy {proxy}: {e}")))?;
                ctx.set_proxy_port(&proxy, &info.listen);
                Ok(Value::Bool(true))
            }
            // The extension only logs a failed deletion and returns nothing.
            "delete_proxy" => {
                if let Err(e) = client.delete_proxy(&proxy).await {
                    tracing::warn!("unable to remove proxy {proxy}: {e}");
                }
                Ok(Value::Null)
            }
            "reset" => ok_or_false(client.reset().await.map(|()| Value::Bool(true))),
            "delete_toxic" => ok_or_false(
                client
                    .remove_toxic(&text("for_proxy"), &text("toxic_name"))
                    .await
                    .map(|()| Value::Bool(true)),
            ),
            "proxy_exist" => ok_or_false(
                client
                    .proxy(&proxy)
                    .await
                    .map(|p| Value::Bool(p.name == proxy)),
            ),
            "get_proxy_attribute" => match client.proxy(&proxy).await {
                Ok(p) => {
                    let attribute = text("attribute");
                    let p = serde_json::to_value(p).map_err(|e| ActivityFailed(e.to_string()))?;
                    p.get(&attribute).cloned().ok_or_else(|| {
                        ActivityFailed(format!("proxy {proxy} has no attribute {attribute:?}"))
                    })
                }
                Err(ClientError::Api { .. }) => Ok(Value::Null),
                Err(e) => Err(failed(e)),
            },
            other => unreachable!("{other} is listed in MODULES and handled above"),
        }
    }
}

/// An error answer is `False`, as the extension returns `response.ok`; no answer fails.
fn ok_or_false(r: Result<Value, ClientError>) -> Result<Value, ActivityFailed> {
    match r {
        Ok(v) => Ok(v),
        Err(ClientError::Api { .. }) => Ok(Value::Bool(false)),
        Err(e) => Err(ActivityFailed(e.to_string())),
    }
}

/// The API address from the configuration, as the extension builds it.
pub(super) fn client(conf: &Map<String, Value>) -> Result<Client, ActivityFailed> {
    let address = match conf.get("toxiproxy_url").filter(|v| !v.is_null()) {
        Some(url) => python_str(url),
        None => {
            let host = conf.get("toxiproxy_host").filter(|v| !v.is_null()).ok_or_else(|| {
                ActivityFailed(
                    "the configuration has no toxiproxy_host (or toxiproxy_url) for the toxiproxy activity".into(),
                )
            })?;
            let port = conf
                .get("toxiproxy_port")
                .filter(|v| !v.is_null())
                .map_or("8474".into(), python_str);
            format!("{}:{port}", python_str(host))
        }
    };
    Client::new(&address).map_err(|e| ActivityFailed(e.to_string()))
}
