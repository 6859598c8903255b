//! Native side of `k6/metrics`: custom metrics registered in the run's registry.

use super::{def, tag_pairs, throw};
use crate::host::{Host, Phase};
use brunt_metrics::{MetricId, MetricType, ValueType};
use rquickjs::function::Opt;
use rquickjs::{Ctx, Object, Result, Value};
use std::rc::Rc;

pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let h = host.clone();
    def(
        ctx,
        native,
        "metricNew",
        move |ctx: Ctx<'js>, name: String, kind: String, is_time: bool| -> Result<u32> {
            if h.phase.get() != Phase::Init {
                return Err(throw(
                    &ctx,
                    "metrics must be declared in the init context (the script's top level)",
                ));
            }
            let t = match kind.as_str() {
                "counter" => MetricType::Counter,
                "gauge" => MetricType::Gauge,
                "rate" => MetricType::Rate,
                _ => MetricType::Trend,
            };
            let v = if is_time {
                ValueType::Time
            } else {
                ValueType::Default
            };
            h.shared
                .registry
                .register(&name, t, v)
                .map(|id| id.0)
                .map_err(|e| throw(&ctx, &e.to_string()))
        },
    )?;
    let h = host.clone();
    def(
        ctx,
        native,
        "metricAdd",
        move |ctx: Ctx<'js>,
              id: u32,
              value: Value<'js>,
              tags: Opt<Option<Object<'js>>>|
              -> Result<()> {
            if h.phase.get() == Phase::Init {
                return Err(throw(
                    &ctx,
                    "metrics cannot be added to in the init context",
                ));
            }
            let v = if let Some(b) = value.as_bool() {
                if b {
                    1.0
                } else {
                    0.0
                }
            } else if let Some(n) = value.as_number() {
                n
            } else if value.is_null() || value.is_undefined() {
                0.0
            } else {
                return Err(throw(&ctx, "a metric value must be a number or a boolean"));
            };
            if v.is_nan() {
                return Err(throw(&ctx, "a metric value must not be NaN"));
            }
            h.emit(MetricId(id), v, &tag_pairs(tags.0.flatten())?);
            Ok(())
        },
    )?;
    Ok(())
}
