//! Native side of `k6/metrics`: custom metrics registered in the run's registry.

use super::direct_fn::def_direct;
use super::{def, tag_pairs, throw, HeldAtom};
use crate::host::{Host, Phase};
use brunt_metrics::{MetricId, MetricType, ValueType};
use rquickjs::convert::Coerced;
use rquickjs::{qjs, Ctx, Exception, FromJs, Object, Result, Value};
use std::rc::Rc;
use std::sync::atomic::Ordering;

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
    def_direct(ctx, native, "add", move |ctx, args| {
        let this = args.this();
        if !this.is_object() {
            return Err(Exception::throw_type(
                ctx,
                "add() must be called on a metric",
            ));
        }
        // SAFETY: `this` is a live object of this context and the atom is held; the value read
        // is owned by the handle made of it.
        let id = unsafe {
            let raw = ctx.as_raw().as_ptr();
            let v = qjs::JS_GetProperty(raw, this.as_raw(), id_atom.atom);
            if qjs::JS_IsException(v) {
                return Err(rquickjs::Error::Exception);
            }
            Value::from_raw(ctx.clone(), v)
        };
        let id: u32 = match id.as_int() {
            Some(i) if i >= 0 => i as u32,
            _ => u32::from_js(ctx, id)?,
        };
        if h.phase.get() == Phase::Init {
            return Err(throw(ctx, "metrics cannot be added to in the init context"));
        }
        let v = match sample_value(args.get(0).as_deref())? {
            Ok(v) => v,
            // As k6: a value that is no number is dropped with a warning, or thrown with the
            // `throw` option.
            Err(why) => {
                let name = match this.as_object() {
                    Some(o) => o.get::<_, Coerced<String>>("name")?.0,
                    None => String::new(),
                };
                let msg = why.for_metric(&name);
                if h.shared.throw.load(Ordering::Relaxed) {
                    return Err(throw(ctx, &msg));
                }
                brunt_engine::log::warn(&msg);
                return Ok(Value::new_bool(ctx.clone(), false));
            }
        };
        h.emit(MetricId(id), v, &tag_pairs(args.object(1)?)?);
        Ok(Value::new_bool(ctx.clone(), true))
    })?;
    Ok(())
}

/// Why a value cannot be a sample: k6's words, which name the metric.
enum Invalid {
    Missing,
    /// The value as JavaScript writes it.
    Value(String),
}

impl Invalid {
    fn for_metric(&self, name: &str) -> String {
        let expected = "a number or a boolean value is expected";
        match self {
            Invalid::Missing => format!("no value was provided for metric '{name}', {expected}"),
            Invalid::Value(v) => {
                format!(
                    "'{}' is an invalid value for metric '{name}', {expected}",
                    shorten(v)
                )
            }
        }
    }
}

/// A metric value as k6 reads it: a number, a boolean as 1 or 0, anything else as JavaScript
/// makes it a number (`'3'` is 3), where a truthy value that makes 0 counts 1 (`[]`, `' '`);
/// null, NaN and a missing value are invalid.
fn sample_value(value: Option<&Value<'_>>) -> Result<std::result::Result<f64, Invalid>> {
    let Some(value) = value else {
        return Ok(Err(Invalid::Missing));
    };
    if let Some(n) = value.as_number().filter(|n| !n.is_nan()) {
        return Ok(Ok(n));
    }
    if let Some(b) = value.as_bool() {
        return Ok(Ok(if b { 1.0 } else { 0.0 }));
    }
    let n = if value.is_null() {
        f64::NAN
    } else {
        value.get::<Coerced<f64>>()?.0
    };
    if n.is_nan() {
        let text = value.get::<Coerced<String>>()?.0;
        return Ok(Err(Invalid::Value(text)));
    }
    Ok(Ok(if n == 0.0 && value.get::<Coerced<bool>>()?.0 {
        1.0
    } else {
        n
    }))
}

/// k6 shortens a value of 100 characters or more in its warning to its first and last 50.
fn shorten(v: &str) -> String {
    const MAX: usize = 100;
    let chars: Vec<char> = v.chars().collect();
    if chars.len() < MAX {
        return v.to_string();
    }
    let head: String = chars[..MAX / 2].iter().collect();
    let tail: String = chars[chars.len() - MAX / 2..].iter().collect();
    format!(
        "{head}... omitting {} characters ...{tail}",
        chars.len() - MAX
    )
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn long_values_are_shortened_as_k6_shortens_them() {
        assert_eq!(shorten("abc"), "abc");
        let v = format!("{}z", "y".repeat(120));
        assert_eq!(
            shorten(&v),
            format!(
                "{}... omitting 21 characters ...{}z",
                "y".repeat(50),
                "y".repeat(49)
            )
        );
        assert_eq!(shorten(&"é".repeat(99)), "é".repeat(99));
    }
}
