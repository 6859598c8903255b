//! `console.log/info/debug/warn/error`, through the run's logger (`source=console`, or
//! `--console-output`'s file); `console.debug` shows only with `--verbose`, as in k6.

use super::def_public;
use crate::host::Host;
use brunt_engine::log::{self, Level};
use rquickjs::function::Rest;
use rquickjs::{Ctx, Object, Result, Value};
use std::rc::Rc;

/// One argument as k6 prints it: strings raw, other values as JSON.
fn show<'js>(ctx: &Ctx<'js>, v: Value<'js>) -> String {
    if let Some(s) = v.as_string() {
        return s.to_string().unwrap_or_default();
    }
    if v.is_undefined() {
        return "undefined".into();
    }
    // What JSON cannot write, as k6 prints it: a BigInt's digits, a Symbol's description.
    if v.as_big_int().is_some() {
        return v
            .get::<rquickjs::convert::Coerced<String>>()
            .map(|s| s.0)
            .unwrap_or_default();
    }
    if let Some(sym) = v.as_symbol() {
        return sym
            .description()
            .ok()
            .and_then(|d| d.as_string().and_then(|s| s.to_string().ok()))
            .unwrap_or_default();
    }
    if let Some(f) = v.as_function() {
        let name: String = f.get("name").unwrap_or_default();
        return format!("[function {name}]");
    }
    if v.is_error() {
        if let Some(o) = v.as_object() {
            let s: String = o
                .get::<_, rquickjs::Function>("toString")
                .and_then(|f| f.call((rquickjs::function::This(o.clone()),)))
                .unwrap_or_default();
            return s;
        }
    }
    ctx.json_stringify(v)
        .ok()
        .flatten()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_default()
}

pub(crate) fn install<'js>(ctx: &Ctx<'js>, globals: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let console = Object::new(ctx.clone())?;
    for (name, level) in [
        ("log", Level::Info),
        ("info", Level::Info),
        ("debug", Level::Debug),
        ("warn", Level::Warn),
        ("error", Level::Error),
    ] {
        let h = host.clone();
        def_public(
            ctx,
            &console,
            name,
            move |ctx: Ctx<'js>, args: Rest<Value<'js>>| -> Result<()> {
                if !h.shared.console_enabled || !log::enabled(level) {
                    return Ok(());
                }
                let msg: Vec<String> = args.0.into_iter().map(|v| show(&ctx, v)).collect();
                log::console(level, &msg.join(" "));
                Ok(())
            },
        )?;
    }
    globals.set("console", console)
}
