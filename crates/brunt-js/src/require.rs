//! `require()`, k6's CommonJS import for the init context: `require('k6/http')`,
//! `require('./lib.js')`. It loads the module through the same resolver, loader and bytecode cache
//! as `import` (a module imported and required is one instance) and returns a CommonJS module's
//! `module.exports`, a built-in module's default object (when it holds every export, as k6's
//! do), or an ES module's namespace.

use crate::host::{Host, Phase};
use crate::modules::{def_public, throw};
use rquickjs::{Ctx, Module, Object, Result, Value};
use std::path::Path;
use std::rc::Rc;

pub(crate) fn install<'js>(ctx: &Ctx<'js>, globals: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let h = host.clone();
    def_public(
        ctx,
        globals,
        "require",
        move |ctx: Ctx<'js>, spec: String| -> Result<Value<'js>> {
            if h.phase.get() != Phase::Init {
                return Err(throw(
                    &ctx,
                    "require() can only be called in the init context (the script's top level)",
                ));
            }
            // Relative to the module that calls it, as `import` is.
            let base = (0..3)
                .filter_map(|level| ctx.script_or_module_name(level))
                .filter_map(|a| a.to_string().ok())
                .find(|n| Path::new(n).is_absolute())
                .unwrap_or_else(|| h.shared.main.clone());
            let name =
                crate::loader::resolve(&h.shared, &base, &spec).map_err(|msg| throw(&ctx, &msg))?;
            let ns: Object = Module::import(&ctx, name.clone())?.finish()?;
            if h.shared.is_commonjs(&name) {
                return ns.get("default");
            }
            // A built-in module (`k6/http`) gives its default object, as k6's require() does:
            // the one `import http from 'k6/http'` sees, which a library may patch (the
            // http-instrumentation-tempo jslib replaces `http.get` and the others there).
            if name.starts_with("k6") {
                if let Some(default) = ns.get::<_, Option<Object>>("default")? {
                    let complete = ns.keys::<String>().filter_map(|k| k.ok()).all(|k| {
                        k == "default" || default.contains_key(k.as_str()).unwrap_or(false)
                    });
                    if complete {
                        return Ok(default.into_value());
                    }
                }
            }
            Ok(ns.into_value())
        },
    )?;
    Ok(())
}
