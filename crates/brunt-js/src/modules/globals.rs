//! Globals of k6's JavaScript: `__ENV`, `__VU`, `__ITER` and `open()`.

use super::{array_buffer, def, throw};
use crate::host::{Host, Phase};
use rquickjs::function::Opt;
use rquickjs::{Ctx, Object, Result, Value};
use std::path::Path;
use std::rc::Rc;

/// A number as JavaScript's `String(n)` writes it, for the common cases (integers, decimals).
pub(crate) fn number_to_string(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

pub(crate) fn install<'js>(ctx: &Ctx<'js>, globals: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let env = Object::new(ctx.clone())?;
    for (k, v) in &host.shared.env {
        env.set(k.as_str(), v.as_str())?;
    }
    globals.set("__ENV", env)?;
    globals.set("__VU", host.vu_id)?;
    globals.set("__ITER", 0)?;
    let h = host.clone();
    def(
        ctx,
        globals,
        "open",
        move |ctx: Ctx<'js>, path: String, mode: Opt<Option<String>>| -> Result<Value<'js>> {
            if h.phase.get() != Phase::Init {
                return Err(throw(
                    &ctx,
                    "open() can only be called in the init context (the script's top level)",
                ));
            }
            let resolved = resolve_open(&ctx, &h, &path);
            let data = h.shared.file(&resolved).map_err(|e| {
                throw(
                    &ctx,
                    &format!("open('{path}'): cannot read '{}': {e}", resolved.display()),
                )
            })?;
            if mode.0.flatten().as_deref() == Some("b") {
                return array_buffer(&ctx, data.to_vec());
            }
            let s = String::from_utf8_lossy(&data);
            Ok(rquickjs::String::from_str(ctx, &s)?.into_value())
        },
    )?;
    Ok(())
}

/// `open()` paths are relative to the module that calls it (k6's rule), else to the main script.
fn resolve_open(ctx: &Ctx<'_>, host: &Host, path: &str) -> std::path::PathBuf {
    let p = Path::new(path.strip_prefix("file://").unwrap_or(path));
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let caller: Option<String> = (0..3)
        .filter_map(|level| ctx.script_or_module_name(level))
        .filter_map(|a| a.to_string().ok())
        .find(|n| Path::new(n).is_absolute());
    let base = caller.unwrap_or_else(|| host.shared.main.clone());
    let dir = Path::new(&base).parent().unwrap_or(Path::new("."));
    crate::loader::normalize(&dir.join(p))
}
