//! Native side of the `k6` module: sleep, checks and groups.

use super::{cancelled, def, tag_pairs, throw};
use crate::host::Host;
use crate::vu::IoRequest;
use brunt_metrics::{builtin, MetricType, TagSet, ValueType};
use rquickjs::function::Opt;
use rquickjs::{Ctx, Object, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Tag sets of untagged checks kept per VU; past this many (generated check names) it starts over.
const CHECK_TAG_CACHE: usize = 1024;

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
    let check_tags: RefCell<HashMap<(TagSet, String), TagSet>> = RefCell::default();
    let h = host.clone();
    def(
        ctx,
        native,
        "check",
        move |name: String, ok: bool, tags: Opt<Option<Object<'js>>>| -> Result<()> {
            let value = if ok { 1.0 } else { 0.0 };
            let extra = tag_pairs(tags.0.flatten())?;
            if !extra.is_empty() {
                h.define(format!("{}::{name}", h.group.borrow()));
                let mut extra = extra;
                extra.push(("check".into(), name));
                h.emit(builtin::CHECKS, value, &extra);
                return Ok(());
            }
            // Checks without their own tags repeat every iteration: reuse their tag sets.
            let key = (h.base_tags(), name);
            let cached = check_tags.borrow().get(&key).cloned();
            let set = match cached {
                Some(set) => set,
                None => {
                    h.define(format!("{}::{}", h.group.borrow(), key.1));
                    let set = crate::host::intern(key.0.with([("check", key.1.as_str())]));
                    let mut cache = check_tags.borrow_mut();
                    if cache.len() >= CHECK_TAG_CACHE {
                        cache.clear();
                    }
                    cache.insert(key, set.clone());
                    set
                }
            };
            h.metrics.borrow_mut().add(builtin::CHECKS, &set, value);
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
