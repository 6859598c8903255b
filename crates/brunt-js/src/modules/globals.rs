//! Globals of k6's JavaScript: `__ENV`, `__VU` and `open()` (`__ITER` is set by each iteration, in
//! runtime.rs), and the lazy globals object that adds intrinsics and native globals on first use.

use super::{array_buffer, def_public, throw};
use crate::host::{Host, Phase};
use rquickjs::function::Opt;
use rquickjs::object::Accessor;
use rquickjs::{qjs, Ctx, Object, Result, Value};
use std::ffi::{c_int, CStr};
use std::path::Path;
use std::rc::{Rc, Weak};

/// A number as JavaScript's `String(n)` writes it, for the common cases (integers, decimals).
pub(crate) fn number_to_string(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

pub(crate) fn install<'js>(ctx: &Ctx<'js>, globals: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    install_lazy(ctx, globals, host)?;
    install_env(ctx, globals, host)?;
    globals.set("__VU", host.vu_id)?;
    // `__ITER` is set by each iteration: as in k6, the init context, `setup` and `teardown` have
    // none (naming it there is a ReferenceError).
    Ok(())
}

/// `open(path, mode)`.
fn install_open<'js>(ctx: &Ctx<'js>, globals: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let h = host.clone();
    def_public(
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
            let resolved = resolve_path(&ctx, &h, &path);
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

/// `open()` paths (and `k6/net/grpc`'s) are relative to the module that calls it (k6's rule),
/// else to the main script.
pub(crate) fn resolve_path(ctx: &Ctx<'_>, host: &Host, path: &str) -> std::path::PathBuf {
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

/// `__ENV`, built on first use: most scripts read it in a few places or not at all, and a VU
/// would otherwise hold its own copy of every variable from the start. Until then `__ENV` is an
/// accessor that replaces itself with the object (or with what the script assigns).
fn install_env<'js>(ctx: &Ctx<'js>, globals: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    if host.shared.env.is_empty() {
        return globals.set("__ENV", Object::new(ctx.clone())?);
    }
    let h = host.clone();
    let get = move |ctx: Ctx<'js>| -> Result<Object<'js>> {
        let env = Object::new(ctx.clone())?;
        for (k, v) in &h.shared.env {
            env.set(k.as_str(), v.as_str())?;
        }
        define_env(&ctx, env.clone().into_value())?;
        Ok(env)
    };
    let set = |ctx: Ctx<'js>, v: Value<'js>| -> Result<()> { define_env(&ctx, v) };
    globals.prop("__ENV", Accessor::new(get, set).configurable().enumerable())
}

/// Makes `__ENV` a plain global holding `v` (writable, enumerable, configurable).
fn define_env<'js>(ctx: &Ctx<'js>, v: Value<'js>) -> Result<()> {
    let globals = ctx.globals();
    globals.remove("__ENV")?;
    globals.set("__ENV", v)
}

