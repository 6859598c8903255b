//! brunt's own activities, `{"type": "brunt", "module", "func", "arguments"}`: faults on local
//! processes ([`process_fault`], [`stress`]) and timed faults through the fault proxy
//! ([`network`]), a background [`load`] judged per fault phase, and [`probe`]s. Each timed fault holds a guard that undoes it when the activity ends, fails
//! or is dropped because the experiment was interrupted, so no fault outlives the run.

mod cgroup;
mod load;
mod network;
mod probe;
mod process_fault;
mod processes;
mod stress;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{lookup, ActivityFailed};
use crate::runner::Context;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BruntDoc {
    #[serde(rename = "type")]
    _type: String,
    module: String,
    func: String,
    #[serde(default)]
    arguments: Map<String, Value>,
}

/// A validated call to one of brunt's activities; its arguments are checked again after
/// `${name}` substitution when it runs.
#[derive(Clone, Debug)]
pub struct Call {
    module: String,
    func: String,
    arguments: Value,
    /// The experiment file's directory, which a load's script is relative to.
    base: PathBuf,
}

/// A call with its arguments parsed.
enum Fault {
    /// `process`: start, kill, pause, restart.
    Process(process_fault::ProcessFault),
    /// `stress`: cpu, memory.
    Stress(stress::Stress),
    /// `network`: toxic, partition.
    Network(network::NetworkFault),
    /// `load`: quick or script.
    Load(load::Load),
    /// `probe`: http, metric, monitor.
    Probe(probe::Probe),
}

/// The modules and their functions, for messages.
const FUNCS: &[(&str, &[&str])] = &[
    ("process", &["start", "kill", "pause", "restart"]),
    ("stress", &["cpu", "memory"]),
    ("network", &["toxic", "partition"]),
    ("load", &["quick", "script"]),
    ("probe", &["http", "metric", "monitor"]),
];

impl Call {
    /// Parses and checks a call; errors start with the field; files are relative to `base`.
    pub(super) fn parse(v: &Value, base: &Path) -> Result<Self, String> {
        let doc: BruntDoc = crate::format::from_value(v, "")?;
        let &(_, funcs) = lookup(FUNCS, &doc.module).map_err(|have| {
            format!(
                "module: brunt has no module {:?} (it has {have})",
                doc.module
            )
        })?;
        if !funcs.contains(&doc.func.as_str()) {
            return Err(format!(
                "func: brunt's {} module has no function {:?} (it has {})",
                doc.module,
                doc.func,
                funcs.join(", ")
            ));
        }
        let call = Call {
            module: doc.module,
            func: doc.func,
            arguments: Value::Object(doc.arguments),
            base: base.to_path_buf(),
        };
        if let Fault::Load(load) = call.fault(&call.arguments)? {
            load.check()?;
        }
        Ok(call)
    }

    /// Everything but loads, probes and process starts.
    pub(super) fn is_fault(&self) -> bool {
        let start = self.module == "process" && self.func == "start";
        !(matches!(self.module.as_str(), "load" | "probe") || start)
    }

    /// Undone when the activity ends: every fault but `kill` (whose effect lasts).
    pub(super) fn is_timed_fault(&self) -> bool {
        let kill = self.module == "process" && self.func == "kill";
        self.is_fault() && !kill
    }

    /// The monitor spec of a `monitor` probe, with the experiment's values substituted.
    pub(super) fn monitor_spec(
        &self,
        vars: &crate::substitute::Vars,
    ) -> Option<brunt_monitor::MonitorSpec> {
        if (self.module.as_str(), self.func.as_str()) != ("probe", "monitor") {
            return None;
        }
        match self.fault(&vars.substitute(&self.arguments)) {
            Ok(Fault::Probe(probe::Probe::Monitor { spec, .. })) => Some(spec),
            _ => None,
        }
    }

    fn fault(&self, args: &Value) -> Result<Fault, String> {
        Ok(match self.module.as_str() {
            "process" => Fault::Process(process_fault::ProcessFault::parse(&self.func, args)?),
            "stress" => Fault::Stress(stress::Stress::parse(&self.func, args)?),
            "load" => Fault::Load(load::Load::parse(&self.func, args, &self.base)?),
            "probe" => Fault::Probe(probe::Probe::parse(&self.func, args)?),
            _ => Fault::Network(network::NetworkFault::parse(&self.func, args)?),
        })
    }

    pub(super) async fn run(
        &self,
        ctx: &Context,
        value: Option<Value>,
    ) -> Result<Value, ActivityFailed> {
        if value.is_some() {
            return Err(ActivityFailed(
                "brunt's activities cannot be used as a tolerance probe".into(),
            ));
        }
        let args = ctx.vars().substitute(&self.arguments);
        match self.fault(&args).map_err(ActivityFailed)? {
            Fault::Process(f) => f.run(ctx).await,
            Fault::Stress(s) => s.run().await,
            Fault::Network(n) => n.run(ctx).await,
            Fault::Load(l) => l.run(ctx).await,
            Fault::Probe(p) => p.run(ctx).await,
        }
    }
}

/// Deserializes a function's arguments, naming the field that does not fit.
fn arguments<T: DeserializeOwned>(args: &Value) -> Result<T, String> {
    crate::format::from_value(args, "arguments")
}

/// A duration in seconds from the arguments: finite and not negative.
fn seconds(field: &str, s: f64) -> Result<std::time::Duration, String> {
    if s.is_finite() && s >= 0.0 {
        Ok(std::time::Duration::from_secs_f64(s))
    } else {
        Err(format!(
            "arguments.{field}: must be a number of seconds, not {s}"
        ))
    }
}
