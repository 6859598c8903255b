//! brunt's probes: `http` (a request judged on its status and latency), `metric` (a k6
//! threshold over the running load's last seconds), each returning `true` when it holds, for a
//! `tolerance: true` (the journal's duration of an `http` probe is its latency); and `monitor`
//! (a statistic of a `--monitor` signal over its last seconds), returning the number for a
//! numeric tolerance.

use std::time::{Duration, Instant};

use brunt_metrics::{parse_percentile, MetricType, Registry, Thresholds};
use brunt_monitor::{MonitorSpec, Source, TARGET_METRICS};
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonitorArgs {
    /// `--monitor`'s spec: `pid=`, `pidfile=`, `cmd=`, `cgroup=` or `prometheus=`.
    monitor: String,
    /// `cpu_percent`, `memory_bytes`... (`target_` metrics without the prefix), or a scraped
    /// Prometheus metric's name.
    signal: String,
    /// k6's statistic names: `avg` (default), `min`, `max`, `med`, `p(N)`; `count` (default) or
    /// `rate` for counters.
    #[serde(default)]
    stat: Option<String>,
    /// Seconds of samples to judge, up to now.
    #[serde(default = "ten")]
    window: f64,
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
    /// A statistic of a monitor's signal over its last `window`.
    Monitor {
        spec: MonitorSpec,
        metric: String,
        stat: String,
        window: Duration,
    },
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
        } else if func == "monitor" {
            let a: MonitorArgs = arguments(args)?;
            let spec: MonitorSpec = a
                .monitor
                .parse()
                .map_err(|e| format!("arguments.monitor: {e}"))?;
            let (metric, counter) = signal(&spec, &a.signal)?;
            let stat = match a.stat {
                Some(s) => s,
                None if counter => "count".into(),
                None => "avg".into(),
            };
            let fits = if counter {
                matches!(stat.as_str(), "count" | "rate")
            } else {
                matches!(stat.as_str(), "avg" | "min" | "max" | "med")
                    || parse_percentile(&stat).is_some()
            };
            if !fits {
                return Err(format!(
                    "arguments.stat: {stat:?} is not a statistic of {}: {}",
                    a.signal,
                    if counter {
                        "count or rate (a counter)"
                    } else {
                        "avg, min, max, med or p(N)"
                    }
                ));
            }
            Ok(Probe::Monitor {
                spec,
                metric,
                stat,
                window: window(a.window)?,
            })
        } else {
            let a: MetricArgs = arguments(args)?;
            let window = window(a.window)?;
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
            Probe::Monitor {
                spec,
                metric,
                stat,
                window,
            } => ctx
                .monitors
                .stat(&spec.text, metric, stat, *window)
                .await
                .map(|v| json!(v))
                .map_err(ActivityFailed),
        }
    }
}

/// A window of seconds: above 0 and at most [`MAX_WINDOW`].
fn window(s: f64) -> Result<Duration, String> {
    let window = seconds("window", s)?;
    if window.is_zero() || window > MAX_WINDOW {
        return Err(format!(
            "arguments.window: between 1 and {} seconds",
            MAX_WINDOW.as_secs()
        ));
    }
    Ok(window)
}

/// The metric a signal of `spec` is recorded as, and whether it is a counter.
fn signal(spec: &MonitorSpec, signal: &str) -> Result<(String, bool), String> {
    if let Source::Prometheus { metrics, .. } = &spec.source {
        if !metrics.is_empty() && !metrics.iter().any(|m| m == signal) {
            return Err(format!(
                "arguments.signal: {signal:?} is not among the metrics the spec keeps ({})",
                metrics.join(", ")
            ));
        }
        // Scraped samples are recorded as trends under their own name.
        return Ok((signal.to_string(), false));
    }
    let metric = format!("target_{signal}");
    TARGET_METRICS
        .iter()
        .find(|(name, _, _)| *name == metric)
        .map(|(_, t, _)| (metric.clone(), *t == MetricType::Counter))
        .ok_or_else(|| {
            format!(
                "arguments.signal: {signal:?} is not a signal of a process or cgroup monitor (one of {})",
                TARGET_METRICS
                    .iter()
                    .map(|(n, _, _)| n.trim_start_matches("target_"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(args: Value) -> String {
        Probe::parse("monitor", &args).err().unwrap_or_default()
    }

    #[test]
    fn a_monitor_probe_names_the_field_of_a_bad_statistic_or_signal() {
        let e = why(json!({"monitor": "pid=1", "signal": "oom_kills", "stat": "max"}));
        assert!(
            e.starts_with("arguments.stat: \"max\" is not a statistic of oom_kills"),
            "{e}"
        );
        let e = why(json!({"monitor": "pid=1", "signal": "cpu_percent", "stat": "p(200)"}));
        assert!(e.starts_with("arguments.stat: "), "{e}");
        let e = why(json!({"monitor": "prometheus=http://x/metrics,a", "signal": "b"}));
        assert!(e.starts_with("arguments.signal: \"b\" is not among"), "{e}");
        let e = why(json!({"monitor": "pid=1", "signal": "fds", "window": 0}));
        assert!(e.starts_with("arguments.window: "), "{e}");
    }
}
