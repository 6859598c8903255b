//! The `k6` module (sleep, check, group, fail, randomSeed), native, and `textSummary` for the
//! jslib summary layer.

use super::direct_fn::def_direct;
use super::{cancelled, def, def_public, own_props, tag_pairs, throw, HeldAtom, Utf8};
use crate::host::Host;
use crate::vu::IoRequest;
use brunt_metrics::{builtin, MetricType, SystemTag, TagSet, ValueType};
use rquickjs::function::Opt;
use rquickjs::module::{Declarations, Exports, ModuleDef};
use rquickjs::{qjs, Coerced, Ctx, Exception, FromJs, Function, Object, Result, Value};
use rustc_hash::FxHashMap;
use std::cell::{Cell, RefCell};
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
    Ok(())
}

/// Records check results for one VU.
struct Checks {
    host: Rc<Host>,
    /// Checks by their property's atom (held): a script's check objects repeat their names
    /// every iteration, so a name's text is made once, not on every call.
    names: RefCell<FxHashMap<HeldAtom, Rc<Named>>>,
    /// Tag sets of checks without their own tags, which repeat every iteration: by the base tag
    /// set (the group's), then by check name, so that finding one allocates nothing.
    /// (Fx-hashed: the tag set's hash is kept with it, and names are short.)
    cache: RefCell<FxHashMap<TagSet, FxHashMap<Box<str>, TagSet>>>,
}

/// A check's name, and the tag set its samples had the last time, with the base tag set it was
/// made from: a check runs with the same base iteration after iteration, and then needs no
/// lookup in `Checks::cache`.
struct Named {
    name: Rc<str>,
    last: RefCell<Option<(TagSet, TagSet)>>,
}

impl Checks {
    /// The check named by `atom`, a property name of the script's check object.
    fn name(&self, ctx: &Ctx<'_>, atom: qjs::JSAtom) -> Result<Rc<Named>> {
        if let Some(named) = self.names.borrow().get(&atom) {
            return Ok(named.clone());
        }
        let raw = ctx.as_raw().as_ptr();
        // SAFETY: a live context; the string made is owned by the `Value`.
        let name = unsafe { Value::from_raw(ctx.clone(), qjs::JS_AtomToString(raw, atom)) };
        let Ok(name) = name.try_into_string() else {
            return Err(rquickjs::Error::Exception);
        };
        let named = Rc::new(Named {
            name: Utf8::of(ctx, &name)?.str().into(),
            last: RefCell::default(),
        });
        // SAFETY: a live context, and the property's atom, live for this call.
        let held = unsafe { HeldAtom::dup(raw, atom) };
        let mut names = self.names.borrow_mut();
        if names.len() >= CHECK_TAG_CACHE {
            names.clear();
        }
        names.insert(held, named.clone());
        Ok(named)
    }

    fn record(&self, named: &Named, ok: bool, extra: &[(String, String)]) {
        let h = &self.host;
        let name = &*named.name;
        let value = if ok { 1.0 } else { 0.0 };
        let tagged = h.shared.system_tags().has(SystemTag::Check);
        if !extra.is_empty() || !tagged {
            h.define(format!("{}::{name}", h.group.borrow()));
            let mut extra = extra.to_vec();
            if tagged {
                extra.push(("check".into(), name.to_string()));
            }
            h.emit(builtin::CHECKS, value, &extra);
            return;
        }
        let base = h.base_tags();
        let last = match &*named.last.borrow() {
            Some((b, set)) if *b == base => Some(set.clone()),
            _ => None,
        };
        let set = match last {
            Some(set) => set,
            None => {
                let set = self.tag_set(name, &base);
                *named.last.borrow_mut() = Some((base, set.clone()));
                set
            }
        };
        h.metrics.borrow_mut().add(builtin::CHECKS, &set, value);
    }