/// How a group of lazy globals is added.
enum Add {
    /// A QuickJS intrinsic.
    Intrinsic(unsafe extern "C" fn(*mut qjs::JSContext)),
    /// brunt's native globals.
    Native(for<'js> fn(&Ctx<'js>, &Object<'js>, &Rc<Host>) -> Result<()>),
}

/// Globals added to a VU's context only when a script first names one of them: the typed-array,
/// Map/Set and Date intrinsics cost a VU 18 KB together, `console`, the timers and `open` 2.5 KB,
/// WebCrypto's `crypto` and the text codecs a JavaScript layer each, and most scripts use few of
/// them.
const LAZY: &[(&[&str], Add)] = &[
    (
        &[
            "ArrayBuffer",
            "SharedArrayBuffer",
            "DataView",
            "Uint8ClampedArray",
            "Int8Array",
            "Uint8Array",
            "Int16Array",
            "Uint16Array",
            "Int32Array",
            "Uint32Array",
            "BigInt64Array",
            "BigUint64Array",
            "Float16Array",
            "Float32Array",
            "Float64Array",
        ],
        Add::Intrinsic(qjs::JS_AddIntrinsicTypedArrays),
    ),
    (
        &["Map", "Set", "WeakMap", "WeakSet"],
        Add::Intrinsic(qjs::JS_AddIntrinsicMapSet),
    ),
    (&["Date"], Add::Intrinsic(qjs::JS_AddIntrinsicDate)),
    (&["console"], Add::Native(super::console::install)),
    (
        &["setTimeout", "clearTimeout", "setInterval", "clearInterval"],
        Add::Native(super::timers::install),
    ),
    (&["open"], Add::Native(install_open)),
    (&["crypto"], Add::Native(super::webcrypto::install_global)),
    (
        &["TextEncoder", "TextDecoder"],
        Add::Native(super::text_encoding::install_global),
    ),
    (&["require"], Add::Native(crate::require::install)),
    (&["global"], Add::Native(install_global_alias)),
];

/// `global`, the alias of `globalThis` that k6's default (extended) compatibility mode adds;
/// `--compatibility-mode=base` leaves it out, as k6 does.
fn install_global_alias<'js>(
    _ctx: &Ctx<'js>,
    globals: &Object<'js>,
    host: &Rc<Host>,
) -> Result<()> {
    if host.shared.global_alias {
        globals.set("global", globals.clone())?;
    }
    Ok(())
}

/// What the lazy globals object of a VU knows: the groups added so far, and the VU.
struct LazyState {
    added: u32,
    host: Weak<Host>,
}

unsafe extern "C" fn lazy_finalizer(_rt: *mut qjs::JSRuntime, val: qjs::JSValue) {
    let p = qjs::JS_GetOpaque(val, qjs::JS_GetClassID(val)) as *mut LazyState;
    if !p.is_null() {
        drop(Box::from_raw(p));
    }
}

/// The typed-array group, which native code that creates ArrayBuffers adds first.
const TYPED_ARRAYS: usize = 0;

static LAZY_EXOTIC: qjs::JSClassExoticMethods = qjs::JSClassExoticMethods {
    get_own_property: Some(lazy_get_own_property),
    get_own_property_names: None,
    delete_property: None,
    define_own_property: None,
    has_property: None,
    get_property: None,
    set_property: None,
};

/// Registers the class of the lazy globals object in `rt`; None if QuickJS refused it.
///
/// # Safety
/// `rt` is a live runtime.
pub(crate) unsafe fn register_lazy_class(rt: *mut qjs::JSRuntime) -> Option<qjs::JSClassID> {
    let mut id: qjs::JSClassID = 0;
    qjs::JS_NewClassID(rt, &mut id);
    let def = qjs::JSClassDef {
        class_name: c"LazyGlobals".as_ptr(),
        finalizer: Some(lazy_finalizer),
        gc_mark: None,
        call: None,
        exotic: &LAZY_EXOTIC as *const _ as *mut _,
    };
    (qjs::JS_NewClass(rt, id, &def) == 0).then_some(id)
}

/// Puts an object of the lazy class between the global object and `Object.prototype`. A lookup
/// of a global that the global object lacks reaches it; for the name of a lazy intrinsic it adds
/// that intrinsic to the context (which defines its globals on the global object itself, so
/// later lookups never come here) and answers with the new global. Without the class (never in
/// practice), the intrinsics are added at once.
fn install_lazy<'js>(ctx: &Ctx<'js>, globals: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: plain QuickJS calls on this live context; every reference taken is released.
    unsafe {
        let Some(id) = crate::shared_rt::lazy_class(qjs::JS_GetRuntime(raw)) else {
            for (_, add) in LAZY {
                match add {
                    Add::Intrinsic(f) => f(raw),
                    Add::Native(f) => f(ctx, globals, host)?,
                }
            }
            return Ok(());
        };
        let g = globals.as_raw();
        let proto = qjs::JS_GetPrototype(raw, g);
        let lazy = qjs::JS_NewObjectProtoClass(raw, proto, id);
        qjs::JS_FreeValue(raw, proto);
        if qjs::JS_IsException(lazy) {
            return Err(rquickjs::Error::Exception);
        }
        let state = Box::new(LazyState {
            added: 0,
            host: Rc::downgrade(host),
        });
        qjs::JS_SetOpaque(lazy, Box::into_raw(state) as *mut std::ffi::c_void);
        let r = qjs::JS_SetPrototype(raw, g, lazy);
        qjs::JS_FreeValue(raw, lazy);
        if r < 0 {
            return Err(rquickjs::Error::Exception);
        }
    }
    Ok(())
}

