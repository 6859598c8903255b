//! brunt's probes: `http` (a request judged on its status and latency) and `metric` (a k6
//! threshold over the running load's last seconds). Each returns `true` when it holds, for a
//! `tolerance: true`; the journal's duration of an `http` probe is its latency.

use std::time::{Duration, Instant};

use brunt_metrics::{Registry, Thresholds};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{arguments, seconds};
use crate::live_load::MAX_WINDOW;
use crate::provider::http::HttpProvider;
use crate::provider::ActivityFailed;
use crate::runner::Context;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpArgs {
    url: String,
    /// Seconds before the request fails.
    #[serde(default = "five")]
    timeout: f64,
    /// The allowed statuses; any below 400 when absent.
    #[serde(default)]
    status: Option<Value>,
    /// The slowest answer that holds, in milliseconds.
    #[serde(default)]
    max_latency_ms: Option<f64>,
}

fn five() -> f64 {
    5.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricArgs {
    /// `METRIC: EXPR` as `--threshold` takes it, e.g. `http_req_duration: p(95)<500`.
    threshold: String,
    /// Seconds of the load to judge, up to now.
    #[serde(default = "ten")]
    window: f64,
}

fn ten() -> f64 {
    10.0
}

/// A parsed probe.
#[derive(Clone, Debug)]
pub enum Probe {
    /// One request.
    Http {
        request: Box<HttpProvider>,
        statuses: Option<Vec<u64>>,
        max_latency: Option<Duration>,
    },
    /// A threshold over the load's last `window`.
    Metric { threshold: String, window: Duration },
}

impl Probe {
    pub(super) fn parse(func: &str, args: &Value) -> Result<Self, String> {
        if func == "http" {
            let a: HttpArgs = arguments(args)?;
            let statuses = match a.status {
                None => None,
                Some(Value::Number(n)) => Some(vec![n
                    .as_u64()
                    .ok_or("arguments.status: an HTTP status")?]),
                Some(Value::Array(list)) => Some(
                    list.iter()
                        .map(|v| {
                            v.as_u64()
                                .ok_or("arguments.status: a list of HTTP statuses")
                        })
                        .collect::<Result<_, _>>()?,
                ),
                Some(_) => return Err("arguments.status: an HTTP status or a list of them".into()),
            };
            let max_latency = match a.max_latency_ms {
                Some(ms) => Some(seconds("max_latency_ms", ms / 1000.0)?),
                None => None,
            };
            let request =
                serde_json::from_value(json!({"type": "http", "url": a.url, "timeout": a.timeout}))
                    .map_err(|e| format!("arguments.url: {e}"))?;
            Ok(Probe::Http {
                request,
                statuses,
                max_latency,
            })
        } else {
            let a: MetricArgs = arguments(args)?;
            let window = seconds("window", a.window)?;
            if window.is_zero() || window > MAX_WINDOW {
                return Err(format!(
                    "arguments.window: between 1 and {} seconds",
                    MAX_WINDOW.as_secs()
                ));
            }
            // Checked against k6's built-in metrics now; a custom metric of the load is not.
            Thresholds::default()
                .add_cli(&a.threshold, &Registry::new())
                .map_err(|e| format!("arguments.threshold: {e}"))?;
            Ok(Probe::Metric {
                threshold: a.threshold,
                window,
            })
        }
    }

    pub(super) async fn run(&self, ctx: &Context) -> Result<Value, ActivityFailed> {
        match self {
            Probe::Http {
                request,
                statuses,
                max_latency,
            } => {
                let started = Instant::now();
                let answer = request.run(ctx, None).await?;
                let took = started.elapsed();
                let status = answer["status"].as_u64().unwrap_or(0);
                let status_ok = match statuses {
                    Some(list) => list.contains(&status),
                    None => status < 400,
                };
                Ok(Value::Bool(
                    status_ok && max_latency.is_none_or(|m| took <= m),
                ))
            }
            Probe::Metric { threshold, window } => {
                let (registry, snapshot) = ctx.live.last(*window).ok_or_else(|| {
                    ActivityFailed("no load is running for the metric probe to judge".into())
                })?;
                let mut t = Thresholds::default();
                t.add_cli(threshold, &registry)
                    .map_err(|e| ActivityFailed(format!("threshold: {e}")))?;
                Ok(Value::Bool(
                    t.evaluate(&snapshot, *window).iter().all(|r| r.ok),
                ))
            }
        }
    }
}