    /// The tag set of an untagged check's samples under `base`.
    fn tag_set(&self, name: &str, base: &TagSet) -> TagSet {
        let h = &self.host;
        let cached = self
            .cache
            .borrow()
            .get(base)
            .and_then(|by_name| by_name.get(name))
            .cloned();
        if let Some(set) = cached {
            return set;
        }
        h.define(format!("{}::{name}", h.group.borrow()));
        let set = crate::host::intern(base.with([("check", name)]));
        let mut cache = self.cache.borrow_mut();
        // Counted on a miss only (a check's first run in a group).
        if cache.values().map(FxHashMap::len).sum::<usize>() >= CHECK_TAG_CACHE {
            cache.clear();
        }
        cache
            .entry(base.clone())
            .or_default()
            .insert(name.into(), set.clone());
        set
    }
}

/// The `k6` module, native: a VU holds its five functions and a default object, not a compiled
/// JavaScript layer (about 3 KB less per VU).
pub(crate) struct K6Module;

const EXPORTS: [&str; 5] = ["sleep", "check", "group", "fail", "randomSeed"];

impl ModuleDef for K6Module {
    fn declare(decl: &Declarations) -> Result<()> {
        for name in EXPORTS {
            decl.declare(name)?;
        }
        decl.declare("default")?;
        Ok(())
    }

    fn evaluate<'js>(ctx: &Ctx<'js>, exports: &Exports<'js>) -> Result<()> {
        // The VU's functions come from its `__brunt_native`, which holds the VU.
        let native: Function = ctx.globals().get(super::NATIVE)?;
        let fns: Object = native.call(("k6:module",))?;
        let default = Object::new(ctx.clone())?;
        for name in EXPORTS {
            let f: Value = fns.get(name)?;
            default.set(name, f.clone())?;
            exports.export(name, f)?;
        }
        exports.export("default", default)?;
        Ok(())
    }
}

