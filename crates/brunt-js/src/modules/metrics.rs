//! Native side of `k6/metrics`: custom metrics registered in the run's registry.

use super::{def, def_public, tag_pairs, throw, HeldAtom};
use crate::host::{Host, Phase};
use brunt_metrics::{MetricId, MetricType, ValueType};
use rquickjs::function::{Opt, This};
use rquickjs::{qjs, Ctx, Exception, FromJs, Object, Result, Value};
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
    let id_atom = HeldAtom::new(ctx, "_id")?;
    // `Metric.prototype.add` itself (see `js/metrics.js`): one native call per sample.
    def_public(
        ctx,
        native,
        "add",
        move |ctx: Ctx<'js>,
              this: This<Value<'js>>,
              value: Opt<Value<'js>>,
              tags: Opt<Option<Object<'js>>>|
              -> Result<bool> {
            if !this.0.is_object() {
                return Err(Exception::throw_type(
                    &ctx,
                    "add() must be called on a metric",
                ));
            }
            // SAFETY: `this` is a live object of this context and the atom is held; the value
            // read is owned by the handle made of it.
            let id = unsafe {
                let raw = ctx.as_raw().as_ptr();
                let v = qjs::JS_GetProperty(raw, this.0.as_raw(), id_atom.atom);
                if qjs::JS_IsException(v) {
                    return Err(rquickjs::Error::Exception);
                }
                Value::from_raw(ctx.clone(), v)
            };
            let id: u32 = match id.as_int() {
                Some(i) if i >= 0 => i as u32,
                _ => u32::from_js(&ctx, id)?,
            };
            let value = value.0.unwrap_or_else(|| Value::new_undefined(ctx.clone()));
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
            Ok(true)
        },
    )?;
    Ok(())
}
