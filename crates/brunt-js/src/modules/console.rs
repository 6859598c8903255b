//! `console.log/info/debug/warn/error`, printed to stderr in k6's log style.

use super::def_public;
use crate::host::Host;
use rquickjs::function::Rest;
use rquickjs::{Ctx, Object, Result, Value};
use std::io::Write;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Instant;

/// Log lines show seconds since the process started, as k6's do: the start is fixed by the first
/// call, which `run` makes before anything else.
pub(crate) fn started() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// One argument as k6 prints it: strings raw, other values as JSON.
fn show<'js>(ctx: &Ctx<'js>, v: Value<'js>) -> String {
    if let Some(s) = v.as_string() {
        return s.to_string().unwrap_or_default();
    }
    if v.is_undefined() {
        return "undefined".into();
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

/// Whole seconds since the process started, for log lines.
pub(crate) fn seconds() -> u64 {
    started().elapsed().as_secs()
}

pub(crate) fn install<'js>(ctx: &Ctx<'js>, globals: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    started();
    let console = Object::new(ctx.clone())?;
    for (name, level) in [
        ("log", "INFO"),
        ("info", "INFO"),
        ("debug", "DEBU"),
        ("warn", "WARN"),
        ("error", "ERRO"),
    ] {
        let h = host.clone();
        def_public(
            ctx,
            &console,
            name,
            move |ctx: Ctx<'js>, args: Rest<Value<'js>>| -> Result<()> {
                if !h.shared.console_enabled {
                    return Ok(());
                }
                let msg: Vec<String> = args.0.into_iter().map(|v| show(&ctx, v)).collect();
                let secs = seconds();
                let _ = writeln!(
                    std::io::stderr(),
                    "{level}[{secs:04}] {:<45} source=console",
                    msg.join(" ")
                );
                Ok(())
            },
        )?;
    }
    globals.set("console", console)
}
