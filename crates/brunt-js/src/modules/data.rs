//! Native side of `k6/data`: SharedArray data built once per run and read by every VU from one
//! copy (each element is kept as JSON text and parsed only when a VU reads it).

use super::{def, throw};
use crate::host::{Host, Phase};
use crate::program::SharedArrayData;
use crate::runtime::caught;
use rquickjs::{Array, CatchResultExt, Ctx, Function, Object, Result, Value};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    // This VU's handles to the run's arrays.
    let arrays: Rc<RefCell<Vec<Arc<SharedArrayData>>>> = Rc::default();
    let (h, a) = (host.clone(), arrays.clone());
    def(
        ctx,
        native,
        "sharedArray",
        move |ctx: Ctx<'js>, name: String, build: Function<'js>| -> Result<Array<'js>> {
            if h.phase.get() != Phase::Init {
                return Err(throw(
                    &ctx,
                    "a SharedArray can only be created in the init context",
                ));
            }
            let data = match h.shared.shared_array(&name) {
                Some(d) => d,
                None => {
                    let built: Value = build.call(())?;
                    let Some(arr) = built.as_array() else {
                        return Err(throw(
                            &ctx,
                            &format!("the function of SharedArray '{name}' must return an array"),
                        ));
                    };
                    let mut items = Vec::with_capacity(arr.len());
                    for v in arr.iter::<Value>() {
                        let json = ctx
                            .json_stringify(v?)?
                            .map(|s| s.to_string())
                            .transpose()?
                            .unwrap_or_else(|| "null".into());
                        items.push(json.into_boxed_str());
                    }
                    h.shared
                        .store_shared_array(&name, SharedArrayData { items })
                }
            };
            let len = data.items.len();
            let mut a = a.borrow_mut();
            a.push(data);
            let out = Array::new(ctx.clone())?;
            out.set(0, a.len() - 1)?;
            out.set(1, len)?;
            Ok(out)
        },
    )?;
    def(
        ctx,
        native,
        "sharedGet",
        move |ctx: Ctx<'js>, handle: usize, index: f64| -> Result<Value<'js>> {
            let arrays = arrays.borrow();
            let Some(data) = arrays.get(handle) else {
                return Ok(Value::new_undefined(ctx));
            };
            if index < 0.0 || index.fract() != 0.0 || index >= data.items.len() as f64 {
                return Ok(Value::new_undefined(ctx));
            }
            let text = &data.items[index as usize];
            ctx.json_parse(text.as_bytes())
                .catch(&ctx)
                .map_err(|e| throw(&ctx, &caught(&ctx, e).to_string()))
        },
    )?;
    Ok(())
}
