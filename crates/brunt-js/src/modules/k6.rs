//! Native side of the `k6` module: sleep, checks and groups.

use super::{cancelled, def, tag_pairs, throw};
use crate::host::Host;
use crate::vu::IoRequest;
use brunt_metrics::{builtin, MetricType, ValueType};
use rquickjs::function::Opt;
use rquickjs::{Ctx, Object, Result};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let h = host.clone();
    def(
        ctx,
        native,
        "sleep",
        move |ctx: Ctx<'js>, secs: f64| -> Result<()> {
            if !secs.is_finite() || secs <= 0.0 {
                return Ok(());
            }
            h.wait(IoRequest::Sleep(Duration::from_secs_f64(secs)))
                .map(|_| ())
                .map_err(|_| cancelled(&ctx))
        },
    )?;

    def(
        ctx,
        native,
        "textSummary",
        |ctx: Ctx<'js>, data: String, indent: String, colors: bool| -> Result<String> {
            let data: serde_json::Value = serde_json::from_str(&data)
                .map_err(|e| throw(&ctx, &format!("textSummary: bad data: {e}")))?;
            let opts = brunt_output::TextOptions {
                indent,
                enable_colors: colors,
            };
            Ok(brunt_output::text_summary(&data, &opts))
        },
    )?;
    let h = host.clone();
    def(
        ctx,
        native,
        "check",
        move |name: String, ok: bool, tags: Opt<Option<Object<'js>>>| -> Result<()> {
            h.define(format!("{}::{name}", h.group.borrow()));
            let mut extra = tag_pairs(tags.0.flatten())?;
            extra.push(("check".into(), name));
            h.emit(builtin::CHECKS, if ok { 1.0 } else { 0.0 }, &extra);
            Ok(())
        },
    )?;

    // Groups nest: each entry is the path to restore and when the group started.
    let stack: Rc<RefCell<Vec<(String, Instant)>>> = Rc::default();
    let (h, s) = (host.clone(), stack.clone());
    def(
        ctx,
        native,
        "groupEnter",
        move |ctx: Ctx<'js>, name: String| -> Result<()> {
            if name.contains("::") {
                return Err(throw(&ctx, "group and check names may not contain '::'"));
            }
            let prev = h.group.borrow().clone();
            let path = format!("{prev}::{name}");
            h.define(path.clone());
            s.borrow_mut().push((prev, Instant::now()));
            *h.group.borrow_mut() = path;
            h.tags_changed();
            Ok(())
        },
    )?;
    let h = host.clone();
    let group_duration = host
        .shared
        .registry
        .register("group_duration", MetricType::Trend, ValueType::Time)
        .map_err(|e| throw(ctx, &e.to_string()))?;
    def(ctx, native, "groupExit", move || -> Result<()> {
        let Some((prev, start)) = stack.borrow_mut().pop() else {
            return Ok(());
        };
        if !h.cancelled() {
            h.emit(group_duration, start.elapsed().as_secs_f64() * 1000.0, &[]);
        }
        *h.group.borrow_mut() = prev;
        h.tags_changed();
        Ok(())
    })?;
    Ok(())
}