/// Adds the typed-array intrinsics to this VU's context if no script used them yet (native code
/// calls this before it creates an ArrayBuffer).
pub(crate) fn ensure_typed_arrays(ctx: &Ctx<'_>) {
    let names = LAZY[TYPED_ARRAYS].0;
    let _ = ctx.globals().get::<_, Value>(names[0]);
}

/// `get_own_property` of the lazy globals object.
unsafe extern "C" fn lazy_get_own_property(
    ctx: *mut qjs::JSContext,
    desc: *mut qjs::JSPropertyDescriptor,
    obj: qjs::JSValue,
    prop: qjs::JSAtom,
) -> c_int {
    let name = qjs::JS_AtomToCString(ctx, prop);
    if name.is_null() {
        return -1;
    }
    let group = {
        let n = CStr::from_ptr(name).to_bytes();
        LAZY.iter()
            .position(|(names, _)| names.iter().any(|x| x.as_bytes() == n))
    };
    qjs::JS_FreeCString(ctx, name);
    let Some(group) = group else {
        return 0;
    };
    let state = qjs::JS_GetOpaque(obj, qjs::JS_GetClassID(obj)) as *mut LazyState;
    if state.is_null() {
        return 0;
    }
    let state = &mut *state;
    if state.added & (1 << group) != 0 {
        // Added already, and the script deleted that global since: it is gone, as in any engine.
        return 0;
    }
    state.added |= 1 << group;
    match &LAZY[group].1 {
        Add::Intrinsic(f) => f(ctx),
        Add::Native(f) => {
            let Some(host) = state.host.upgrade() else {
                return 0;
            };
            let Some(raw) = std::ptr::NonNull::new(ctx) else {
                return -1;
            };
            // SAFETY: called by QuickJS on this live context, within the VU's turn.
            let c = rquickjs::Ctx::from_raw(raw);
            match f(&c, &c.globals(), &host) {
                Ok(()) => {}
                Err(rquickjs::Error::Exception) => return -1,
                Err(e) => {
                    let _ = rquickjs::Exception::throw_message(&c, &e.to_string());
                    return -1;
                }
            }
        }
    }
    let global = qjs::JS_GetGlobalObject(ctx);
    // A group may define nothing (`global` in base mode): the name then stays unknown.
    let defined = qjs::JS_GetOwnProperty(ctx, std::ptr::null_mut(), global, prop);
    if defined <= 0 {
        qjs::JS_FreeValue(ctx, global);
        return defined;
    }
    let value = qjs::JS_GetProperty(ctx, global, prop);
    qjs::JS_FreeValue(ctx, global);
    if qjs::JS_IsException(value) {
        return -1;
    }
    if desc.is_null() {
        qjs::JS_FreeValue(ctx, value);
    } else {
        (*desc).flags = (qjs::JS_PROP_WRITABLE | qjs::JS_PROP_CONFIGURABLE) as c_int;
        (*desc).value = value;
        (*desc).getter = qjs::JSValue {
            u: qjs::JSValueUnion { int32: 0 },
            tag: qjs::JS_TAG_UNDEFINED as i64,
        };
        (*desc).setter = (*desc).getter;
    }
    1
}
