//! Metric definitions: k6's four metric types, the built-in metrics, and custom ones registered by scripts.

use serde::Serialize;
use std::collections::HashMap;
use std::sync::RwLock;

/// k6's metric types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    Counter,
    Gauge,
    Rate,
    Trend,
}

impl MetricType {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Rate => "rate",
            MetricType::Trend => "trend",
        }
    }
}

/// What a metric's values hold (k6's `contains`): plain numbers, milliseconds, or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    Default,
    Time,
    Data,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Default => "default",
            ValueType::Time => "time",
            ValueType::Data => "data",
        }
    }
}

/// Index of a metric in its [`Registry`]; cheap to copy and compare on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricId(pub u32);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricDef {
    pub name: String,
    pub metric_type: MetricType,
    pub value_type: ValueType,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RegistryError {
    #[error("metric '{name}' already exists as a {existing} metric, cannot redefine it as a {requested}")]
    TypeMismatch {
        name: String,
        existing: &'static str,
        requested: &'static str,
    },
    #[error("invalid metric name '{0}': use 1 to 128 ASCII letters, digits and underscores, not starting with a digit")]
    InvalidName(String),
}

/// The built-in metrics, registered in this order by [`Registry::new`], so their ids are constants.
pub mod builtin {
    use super::{MetricId, MetricType as T, ValueType as V};

    pub const VUS: MetricId = MetricId(0);
    pub const VUS_MAX: MetricId = MetricId(1);
    pub const ITERATIONS: MetricId = MetricId(2);
    pub const ITERATION_DURATION: MetricId = MetricId(3);
    pub const DROPPED_ITERATIONS: MetricId = MetricId(4);
    pub const DATA_SENT: MetricId = MetricId(5);
    pub const DATA_RECEIVED: MetricId = MetricId(6);
    pub const CHECKS: MetricId = MetricId(7);
    pub const HTTP_REQS: MetricId = MetricId(8);
    pub const HTTP_REQ_FAILED: MetricId = MetricId(9);
    pub const HTTP_REQ_DURATION: MetricId = MetricId(10);
    pub const HTTP_REQ_BLOCKED: MetricId = MetricId(11);
    pub const HTTP_REQ_CONNECTING: MetricId = MetricId(12);
    pub const HTTP_REQ_TLS_HANDSHAKING: MetricId = MetricId(13);
    pub const HTTP_REQ_SENDING: MetricId = MetricId(14);
    pub const HTTP_REQ_WAITING: MetricId = MetricId(15);
    pub const HTTP_REQ_RECEIVING: MetricId = MetricId(16);
    /// brunt's own: latency from each request's intended start (open-model runs), see docs/architecture.md.
    pub const HTTP_REQ_SCHEDULED_DURATION: MetricId = MetricId(17);

    pub(crate) const ALL: &[(&str, T, V)] = &[
        ("vus", T::Gauge, V::Default),
        ("vus_max", T::Gauge, V::Default),
        ("iterations", T::Counter, V::Default),
        ("iteration_duration", T::Trend, V::Time),
        ("dropped_iterations", T::Counter, V::Default),
        ("data_sent", T::Counter, V::Data),
        ("data_received", T::Counter, V::Data),
        ("checks", T::Rate, V::Default),
        ("http_reqs", T::Counter, V::Default),
        ("http_req_failed", T::Rate, V::Default),
        ("http_req_duration", T::Trend, V::Time),
        ("http_req_blocked", T::Trend, V::Time),
        ("http_req_connecting", T::Trend, V::Time),
        ("http_req_tls_handshaking", T::Trend, V::Time),
        ("http_req_sending", T::Trend, V::Time),
        ("http_req_waiting", T::Trend, V::Time),
        ("http_req_receiving", T::Trend, V::Time),
        ("http_req_scheduled_duration", T::Trend, V::Time),
    ];
}

/// All metrics of a run, shared by every worker. Registration takes a lock; lookups by id are rare
/// (only when a worker sees a new series), so the hot path never touches it.
#[derive(Debug)]
pub struct Registry {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    defs: Vec<MetricDef>,
    by_name: HashMap<String, MetricId>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// A registry holding k6's built-in metrics (see [`builtin`]).
    pub fn new() -> Self {
        let reg = Registry {
            inner: RwLock::new(Inner::default()),
        };
        for (name, t, v) in builtin::ALL {
            reg.register(name, *t, *v)
                .expect("built-in metrics are valid");
        }
        reg
    }

    /// Registers a metric, or returns the existing one of the same name and type (k6 lets every VU's
    /// init code declare the same custom metric).
    pub fn register(
        &self,
        name: &str,
        metric_type: MetricType,
        value_type: ValueType,
    ) -> Result<MetricId, RegistryError> {
        if !valid_name(name) {
            return Err(RegistryError::InvalidName(name.to_string()));
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if let Some(&id) = inner.by_name.get(name) {
            let existing = &inner.defs[id.0 as usize];
            if existing.metric_type != metric_type {
                return Err(RegistryError::TypeMismatch {
                    name: name.to_string(),
                    existing: existing.metric_type.as_str(),
                    requested: metric_type.as_str(),
                });
            }
            return Ok(id);
        }
        let id = MetricId(inner.defs.len() as u32);
        inner.defs.push(MetricDef {
            name: name.to_string(),
            metric_type,
            value_type,
        });
        inner.by_name.insert(name.to_string(), id);
        Ok(id)
    }

    pub fn get(&self, name: &str) -> Option<MetricId> {
        self.read().by_name.get(name).copied()
    }

    /// The definition of a metric; panics only on an id that did not come from this registry.
    pub fn def(&self, id: MetricId) -> MetricDef {
        self.read().defs[id.0 as usize].clone()
    }

    /// Every metric, in registration order.
    pub fn all(&self) -> Vec<(MetricId, MetricDef)> {
        self.read()
            .defs
            .iter()
            .enumerate()
            .map(|(i, d)| (MetricId(i as u32), d.clone()))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// k6's rule for metric names.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_have_fixed_ids() {
        let r = Registry::new();
        assert_eq!(r.get("http_req_duration"), Some(builtin::HTTP_REQ_DURATION));
        assert_eq!(r.def(builtin::CHECKS).metric_type, MetricType::Rate);
        assert_eq!(r.def(builtin::DATA_SENT).value_type, ValueType::Data);
    }

    #[test]
    fn same_name_same_type_is_shared_and_other_type_is_an_error() {
        let r = Registry::new();
        let a = r
            .register("my_trend", MetricType::Trend, ValueType::Time)
            .unwrap();
        let b = r
            .register("my_trend", MetricType::Trend, ValueType::Time)
            .unwrap();
        assert_eq!(a, b);
        assert!(matches!(
            r.register("my_trend", MetricType::Counter, ValueType::Default),
            Err(RegistryError::TypeMismatch { .. })
        ));
        assert!(matches!(
            r.register("9bad-name", MetricType::Counter, ValueType::Default),
            Err(RegistryError::InvalidName(_))
        ));
    }
}