/// The functions the `k6` module exports, with k6's semantics.
pub(crate) fn module_functions<'js>(
    ctx: &Ctx<'js>,
    out: &Object<'js>,
    host: &Rc<Host>,
) -> Result<()> {
    let h = host.clone();
    def_public(
        ctx,
        out,
        "sleep",
        move |ctx: Ctx<'js>, secs: Opt<Coerced<f64>>| -> Result<()> {
            let secs = secs.0.map(|c| c.0).unwrap_or(f64::NAN);
            if !secs.is_finite() || secs <= 0.0 {
                return Ok(());
            }
            h.wait(IoRequest::Sleep(Duration::from_secs_f64(secs)))
                .map(|_| ())
                .map_err(|_| cancelled(&ctx))
        },
    )?;

    let checks = Checks {
        host: host.clone(),
        names: RefCell::default(),
        cache: RefCell::default(),
    };
    def_direct(ctx, out, "check", move |ctx, args| {
        let Some(list) = args.get(1).filter(|l| l.is_object()) else {
            return Ok(Value::new_bool(ctx.clone(), true));
        };
        let raw = ctx.as_raw().as_ptr();
        // Each function gets the value, or `undefined` when none was given.
        let mut arg = args
            .get(0)
            .map_or(qjs::JS_MKVAL(qjs::JS_TAG_UNDEFINED, 0), |v| v.as_raw());
        let extra = tag_pairs(args.object(2)?)?;
        let mut all = true;
        // SAFETY: a live context of this VU and a live value of it, for the call.
        unsafe { checks.host.kept_shapes.keep_literal(raw, list.as_raw()) };
        // Each check's value is read when its turn comes, as k6 reads them.
        own_props(ctx, list.as_raw(), |atom, c| {
            let name = checks.name(ctx, atom)?;
            // SAFETY: `c` and `arg` are live values of this context (the arguments outlive the
            // call, `c` this step); JS_Call borrows them, and its result is freed after
            // JS_ToBool read it.
            let ok = unsafe {
                if qjs::JS_IsFunction(raw, c) {
                    let undefined = qjs::JS_MKVAL(qjs::JS_TAG_UNDEFINED, 0);
                    let r = qjs::JS_Call(raw, c, undefined, 1, &mut arg);
                    if qjs::JS_IsException(r) {
                        // As k6: a check whose function throws counts as failed, then the
                        // error goes on.
                        checks.record(&name, false, &extra);
                        return Err(rquickjs::Error::Exception);
                    }
                    let b = qjs::JS_ToBool(raw, r);
                    qjs::JS_FreeValue(raw, r);
                    b
                } else {
                    qjs::JS_ToBool(raw, c)
                }
            };
            if ok < 0 {
                return Err(rquickjs::Error::Exception);
            }
            let ok = ok == 1;
            checks.record(&name, ok, &extra);
            all &= ok;
            Ok(true)
        })?;
        Ok(Value::new_bool(ctx.clone(), all))
    })?;

    // Groups nest: each entry is the path to restore and when the group started.
    let stack: RefCell<Vec<(String, Instant)>> = RefCell::default();
    let h = host.clone();
    let group_duration = host
        .shared
        .registry
        .register("group_duration", MetricType::Trend, ValueType::Time)
        .map_err(|e| throw(ctx, &e.to_string()))?;
    def_public(
        ctx,
        out,
        "group",
        move |ctx: Ctx<'js>,
              name: Opt<Coerced<String>>,
              f: Opt<Value<'js>>|
              -> Result<Value<'js>> {
            let Some(f) = f.0.and_then(|v| v.into_function()) else {
                return Err(Exception::throw_type(&ctx, "group() needs a function"));
            };
            let name = name.0.map(|c| c.0).unwrap_or_else(|| "undefined".into());
            if name.contains("::") {
                return Err(throw(&ctx, "group and check names may not contain '::'"));
            }
            let prev = h.group.borrow().clone();
            let path = format!("{prev}::{name}");
            h.define(path.clone());
            stack.borrow_mut().push((prev, Instant::now()));
            *h.group.borrow_mut() = path;
            h.tags_changed();
            let result = f.call::<_, Value>(());
            if let Some((prev, start)) = stack.borrow_mut().pop() {
                if !h.cancelled() {
                    h.emit(group_duration, start.elapsed().as_secs_f64() * 1000.0, &[]);
                }
                *h.group.borrow_mut() = prev;
                h.tags_changed();
            }
            result
        },
    )?;

    def_public(
        ctx,
        out,
        "fail",
        |ctx: Ctx<'js>, message: Opt<Value<'js>>| -> Result<()> {
            let msg = match message.0 {
                None => String::new(),
                Some(v) if v.is_undefined() => String::new(),
                Some(v) => Coerced::<String>::from_js(&ctx, v)?.0,
            };
            Err(throw(&ctx, &msg))
        },
    )?;

    def_public(
        ctx,
        out,
        "randomSeed",
        |ctx: Ctx<'js>, seed: Opt<Coerced<f64>>| -> Result<()> {
            let math: Object = ctx.globals().get("Math")?;
            let state = Cell::new(to_uint32(seed.0.map(|c| c.0).unwrap_or(f64::NAN)));
            let random = super::native_fn(&ctx, "random", move || -> f64 { mulberry32(&state) })?;
            math.set("random", random)
        },
    )?;
    Ok(())
}

/// JavaScript's ToUint32.
fn to_uint32(n: f64) -> u32 {
    if !n.is_finite() {
        return 0;
    }
    n.trunc().rem_euclid(4294967296.0) as u32
}

/// The generator `randomSeed` installs (mulberry32, as brunt's JavaScript layer had it).
fn mulberry32(state: &Cell<u32>) -> f64 {
    let s = state.get().wrapping_add(0x6d2b_79f5);
    state.set(s);
    let imul = |a: u32, b: u32| (a as i32).wrapping_mul(b as i32);
    let mut t = imul(s ^ (s >> 15), s | 1);
    t ^= t.wrapping_add(imul((t as u32) ^ ((t as u32) >> 7), (t as u32) | 61));
    ((t as u32) ^ ((t as u32) >> 14)) as f64 / 4294967296.0
}
