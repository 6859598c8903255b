//! Native side of `k6/execution`: what the VU knows about itself, its scenario and the test.

use super::{def, throw};
use crate::host::{Host, Phase};
use rquickjs::{Ctx, Exception, Object, Result, Value};
use std::rc::Rc;
use std::time::UNIX_EPOCH;

pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let h = host.clone();
    def(
        ctx,
        native,
        "execInfo",
        move |ctx: Ctx<'js>| -> Result<Object<'js>> {
            let it = h.iter.borrow();
            let o = Object::new(ctx.clone())?;
            o.set("vuIdInTest", h.vu_id)?;
            o.set("vuIdInInstance", h.vu_id_in_instance)?;
            o.set("iterationInInstance", it.iter_in_instance)?;
            o.set("iterationInScenario", it.iter_in_scenario)?;
            o.set("iterationInTest", it.iter_in_test)?;
            o.set("iter", it.iter)?;
            o.set("scenario", it.scenario.as_str())?;
            o.set("executor", it.executor.as_str())?;
            let start = it
                .scenario_start
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as f64)
                .unwrap_or(0.0);
            o.set("startTime", start)?;
            o.set("progress", it.progress.map_or(0.0, |p| p.now()))?;
            let test_start = it
                .test_start
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as f64)
                .unwrap_or(0.0);
            o.set("testStartTime", test_start)?;
            let tags = Object::new(ctx.clone())?;
            for (k, v) in h.base_tags().iter() {
                tags.set(k, v)?;
            }
            o.set("tags", tags)?;
            Ok(o)
        },
    )?;
    // instanceInfo(): [vusActive, vusInitialized, iterationsCompleted, iterationsInterrupted],
    // the engine's live counts for this instance; k6 refuses them in the init context.
    let h = host.clone();
    def(
        ctx,
        native,
        "instanceInfo",
        move |ctx: Ctx<'js>| -> Result<Vec<f64>> {
            if h.phase.get() == Phase::Init {
                return Err(throw(
                    &ctx,
                    "getting instance information in the init context is not supported",
                ));
            }
            let c = brunt_engine::instance_counts().unwrap_or_default();
            Ok(vec![
                c.vus_active as f64,
                c.vus_initialized as f64,
                c.iterations_completed as f64,
                c.iterations_interrupted as f64,
            ])
        },
    )?;
    let h = host.clone();
    def(
        ctx,
        native,
        "vuTagSet",
        move |k: String, v: Value<'js>| -> Result<()> {
            let text = if let Some(s) = v.as_string() {
                s.to_string()?
            } else if let Some(n) = v.as_number() {
                super::globals::number_to_string(n)
            } else if let Some(b) = v.as_bool() {
                b.to_string()
            } else {
                return Err(Exception::throw_type(
                    v.ctx(),
                    "a VU tag value must be a string, number or boolean",
                ));
            };
            h.vu_tags.borrow_mut().insert(k, text);
            h.tags_changed();
            Ok(())
        },
    )?;
    let h = host.clone();
    def(ctx, native, "vuTagDelete", move |k: String| -> Result<()> {
        h.vu_tags.borrow_mut().remove(&k);
        h.tags_changed();
        Ok(())
    })?;
    // `exec.vu.metrics.metadata.trace_id` set (a string) or deleted (undefined); an id that is
    // not hex (k6 keeps any string) is kept by no sample.
    let h = host.clone();
    def(
        ctx,
        native,
        "traceIdSet",
        move |id: rquickjs::function::Opt<Option<String>>| -> Result<()> {
            let trace =
                id.0.flatten()
                    .and_then(|s| brunt_metrics::Trace::from_hex(&s));
            h.metadata_trace.set(trace);
            Ok(())
        },
    )?;
    let h = host.clone();
    def(
        ctx,
        native,
        "abort",
        move |ctx: Ctx<'js>, reason: rquickjs::function::Opt<Option<String>>| -> Result<()> {
            let msg = match reason.0.flatten() {
                Some(r) => format!("test aborted: {r}"),
                None => "test aborted".to_string(),
            };
            // Thrown and caught to read where the script called abort(), which k6 logs with it.
            let _ = throw(&ctx, &msg);
            let error = ctx.catch();
            let stack: String = error
                .as_object()
                .and_then(|o| o.get("stack").ok())
                .unwrap_or_default();
            h.shared.abort(match caller(&stack) {
                Some(at) => format!("{msg} {at}"),
                None => msg,
            });
            Err(ctx.throw(error))
        },
    )?;
    // test.fail(): k6 logs it at once, lets the run go on, and exits 110 at the end.
    let h = host.clone();
    def(
        ctx,
        native,
        "fail",
        move |reason: rquickjs::function::Opt<Option<String>>| -> Result<()> {
            brunt_engine::log::error(&match reason.0.flatten() {
                Some(r) => format!("test marked as failed: {r}"),
                None => "test marked as failed".to_string(),
            });
            h.shared
                .marked_failed
                .store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        },
    )?;
    let h = host.clone();
    def(
        ctx,
        native,
        "testOptions",
        move |ctx: Ctx<'js>| -> Result<Value<'js>> { ctx.json_parse(h.shared.options_json()) },
    )?;
    Ok(())
}

/// The script's frame in a QuickJS stack (`at default (/path/script.js:3:45)`), skipping native
/// functions' frames (`<null>`).
fn caller(stack: &str) -> Option<&str> {
    stack
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("at ") && !l.contains("(<null>") && !l.contains("(native)"))
}
