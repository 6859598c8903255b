//! Metrics of a run, as k6 defines them: a registry of typed metrics, interned tag sets,
//! per-worker lock-free aggregation into HDR histograms, merged snapshots with sub-metrics, and
//! k6's threshold grammar evaluated against them.

mod aggregate;
mod exemplar;
mod registry;
mod selector;
mod system_tags;
mod tags;
mod threshold;

pub use aggregate::{
    parse_percentile, unix_nanos, Agg, Aggregator, Interval, RawSample, SeriesMap, Snapshot,
    TrendAgg, EXACT_SAMPLES,
};
pub use exemplar::{hex, Exemplar, Exemplars, Trace, EXEMPLARS};
pub use registry::{builtin, MetricDef, MetricId, MetricType, Registry, RegistryError, ValueType};
pub use selector::{MetricSelector, SelectorError};
pub use system_tags::{SystemTag, SystemTags};
pub use tags::{intern, TagSet};
pub use threshold::{
    Aggregation, ExprError, MetricThresholds, Operator, Threshold, ThresholdError, ThresholdExpr,
    ThresholdResult, Thresholds, Unit,
};
