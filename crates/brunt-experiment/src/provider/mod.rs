//! What an activity runs, one file per provider type: `http`, `process`, the `python`
//! modules of Chaos Toolkit's toxiproxy extension, executed natively, and brunt's own
//! activities (`brunt/`).

mod brunt;
mod http;
mod process;
mod toxiproxy;

use serde_json::Value;

use crate::runner::Context;

/// The entry of a provider's table (modules, functions) named `name`; else the names it has,
/// for the error that lists them.
fn lookup<'t, T>(
    table: &'t [(&'static str, T)],
    name: &str,
) -> Result<&'t (&'static str, T), String> {
    table
        .iter()
        .find(|(k, _)| *k == name)
        .ok_or_else(|| table.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", "))
}

/// An activity failed to run (Chaos Toolkit's `ActivityFailed`): the run records it with its
/// message as the exception.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ActivityFailed(pub String);

/// A validated provider.
#[derive(Clone, Debug)]
pub enum Provider {
    /// `{"type": "http", "url", ...}`.
    Http(http::HttpProvider),
    /// `{"type": "process", "path", ...}`.
    Process(process::ProcessProvider),
    /// `{"type": "python", "module": "chaostoxi....", "func", "arguments"}`.
    Toxiproxy(toxiproxy::Call),
    /// `{"type": "brunt", "module", "func", "arguments"}`: brunt's own activities.
    Brunt(brunt::Call),
}

impl Provider {
    /// Parses a provider; errors start with the field, under `provider.`; files it names are
    /// relative to `base`.
    pub fn parse(v: &Value, base: &std::path::Path) -> Result<Self, String> {
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .ok_or("provider.type: a provider must have a type (http, process, python or brunt)")?;
        match kind {
            "http" => Ok(Provider::Http(crate::format::from_value(v, "provider")?)),
            "process" => {
                let p: process::ProcessProvider = crate::format::from_value(v, "provider")?;
                p.validate().map_err(|e| format!("provider.{e}"))?;
                Ok(Provider::Process(p))
            }
            "python" => Ok(Provider::Toxiproxy(
                toxiproxy::Call::parse(v).map_err(|e| format!("provider.{e}"))?,
            )),
            "brunt" => Ok(Provider::Brunt(
                brunt::Call::parse(v, base).map_err(|e| format!("provider.{e}"))?,
            )),
            other => Err(format!(
                "provider.type: unknown provider type {other:?} (expected http, process, python or brunt)"
            )),
        }
    }

    /// Whether running it as an action of the method injects a fault (everything but brunt's
    /// loads, probes and process starts).
    pub fn is_fault(&self) -> bool {
        match self {
            Provider::Brunt(c) => c.is_fault(),
            _ => true,
        }
    }

    /// A fault undone when its own activity ends (brunt's timed faults), rather than by the
    /// rollbacks.
    pub fn is_timed_fault(&self) -> bool {
        matches!(self, Provider::Brunt(c) if c.is_timed_fault())
    }

    /// The `--monitor` spec a brunt `monitor` probe reads, with `vars` substituted.
    pub fn monitor_spec(
        &self,
        vars: &crate::substitute::Vars,
    ) -> Option<brunt_monitor::MonitorSpec> {
        match self {
            Provider::Brunt(c) => c.monitor_spec(vars),
            _ => None,
        }
    }

    /// Runs it; `value` is the output a probe tolerance passes as the `value` argument.
    pub async fn run(&self, ctx: &Context, value: Option<Value>) -> Result<Value, ActivityFailed> {
        match self {
            Provider::Http(p) => p.run(ctx, value).await,
            Provider::Process(p) => p.run(ctx, value).await,
            Provider::Toxiproxy(c) => c.run(ctx, value).await,
            Provider::Brunt(c) => c.run(ctx, value).await,
        }
    }
}
